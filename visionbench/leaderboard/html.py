"""The leaderboard as ONE self-contained HTML page.

No network access at all: CSS and JavaScript inline (the script allowed by its sha256 in
a Content-Security-Policy that forbids every other source), plots as PNG data URIs. One
section per (task, dataset, split): a table ranked by the group's primary metric, metric
columns grouped under their signature (two signatures never share a column), the best
value of each column highlighted, then the plots. Tables sort on a header click and
filter by model name, task and dataset (vanilla JS). Every string that comes from a record
is escaped with :func:`html.escape`; the JSON embedded for the CSV download escapes
``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import warnings
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from visionbench.leaderboard import plots
from visionbench.leaderboard.html_assets import CSS, SCRIPT
from visionbench.leaderboard.svg import scatter_svg
from visionbench.leaderboard.table import EFFICIENCY, FULL, best_mask, pivot
from visionbench.leaderboard.units import EFFICIENCY_COLUMNS
from visionbench.leaderboard.views import (
    CellView,
    cell_text,
    column_header,
    groups,
    hidden_note,
)
from visionbench.paths import records_dir
from visionbench.records import read_records

__all__ = ["render_html", "json_for_script"]

#: At most this many models per PR-curve plot (the best ranked).
MAX_PR_MODELS = 10
#: Per-run plots (per-class bars, confusion) for at most this many runs per group.
MAX_DETAIL_RUNS = 12

_EFF_LABELS = {k: v[0] for k, v in EFFICIENCY_COLUMNS.items()}


def render_html(
    df_long: pd.DataFrame,
    *,
    records: list[dict[str, Any]] | None = None,
    results: str | Path | None = None,
    title: str = "visionbench leaderboard",
    all_runs: bool = False,
) -> str:
    """The report page.

    Args:
        df_long: the long leaderboard table (already filtered).
        records: the run records behind ``df_long`` (for plots); read from ``results``
            when None. Records whose run is not in ``df_long`` are ignored.
        results: the results directory (its ``records/`` folder holds the arrays files).
        title: the page title.
        all_runs: also show subset and random-weight runs (unranked, with a badge).

    Returns:
        The HTML text (UTF-8, no external references).
    """
    if records is None:
        records = read_records(results)
    run_ids = set(df_long["run_id"]) if not df_long.empty else set()
    records = [r for r in records if r.get("run_id") in run_ids]
    folder = records_dir(results)
    wide = pivot(df_long, all_runs=all_runs)
    by_run = {r["run_id"]: r for r in records}
    sections, nav = [], []
    note = hidden_note(wide)
    if wide.empty:
        sections.append('<p class="empty">No run records yet: try <code>bench run</code>.</p>')
    else:
        best = best_mask(wide)
        for n, g in enumerate(groups(wide, metrics="all")):
            sid = f"g{n}"
            dataset, split, task = g["key"]
            sections.append(_section(sid, g, wide, best, by_run, folder))
            nav.append((sid, task, dataset, split))
    if note:
        sections.append(f'<p class="empty">{escape(note)}</p>')
    script_js = SCRIPT
    digest = base64.b64encode(hashlib.sha256(script_js.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    tasks = sorted({t for _, t, _, _ in nav})
    datasets = sorted({d for _, _, d, _ in nav})
    visible = df_long if all_runs or df_long.empty else df_long[df_long["status"] == FULL]
    data = visible[["run_id", "date", "model", "tag", "weights_id", "dataset", "split", "task",
                    "num_samples", "subset", "status", "metric", "value", "unit",
                    "signature"]].to_dict(orient="records")  # fmt: skip
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_models = df_long["model"].nunique() if not df_long.empty else 0
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p class='meta'>{len(run_ids)} runs, {n_models} "
        f"models, generated {escape(now)}. Click a column header to sort; the best value of "
        "each column (within a dataset) is highlighted.</p></header>",
        '<nav class="controls">',
        '<label>model <input id="vb-filter" type="search" placeholder="filter by name"></label>',
        _select("vb-task", "task", tasks),
        _select("vb-dataset", "dataset", datasets),
        '<button id="vb-csv" type="button">download CSV (long)</button>',
        '<span id="vb-count" aria-live="polite"></span></nav>',
        "<main>",
        *sections,
        _runs_table(records),
        "</main>",
        f'<script type="application/json" id="vb-data">{json_for_script(data)}</script>',
        f"<script>{script_js}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>``, ``&`` and the JS line
    separators escaped as ``\\uXXXX``; NaN and infinities become ``null``."""
    text = json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, esc)
    return text


# -- sections -------------------------------------------------------------------------


def _section(
    sid: str,
    g: dict[str, Any],
    wide: pd.DataFrame,
    best: pd.DataFrame,
    by_run: dict[str, dict[str, Any]],
    records_dir: Path,
) -> str:
    dataset, split, task = g["key"]
    info = wide.attrs["columns"]
    rank_by = g["rank_by"]
    part = wide.loc[g["index"]]
    wide, best = CellView(part), CellView(best.loc[g["index"]])
    sigs: list[str] = []
    for c in g["metrics"]:
        if info[c]["signature"] not in sigs:
            sigs.append(info[c]["signature"])
    metrics = [c for s in sigs for c in g["metrics"] if info[c]["signature"] == s]
    eff = g["efficiency"]
    ident = [c for c in g["identity"] if c not in ("rank", "model")]
    name = f"{dataset} / {split}" if split else dataset
    out = [
        f'<section class="group" id="{sid}" data-task="{escape(task)}" '
        f'data-dataset="{escape(dataset)}">',
        f"<h2>{escape(name)} <span class='task'>{escape(task)}</span></h2>",
    ]
    if rank_by:
        out.append(
            f"<p class='rankby'>ranked by <b>{escape(rank_by)}</b> "
            f"(<code>{escape(info[rank_by]['signature'])}</code>); subset and random-weight "
            "runs are not ranked</p>"
        )
    out.append('<div class="scroll"><table class="lb">')
    top = [f'<tr class="sigrow"><th colspan="{2 + len(ident)}"></th>']
    for s in sigs:
        k = sum(info[c]["signature"] == s for c in metrics)
        top.append(
            f'<th colspan="{k}" class="sig" title="{escape(s)}"><code>{escape(s)}</code></th>'
        )
    if eff:
        top.append(f'<th colspan="{len(eff)}" class="sig">efficiency</th>')
    out.append("<thead>" + "".join(top) + "</tr><tr>")
    numeric_ident = {"num_samples", "runs"}
    heads = [("rank", "rank", "0", True), ("model", "model", "", False)]
    heads += [(c, column_header(wide, c), "1", c in numeric_ident) for c in ident]
    heads += [(c, column_header(wide, c), "1" if info[c]["higher_is_better"] else "0", True)
              for c in metrics]  # fmt: skip
    heads += [(c, _EFF_LABELS[c], "1" if EFFICIENCY[c] else "0", True) for c in eff]
    for i, (col, label, hib, numeric) in enumerate(heads):
        tip = info[col]["signature"] if col in info else label
        out.append(
            f'<th data-col="{i}" data-key="{escape(col)}" data-hib="{hib}" '
            f'data-num="{int(numeric)}" title="{escape(tip)}" tabindex="0" '
            f'aria-sort="none">{escape(label)}</th>'
        )
    out.append("</tr></thead><tbody>")
    for i in g["index"]:
        rank = wide.at[i, "rank"]
        model = str(wide.at[i, "model"])
        cells = [
            _num_cell(None if pd.isna(rank) else float(rank), "rank", False),
            f'<td class="model">{escape(model)}</td>',
        ]
        for c in ident:
            if c in numeric_ident:
                cells.append(_num_cell(wide.at[i, c], c, False, cell_text(wide, i, c)))
            elif c == "status":
                text = cell_text(wide, i, c)
                badge = f'<span class="badge">{escape(text)}</span>' if text else ""
                cells.append(f'<td class="mark">{badge}</td>')
            else:
                full = str(wide.at[i, c])
                cells.append(
                    f'<td class="id" title="{escape(full)}">{escape(cell_text(wide, i, c))}</td>'
                )
        cells += [_num_cell(wide.at[i, c], c, bool(best.at[i, c]), cell_text(wide, i, c))
                  for c in metrics + eff]  # fmt: skip
        status = "" if wide.at[i, "status"] == FULL else ' class="unranked"'
        out.append(f'<tr data-model="{escape(model)}"{status}>' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    recs = {str(wide.at[i, "run_id"]): by_run[wide.at[i, "run_id"]] for i in g["index"]
            if wide.at[i, "run_id"] in by_run}  # fmt: skip
    out.append(_plots(task, dataset, part, rank_by, recs, records_dir))
    out.append("</section>")
    return "\n".join(out)


def _num_cell(value: Any, col: str, best: bool, text: str | None = None) -> str:
    v = None if value is None or pd.isna(value) else float(value)
    cls = "num best" if best else "num"
    if v is None:
        return f'<td class="{cls}" data-v="">-</td>'
    if text is None:
        text = f"{v:.0f}" if col == "rank" else f"{v:,.4f}"
    mark = ' aria-label="best"' if best else ""
    return f'<td class="{cls}" data-v="{v!r}" title="{v!r}"{mark}>{escape(text)}</td>'


def _run_label(row: pd.Series) -> str:
    """A run's name in a plot: the model, its tag, and its mark."""
    label = str(row["model"]) + (f" [{row['tag']}]" if row["tag"] else "")
    return label + ("" if row["status"] == FULL else f" ({row['status']})")


def _plots(
    task: str,
    dataset: str,
    part: pd.DataFrame,
    rank_by: str | None,
    recs: dict[str, dict[str, Any]],
    records_dir: Path,
) -> str:
    """The group's figures: efficiency scatter plots (inline SVG, one per quantity that at
    least two runs have), PR curves, then per-run details (per-class bars, confusion)
    for the best :data:`MAX_DETAIL_RUNS` runs."""
    figs: list[tuple[str | None, str]] = []
    svgs: list[str] = []
    if rank_by is not None:
        labels = [_run_label(r) for _, r in part.iterrows()]
        y = pd.to_numeric(part[rank_by], errors="coerce").to_numpy(dtype=float)
        for col, xlabel, benefit in (
            ("gflops", "GFLOPs per image", False),
            ("latency_ms", "latency (ms, batch 1)", False),
            ("throughput_img_s", "model img/s (steady state)", True),
        ):
            chart = _efficiency_svg(labels, part[col], y, xlabel=xlabel, ylabel=rank_by,
                                    benefit=benefit)  # fmt: skip
            if chart:
                svgs.append(chart)
    runs = [str(r) for r in part["run_id"] if str(r) in recs]
    shown = runs[:MAX_DETAIL_RUNS]
    label_of = {str(r["run_id"]): _run_label(r) for _, r in part.iterrows()}
    arrays = {r: plots.load_arrays(recs[r], records_dir) for r in shown}
    pr_keys = {r: _draws(recs[r]).get("pr_curves", "precision" if task == "detection" else None)
               for r in shown}  # fmt: skip
    if any(pr_keys.values()):
        curves = {label_of[r]: a for r, a in arrays.items() if pr_keys[r] and pr_keys[r] in a}
        figs.append((_safe(plots.pr_curve_plot, dict(list(curves.items())[:MAX_PR_MODELS]),
                           title=f"precision-recall, {dataset}"),
                     "precision-recall curves (area all, max detections 100)"))  # fmt: skip
    extra: list[str] = []
    for r in shown:
        m = label_of[r]
        extra += _safe(_run_details, task, m, recs[r], arrays[r], what=f"plots of {m}") or []
    if len(runs) > len(shown) and extra:
        extra.append(f"<p class='rankby'>per-run plots for the best {len(shown)} of "
                     f"{len(runs)} runs</p>")  # fmt: skip
    body = "".join(f"<figure>{svg}</figure>" for svg in svgs)
    body += "".join(
        f'<figure><img src="{escape(src)}" alt="{escape(cap)}"><figcaption>{escape(cap)}'
        "</figcaption></figure>"
        for src, cap in figs
        if src
    )
    return (f'<div class="plots">{body}</div>' if body else "") + "".join(extra)


def _efficiency_svg(
    labels: list[str], cost: Any, value: Any, *, xlabel: str, ylabel: str, benefit: bool
) -> str | None:
    """Accuracy vs a cost (or a benefit such as throughput): only the runs that have both
    numbers, and only when at least two do; the Pareto front is drawn (and named) only
    when it has two points or more."""
    c = pd.to_numeric(pd.Series(list(cost)), errors="coerce").to_numpy(dtype=float)
    v = pd.Series(list(value), dtype=float).to_numpy()
    ok = [i for i in range(len(c)) if math.isfinite(c[i]) and math.isfinite(v[i]) and c[i] > 0]
    if len(ok) < 2:
        return None
    xs, ys, names = c[ok], v[ok], [labels[i] for i in ok]
    front = plots.pareto_front(-xs if benefit else xs, ys)
    title = f"{ylabel} vs {xlabel}" + (", Pareto front in red" if len(front) >= 2 else "")
    return scatter_svg(names, xs, ys, xlabel=xlabel, ylabel=ylabel, title=title, front=front,
                       front_where="pre" if benefit else "post")  # fmt: skip


def _run_details(task: str, model: str, rec: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """Collapsible per-class bars and confusion heatmap of one run."""
    out = []
    draws = _draws(rec)
    for spec in _per_class_specs(draws, a):
        key, label = spec["array"], spec["label"]
        if key not in a:
            continue
        if spec.get("names") and len(spec["names"]) == len(a[key]):
            names = list(spec["names"])
        else:
            ids = a.get(spec["ids"]) if spec.get("ids") else None
            names = plots.class_names(rec, len(a[key]), ids)
        g = plots.per_class_plot(names, a[key], xlabel=label, title=f"{label}: {model}")
        if g:
            out.append(_details(f"{label} per class: {model}", g))
    conf = (
        draws.get("confusion")
        if draws
        else ("confusion" if task in ("classification", "semantic_segmentation") else None)
    )
    if conf and conf in a:
        cn = draws.get("confusion_names")
        n = a[conf].shape[0]
        names = list(cn)[:n] if cn and len(cn) >= n else plots.class_names(rec, n)
        g = plots.confusion_plot(a[conf], names, title=f"confusion: {model}")
        if g:
            out.append(_details(f"confusion matrix: {model}", g))
    return out


def _safe(fn: Any, *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or None with a warning when the data does not fit it (an
    arrays file of another shape must not take the whole report down)."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, IndexError, KeyError) as e:
        what = what or kwargs.get("title", "a plot")
        warnings.warn(f"report: skipped {what}: {type(e).__name__}: {e}", stacklevel=2)
        return None


def _draws(rec: dict[str, Any]) -> dict[str, Any]:
    """What the record's protocol says the report can draw (``{}``: an old record)."""
    return dict((rec.get("protocol") or {}).get("draws") or {})


def _per_class_specs(draws: dict[str, Any], arrays: dict[str, Any]) -> list[dict[str, Any]]:
    """The protocol's per-class arrays; for old records, the arrays recognised by name."""
    if draws:
        return list(draws.get("per_class") or [])
    return [
        {"array": k, "label": lab, "ids": "category_ids" if k == "ap_per_category" else None}
        for k, lab in _per_class_keys(arrays)
    ]


def _per_class_keys(arrays: dict[str, Any]) -> list[tuple[str, str]]:
    """Old records (no ``protocol`` entry): per-class arrays recognised by their names."""
    if "ap_per_category" in arrays:
        return [("ap_per_category", "AP")]
    if "class_iou" in arrays:
        return [("class_iou", "IoU")]
    if "iou" in arrays and getattr(arrays["iou"], "ndim", 0) == 1:
        return [("iou", "IoU")]
    mr = sorted(
        (k for k in arrays if k.startswith("mR@") and k.endswith("_per_predicate")),
        key=lambda k: int("".join(ch for ch in k[3:].split("_")[0] if ch.isdigit()) or 0),
    )
    return [(mr[-1], mr[-1].removesuffix("_per_predicate") + " recall")] if mr else []


def _details(summary: str, chart: str) -> str:
    """A collapsed block holding a chart: a PNG data URI or inline SVG markup made here."""
    if chart.startswith("data:image/png;base64,"):
        chart = f'<img src="{escape(chart)}" alt="{escape(summary)}">'
    return f"<details><summary>{escape(summary)}</summary><figure>{chart}</figure></details>"


def _runs_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return ""
    rows = []
    for r in sorted(records, key=lambda r: str(r.get("date") or ""), reverse=True):
        cmd = " ".join(str(c) for c in r.get("command") or [])
        hw = r.get("hardware") or {}
        device = ", ".join(hw.get("gpus") or []) or str(hw.get("device") or "")
        ds = r["dataset"]
        samples = f"{ds.get('num_samples', '')}" + (
            f" of {ds['total_samples']}" if ds.get("subset") and ds.get("total_samples") else ""
        )
        cells = [r.get("run_id"), r.get("date"), r["model"]["name"], r.get("tag") or "",
                 r["model"].get("weights_id") or "", ds["name"], samples, r.get("task"), device,
                 (r.get("git_commit") or "")[:12], cmd]  # fmt: skip
        rows.append(
            f'<tr data-model="{escape(str(r["model"]["name"]))}">'
            + "".join(f"<td>{escape(str(c if c is not None else ''))}</td>" for c in cells)
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "run id",
            "date",
            "model",
            "tag",
            "weights",
            "dataset",
            "samples",
            "task",
            "device",
            "commit",
            "command",
        )  # fmt: skip
    )
    return (
        f"<details class='runs'><summary>{len(records)} run records</summary>"
        f"<div class='scroll'><table class='runs'><thead><tr>{head}</tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table></div></details>"
    )


def _select(ident: str, label: str, values: list[str]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
    return (
        f'<label>{label} <select id="{ident}"><option value="">all</option>{opts}</select></label>'
    )


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj
