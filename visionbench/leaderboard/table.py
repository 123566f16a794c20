"""The leaderboard: a pure function of the run records.

Stored long (``model, dataset, split, task, metric, value, signature, ...``), pivoted only
for display; numbers stay numbers. Two values with different signatures are never put in
one column: the pivot's column key is ``(dataset, metric, signature)``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pandas as pd

from visionbench.engine.records import read_records

__all__ = [
    "LONG_COLUMNS",
    "EFFICIENCY",
    "long_table",
    "load_long",
    "filter_long",
    "pivot",
    "metric_columns",
    "primary_metric",
    "best_mask",
    "rich_table",
    "export",
]

LONG_COLUMNS = [
    "run_id",
    "date",
    "model",
    "dataset",
    "split",
    "task",
    "metric",
    "value",
    "signature",
    "higher_is_better",
    "params",
    "gflops",
    "throughput_img_s",
    "num_samples",
    "latency_ms",
    "headline",
]

#: Efficiency columns of the pivot and whether higher is better for each.
EFFICIENCY: dict[str, bool] = {
    "params": False,
    "gflops": False,
    "latency_ms": False,
    "throughput_img_s": True,
}
_KEYS = ["model", "dataset", "split", "task"]


def long_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, metric)."""
    rows = []
    for r in records:
        order = {m: i for i, m in enumerate((r.get("protocol") or {}).get("headline") or [])}
        for name, m in r.get("metrics", {}).items():
            rows.append(
                {
                    "run_id": r["run_id"],
                    "date": r.get("date"),
                    "model": r["model"]["name"],
                    "dataset": r["dataset"]["name"],
                    "split": r["dataset"].get("split"),
                    "task": r["task"],
                    "metric": name,
                    "value": float("nan") if m["value"] is None else float(m["value"]),
                    "signature": m["signature"],
                    "higher_is_better": bool(m.get("higher_is_better", True)),
                    "params": r["model"].get("params"),
                    "gflops": r["model"].get("gflops"),
                    "throughput_img_s": r.get("timings", {}).get("throughput_img_s"),
                    "num_samples": r["dataset"].get("num_samples"),
                    "latency_ms": (r["model"].get("profile") or {}).get("latency_ms"),
                    # position in the protocol's headline (None: not a headline metric, or
                    # an old record without protocol metadata)
                    "headline": order.get(name),
                }
            )
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    for c in ("value", "params", "gflops", "throughput_img_s", "num_samples", "latency_ms",
              "headline"):  # fmt: skip
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def load_long(
    results: str | Path | None = None,
    *,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """The long table of every record under ``results``, filtered (:func:`filter_long`)."""
    return filter_long(long_table(read_records(results)), dataset=dataset, task=task, model=model)


def filter_long(
    df: pd.DataFrame,
    *,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """Rows of exactly this ``dataset`` and ``task``, and of models matching the glob
    ``model`` (``fnmatch``, case-sensitive); None keeps everything."""
    if dataset:
        df = df[df["dataset"] == dataset]
    if task:
        df = df[df["task"] == task]
    if model:
        df = df[df["model"].map(lambda m: fnmatch.fnmatchcase(m, model))]
    return df.reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Pivot column name -> ``{"metric", "signature", "higher_is_better"}``.

    A metric computed under one signature is a column named after the metric; each further
    signature of the same metric gets its own column, ``"<metric> [sig#N]"``, in order of
    first appearance in ``df``. Two signatures never share a column.
    """
    out: dict[str, dict[str, Any]] = {}
    count: dict[str, int] = {}
    cols = df[["metric", "signature", "higher_is_better"]].drop_duplicates(["metric", "signature"])
    for metric, sig, hib in cols.itertuples(index=False):
        n = count.get(metric, 0)
        count[metric] = n + 1
        name = metric if n == 0 else f"{metric} [sig#{n + 1}]"
        out[name] = {"metric": metric, "signature": sig, "higher_is_better": bool(hib)}
    return out


def pivot(df: pd.DataFrame) -> pd.DataFrame:
    """Rows = (model, dataset, split, task) with a ``rank``; columns = metrics, then the
    efficiency columns. The latest run of each model wins; numbers stay numbers.

    Metrics that were computed under more than one signature get one column per
    signature (``metric [sig#2]``), never a merged column (see :func:`metric_columns`).
    ``rank`` (1 = best, ties share the lower rank, empty when the value is missing) is
    computed within each (dataset, split, task) by that group's :func:`primary_metric`;
    ``wide.attrs["rank_by"]`` maps ``(dataset, split, task)`` to that metric column and
    ``wide.attrs["columns"]`` is :func:`metric_columns`.
    """
    if df.empty:
        return pd.DataFrame()
    df = df.assign(split=df["split"].fillna("")).sort_values("date", kind="stable")
    df = df.drop_duplicates(
        ["model", "dataset", "split", "task", "metric", "signature"], keep="last"
    )
    info = metric_columns(df)
    headline = headline_order(df)
    name_of = {(v["metric"], v["signature"]): k for k, v in info.items()}
    df = df.assign(column=[name_of[(m, s)] for m, s in zip(df["metric"], df["signature"])])
    wide = df.set_index([*_KEYS, "column"])["value"].unstack("column")
    wide = wide.reindex(columns=[c for c in info if c in wide.columns])
    eff = df.drop_duplicates(_KEYS, keep="last").set_index(_KEYS)[list(EFFICIENCY)]
    wide = wide.join(eff).reset_index()
    wide.columns.name = None
    wide.insert(len(_KEYS), "rank", pd.array([pd.NA] * len(wide), dtype="Int64"))
    rank_by: dict[tuple[str, str, str], str | None] = {}
    for (dataset, split, task), idx in wide.groupby(["dataset", "split", "task"]).groups.items():
        part = wide.loc[idx]
        present = [c for c in info if c in part and part[c].notna().any()]
        col = primary_metric(present, headline.get((dataset, split, task)))
        rank_by[(dataset, split, task)] = col
        if col is not None:
            r = part[col].rank(method="min", ascending=not info[col]["higher_is_better"])
            wide.loc[idx, "rank"] = r.astype("Int64")
    wide = wide.sort_values(
        ["task", "dataset", "split", "rank", "model"], na_position="last", kind="stable"
    ).reset_index(drop=True)
    wide.attrs["rank_by"] = rank_by
    wide.attrs["columns"] = info
    wide.attrs["headline"] = headline
    return wide


def headline_order(df: pd.DataFrame) -> dict[tuple[str, str, str], list[str]]:
    """Per (dataset, split, task): the headline metrics in the order the run records'
    protocols declare (``record["protocol"]["headline"]``); empty for groups of old
    records only (then :data:`HEADLINE` is the fallback)."""
    out: dict[tuple[str, str, str], list[str]] = {}
    if "headline" not in df or df.empty:
        return out
    part = df[df["headline"].notna()]
    for (dataset, split, task), g in part.groupby(["dataset", "split", "task"], sort=False):
        order = g.groupby("metric")["headline"].min().sort_values(kind="stable")
        out[(dataset, "" if pd.isna(split) else split, task)] = list(order.index)
    return out


def primary_metric(columns: list[str], headline: list[str] | None = None) -> str | None:
    """The column a group is ranked by: the first of the protocol's ``headline`` among
    ``columns`` (old records: the first :data:`HEADLINE` metric), else the first of
    ``columns``, else None."""
    for m in headline or HEADLINE:
        if m in columns:
            return m
    return columns[0] if columns else None


def best_mask(wide: pd.DataFrame) -> pd.DataFrame:
    """True where a cell holds the best value of its column within its (dataset, split,
    task); metric columns use their ``higher_is_better``, efficiency columns
    :data:`EFFICIENCY`. Ties are all best; missing values never are."""
    info = wide.attrs.get("columns", {})
    hib = {c: v["higher_is_better"] for c, v in info.items()} | EFFICIENCY
    mask = pd.DataFrame(False, index=wide.index, columns=wide.columns)
    if wide.empty:
        return mask
    for _, idx in wide.groupby(["dataset", "split", "task"]).groups.items():
        for col, higher in hib.items():
            if col not in wide:
                continue
            vals = pd.to_numeric(wide.loc[idx, col], errors="coerce")
            if vals.notna().any():
                best = vals.max() if higher else vals.min()
                mask.loc[idx, col] = (vals == best).to_numpy()
    return mask


#: Fallback for run records written before protocols declared their headline metrics:
#: metric columns shown first in the terminal table (the rest are in CSV / HTML).
HEADLINE = [
    "top1",
    "top5",
    "real_top1",
    "AP",
    "AP50",
    "AP75",
    "mIoU",
    "miou",
    "iIoU",
    "iiou",
    "mIoU_category",
    "miou_category",
    "R@20",
    "R@50",
    "R@100",
    "mR@50",
    "bleu4",
    "cider_d",
    "sacrebleu",
]


def rich_table(df: pd.DataFrame, *, max_metrics: int = 4) -> Any:
    """A terminal table: headline metrics (at most ``max_metrics``) and efficiency columns."""
    from rich.table import Table
    from rich.text import Text

    wide = pivot(df)
    if not wide.empty:
        eff = list(EFFICIENCY)
        metrics = list(wide.attrs["columns"])
        declared = [m for h in wide.attrs.get("headline", {}).values() for m in h]
        first = list(dict.fromkeys([*declared, *HEADLINE]))
        order = [m for m in first if m in metrics] + [m for m in metrics if m not in first]
        shown = ["model", "dataset", "split", "rank", *order[:max_metrics]]
        shown += [c for c in eff if wide[c].notna().any()]
        best = best_mask(wide)[shown]
        wide = wide[shown]
    table = Table(title="visionbench leaderboard")
    if wide.empty:
        table.add_column("no run records yet: try `bench run`")
        return table
    for c in wide.columns:
        table.add_column(Text(str(c)), justify="right" if wide[c].dtype.kind in "fiu" else "left")
    for row, brow in zip(wide.itertuples(index=False), best.itertuples(index=False)):
        # Text cells: a model named "[red]x[/]" is shown as typed, never read as markup
        table.add_row(*[Text(_fmt(v), style="bold green" if b else "") for v, b in zip(row, brow)])
    return table


def _fmt(v: Any) -> str:
    if v is None or v is pd.NA:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1e5 else f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def _markdown(wide: pd.DataFrame) -> str:
    """GitHub Markdown; the best value of each column (per dataset) in bold."""

    def cell(v: Any, bold: bool = False) -> str:
        text = _fmt(v).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
        return f"**{text}**" if bold else text

    best = best_mask(wide)
    cols = [str(c) for c in wide.columns]
    align = ["---:" if wide[c].dtype.kind in "fiu" else ":---" for c in wide.columns]
    lines = ["| " + " | ".join(cell(c) for c in cols) + " |", "| " + " | ".join(align) + " |"]
    lines += [
        "| " + " | ".join(cell(v, b) for v, b in zip(row, brow)) + " |"
        for row, brow in zip(wide.itertuples(index=False), best.itertuples(index=False))
    ]
    return "\n".join(lines) + "\n"


def export(
    df: pd.DataFrame,
    fmt: str,
    *,
    records: list[dict[str, Any]] | None = None,
    results: str | Path | None = None,
) -> str:
    """``csv`` (long format, numbers as numbers), ``wide-csv``, ``md``, ``html`` or
    ``timm-csv`` (classification only, timm's results columns).

    ``records`` (the run records behind ``df``) feed the HTML plots and the timm CSV's
    preprocessing columns; when None they are read from ``results`` (the results
    directory, which also holds the arrays files behind the plots).
    """
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "wide-csv":
        return pivot(df).to_csv(index=False)
    if fmt == "md":
        wide = pivot(df)
        if wide.empty:
            return "_no run records_\n"
        return _markdown(wide)
    if fmt == "html":
        from visionbench.leaderboard.html import render_html

        return render_html(df, records=records, results=results)
    if fmt == "timm-csv":
        from visionbench.leaderboard.timm_csv import timm_csv

        return timm_csv(df, records=records if records is not None else read_records(results))
    from visionbench.errors import VisionbenchError

    raise VisionbenchError(
        f"unknown format {fmt!r}; use table, csv, wide-csv, md, html or timm-csv"
    )
