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

import numpy as np
import pandas as pd

from visionbench.leaderboard import plots
from visionbench.leaderboard.html_assets import CSS, SCRIPT
from visionbench.leaderboard.svg import (
    grouped_bars_svg,
    histogram_svg,
    reliability_svg,
    scatter_svg,
)
from visionbench.leaderboard.table import EFFICIENCY, FULL, best_mask, pivot
from visionbench.leaderboard.units import EFFICIENCY_COLUMNS, header
from visionbench.leaderboard.views import (
    CellView,
    cell_text,
    column_header,
    groups,
    rank_caption,
    view_notes,
    with_rank_groups,
)
from visionbench.paths import records_dir
from visionbench.records import read_records

__all__ = ["render_html", "json_for_script", "paired_table"]

#: At most this many models per PR-curve plot (the best ranked).
MAX_PR_MODELS = 10
#: Per-run plots (confusion, error analysis) for at most this many runs per group.
MAX_DETAIL_RUNS = 12
#: At most this many models (the best ranked) in one grouped chart (headline metrics, TIDE).
MAX_SERIES = 10
#: At most this many models in one per-class grouped chart.
MAX_CLASS_SERIES = 6

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
    wide, tests = with_rank_groups(pivot(df_long, all_runs=all_runs), results)
    by_run = {r["run_id"]: {**r, "_dir": str(folder)} for r in records}
    sections, nav = [], []
    notes = view_notes(wide)
    if wide.empty:
        sections.append('<p class="empty">No run records yet: try <code>bench run</code>.</p>')
    else:
        best = best_mask(wide)
        for n, g in enumerate(groups(wide, metrics="all")):
            sid = f"g{n}"
            dataset, split, task = g["key"]
            sections.append(_section(sid, g, wide, best, by_run, folder,
                                     tests.get(g["key"])))  # fmt: skip
            nav.append((sid, task, dataset, split))
    for note in notes:
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
    tests: dict[str, Any] | None = None,
) -> str:
    dataset, split, task = g["key"]
    info = wide.attrs["columns"]
    attrs = wide.attrs
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
    groups_line = rank_caption(g["rank_tests"])
    if groups_line:
        out.append(f"<p class='rankby groups'>{escape(groups_line)}</p>")
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
    numeric_ident = {"num_samples", "runs", "group", "p_vs_above"}
    heads = [("rank", "rank", "0", True), ("model", "model", "", False)]
    heads += [(c, column_header(wide, c), "0" if c == "group" else "1", c in numeric_ident)
              for c in ident]  # fmt: skip
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
    label_of = {str(r["run_id"]): _run_label(r) for _, r in part.iterrows()}
    out.append(_plots(task, dataset, part, rank_by, recs, records_dir, attrs, g["key"]))
    if tests:
        out.append(paired_table(tests, label_of))
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
    attrs: dict[str, Any] | None = None,
    key: tuple[str, str, str] | None = None,
) -> str:
    """The group's figures: the headline metrics of every model in one grouped chart per
    unit (intervals as error bars), efficiency scatter plots (inline SVG, one per quantity
    that at least two runs have; intervals as error bars), PR curves, per-class bars of
    the models in one grouped chart, TIDE's breakdown and the best-F1 thresholds of the
    models, then per-run details (confusion, error analysis) for the best
    :data:`MAX_DETAIL_RUNS` runs."""
    attrs = attrs or {}
    ci = attrs.get("ci", {})
    figs: list[tuple[str | None, str]] = []
    svgs: list[str] = []
    labels = [_run_label(r) for _, r in part.iterrows()]
    run_ids = [str(r) for r in part["run_id"]]
    head = (attrs.get("headline") or {}).get(key) or ([rank_by] if rank_by else [])
    svgs += _headline_charts(part, head, attrs, labels, run_ids, _ci_level(recs))
    if rank_by is not None:
        y = pd.to_numeric(part[rank_by], errors="coerce").to_numpy(dtype=float)
        lo = [ci.get((r, rank_by), (math.nan, math.nan))[0] for r in run_ids]
        hi = [ci.get((r, rank_by), (math.nan, math.nan))[1] for r in run_ids]
        for col, xlabel, benefit in (
            ("gflops", "GFLOPs per image", False),
            ("latency_ms", "latency (ms, batch 1)", False),
            ("throughput_img_s", "model img/s (steady state)", True),
        ):
            chart = _efficiency_svg(labels, part[col], y, xlabel=xlabel, ylabel=rank_by,
                                    benefit=benefit, low=lo, high=hi)  # fmt: skip
            if chart:
                svgs.append(chart)
    runs = [r for r in run_ids if r in recs]
    shown = runs[:MAX_DETAIL_RUNS]
    label_of = dict(zip(run_ids, labels))
    arrays = {r: plots.load_arrays(recs[r], records_dir) for r in shown}
    pr_keys = {r: _draws(recs[r]).get("pr_curves", "precision" if task == "detection" else None)
               for r in shown}  # fmt: skip
    if any(pr_keys.values()):
        curves = {label_of[r]: a for r, a in arrays.items() if pr_keys[r] and pr_keys[r] in a}
        figs.append((_safe(plots.pr_curve_plot, dict(list(curves.items())[:MAX_PR_MODELS]),
                           title=f"precision-recall, {dataset}"),
                     "precision-recall curves (area all, max detections 100)"))  # fmt: skip
    extra: list[str] = []
    extra += _per_class_charts(shown, recs, arrays, label_of)
    analyses = {r: (recs[r].get("analysis") or {}) for r in shown}
    analyses = {r: a for r, a in analyses.items() if isinstance(a, dict) and a}
    tide = _safe(_tide_chart, analyses, label_of, what="the TIDE chart")
    if tide:
        svgs.append(tide)
    extra.append(_safe(_threshold_table, analyses, label_of, what="the threshold table") or "")
    for r in shown:
        m = label_of[r]
        extra += _safe(_run_details, task, m, recs[r], arrays[r], what=f"plots of {m}") or []
        if r in analyses:
            extra.append(_safe(_analysis_details, m, analyses[r], what=f"analysis of {m}") or "")
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


def _headline_charts(
    part: pd.DataFrame, head: list[str], attrs: dict[str, Any], labels: list[str],
    run_ids: list[str], level: str = "95%",
) -> list[str]:  # fmt: skip
    """One grouped-bar chart per unit of the headline metrics: a group per metric, a bar
    per model (the best :data:`MAX_SERIES`), the interval (``ci``) as an error bar."""
    info, ci = attrs.get("columns", {}), attrs.get("ci", {})
    head = [c for c in head if c in part and part[c].notna().any()]
    n = min(len(run_ids), MAX_SERIES)
    out = []
    units: dict[str | None, list[str]] = {}
    for c in head:
        units.setdefault(info.get(c, {}).get("unit"), []).append(c)
    for unit, cols in units.items():
        vals = np.array([[_float(part[c].iloc[j]) for j in range(n)] for c in cols])
        lo = np.array([[ci.get((run_ids[j], c), (math.nan,))[0] for j in range(n)] for c in cols])
        hi = np.array([[ci.get((run_ids[j], c), (0, math.nan))[1] for j in range(n)]
                       for c in cols])  # fmt: skip
        if not np.isfinite(vals).any():
            continue
        scale = header("", unit).strip()
        note = f", {level} intervals" if np.isfinite(lo).any() else ""
        more = f" (best {n} of {len(run_ids)})" if n < len(run_ids) else ""
        out.append(grouped_bars_svg(cols, labels[:n], vals, lows=lo, highs=hi,
                                    title=f"headline metrics {scale}{note}{more}",
                                    xlabel=f"value {scale}"))  # fmt: skip
    return out


def _ci_level(recs: dict[str, dict[str, Any]]) -> str:
    """The level the records' intervals declare (``95%``; the first one found)."""
    for rec in recs.values():
        for m in (rec.get("metrics") or {}).values():
            ci = m.get("ci") if isinstance(m, dict) else None
            if isinstance(ci, dict) and ci.get("level"):
                return f"{float(ci['level']) * 100:g}%"
    return "95%"


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _per_class_charts(
    shown: list[str], recs: dict[str, dict[str, Any]], arrays: dict[str, dict[str, Any]],
    label_of: dict[str, str],
) -> list[str]:  # fmt: skip
    """Per-class bars of several models in ONE chart per (array label, class list): the
    runs whose per-class arrays name the same classes share a chart (the best
    :data:`MAX_CLASS_SERIES`), classes sorted by the models' mean, best at the top."""
    charts: dict[tuple[str, tuple[str, ...]], dict[str, np.ndarray]] = {}
    for r in shown:
        a, draws = arrays[r], _draws(recs[r])
        for spec in _per_class_specs(draws, a):
            k, label = spec["array"], spec["label"]
            if k not in a or np.asarray(a[k]).ndim != 1:
                continue
            if spec.get("names") and len(spec["names"]) == len(a[k]):
                names = list(spec["names"])
            else:
                ids = a.get(spec["ids"]) if spec.get("ids") else None
                names = _safe(plots.class_names, recs[r], len(a[k]), ids,
                              what=f"plots of {label_of[r]}")  # fmt: skip
                if names is None:
                    continue
                if len(names) != len(a[k]):
                    warnings.warn(f"report: skipped plots of {label_of[r]}: {k} has "
                                  f"{len(a[k])} values for {len(names)} class ids",
                                  stacklevel=2)  # fmt: skip
                    continue
            charts.setdefault((label, tuple(map(str, names))), {})[r] = np.asarray(a[k], float)
    out = []
    for (label, names), by_run in charts.items():
        runs = list(by_run)[:MAX_CLASS_SERIES]
        models = [label_of[r] for r in runs]
        g = plots.per_class_grouped_plot(list(names), np.stack([by_run[r] for r in runs], 1),
                                         models, xlabel=label,
                                         title=f"{label} per class")  # fmt: skip
        if g:
            what = models[0] if len(models) == 1 else f"{len(models)} models"
            out.append(_details(f"{label} per class: {what}", g))
    return out


def _tide_chart(analyses: dict[str, dict[str, Any]], label_of: dict[str, str]) -> str | None:
    """TIDE's dAP of each error type (and the special FalsePos / FalseNeg), a bar per
    model, in one chart."""
    runs = [r for r, a in analyses.items() if isinstance(a.get("tide"), dict)][:MAX_SERIES]
    if not runs:
        return None
    cats: list[str] = []
    for r in runs:
        t = analyses[r]["tide"]
        for k in list(t.get("dAP") or {}) + [f"{s} (special)" for s in t.get("special") or {}]:
            if k not in cats:
                cats.append(k)

    def value(t: dict[str, Any], cat: str) -> float:
        if cat.endswith(" (special)"):
            return _float((t.get("special") or {}).get(cat.removesuffix(" (special)")))
        return _float((t.get("dAP") or {}).get(cat))

    vals = np.array([[value(analyses[r]["tide"], c) for r in runs] for c in cats])
    if not np.isfinite(vals).any():
        return None
    return grouped_bars_svg(cats, [label_of[r] for r in runs], vals,
                            title="TIDE: AP lost to each error type (dAP)",
                            xlabel="dAP (AP gained by fixing that error type)")  # fmt: skip


def _threshold_table(analyses: dict[str, dict[str, Any]], label_of: dict[str, str]) -> str:
    """The best-F1 score threshold of each model (overall; per class in a collapsed
    table)."""
    rows = []
    for r, a in analyses.items():
        sweep = a.get("threshold_sweep")
        if not isinstance(sweep, dict):
            continue
        per = sweep.get("per_class") or []
        per_html = ""
        if per:
            body = "".join(
                f"<tr><td>{escape(str(p.get('class')))}</td>{_ncell(p.get('best_f1'))}"
                f"{_ncell(p.get('best_threshold'))}</tr>"
                for p in per
            )
            per_html = (f"<details><summary>{len(per)} classes</summary><table class='an'>"
                        "<thead><tr><th>class</th><th>best F1</th><th>at score &ge;</th></tr>"
                        f"</thead><tbody>{body}</tbody></table></details>")  # fmt: skip
        rows.append(f"<tr><td class='model'>{escape(label_of[r])}</td>"
                    f"{_ncell(sweep.get('best_f1'))}{_ncell(sweep.get('best_threshold'))}"
                    f"<td>{per_html}</td></tr>")  # fmt: skip
    if not rows:
        return ""
    return ("<div class='scroll'><table class='an thresholds'><caption>best F1 over the score "
            "threshold (precision / recall / F1 of the detections scoring at least the "
            "threshold)</caption><thead><tr><th>model</th><th>best F1</th><th>at score &ge;"
            "</th><th>per class</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table></div>")  # fmt: skip


def _ncell(v: Any, digits: int = 4) -> str:
    f = _float(v)
    if not math.isfinite(f):
        return '<td class="num">-</td>'
    return f'<td class="num" data-v="{f!r}">{f:.{digits}g}</td>'


def _analysis_details(model: str, a: dict[str, Any]) -> str:
    """One run's error analysis, collapsed: the k worst samples, the most-confused class
    pairs, the reliability diagram (calibration), the per-sample distribution."""
    parts = []
    worst = a.get("worst")
    if isinstance(worst, dict) and worst.get("samples"):
        by, direction = str(worst.get("by", "score")), str(worst.get("direction", "higher"))
        body = "".join(
            f"<tr><td class='num'>{n}</td><td class='id'>{escape(str(s.get('id')))}</td>"
            f"{_ncell(s.get('score'))}</tr>"
            for n, s in enumerate(worst["samples"], start=1)
        )
        parts.append(
            f"<table class='an worst'><caption>the {len(worst['samples'])} worst samples by "
            f"{escape(by)} ({escape(direction)} is better)</caption><thead><tr><th>#</th>"
            f"<th>sample id</th><th>{escape(by)}</th></tr></thead><tbody>{body}</tbody></table>"
        )
    pairs = a.get("confused_pairs")
    if isinstance(pairs, list) and pairs:
        body = "".join(
            f"<tr><td>{escape(str(p.get('true')))}</td><td>{escape(str(p.get('pred')))}</td>"
            f"{_ncell(p.get('count'), 12)}{_ncell(p.get('fraction'))}</tr>"
            for p in pairs
        )
        parts.append(
            "<table class='an pairs'><caption>most-confused class pairs (fraction: of the "
            "true class's samples)</caption><thead><tr><th>true</th><th>predicted</th>"
            f"<th>count</th><th>fraction</th></tr></thead><tbody>{body}</tbody></table>"
        )
    cal = a.get("calibration")
    if isinstance(cal, dict) and isinstance(cal.get("bins"), dict):
        b = cal["bins"]
        title = (f"reliability: {model} (ECE {_float(cal.get('ece')):.4f}, "
                 f"MCE {_float(cal.get('mce')):.4f}, {len(b.get('count') or [])} bins)")  # fmt: skip
        parts.append(
            f"<figure>{reliability_svg(b['confidence'], b['accuracy'], b['count'], title=title)}</figure>"
        )
    dist = a.get("per_sample")
    if isinstance(dist, dict) and isinstance(dist.get("histogram"), dict):
        h, q = dist["histogram"], dist.get("quantiles") or {}
        metric = str(dist.get("metric", "score"))
        qtext = ", ".join(f"{k} {_float(v):.3g}" for k, v in q.items())
        parts.append("<figure>" + histogram_svg(
            h["edges"], h["counts"], title=f"per-sample {metric}: {model}",
            xlabel=f"{metric} per sample" + (f" ({qtext})" if qtext else ""),
            marks={k: _float(v) for k, v in q.items()}) + "</figure>")  # fmt: skip
    if not parts:
        return ""
    return (f"<details class='analysis'><summary>error analysis: {escape(model)}</summary>"
            + "".join(parts) + "</details>")  # fmt: skip


def paired_table(tests: dict[str, Any], label_of: dict[str, str]) -> str:
    """The paired differences of each model to the model ranked above it (the tests behind
    the rank groups): per headline metric the difference (this model - the one above), its
    interval (paired bootstrap, percentile), and both tests' p-values; a model that was not
    tested says why."""
    if not any(e["rows"] for e in tests["chain"]):
        why = "; ".join(f"{label_of.get(e['run_id'], e['run_id'])}: {e['error']}"
                        for e in tests["chain"] if e["error"])  # fmt: skip
        return ("<p class='rankby'>paired differences: not available (fewer than two runs "
                f"with per-sample statistics could be compared; {escape(why)})</p>")  # fmt: skip
    rows = []
    for e in tests["chain"]:
        model = escape(label_of.get(e["run_id"], e["run_id"]))
        if e["error"]:
            rows.append(f"<tr><td class='model'>{model}</td><td colspan='7' class='missing'>"
                        f"not tested: {escape(e['error'])}</td></tr>")  # fmt: skip
            continue
        if e["above"] is None:
            continue
        above = escape(label_of.get(e["above"], e["above"]))
        ordered = sorted(e["rows"], key=lambda r: r["metric"] != tests["metric"])
        for r in ordered:
            level = f"{r.get('level', 0.95) * 100:g}%"
            rows.append(
                f"<tr><td class='model'>{model}</td><td class='model'>{above}</td>"
                f"<td>{escape(r['metric'])}</td>{_ncell(r['difference'])}"
                f"<td class='num'>{_interval(r['ci_low'], r['ci_high'])} ({level})</td>"
                f"{_ncell(r['p_bootstrap'], 3)}{_ncell(r['p_randomization'], 3)}"
                f"<td class='num'>{int(r['samples'])}</td></tr>"
            )
    if not rows:
        return ""
    cap = (f"paired differences to the model ranked above, on the samples both scored: "
           f"paired bootstrap ({tests['B']} resamples; the interval) and approximate "
           f"randomisation ({tests['trials']} trials), seed {tests['seed']} "
           f"(bench compare's tests)")  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in (
        "model", "vs (above)", "metric", "difference", "interval", "p (paired bootstrap)",
        "p (approximate randomisation)", "samples"))  # fmt: skip
    return (
        f"<div class='scroll'><table class='an paired'><caption>{escape(cap)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def _interval(lo: Any, hi: Any) -> str:
    a, b = _float(lo), _float(hi)
    if not (math.isfinite(a) and math.isfinite(b)):
        return "-"
    return f"[{a:.4g}, {b:.4g}]"


def _efficiency_svg(
    labels: list[str], cost: Any, value: Any, *, xlabel: str, ylabel: str, benefit: bool,
    low: Any = None, high: Any = None,
) -> str | None:  # fmt: skip
    """Accuracy vs a cost (or a benefit such as throughput): only the runs that have both
    numbers, and only when at least two do; the Pareto front is drawn (and named) only
    when it has two points or more; the accuracy's interval (``low``, ``high``) as error
    bars."""
    c = pd.to_numeric(pd.Series(list(cost)), errors="coerce").to_numpy(dtype=float)
    v = pd.Series(list(value), dtype=float).to_numpy()
    ok = [i for i in range(len(c)) if math.isfinite(c[i]) and math.isfinite(v[i]) and c[i] > 0]
    if len(ok) < 2:
        return None
    xs, ys, names = c[ok], v[ok], [labels[i] for i in ok]
    lo = None if low is None else np.asarray(low, dtype=float)[ok]
    hi = None if high is None else np.asarray(high, dtype=float)[ok]
    front = plots.pareto_front(-xs if benefit else xs, ys)
    title = f"{ylabel} vs {xlabel}" + (", Pareto front in red" if len(front) >= 2 else "")
    return scatter_svg(names, xs, ys, xlabel=xlabel, ylabel=ylabel, title=title, front=front,
                       front_where="pre" if benefit else "post", y_low=lo, y_high=hi)  # fmt: skip


def _run_details(task: str, model: str, rec: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """Collapsible confusion heatmap of one run (per-class bars: :func:`_per_class_charts`)."""
    out = []
    draws = _draws(rec)
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
