"""The leaderboard: a pure function of the run records.

Stored long (one row per run and metric: identity, ``metric, value, unit, signature``,
efficiency), pivoted only for display; numbers stay numbers. Two values with different
signatures are never put in one column: the pivot's column key is ``(metric, signature)``.

The human and script views of the pivot (terminal, Markdown, wide CSV, JSON) are in
:mod:`visionbench.leaderboard.views`; :func:`export` dispatches to them.

A leaderboard row is one **run identity**: model name, weights identity
(``model.weights_id``: the weights file's sha256, ``random``, or the torchvision enum
name), dataset, split, task, evaluated-sample set (``dataset.subset``: all, or a
fingerprint of the subset), protocol signature and ``tag``. Runs that differ in any of
these never share a row; repeated runs of one identity show the latest, and ``runs``
says how many there are. Only **full runs** (every sample, real weights) are ranked;
subset runs (``--limit``, samples dropped by ``--lenient``) and random-weight runs are
marked (``status``) and, by default, left out of every view (``all_runs=True`` / ``--all``
shows them, unranked, below the ranked rows).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pandas as pd

from visionbench.errors import VisionbenchError
from visionbench.leaderboard.units import (
    EFFICIENCY_COLUMNS,
    headline_metrics,
    metric_higher_is_better,
    metric_unit,
)
from visionbench.records import read_records
from visionbench.types import RANDOM_WEIGHTS

__all__ = [
    "LONG_COLUMNS",
    "IDENTITY",
    "EFFICIENCY",
    "TASK_ALIASES",
    "FULL",
    "parse_task_filter",
    "long_table",
    "load_long",
    "filter_long",
    "pivot",
    "metric_columns",
    "primary_metric",
    "best_mask",
    "export",
]

#: ``status`` of a run that is ranked: every sample of the split, real weights.
FULL = "full"

LONG_COLUMNS = [
    "run_id",
    "date",
    "model",
    "tag",
    "weights_id",
    "random_weights",
    "dataset",
    "split",
    "task",
    "num_samples",
    "total_samples",
    "subset",
    "status",
    "protocol",
    "headline",
    "metric",
    "value",
    "unit",
    "higher_is_better",
    "ci_low",
    "ci_high",
    "signature",
    "params",
    "gflops",
    "latency_ms",
    "throughput_img_s",
    "end_to_end_img_s",
]

#: The columns that make a run identity (one leaderboard row each).
IDENTITY = ["model", "weights_id", "tag", "dataset", "split", "task", "subset", "protocol"]

#: Efficiency columns of the pivot and whether higher is better for each.
EFFICIENCY: dict[str, bool] = {k: v[3] for k, v in EFFICIENCY_COLUMNS.items()}

_GROUP = ["dataset", "split", "task"]

#: ``--task`` values: the task names and their usual short forms.
TASK_ALIASES: dict[str, str] = {
    "classification": "classification",
    "cls": "classification",
    "clf": "classification",
    "class": "classification",
    "detection": "detection",
    "det": "detection",
    "bbox": "detection",
    "semantic_segmentation": "semantic_segmentation",
    "semantic-segmentation": "semantic_segmentation",
    "segmentation": "semantic_segmentation",
    "semseg": "semantic_segmentation",
    "sem_seg": "semantic_segmentation",
    "seg": "semantic_segmentation",
    "scene_graph": "scene_graph",
    "scene-graph": "scene_graph",
    "scenegraph": "scene_graph",
    "sgg": "scene_graph",
    "sg": "scene_graph",
    "captioning": "captioning",
    "caption": "captioning",
    "captions": "captioning",
    "cap": "captioning",
}


def parse_task_filter(value: str | None) -> str | None:
    """The task name of a ``--task`` value (a task name or a short form, any case).

    Raises:
        VisionbenchError: an unknown value, listing the valid ones.
    """
    if value is None or value == "":
        return None
    task = TASK_ALIASES.get(value.strip().lower())
    if task is None:
        names = sorted(set(TASK_ALIASES.values()))
        short = sorted(k for k, v in TASK_ALIASES.items() if k != v)
        raise VisionbenchError(
            f"unknown task {value!r}; use one of {', '.join(names)} "
            f"(or a short form: {', '.join(short)})"
        )
    return task


# ---------------------------------------------------------------------------------------
# the long table


def long_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, metric), with the run's identity and status."""
    rows = []
    for r in records:
        ident = _identity(r)
        headline = "|".join(headline_metrics(r))
        timings = r.get("timings") or {}
        model = r.get("model") or {}
        for name, m in (r.get("metrics") or {}).items():
            ci = m.get("ci") if isinstance(m.get("ci"), dict) else {}
            rows.append(
                {
                    "run_id": r["run_id"],
                    "date": r.get("date"),
                    **ident,
                    "headline": headline,
                    "metric": name,
                    "value": float("nan") if m.get("value") is None else float(m["value"]),
                    "unit": metric_unit(name, m, r.get("task")) or "",
                    "higher_is_better": metric_higher_is_better(m),
                    "ci_low": ci.get("low"),
                    "ci_high": ci.get("high"),
                    "signature": m["signature"],
                    "params": model.get("params"),
                    "gflops": model.get("gflops"),
                    "latency_ms": (model.get("profile") or {}).get("latency_ms"),
                    "throughput_img_s": timings.get("throughput_img_s"),
                    "end_to_end_img_s": timings.get("end_to_end_img_s"),
                }
            )
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    for c in ("value", "ci_low", "ci_high", "params", "gflops", "latency_ms",
              "throughput_img_s", "end_to_end_img_s", "num_samples", "total_samples"):  # fmt: skip
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["random_weights"] = df["random_weights"].astype(bool)
    return df


def _identity(r: dict[str, Any]) -> dict[str, Any]:
    """The identity and status columns of a record (old records: inferred)."""
    from visionbench.records import weights_identity

    model, ds = r.get("model") or {}, r.get("dataset") or {}
    wid = model.get("weights_id")
    if wid is None:
        wid = weights_identity(model.get("weights"))
    subset = ds.get("subset")
    if "subset" not in ds and "--limit" in (r.get("command") or []):
        subset = "limit"  # an old record of a --limit run: a subset, ids unknown
    n, total = ds.get("num_samples"), ds.get("total_samples")
    if subset is None and total is not None and n is not None and n < total:
        subset = "unknown"
    random = wid == RANDOM_WEIGHTS
    marks = (["subset"] if subset else []) + (["random weights"] if random else [])
    sigs = sorted({str(m.get("signature")) for m in (r.get("metrics") or {}).values()})
    proto = (r.get("protocol") or {}).get("name")
    return {
        "model": model.get("name", ""),
        "tag": r.get("tag") or "",
        "weights_id": wid or "",
        "random_weights": random,
        "dataset": ds.get("name", ""),
        "split": ds.get("split") or "",
        "task": r.get("task", ""),
        "num_samples": n,
        "total_samples": total,
        "subset": subset or "",
        "status": ", ".join(marks) or FULL,
        "protocol": (f"{proto}: " if proto else "") + " + ".join(sigs),
    }


def load_long(
    results: str | Path | None = None,
    *,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """The long table of every record under ``results``, filtered (:func:`filter_long`);
    ``attrs["results"]`` notes the results directory (where the views find the per-sample
    statistics behind the rank groups)."""
    df = filter_long(long_table(read_records(results)), dataset=dataset, task=task, model=model)
    df.attrs["results"] = None if results is None else str(results)
    return df


def filter_long(
    df: pd.DataFrame,
    *,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """Rows of exactly this ``dataset``, of ``task`` (a name or a short form,
    :func:`parse_task_filter`), and of models matching the glob ``model`` (``fnmatch``,
    case-sensitive); None keeps everything."""
    task = parse_task_filter(task)
    if dataset:
        df = df[df["dataset"] == dataset]
    if task:
        df = df[df["task"] == task]
    if model:
        df = df[df["model"].map(lambda m: fnmatch.fnmatchcase(m, model))]
    return df.reset_index(drop=True)


def _visible(df: pd.DataFrame, all_runs: bool) -> pd.DataFrame:
    return df if all_runs or df.empty else df[df["status"] == FULL]


# ---------------------------------------------------------------------------------------
# the pivot


def metric_columns(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Pivot column name -> ``{"metric", "signature", "unit", "higher_is_better"}``.

    A metric computed under one signature is a column named after the metric; each further
    signature of the same metric gets its own column, ``"<metric> [sig#N]"``, in order of
    first appearance in ``df``. Two signatures never share a column.
    """
    out: dict[str, dict[str, Any]] = {}
    count: dict[str, int] = {}
    cols = df[["metric", "signature", "unit", "higher_is_better"]].drop_duplicates(
        ["metric", "signature"]
    )
    for metric, sig, unit, hib in cols.itertuples(index=False):
        n = count.get(metric, 0)
        count[metric] = n + 1
        name = metric if n == 0 else f"{metric} [sig#{n + 1}]"
        out[name] = {
            "metric": metric,
            "signature": sig,
            "unit": unit or None,
            "higher_is_better": bool(hib),
        }
    return out


_ROW_COLUMNS = ["run_id", "date", "weights_id", "tag", "num_samples", "total_samples",
                "subset", "status", "random_weights", "protocol", "headline"]  # fmt: skip


def pivot(df: pd.DataFrame, *, all_runs: bool = False) -> pd.DataFrame:
    """One row per run identity (:data:`IDENTITY`), its latest run; columns: ``rank``,
    the identity and status, ``runs`` (how many runs the identity has), the metrics, then
    the efficiency columns. Numbers stay numbers.

    Only ``status == "full"`` rows are ranked (1 = best, ties share the lower rank, empty
    when the value is missing), within each (dataset, split, task) by that group's
    :func:`primary_metric`; other rows (shown only with ``all_runs``) have no rank and
    come after the ranked ones. ``attrs``: ``rank_by`` ((dataset, split, task) -> column),
    ``headline`` (the same key -> metric columns in display order), ``columns``
    (:func:`metric_columns`), ``ci`` ((run_id, column) -> (low, high)), ``hidden`` (how
    many identities were left out because they are not full runs).
    """
    root = df.attrs.get("results")
    if df.empty:
        out = pd.DataFrame()
        out.attrs["results"] = root
        return out
    df = df.assign(split=df["split"].fillna("")).sort_values("date", kind="stable")
    latest = df.drop_duplicates(IDENTITY, keep="last")[[*IDENTITY, "run_id"]]
    runs = df.drop_duplicates([*IDENTITY, "run_id"]).groupby(IDENTITY, sort=False).size()
    hidden = int((latest.merge(df[["run_id", "status"]].drop_duplicates(), on="run_id")
                  ["status"] != FULL).sum()) if not all_runs else 0  # fmt: skip
    df = _visible(df[df["run_id"].isin(latest["run_id"])], all_runs)
    if df.empty:
        out = pd.DataFrame()
        out.attrs.update(hidden=hidden, results=root)
        return out
    info = metric_columns(df)
    name_of = {(v["metric"], v["signature"]): k for k, v in info.items()}
    df = df.assign(column=[name_of[(m, s)] for m, s in zip(df["metric"], df["signature"])])
    wide = df.set_index(["run_id", "column"])["value"].unstack("column")
    wide = wide.reindex(columns=[c for c in info if c in wide.columns])
    first = df.drop_duplicates("run_id").set_index("run_id")
    front = first[[*IDENTITY, *[c for c in _ROW_COLUMNS if c not in ("run_id",)]]]
    front = front.loc[:, ~front.columns.duplicated()]
    wide = front.join(wide).join(first[list(EFFICIENCY)]).reset_index()
    wide.columns.name = None
    wide["runs"] = [int(runs.get(tuple(row), 1)) for row in wide[IDENTITY].itertuples(index=False)]
    wide.insert(0, "rank", pd.array([pd.NA] * len(wide), dtype="Int64"))
    ci = {
        (r, name_of[(m, s)]): (lo, hi)
        for r, m, s, lo, hi in df[["run_id", "metric", "signature", "ci_low", "ci_high"]]
        .dropna(subset=["ci_low", "ci_high"])
        .itertuples(index=False)
    }
    rank_by: dict[tuple[str, str, str], str | None] = {}
    head_of: dict[tuple[str, str, str], list[str]] = {}
    wide["_key"] = float("nan")
    for key, idx in wide.groupby(_GROUP).groups.items():
        part = wide.loc[idx]
        present = [c for c in info if c in part and part[c].notna().any()]
        headline = [h for h in str(part["headline"].iloc[-1]).split("|") if h]
        head_cols = [c for h in headline for c in present if info[c]["metric"] == h]
        head_of[key] = head_cols
        col = primary_metric(present, headline)
        rank_by[key] = col
        if col is None:
            continue
        hib = info[col]["higher_is_better"]
        full = part[part["status"] == FULL]
        r = full[col].rank(method="min", ascending=not hib)
        wide.loc[full.index, "rank"] = r.astype("Int64")
        wide.loc[idx, "_key"] = (-part[col] if hib else part[col]).to_numpy()
    wide["_unranked"] = wide["rank"].isna()
    wide = wide.sort_values(
        ["task", "dataset", "split", "_unranked", "rank", "_key", "model"],
        na_position="last", kind="stable",
    ).drop(columns=["_key", "_unranked"]).reset_index(drop=True)  # fmt: skip
    wide.attrs.update(rank_by=rank_by, headline=head_of, columns=info, ci=ci, hidden=hidden,
                      results=root)  # fmt: skip
    return wide


def primary_metric(columns: list[str], headline: list[str] | None = None) -> str | None:
    """The column a group is ranked by: the first ``headline`` metric among ``columns``
    (default: the fallback headlines of every task), else the first of ``columns``."""
    from visionbench.leaderboard.units import FALLBACK_HEADLINE

    order = headline or [m for ms in FALLBACK_HEADLINE.values() for m in ms]
    for m in order:
        if m in columns:
            return m
    return columns[0] if columns else None


def best_mask(wide: pd.DataFrame) -> pd.DataFrame:
    """True where a cell holds the best value of its column among the ranked (full) runs
    of its (dataset, split, task); metric columns use their ``higher_is_better``,
    efficiency columns :data:`EFFICIENCY`. Ties are all best; missing values never are."""
    info = wide.attrs.get("columns", {})
    hib = {c: v["higher_is_better"] for c, v in info.items()} | EFFICIENCY
    mask = pd.DataFrame(False, index=wide.index, columns=wide.columns)
    if wide.empty:
        return mask
    status = wide["status"]
    for _, idx in wide.groupby(_GROUP).groups.items():
        ranked = [i for i in idx if status[i] == FULL]
        for col, higher in hib.items():
            if col not in wide or not ranked:
                continue
            vals = pd.to_numeric(wide.loc[ranked, col], errors="coerce")
            if vals.notna().any():
                best = vals.max() if higher else vals.min()
                mask.loc[ranked, col] = (vals == best).to_numpy()
    return mask


def export(
    df: pd.DataFrame,
    fmt: str,
    *,
    records: list[dict[str, Any]] | None = None,
    results: str | Path | None = None,
    all_runs: bool = False,
) -> str:
    """``csv`` (long format, numbers as numbers, a ``unit`` column), ``wide-csv``,
    ``json``, ``md``, ``html`` or ``timm-csv`` (classification only, timm's results
    columns). Subset and random-weight runs are left out unless ``all_runs``.

    ``records`` (the run records behind ``df``) feed the HTML plots and the timm CSV's
    preprocessing columns; when None they are read from ``results`` (the results
    directory, which also holds the arrays files behind the plots).
    """
    from visionbench.leaderboard import views

    if results is not None:
        df = df.copy()
        df.attrs["results"] = str(results)
    if fmt == "csv":
        return views.long_csv(df, all_runs=all_runs)
    if fmt == "wide-csv":
        return views.wide_csv(pivot(df, all_runs=all_runs))
    if fmt == "json":
        return views.leaderboard_json(df, all_runs=all_runs)
    if fmt == "md":
        wide = pivot(df, all_runs=all_runs)
        if wide.empty:
            note = views.hidden_note(wide)
            return "_no run records_\n" + (f"\n_{note}_\n" if note else "")
        return views.markdown(wide)
    if fmt == "html":
        from visionbench.leaderboard.html import render_html

        return render_html(df, records=records, results=results, all_runs=all_runs)
    if fmt == "timm-csv":
        from visionbench.leaderboard.timm_csv import timm_csv

        recs = records if records is not None else read_records(results)
        return timm_csv(_visible(df, all_runs), records=recs)
    raise VisionbenchError(
        f"unknown format {fmt!r}; use table, csv, wide-csv, json, md, html or timm-csv"
    )
