"""The leaderboard's views of a pivot (:func:`~visionbench.leaderboard.table.pivot`):
the terminal tables, Markdown, the wide CSV and JSON, and what they share: the display
groups (one per dataset, split and task), the headers with their units and the cell
texts (one number of decimals per column, thousands separators, confidence intervals).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from visionbench.leaderboard.table import EFFICIENCY, FULL, best_mask, pivot
from visionbench.leaderboard.units import (
    DECIMALS,
    EFFICIENCY_COLUMNS,
    beside_interval,
    format_ci,
    format_number,
    header,
)

__all__ = [
    "IDENTITY_HEADERS",
    "CellView",
    "groups",
    "column_header",
    "cell_text",
    "short_weights",
    "hidden_note",
    "interval_note",
    "view_notes",
    "rich_tables",
    "rich_table",
    "with_rank_groups",
    "rank_caption",
    "markdown",
    "long_csv",
    "wide_csv",
    "leaderboard_json",
]


def groups(wide: pd.DataFrame, *, metrics: str = "headline") -> list[dict[str, Any]]:
    """The display groups of a pivot, one per (dataset, split, task), in order.

    Each: ``key``, ``index`` (rows), ``rank_by``, ``metrics`` (the headline metric columns
    when ``metrics="headline"``, falling back to the ranking column; every non-empty one
    when ``"all"``), ``efficiency`` (the non-empty efficiency columns) and ``identity``
    (the identity columns worth showing: ``group`` and ``p_vs_above`` when the group has
    rank groups (:func:`with_rank_groups`), ``tag`` when a row has one, ``status`` when a
    row is not a full run, ``runs`` when an identity has repeated runs), ``rank_tests``
    (what the rank groups used, :func:`with_rank_groups`; None without).
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
        ident = ["rank"]
        if "group" in part and part["group"].notna().any():
            ident += ["group", "p_vs_above"]
        ident += ["model"]
        ident += ["tag"] if (part["tag"] != "").any() else []
        ident += ["weights_id", "num_samples"]
        ident += ["status"] if (part["status"] != FULL).any() else []
        ident += ["runs"] if (part["runs"] > 1).any() else []
        out.append({
            "key": gkey, "index": list(idx), "rank_by": rank_by, "metrics": shown,
            "rank_tests": wide.attrs.get("rank_tests", {}).get(gkey),
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
    "group": "group",
    "p_vs_above": "p vs above",
}


def with_rank_groups(wide: pd.DataFrame, results: Any = None) -> tuple[pd.DataFrame, dict]:
    """The pivot with the rank-group columns ``group`` (Int64; NA: not tested) and
    ``p_vs_above`` (the p-value of the test against the run above) when any display group
    has rank groups (:func:`~visionbench.leaderboard.significance.rank_group_info`), and
    ``attrs["rank_tests"]``: (dataset, split, task) -> ``{"column", "metric", "test",
    "trials", "B", "seed", "alpha", "missing"}``. Also returns the full information
    (with the tests' rows, for the report's table of paired differences)."""
    from visionbench.leaderboard.significance import rank_group_info

    info = rank_group_info(wide, results)
    if not any(g["rows"] for g in info.values()):
        return wide, info
    rows = {r: v for g in info.values() for r, v in g["rows"].items()}
    wide = wide.copy()
    ids = wide["run_id"].astype(str)
    wide["group"] = pd.array([rows[r]["group"] if r in rows else pd.NA for r in ids], "Int64")
    wide["p_vs_above"] = [
        float("nan") if r not in rows or rows[r]["p"] is None else float(rows[r]["p"]) for r in ids
    ]
    wide.attrs["rank_tests"] = {
        k: {
            n: g[n] for n in ("column", "metric", "test", "trials", "B", "seed", "alpha", "missing")
        }  # fmt: skip
        for k, g in info.items()
        if g["rows"]
    }
    return wide, info


def rank_caption(tests: dict[str, Any] | None, *, with_p: bool = True) -> str | None:
    """The line under a table with rank groups, naming the test (None: no groups);
    ``with_p``: the table also has the ``p vs above`` column."""
    if not tests:
        return None
    text = (
        f"group: a model keeps the group of the model above when their {tests['metric']} "
        f"difference is not significant ({tests['test']}, {tests['trials']} trials, seed "
        f"{tests['seed']}, p >= {tests['alpha']:g})"
    )
    if with_p:
        text += "; p vs above: that test's p-value"
    if tests["missing"]:
        text += "; -: no per-sample statistics"
    return text


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
    if col in ("rank", "group"):
        return "-" if pd.isna(v) else str(int(v))
    if col == "p_vs_above":
        return "-" if pd.isna(v) else f"{float(v):.3g}"
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
        if not ci:
            return text
        mark = f" {INTERVAL_MARK}" if _beside(v, ci) else ""
        return text + format_ci({"low": ci[0], "high": ci[1]}, dec) + mark
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


#: After a value whose bootstrap interval lies wholly beside it (:func:`interval_note`).
INTERVAL_MARK = "†"


def _beside(v: Any, ci: Any) -> bool:
    return beside_interval(v, ci[0], ci[1])


def interval_note(wide: pd.DataFrame) -> str | None:
    """The line explaining :data:`INTERVAL_MARK`, when some shown value carries it."""
    ci, cols = wide.attrs.get("ci", {}), wide.attrs.get("columns", {})
    if not ci or wide.empty:
        return None
    for i in wide.index:
        rid = wide.at[i, "run_id"]
        if any(_beside(wide.at[i, c], ci[(rid, c)]) for c in cols if (rid, c) in ci):
            return (
                f"{INTERVAL_MARK} the bootstrap interval lies beside the value: the metric is "
                "biased under resampling (AP: the precision envelope of a noisier curve is "
                "higher); the interval shows the replicates' spread (their mean: the record's "
                "ci.mean)"
            )
    return None


def view_notes(wide: pd.DataFrame) -> list[str]:
    """The notes under a view: :func:`hidden_note`, :func:`interval_note`."""
    return [n for n in (hidden_note(wide), interval_note(wide)) if n]


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
    wide, _ = with_rank_groups(pivot(df, all_runs=all_runs))
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
        ident = [c for c in g["identity"] if c != "p_vs_above"]  # p: Markdown, HTML, CSV
        cols = [*ident, *g["metrics"], *g["efficiency"]]
        numeric = set(g["metrics"]) | set(g["efficiency"]) | _NUMERIC_IDENTITY
        texts = {c: [cell_text(view, i, c) for i in g["index"]] for c in cols}
        need = {c: _min_width(c, texts[c], column_header(wide, c), c in numeric) for c in cols}
        chunks = _fit(cols, need, keys=["rank", "group", "model"], width=width)
        natural = {c: max(len(column_header(wide, c)), *(len(t) for t in texts[c])) for c in cols}
        for n, chunk in enumerate(chunks):
            fixed = _widths(chunk, need, natural, width)
            cont = f" (continued, {n + 1}/{len(chunks)})" if len(chunks) > 1 and n else ""
            last = n == len(chunks) - 1
            cap = f"ranked by {g['rank_by']}" if g["rank_by"] and last else None
            groups_line = rank_caption(g["rank_tests"], with_p=False)
            if cap and groups_line:
                cap += "\n" + groups_line
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
    for note in view_notes(wide):
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


#: Identity columns holding numbers (right-aligned).
_NUMERIC_IDENTITY = {"rank", "group", "p_vs_above", "num_samples", "runs"}

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


def markdown(wide: pd.DataFrame) -> str:
    """GitHub Markdown: one table per (dataset, split, task) with every metric of the
    group (units in the headers) and the efficiency columns; the best value of each
    column (among ranked runs) in bold."""

    def cell(text: str, bold: bool = False) -> str:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
        return f"**{text}**" if bold and text not in ("", "-") else text

    wide, _ = with_rank_groups(wide)
    best = CellView(best_mask(wide))
    view = CellView(wide)
    lines: list[str] = []
    for g in groups(wide, metrics="all"):
        dataset, split, task = g["key"]
        lines.append(f"### {cell(dataset)} ({cell(split)}) · {task}\n")
        if g["rank_by"]:
            sig = wide.attrs["columns"][g["rank_by"]]["signature"]
            lines.append(f"ranked by {cell(g['rank_by'])} (`{sig}`)\n")
        groups_line = rank_caption(g["rank_tests"])
        if groups_line:
            lines.append(cell(groups_line) + "\n")
        cols = [*g["identity"], *g["metrics"], *g["efficiency"]]
        numeric = set(g["metrics"]) | set(g["efficiency"]) | _NUMERIC_IDENTITY
        lines.append("| " + " | ".join(cell(column_header(wide, c)) for c in cols) + " |")
        lines.append("| " + " | ".join("---:" if c in numeric else ":---" for c in cols) + " |")
        for i in g["index"]:
            lines.append("| " + " | ".join(
                cell(cell_text(view, i, c), bool(best.at[i, c]) if c in best else False)
                for c in cols) + " |")  # fmt: skip
        lines.append("")
    for note in view_notes(wide):
        lines.append(f"_{cell(note)}_\n")
    return "\n".join(lines)


def wide_csv(wide: pd.DataFrame) -> str:
    """The pivot as CSV: raw numbers, metric headers carrying their unit (``top1 (%)``),
    each metric followed by its interval (``top1 ci_low (%)``, ``top1 ci_high (%)``;
    empty without one), efficiency columns by their keys (``params`` a count, ``gflops``,
    ``latency_ms``, ``throughput_img_s``); after ``rank`` the rank groups: ``rank_group``,
    ``p_vs_above`` and ``rank_group_test`` (the test, its settings and the metric; empty
    where a run was not tested)."""
    if wide.empty:
        return ""
    wide, _ = with_rank_groups(wide)
    info = wide.attrs["columns"]
    ident = ["model", "tag", "weights_id", "dataset", "split", "task", "num_samples",
             "total_samples", "subset", "status", "runs", "run_id", "date", "protocol"]  # fmt: skip
    metrics = [c for c in info if c in wide]
    eff = list(EFFICIENCY)  # their names carry their units: count, GFLOPs, ms, img/s
    out = pd.DataFrame({"rank": wide["rank"]})
    groups_of = _rank_group_columns(wide)
    for c in ("rank_group", "p_vs_above", "rank_group_test"):
        out[c] = groups_of[c]
    for c in ident:
        out[c] = wide[c]
    ci = wide.attrs.get("ci", {})
    ids = wide["run_id"].tolist()
    for c in metrics:
        h = header(c, info[c]["unit"])
        out[h] = wide[c]
        low, high = header(f"{c} ci_low", info[c]["unit"]), header(f"{c} ci_high", info[c]["unit"])
        out[low] = [ci[(r, c)][0] if (r, c) in ci else None for r in ids]
        out[high] = [ci[(r, c)][1] if (r, c) in ci else None for r in ids]
    for c in eff:
        out[c] = wide[c]
    return out.to_csv(index=False)


def test_label(tests: dict[str, Any]) -> str:
    """``approximate randomisation on AP, 1000 trials, seed 12345, alpha 0.05``."""
    return (f"{tests['test']} on {tests['metric']}, {tests['trials']} trials, "
            f"seed {tests['seed']}, alpha {tests['alpha']:g}")  # fmt: skip


def _rank_group_columns(wide: pd.DataFrame) -> pd.DataFrame:
    """``rank_group``, ``p_vs_above``, ``rank_group_test`` of each row of a pivot that went
    through :func:`with_rank_groups` (empty where a run was not tested)."""
    tests = wide.attrs.get("rank_tests", {})
    out = pd.DataFrame(index=wide.index)
    has = "group" in wide
    out["rank_group"] = wide["group"] if has else pd.array([pd.NA] * len(wide), "Int64")
    out["p_vs_above"] = wide["p_vs_above"] if has else float("nan")
    label = []
    for i in wide.index:
        t = tests.get((wide.at[i, "dataset"], wide.at[i, "split"], wide.at[i, "task"]))
        label.append(test_label(t) if t and has and not pd.isna(wide.at[i, "group"]) else "")
    out["rank_group_test"] = label
    return out


def long_csv(df: pd.DataFrame, *, all_runs: bool = False) -> str:
    """The long table as CSV (one row per run and metric; the interval in ``ci_low``,
    ``ci_high``), with the run's rank group in ``rank_group``, ``p_vs_above`` and
    ``rank_group_test`` (see :func:`wide_csv`; empty for runs not on the leaderboard)."""
    visible = df if all_runs or df.empty else df[df["status"] == FULL]
    out = visible.copy()
    wide = pivot(df, all_runs=all_runs)
    cols = pd.DataFrame(columns=["rank_group", "p_vs_above", "rank_group_test"])
    if not wide.empty:
        wide, _ = with_rank_groups(wide)
        cols = _rank_group_columns(wide).set_index(wide["run_id"].to_numpy())
    for c in ("rank_group", "p_vs_above", "rank_group_test"):
        out[c] = out["run_id"].map(cols[c]) if len(cols) else None
    return out.to_csv(index=False)


def leaderboard_json(df: pd.DataFrame, *, all_runs: bool = False) -> str:
    """The leaderboard for scripts: ``{"groups": [{dataset, split, task, rank_by,
    columns: [{name, metric, signature, unit, higher_is_better}], rows: [{rank, model, tag,
    weights_id, num_samples, total_samples, subset, status, runs, run_id, date,
    metrics: {column: {value, ci?}}, params, gflops, latency_ms, throughput_img_s,
    group?, p_vs_above?}], rank_groups?: {column, metric, test, trials, B, seed, alpha}}],
    "hidden": N}``; raw numbers, ``null`` for missing values; ``group`` / ``p_vs_above``
    only in groups with rank groups (:func:`with_rank_groups`)."""
    wide, _ = with_rank_groups(pivot(df, all_runs=all_runs))
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
            if g["rank_tests"]:
                row |= {"group": _py(wide.at[i, "group"]),
                        "p_vs_above": _py(wide.at[i, "p_vs_above"])}  # fmt: skip
            rows.append(row)
        entry = {
            "dataset": dataset, "split": split, "task": task, "rank_by": g["rank_by"],
            "columns": [{"name": c, **info[c]} for c in g["metrics"]], "rows": rows,
        }  # fmt: skip
        if g["rank_tests"]:
            entry["rank_groups"] = {k: v for k, v in g["rank_tests"].items() if k != "missing"}
        out["groups"].append(entry)
    return json.dumps(out, indent=1, allow_nan=False) + "\n"


def _py(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
