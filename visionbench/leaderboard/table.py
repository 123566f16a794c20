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

__all__ = ["LONG_COLUMNS", "long_table", "load_long", "pivot", "rich_table", "export"]

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
]


def long_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (run, metric)."""
    rows = []
    for r in records:
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
                }
            )
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    for c in ("value", "params", "gflops", "throughput_img_s", "num_samples"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def load_long(
    results: str | Path | None = None,
    *,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """The long table of every record under ``results``, filtered."""
    df = long_table(read_records(results))
    if dataset:
        df = df[df["dataset"] == dataset]
    if task:
        df = df[df["task"] == task]
    if model:
        df = df[df["model"].map(lambda m: fnmatch.fnmatchcase(m, model))]
    return df.reset_index(drop=True)


def pivot(df: pd.DataFrame) -> pd.DataFrame:
    """Rows = (model, dataset, split); columns = metric; the latest run of each model wins.

    Metrics that were computed under more than one signature get one column per
    signature (``metric [sig#2]``), never a merged column.
    """
    if df.empty:
        return pd.DataFrame()
    df = df.sort_values("date").drop_duplicates(
        ["model", "dataset", "split", "metric", "signature"], keep="last"
    )
    sig_rank = {}
    for metric, sig in df[["metric", "signature"]].drop_duplicates().itertuples(index=False):
        n = sum(1 for (m, _) in sig_rank if m == metric)
        sig_rank[(metric, sig)] = metric if n == 0 else f"{metric} [sig#{n + 1}]"
    df = df.assign(column=[sig_rank[(m, s)] for m, s in zip(df["metric"], df["signature"])])
    wide = df.pivot_table(
        index=["model", "dataset", "split", "task"],
        columns="column",
        values="value",
        aggfunc="last",
    )
    eff = df.groupby(["model", "dataset", "split", "task"])[
        ["params", "gflops", "throughput_img_s"]
    ].last()
    wide = wide.join(eff)
    wide.columns.name = None
    return wide.reset_index()


#: Metric columns shown first in the terminal table (the rest are in CSV / HTML).
HEADLINE = [
    "top1",
    "top5",
    "real_top1",
    "AP",
    "AP50",
    "AP75",
    "mIoU",
    "iIoU",
    "mIoU_category",
    "R@20",
    "R@50",
    "R@100",
    "mR@50",
    "bleu4",
    "sacrebleu",
]


def rich_table(df: pd.DataFrame, *, max_metrics: int = 4) -> Any:
    """A terminal table: headline metrics (at most ``max_metrics``) and efficiency columns."""
    from rich.table import Table

    wide = pivot(df)
    if not wide.empty:
        fixed = ["model", "dataset", "split", "task"]
        eff = ["params", "gflops", "throughput_img_s"]
        metrics = [c for c in wide.columns if c not in fixed + eff]
        order = [m for m in HEADLINE if m in metrics] + [m for m in metrics if m not in HEADLINE]
        wide = wide[fixed[:3] + order[:max_metrics] + [c for c in eff if wide[c].notna().any()]]
    table = Table(title="visionbench leaderboard")
    if wide.empty:
        table.add_column("no run records yet: try `bench run`")
        return table
    for c in wide.columns:
        table.add_column(str(c), justify="right" if wide[c].dtype.kind in "fi" else "left")
    for row in wide.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    return table


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.0f}" if abs(v) >= 1e5 else f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def _markdown(wide: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|")

    cols = [str(c) for c in wide.columns]
    align = ["---:" if wide[c].dtype.kind in "fi" else ":---" for c in wide.columns]
    lines = ["| " + " | ".join(cell(c) for c in cols) + " |", "| " + " | ".join(align) + " |"]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in wide.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def export(df: pd.DataFrame, fmt: str) -> str:
    """``csv`` (long format, numbers as numbers), ``wide-csv``, ``md``, or ``html``."""
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

        return render_html(df)
    from visionbench.errors import VisionbenchError

    raise VisionbenchError(f"unknown format {fmt!r}; use table, csv, wide-csv, md or html")
