"""The leaderboard: a pure function of the run records.

Stored long (one row per run and metric: identity, ``metric, value, unit, signature``,
efficiency), pivoted only for display; numbers stay numbers. Two values with different
signatures are never put in one column: the pivot's column key is ``(metric, signature)``.

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
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from visionbench.engine.records import RANDOM_WEIGHTS, read_records
from visionbench.errors import VisionbenchError
from visionbench.leaderboard.units import (
    DECIMALS,
    EFFICIENCY_COLUMNS,
    format_ci,
    format_number,
    header,
    headline_metrics,
    metric_higher_is_better,
    metric_unit,
)

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
    "groups",
    "hidden_note",
    "cell_text",
    "rich_tables",
    "rich_table",
    "leaderboard_json",
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
    from visionbench.engine.records import weights_identity

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
    """The long table of every record under ``results``, filtered (:func:`filter_long`)."""
    return filter_long(long_table(read_records(results)), dataset=dataset, task=task, model=model)


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
    if df.empty:
        return pd.DataFrame()
    df = df.assign(split=df["split"].fillna("")).sort_values("date", kind="stable")
    latest = df.drop_duplicates(IDENTITY, keep="last")[[*IDENTITY, "run_id"]]
    runs = df.drop_duplicates([*IDENTITY, "run_id"]).groupby(IDENTITY, sort=False).size()
    hidden = int((latest.merge(df[["run_id", "status"]].drop_duplicates(), on="run_id")
                  ["status"] != FULL).sum()) if not all_runs else 0  # fmt: skip
    df = _visible(df[df["run_id"].isin(latest["run_id"])], all_runs)
    if df.empty:
        out = pd.DataFrame()
        out.attrs["hidden"] = hidden
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
    wide.attrs.update(rank_by=rank_by, headline=head_of, columns=info, ci=ci, hidden=hidden)
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


# ---------------------------------------------------------------------------------------
# what every human view shows


def groups(wide: pd.DataFrame, *, metrics: str = "headline") -> list[dict[str, Any]]:
    """The display groups of a pivot, one per (dataset, split, task), in order.

    Each: ``key``, ``index`` (rows), ``rank_by``, ``metrics`` (the headline metric columns
    when ``metrics="headline"``, falling back to the ranking column; every non-empty one
    when ``"all"``), ``efficiency`` (the non-empty efficiency columns) and ``identity``
    (the identity columns worth showing: ``tag`` when a row has one, ``status`` when a row
    is not a full run, ``runs`` when an identity has repeated runs).
    """
    if wide.empty:
        return []
    info = wide.attrs["columns"]
    out = []
    for key, idx in wide.groupby(["task", "dataset", "split"], sort=False).groups.items():
        part = wide.loc[idx]
        gkey = (key[1], key[2], key[0])
        present = [c for c in info if c in part and part[c].notna().any()]
        rank_by = wide.attrs["rank_by"].get(gkey)
        if metrics == "all":
            shown = present
        else:
            shown = [c for c in wide.attrs["headline"].get(gkey, []) if c in present]
            shown = shown or ([rank_by] if rank_by else present[:4])
        ident = ["rank", "model"]
        ident += ["tag"] if (part["tag"] != "").any() else []
        ident += ["weights_id", "num_samples"]
        ident += ["status"] if (part["status"] != FULL).any() else []
        ident += ["runs"] if (part["runs"] > 1).any() else []
        out.append({
            "key": gkey, "index": list(idx), "rank_by": rank_by, "metrics": shown,
            "efficiency": [c for c in EFFICIENCY if part[c].notna().any()], "identity": ident,
        })  # fmt: skip
    return out


#: Header of an identity column in the human views.
IDENTITY_HEADERS = {
    "rank": "rank",
    "model": "model",
    "tag": "tag",
    "weights_id": "weights",
    "num_samples": "samples",
    "status": "mark",
    "runs": "runs (count)",
}


def column_header(wide: pd.DataFrame, col: str) -> str:
    """The header of a column in a human view, carrying its unit."""
    if col in IDENTITY_HEADERS:
        return IDENTITY_HEADERS[col]
    if col in EFFICIENCY_COLUMNS:
        return EFFICIENCY_COLUMNS[col][0]
    return header(col, wide.attrs["columns"][col]["unit"])


class CellView:
    """Fast cell reads of a pivot for the display loops (``view.at[i, col]``, ``attrs``):
    pandas' ``DataFrame.at`` deep-copies ``attrs`` on every call, which made a
    1,000-row Markdown table take 16 s."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.attrs = frame.attrs
        index = frame.index.tolist()
        self._cols = {c: dict(zip(index, frame[c].tolist())) for c in frame.columns}
        self.at = self

    def __getitem__(self, key: tuple[Any, str]) -> Any:
        i, col = key
        return self._cols[col][i]

    def __contains__(self, col: object) -> bool:
        return col in self._cols


def cell_text(wide: pd.DataFrame | CellView, i: Any, col: str) -> str:
    """The text of one cell in a human view: one number of decimals per column,
    thousands separators, the confidence interval when the record has one."""
    v = wide.at[i, col]
    if col == "rank":
        return "-" if pd.isna(v) else str(int(v))
    if col in ("num_samples", "runs"):
        text = format_number(v, 0)
        total = wide.at[i, "total_samples"]
        if col == "num_samples" and not pd.isna(total) and not pd.isna(v) and v != total:
            text += f" of {format_number(total, 0)}"
        return text
    if col == "weights_id":
        return short_weights(str(v))
    if col == "status":
        return "" if v == FULL else _mark(wide, i)
    if col in EFFICIENCY_COLUMNS:
        _, dec, scale, _ = EFFICIENCY_COLUMNS[col]
        return format_number(v, dec, scale=scale)
    if col in wide.attrs.get("columns", {}):
        dec = DECIMALS.get(wide.attrs["columns"][col]["unit"] or "", 4)
        ci = wide.attrs.get("ci", {}).get((wide.at[i, "run_id"], col))
        text = format_number(v, dec)
        return text + (format_ci({"low": ci[0], "high": ci[1]}, dec) if ci else "")
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def short_weights(wid: str) -> str:
    """A weights identity for a table cell: a sha256 as its first 12 hex digits (as git
    abbreviates commits; the full digest is in CSV / JSON / the HTML tooltip), else as is."""
    if len(wid) == 64 and all(c in "0123456789abcdef" for c in wid):
        return wid[:12]
    return wid or "?"


def _mark(wide: pd.DataFrame, i: Any) -> str:
    parts = (["subset"] if wide.at[i, "subset"] else []) + (
        ["random weights"] if wide.at[i, "random_weights"] else []
    )
    return ", ".join(parts) or str(wide.at[i, "status"])


def hidden_note(wide: pd.DataFrame) -> str | None:
    """The line saying how many subset / random-weight runs a view leaves out."""
    n = wide.attrs.get("hidden", 0)
    if not n:
        return None
    return (
        f"{n} subset or random-weight run{'s' if n != 1 else ''} not ranked and not shown "
        "(--all shows them)"
    )


def rich_tables(df: pd.DataFrame, *, all_runs: bool = False, width: int | None = None) -> list[Any]:
    """The terminal leaderboard: one rich table per (dataset, split, task) with that
    protocol's headline metrics and the efficiency columns.

    Nothing is ever cut: identifiers (model, tag, weights) fold onto further lines, a
    number is never split, and when the columns do not fit in ``width`` (the console
    width; 80 when piped) the table continues below with the rank and model repeated.
    """
    from rich.table import Table
    from rich.text import Text

    if width is None:
        from rich.console import Console

        width = Console().width
    wide = pivot(df, all_runs=all_runs)
    out: list[Any] = []
    if wide.empty:
        table = Table(title="visionbench leaderboard")
        table.add_column("no run records yet: try `bench run`", overflow="fold")
        out.append(table)
    view = CellView(wide)
    best = CellView(best_mask(wide)) if not wide.empty else None
    for g in groups(wide):
        dataset, split, task = g["key"]
        title = f"{dataset} ({split}) · {task}" if split else f"{dataset} · {task}"
        cols = [*g["identity"], *g["metrics"], *g["efficiency"]]
        numeric = set(g["metrics"]) | set(g["efficiency"]) | {"rank", "num_samples", "runs"}
        texts = {c: [cell_text(view, i, c) for i in g["index"]] for c in cols}
        need = {c: _min_width(c, texts[c], column_header(wide, c), c in numeric) for c in cols}
        chunks = _fit(cols, need, keys=["rank", "model"], width=width)
        natural = {c: max(len(column_header(wide, c)), *(len(t) for t in texts[c])) for c in cols}
        for n, chunk in enumerate(chunks):
            fixed = _widths(chunk, need, natural, width)
            cont = f" (continued, {n + 1}/{len(chunks)})" if len(chunks) > 1 and n else ""
            last = n == len(chunks) - 1
            cap = f"ranked by {g['rank_by']}" if g["rank_by"] and last else None
            table = Table(title=title + cont, caption=cap, title_justify="left",
                          caption_justify="left")  # fmt: skip
            for c in chunk:
                table.add_column(column_header(wide, c), overflow="fold", width=fixed[c],
                                 justify="right" if c in numeric else "left")  # fmt: skip

            for k, i in enumerate(g["index"]):
                # Text cells: a model named "[red]x[/]" is shown as typed, never as markup
                table.add_row(*[
                    Text(texts[c][k], style="bold green" if c in best and best.at[i, c] else "")
                    for c in chunk
                ])  # fmt: skip
            out.append(table)
        legend = _weights_legend(view, g["index"])
        if legend:
            out.append(Text(legend, style="dim", overflow="fold"))
    note = hidden_note(wide)
    if note:
        out.append(Text(note, style="dim"))
    return out


def _weights_legend(wide: CellView, index: list[Any]) -> str:
    """``weights <short>: <full id>`` for every weights id the table abbreviates."""
    seen: dict[str, str] = {}
    for i in index:
        full = str(wide.at[i, "weights_id"])
        if short_weights(full) != full:
            seen.setdefault(short_weights(full), full)
    return "\n".join(f"weights {k} = sha256 {v}" for k, v in seen.items())


#: Identifiers fold onto further lines beyond this many characters.
_FOLD_AT = {"model": 24, "tag": 16, "weights_id": 12, "status": 14}


def _min_width(col: str, texts: list[str], head: str, numeric: bool) -> int:
    """A column's narrowest width: a number never splits; an identifier folds at
    :data:`_FOLD_AT`; a header wraps between words (rich measures its longest word)."""
    longest = max((len(t) for t in texts), default=1)
    word = max((len(w) for w in head.split()), default=1)  # rich never splits a word
    if numeric:
        return max(longest, word, 1)
    return max(min(longest, _FOLD_AT.get(col, 20)), word, 1)


def _widths(
    cols: list[str], need: dict[str, int], natural: dict[str, int], width: int
) -> dict[str, int]:
    """Fixed column widths for one table: each column its :func:`_min_width`, then the
    room left (``width`` less padding and borders) given to the columns that want more,
    the smallest wish first (rich's own collapsing can crop the last columns)."""
    out = {c: need[c] for c in cols}
    spare = width - (sum(out.values()) + 3 * len(cols) + 1)
    for c in sorted(cols, key=lambda c: natural[c] - need[c]):
        give = max(0, min(natural[c] - out[c], spare))
        out[c] += give
        spare -= give
    return out


def _fit(cols: list[str], need: dict[str, int], *, keys: list[str], width: int) -> list[list[str]]:
    """Split ``cols`` into chunks that fit ``width`` (each column takes its width + 3 for
    padding and border, the table 1 more), repeating ``keys`` in every chunk."""
    keys = [c for c in keys if c in cols]
    rest = [c for c in cols if c not in keys]
    base = 1 + sum(need[c] + 3 for c in keys)
    chunks: list[list[str]] = []
    cur: list[str] = []
    used = base
    for c in rest:
        w = need[c] + 3
        if cur and used + w > width:
            chunks.append(keys + cur)
            cur, used = [], base
        cur.append(c)
        used += w
    chunks.append(keys + cur)
    return chunks


def rich_table(df: pd.DataFrame, *, all_runs: bool = False, width: int | None = None) -> Any:
    """:func:`rich_tables` as one renderable."""
    from rich.console import Group

    return Group(*rich_tables(df, all_runs=all_runs, width=width))


def _markdown(wide: pd.DataFrame) -> str:
    """GitHub Markdown: one table per (dataset, split, task) with every metric of the
    group (units in the headers) and the efficiency columns; the best value of each
    column (among ranked runs) in bold."""

    def cell(text: str, bold: bool = False) -> str:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
        return f"**{text}**" if bold and text not in ("", "-") else text

    best = CellView(best_mask(wide))
    view = CellView(wide)
    lines: list[str] = []
    for g in groups(wide, metrics="all"):
        dataset, split, task = g["key"]
        lines.append(f"### {cell(dataset)} ({cell(split)}) · {task}\n")
        if g["rank_by"]:
            sig = wide.attrs["columns"][g["rank_by"]]["signature"]
            lines.append(f"ranked by {cell(g['rank_by'])} (`{sig}`)\n")
        cols = [*g["identity"], *g["metrics"], *g["efficiency"]]
        numeric = set(g["metrics"]) | set(g["efficiency"]) | {"rank", "num_samples", "runs"}
        lines.append("| " + " | ".join(cell(column_header(wide, c)) for c in cols) + " |")
        lines.append("| " + " | ".join("---:" if c in numeric else ":---" for c in cols) + " |")
        for i in g["index"]:
            lines.append("| " + " | ".join(
                cell(cell_text(view, i, c), bool(best.at[i, c]) if c in best else False)
                for c in cols) + " |")  # fmt: skip
        lines.append("")
    note = hidden_note(wide)
    if note:
        lines.append(f"_{note}_\n")
    return "\n".join(lines)


def _wide_csv(wide: pd.DataFrame) -> str:
    """The pivot as CSV: raw numbers, metric headers carrying their unit (``top1 (%)``),
    efficiency columns by their keys (``params`` a count, ``gflops``, ``latency_ms``,
    ``throughput_img_s``)."""
    if wide.empty:
        return ""
    info = wide.attrs["columns"]
    ident = ["rank", "model", "tag", "weights_id", "dataset", "split", "task", "num_samples",
             "total_samples", "subset", "status", "runs", "run_id", "date", "protocol"]  # fmt: skip
    metrics = [c for c in info if c in wide]
    eff = list(EFFICIENCY)  # their names carry their units: count, GFLOPs, ms, img/s
    out = wide[ident + metrics + eff].copy()
    out.columns = ident + [header(c, info[c]["unit"]) for c in metrics] + eff
    return out.to_csv(index=False)


def leaderboard_json(df: pd.DataFrame, *, all_runs: bool = False) -> str:
    """The leaderboard for scripts: ``{"groups": [{dataset, split, task, rank_by,
    columns: [{name, metric, signature, unit, higher_is_better}], rows: [{rank, model, tag,
    weights_id, num_samples, total_samples, subset, status, runs, run_id, date,
    metrics: {column: {value, ci?}}, params, gflops, latency_ms, throughput_img_s}]}],
    "hidden": N}``; raw numbers, ``null`` for missing values."""
    wide = pivot(df, all_runs=all_runs)
    out: dict[str, Any] = {"groups": [], "hidden": int(wide.attrs.get("hidden", 0))}
    full_frame, wide = wide, CellView(wide)
    for g in groups(full_frame, metrics="all"):
        dataset, split, task = g["key"]
        info = wide.attrs["columns"]
        rows = []
        for i in g["index"]:
            row = {k: _py(wide.at[i, k]) for k in (
                "rank", "model", "tag", "weights_id", "num_samples", "total_samples", "subset",
                "status", "runs", "run_id", "date")}  # fmt: skip
            mets = {}
            for c in g["metrics"]:
                entry: dict[str, Any] = {"value": _py(wide.at[i, c])}
                ci = wide.attrs["ci"].get((wide.at[i, "run_id"], c))
                if ci:
                    entry["ci"] = {"low": ci[0], "high": ci[1]}
                mets[c] = entry
            row["metrics"] = mets
            row |= {c: _py(wide.at[i, c]) for c in EFFICIENCY}
            rows.append(row)
        out["groups"].append({
            "dataset": dataset, "split": split, "task": task, "rank_by": g["rank_by"],
            "columns": [{"name": c, **info[c]} for c in g["metrics"]], "rows": rows,
        })  # fmt: skip
    return json.dumps(out, indent=1, allow_nan=False) + "\n"


def _py(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


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
    if fmt == "csv":
        return _visible(df, all_runs).to_csv(index=False)
    if fmt == "wide-csv":
        return _wide_csv(pivot(df, all_runs=all_runs))
    if fmt == "json":
        return leaderboard_json(df, all_runs=all_runs)
    if fmt == "md":
        wide = pivot(df, all_runs=all_runs)
        if wide.empty:
            note = hidden_note(wide)
            return "_no run records_\n" + (f"\n_{note}_\n" if note else "")
        return _markdown(wide)
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
