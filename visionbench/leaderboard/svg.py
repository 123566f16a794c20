"""Hand-written inline SVG charts for the HTML report: horizontal bars and a heatmap.

Drawn directly as markup (milliseconds, where a matplotlib figure takes about a second),
so every run of a large leaderboard can have its per-class chart. Text stays text
(searchable, crisp); every label is escaped; each bar and cell carries a ``<title>``
tooltip with the exact value. No ``xmlns`` attribute: inside HTML the parser puts ``<svg>``
in the SVG namespace itself, and the page holds no URL at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = [
    "bars_svg",
    "grouped_bars_svg",
    "bar_scale",
    "heatmap_svg",
    "scatter_svg",
    "reliability_svg",
    "histogram_svg",
    "label_boxes",
    "viridis",
    "PALETTE",
]

#: viridis at 0, 0.1, ..., 1 (matplotlib's colormap), interpolated linearly in between.
_VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
            "#44bf70", "#7ad151", "#bddf26", "#fde725"]  # fmt: skip
_FONT = 'font-family="system-ui,sans-serif" font-size="10"'
BAR_AREA = 340  # px for a full-scale bar
#: Series colours of the grouped charts (matplotlib's tab10).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]  # fmt: skip


def viridis(x: float) -> str:
    """The viridis colour of ``x`` in [0, 1] (clipped) as ``#rrggbb``."""
    x = min(1.0, max(0.0, float(x))) * (len(_VIRIDIS) - 1)
    i = min(int(x), len(_VIRIDIS) - 2)
    t = x - i
    a, b = _rgb(_VIRIDIS[i]), _rgb(_VIRIDIS[i + 1])
    return "#" + "".join(f"{round(p + (q - p) * t):02x}" for p, q in zip(a, b))


def bars_svg(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> str:
    """Horizontal bars in the given order (top to bottom), one per label.

    Args:
        labels: class names (escaped here).
        values: finite numbers >= 0. The scale is 0-1 when all values are <= 1, 0-100
            when all are <= 100, else 0-max; a bar of value v is ``BAR_AREA * v / scale``
            pixels long.
        title, xlabel: text above and below the chart.
    """
    v = np.asarray(values, dtype=float)
    vmax = 1.0 if v.max(initial=0) <= 1 else 100.0 if v.max() <= 100 else float(v.max())
    left, row, top = 170, 14, 26
    width, height = left + BAR_AREA + 50, top + row * len(v) + 34
    out = [_open(width, height, title), _text(width / 2, 15, title, anchor="middle", bold=True)]
    for k in range(5):  # grid and ticks
        x = left + BAR_AREA * k / 4
        y1 = top + row * len(v)
        out.append(f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{y1}" stroke="#ddd"/>')
        out.append(_text(x, y1 + 12, f"{vmax * k / 4:g}", anchor="middle"))
    for i, (label, value) in enumerate(zip(labels, v)):
        y = top + row * i
        w = BAR_AREA * max(0.0, value) / vmax
        out.append(
            f"<g><title>{escape(str(label))}: {value:.4g}</title>"
            + _text(left - 4, y + 10, _short(label, 28), anchor="end")
            + f'<rect class="bar" x="{left}" y="{y + 1}" width="{w:.2f}" height="{row - 3}" '
            'fill="#3b6ea8"/>' + _text(left + w + 3, y + 10, f"{value:.3g}") + "</g>"
        )
    out.append(_text(left + BAR_AREA / 2, height - 4, xlabel, anchor="middle"))
    return "".join(out) + "</svg>"


def bar_scale(vmax: float) -> float:
    """The full scale of a bar chart whose largest value (interval ends included) is
    ``vmax``: 1 when it is <= 1, 100 when <= 100, else ``vmax`` itself."""
    return 1.0 if vmax <= 1 else 100.0 if vmax <= 100 else float(vmax)


def grouped_bars_svg(
    categories: Sequence[str],
    series: Sequence[str],
    values: np.ndarray,
    *,
    title: str,
    xlabel: str,
    lows: np.ndarray | None = None,
    highs: np.ndarray | None = None,
) -> str:
    """Horizontal grouped bars: one group per category (top to bottom), one bar per series
    in each group (the series in :data:`PALETTE` order, with a legend), and, where
    ``lows``/``highs`` are finite, an error bar from low to high across the bar.

    Args:
        categories: the group labels (classes, metrics), escaped here.
        series: the series labels (models), escaped here.
        values: ``[len(categories), len(series)]``; NaN draws no bar.
        lows, highs: the same shape (the interval of each value) or None.
        title, xlabel: text above and below the chart.

    A value v is a bar ``BAR_AREA * max(v, 0) / scale`` px long from x = 170, with
    ``scale = bar_scale(max of the values and highs)``; an error bar runs from
    ``170 + BAR_AREA * low / scale`` to ``170 + BAR_AREA * high / scale`` (class ``err``,
    its ``data-low`` / ``data-high`` the interval).
    """
    v = np.asarray(values, dtype=float).reshape(len(categories), len(series))
    lo = None if lows is None else np.asarray(lows, dtype=float).reshape(v.shape)
    hi = None if highs is None else np.asarray(highs, dtype=float).reshape(v.shape)
    finite = [x[np.isfinite(x)] for x in (v, hi) if x is not None]
    vmax = bar_scale(max((float(f.max()) for f in finite if f.size), default=0.0))
    left, bar = 170, 6 if len(series) > 1 else 11
    group_h = bar * len(series) + 6
    legend_rows = (len(series) + 2) // 3 if len(series) > 1 else 0
    top = 26 + 14 * legend_rows
    width = left + BAR_AREA + 60
    height = top + group_h * len(categories) + 34
    out = [_open(width, height, title), _text(width / 2, 15, title, anchor="middle", bold=True)]
    for k, name in enumerate(series if len(series) > 1 else []):  # legend
        lx, ly = 10 + (k % 3) * (width - 20) / 3, 22 + 14 * (k // 3)
        out.append(f'<rect class="legend" x="{lx:.1f}" y="{ly}" width="10" height="10" '
                   f'fill="{PALETTE[k % len(PALETTE)]}"/>')  # fmt: skip
        out.append(_text(lx + 14, ly + 9, _short(name, 34)))
    y1 = top + group_h * len(categories)
    for k in range(5):  # grid and ticks
        x = left + BAR_AREA * k / 4
        out.append(f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{y1}" stroke="#ddd"/>')
        out.append(_text(x, y1 + 12, f"{vmax * k / 4:g}", anchor="middle"))

    def px(x: float) -> float:
        return left + BAR_AREA * x / vmax

    for i, cat in enumerate(categories):
        y = top + group_h * i
        out.append(f'<g class="bargroup" data-category="{escape(str(cat))}">'
                   + _text(left - 4, y + group_h / 2 + 3, _short(cat, 28), anchor="end"))  # fmt: skip
        for j, name in enumerate(series):
            value = v[i, j]
            if not np.isfinite(value):
                continue
            by = y + 3 + bar * j
            w = px(max(0.0, value)) - left
            tip = f"{cat}, {name}: {value:.4g}"
            err = ""
            if (
                lo is not None
                and hi is not None
                and np.isfinite(lo[i, j])
                and np.isfinite(hi[i, j])
            ):
                a, b = px(max(0.0, lo[i, j])), px(max(0.0, hi[i, j]))
                cy = by + (bar - 1) / 2
                tip += f" [{lo[i, j]:.4g}, {hi[i, j]:.4g}]"
                err = (
                    f'<line class="err" x1="{a:.2f}" y1="{cy:.2f}" x2="{b:.2f}" y2="{cy:.2f}" '
                    f'data-low="{float(lo[i, j])!r}" data-high="{float(hi[i, j])!r}" stroke="#000" '
                    f'stroke-width="1"/>'
                    f'<line x1="{a:.2f}" y1="{by:.2f}" x2="{a:.2f}" y2="{by + bar - 1:.2f}" '
                    f'stroke="#000"/>'
                    f'<line x1="{b:.2f}" y1="{by:.2f}" x2="{b:.2f}" y2="{by + bar - 1:.2f}" '
                    f'stroke="#000"/>'
                )
            out.append(
                f'<g><title>{escape(tip)}</title><rect class="bar" data-series="{j}" '
                f'x="{left}" y="{by:.1f}" width="{w:.2f}" height="{bar - 1}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"/>{err}</g>'
            )
        if len(series) == 1 and np.isfinite(v[i, 0]):
            end = px(max(0.0, v[i, 0], hi[i, 0] if hi is not None and np.isfinite(hi[i, 0]) else 0))
            out.append(_text(end + 3, y + group_h / 2 + 3, f"{v[i, 0]:.3g}"))
        out.append("</g>")
    out.append(_text(left + BAR_AREA / 2, height - 4, xlabel, anchor="middle"))
    return "".join(out) + "</svg>"


def reliability_svg(
    confidence: Sequence[float],
    accuracy: Sequence[float],
    count: Sequence[float],
    *,
    title: str,
) -> str:
    """A reliability diagram: per confidence bin (equal width over [0, 1], ``n`` =
    ``len(count)`` bins) a bar of the bin's accuracy, the bin's mean confidence as a red
    tick, and the diagonal (perfect calibration). Empty bins (count 0) draw no bar.

    Bin ``b`` spans x = 50 + 300 * b / n to 50 + 300 * (b + 1) / n; an accuracy ``a``
    is a bar of height 240 * a from y = 270 (class ``bin``, ``data-accuracy``,
    ``data-confidence``, ``data-count``).
    """
    conf = np.asarray(confidence, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    cnt = np.asarray(count, dtype=float)
    n = len(cnt)
    left, top, pw, ph = 50, 30, 300, 240
    width, height = left + pw + 20, top + ph + 40
    out = [_open(width, height, title), _text(width / 2, 16, title, anchor="middle", bold=True)]
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for k in range(6):
        t = k / 5
        out.append(_text(left + pw * t, top + ph + 13, f"{t:g}", anchor="middle"))
        out.append(_text(left - 4, top + ph * (1 - t) + 3, f"{t:g}", anchor="end"))
    for b in range(n):
        if cnt[b] <= 0 or not np.isfinite(acc[b]):
            continue
        x0 = left + pw * b / n
        h = ph * min(max(acc[b], 0.0), 1.0)
        tip = f"confidence {conf[b]:.3f}, accuracy {acc[b]:.3f}, {int(cnt[b])} samples"
        out.append(
            f'<g><title>{escape(tip)}</title><rect class="bin" x="{x0:.2f}" '
            f'y="{top + ph - h:.2f}" width="{pw / n:.2f}" height="{h:.2f}" fill="#3b6ea8" '
            f'stroke="#fff" data-accuracy="{float(acc[b])!r}" data-confidence="{float(conf[b])!r}" '
            f'data-count="{int(cnt[b])}"/>'
        )
        if np.isfinite(conf[b]):
            cy = top + ph * (1 - min(max(conf[b], 0.0), 1.0))
            out.append(f'<line class="conf" x1="{x0:.2f}" y1="{cy:.2f}" '
                       f'x2="{x0 + pw / n:.2f}" y2="{cy:.2f}" stroke="#d9534f" '
                       'stroke-width="2"/>')  # fmt: skip
        out.append("</g>")
    out.append(f'<line class="diagonal" x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top}" '
               'stroke="#999" stroke-dasharray="4 3"/>')  # fmt: skip
    out.append(_text(left + pw / 2, height - 6, "confidence (bars: accuracy; red: mean "
                     "confidence)", anchor="middle"))  # fmt: skip
    out.append(f'<text transform="translate(14,{top + ph / 2}) rotate(-90)" '
               f'text-anchor="middle" {_FONT}>accuracy</text>')  # fmt: skip
    return "".join(out) + "</svg>"


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[float],
    *,
    title: str,
    xlabel: str,
    marks: dict[str, float] | None = None,
) -> str:
    """A histogram: one bar per bin (``len(edges) == len(counts) + 1``), x from the first
    edge to the last, y from 0 to the largest count; ``marks`` (name -> x, e.g. the
    quantiles) as dashed vertical lines. Bin ``b`` spans x = 50 + 360 * (e_b - e_0) /
    (e_n - e_0) to the same of e_(b+1), its height 200 * count / max count from y = 230
    (class ``hbin``, ``data-count``)."""
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    left, top, pw, ph = 50, 30, 360, 200
    width, height = left + pw + 30, top + ph + 40
    span = (e[-1] - e[0]) or 1.0
    cmax = float(c.max(initial=0)) or 1.0

    def px(x: float) -> float:
        return left + pw * (x - e[0]) / span

    out = [_open(width, height, title), _text(width / 2, 16, title, anchor="middle", bold=True)]
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in (e[0], e[0] + span / 2, e[-1]):
        out.append(_text(px(t), top + ph + 13, f"{t:.3g}", anchor="middle"))
    out.append(_text(left - 4, top + 8, f"{cmax:g}", anchor="end"))
    out.append(_text(left - 4, top + ph, "0", anchor="end"))
    for b in range(len(c)):
        h = ph * c[b] / cmax
        x0, x1 = px(e[b]), px(e[b + 1])
        out.append(
            f'<rect class="hbin" x="{x0:.2f}" y="{top + ph - h:.2f}" width="{x1 - x0:.2f}" '
            f'height="{h:.2f}" fill="#3b6ea8" stroke="#fff" data-count="{c[b]:g}">'
            f"<title>{e[b]:.4g} to {e[b + 1]:.4g}: {c[b]:g}</title></rect>"
        )
    for k, (name, x) in enumerate((marks or {}).items()):
        if not np.isfinite(x):
            continue
        out.append(f'<line class="mark" x1="{px(x):.2f}" y1="{top}" x2="{px(x):.2f}" '
                   f'y2="{top + ph}" stroke="#d9534f" stroke-dasharray="3 2">'
                   f"<title>{escape(name)} {x:.4g}</title></line>")  # fmt: skip
        out.append(_text(px(x) + 2, top + 10 + 10 * (k % 3), name, fill="#d9534f", size=8))
    out.append(_text(left + pw / 2, height - 6, xlabel, anchor="middle"))
    return "".join(out) + "</svg>"


def heatmap_svg(
    fractions: np.ndarray, counts: np.ndarray, labels: Sequence[str], *, title: str
) -> str:
    """A square heatmap (rows = ground truth, columns = prediction), viridis 0-1.

    Args:
        fractions: [n, n] values in 0-1 (row-normalised confusion).
        counts: [n, n] the raw counts (shown in the tooltips).
        labels: n class names (escaped here).
        title: text above the chart.
    """
    n = len(labels)
    cell = max(10, min(22, 480 // max(n, 1)))
    left, top = 130, 125
    width, height = left + cell * n + 70, top + cell * n + 30
    out = [_open(width, height, title), _text(width / 2, 15, title, anchor="middle", bold=True)]
    out.append(_text(left + cell * n / 2, 30, "predicted", anchor="middle"))
    for j, label in enumerate(labels):
        x, y = left + cell * j + cell / 2 + 3, top - 4
        out.append(
            f'<text transform="translate({x:.1f},{y}) rotate(-60)" {_FONT}>'
            f"{escape(_short(label, 18))}</text>"
        )
    rows = counts.sum(axis=1)
    for i, gt in enumerate(labels):
        y = top + cell * i
        out.append(_text(left - 4, y + cell / 2 + 3, _short(gt, 20), anchor="end"))
        for j, pred in enumerate(labels):
            f = float(fractions[i, j])
            tip = f"{gt} → {pred}: {f:.3f} ({int(counts[i, j])} of {int(rows[i])})"
            out.append(
                f'<rect class="cell" x="{left + cell * j}" y="{y}" width="{cell}" '
                f'height="{cell}" fill="{viridis(f)}"><title>{escape(tip)}</title></rect>'
            )
            if n <= 12 and counts[i, j] > 0:
                color = "#fff" if f < 0.6 else "#000"
                out.append(_text(left + cell * j + cell / 2, y + cell / 2 + 3, f"{f:.2f}",
                                 anchor="middle", fill=color, size=7))  # fmt: skip
    lx = left + cell * n + 12
    for k in range(11):  # legend, 1 at the top
        out.append(f'<rect x="{lx}" y="{top + k * 10}" width="12" height="10" '
                   f'fill="{viridis(1 - k / 10)}"/>')  # fmt: skip
    out.append(_text(lx + 15, top + 8, "1"))
    out.append(_text(lx + 15, top + 108, "0"))
    out.append(
        f'<text transform="translate(12,{top + cell * n / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" {_FONT}>ground truth</text>'
    )
    return "".join(out) + "</svg>"


#: Estimated width of one label character at font size 10 (px); used for placement.
CHAR_W = 6.0
LABEL_H = 11.0


def scatter_svg(
    labels: Sequence[str],
    x: Sequence[float],
    y: Sequence[float],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    front: Sequence[int] = (),
    log_x: bool = True,
    front_where: str = "post",
    y_low: Sequence[float] | None = None,
    y_high: Sequence[float] | None = None,
) -> str:
    """A scatter plot as inline SVG: one point per run with a ``<title>`` tooltip (label,
    x, y), labels placed so that no two overlap (a label that finds no free place is left
    out; its tooltip remains), and the Pareto front as a red step line when ``front``
    holds at least two points.

    Args:
        labels, x, y: one per point, all finite (``x > 0`` with ``log_x``).
        xlabel, ylabel, title: axis and chart text.
        front: indices of the Pareto-front points.
        log_x: logarithmic x axis.
        front_where: ``"post"`` (cost: lower is better) or ``"pre"`` (a benefit).
        y_low, y_high: the interval of each y (NaN: none), drawn as a vertical error bar
            (class ``err``, ``data-low`` / ``data-high``); the y axis spans them.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    ylo = np.full(len(ys), np.nan) if y_low is None else np.asarray(y_low, dtype=float)
    yhi = np.full(len(ys), np.nan) if y_high is None else np.asarray(y_high, dtype=float)
    has_err = np.isfinite(ylo) & np.isfinite(yhi)
    span_y = np.concatenate([ys, ylo[has_err], yhi[has_err]])
    left, top, pw, ph = 64, 30, 420, 250
    width, height = left + pw + 150, top + ph + 46
    fx = np.log10 if log_x else (lambda v: v)
    gx = fx(xs)
    x0, x1 = _padded(float(gx.min()), float(gx.max()))
    y0, y1 = _padded(float(span_y.min()), float(span_y.max()))

    def px(v: float) -> float:
        return left + pw * (fx(v) - x0) / (x1 - x0)

    def py(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    out = [_open(width, height, title), _text(left + pw / 2, 16, title, anchor="middle", bold=True)]
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for t in _ticks(x0, x1, log_x):
        xx = left + pw * ((np.log10(t) if log_x else t) - x0) / (x1 - x0)
        out.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(_text(xx, top + ph + 13, f"{t:g}", anchor="middle"))
    for t in _ticks(y0, y1, False):
        yy = py(t)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#eee"/>'
        )
        out.append(_text(left - 4, yy + 3, f"{t:g}", anchor="end"))
    out.append(_text(left + pw / 2, height - 6, xlabel, anchor="middle"))
    out.append(
        f'<text transform="translate(14,{top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f"{_FONT}>{escape(ylabel)}</text>"
    )
    front = list(front)
    if len(front) >= 2:
        order = sorted(front, key=lambda i: xs[i])
        pts = []
        for a, b in zip(order, order[1:]):
            pts.append((px(xs[a]), py(ys[a])))
            corner = (px(xs[b]), py(ys[a])) if front_where == "post" else (px(xs[a]), py(ys[b]))
            pts.append(corner)
        pts.append((px(xs[order[-1]]), py(ys[order[-1]])))
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        out.append(f'<polyline class="pareto" points="{path}" fill="none" stroke="#d9534f" '
                   'stroke-width="1.5"/>')  # fmt: skip
        out.append(f'<line x1="{left + pw + 10}" y1="{top + 6}" x2="{left + pw + 28}" '
                   f'y2="{top + 6}" stroke="#d9534f" stroke-width="1.5"/>')  # fmt: skip
        out.append(_text(left + pw + 32, top + 9, "Pareto front"))
    points = [(px(a), py(b)) for a, b in zip(xs, ys)]
    for i, (cx, cy) in enumerate(points):
        tip = f"{labels[i]}: {xlabel} {xs[i]:.4g}, {ylabel} {ys[i]:.4g}"
        if has_err[i]:
            tip += f" [{ylo[i]:.4g}, {yhi[i]:.4g}]"
            a, b = py(ylo[i]), py(yhi[i])
            out.append(
                f'<line class="err" x1="{cx:.2f}" y1="{a:.2f}" x2="{cx:.2f}" y2="{b:.2f}" '
                f'data-low="{float(ylo[i])!r}" data-high="{float(yhi[i])!r}" stroke="#3b6ea8"/>'
                f'<line x1="{cx - 3:.2f}" y1="{a:.2f}" x2="{cx + 3:.2f}" y2="{a:.2f}" '
                f'stroke="#3b6ea8"/><line x1="{cx - 3:.2f}" y1="{b:.2f}" x2="{cx + 3:.2f}" '
                f'y2="{b:.2f}" stroke="#3b6ea8"/>'
            )
        out.append(f'<circle class="pt" cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="#3b6ea8">'
                   f"<title>{escape(tip)}</title></circle>")  # fmt: skip
    for i, box in _place_labels([str(v) for v in labels], points, (0, 0, width, height)):
        out.append(
            f'<text class="pt-label" x="{box[0]:.1f}" y="{box[3] - 2:.1f}" '
            f'data-box="{box[0]:.1f},{box[1]:.1f},{box[2]:.1f},{box[3]:.1f}" {_FONT}>'
            f"{escape(labels[i])}</text>"
        )
    return "".join(out) + "</svg>"


def label_boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """The boxes (x0, y0, x1, y1) of the point labels of a :func:`scatter_svg` chart."""
    import re

    return [
        tuple(float(v) for v in m.split(","))  # type: ignore[misc]
        for m in re.findall(r'class="pt-label"[^>]*data-box="([^"]+)"', svg)
    ]


def _place_labels(
    labels: list[str], points: list[tuple[float, float]], canvas: tuple[float, float, float, float]
) -> list[tuple[int, tuple[float, float, float, float]]]:
    """Greedy placement: each label (points from the top down) takes the first of eight
    positions around its point that overlaps no placed label and no point, inside the
    canvas; labels with no free position are skipped."""
    placed: list[tuple[float, float, float, float]] = []
    dots = [(x - 4, y - 4, x + 4, y + 4) for x, y in points]
    out = []
    for i in sorted(range(len(points)), key=lambda i: (points[i][1], points[i][0])):
        x, y = points[i]
        w, h = CHAR_W * len(labels[i]), LABEL_H
        for dx, dy in ((6, -h / 2), (-6 - w, -h / 2), (6, -h - 3), (-6 - w, -h - 3),
                       (6, 3), (-6 - w, 3), (-w / 2, -h - 6), (-w / 2, 6)):  # fmt: skip
            box = (x + dx, y + dy, x + dx + w, y + dy + h)
            inside = box[0] >= canvas[0] and box[1] >= canvas[1] and box[2] <= canvas[2]
            inside = inside and box[3] <= canvas[3]
            if inside and not any(_overlap(box, b) for b in placed + dots):
                placed.append(box)
                out.append((i, box))
                break
    return out


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _padded(lo: float, hi: float) -> tuple[float, float]:
    span = hi - lo
    pad = span * 0.08 if span > 0 else (abs(lo) * 0.1 or 0.5)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    """Tick values inside [lo, hi] (log: lo, hi are log10; ticks at 1, 2, 5 x 10^k)."""
    if log:
        out = [
            m * 10.0**k
            for k in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1)
            for m in (1, 2, 5)
        ]
        return [t for t in out if lo <= np.log10(t) <= hi]
    raw = (hi - lo) / 5
    mag = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = np.ceil(lo / step) * step
    return [float(round(v, 10)) for v in np.arange(start, hi + step * 1e-9, step)]


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg class="chart" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
    )


def _text(x: float, y: float, s: str, *, anchor: str = "start", bold: bool = False,
          fill: str = "#222", size: int = 10) -> str:  # fmt: skip
    if not s:
        return ""
    weight = ' font-weight="600"' if bold else ""
    font = _FONT.replace('font-size="10"', f'font-size="{size}"')
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" {font}{weight}>'
        f"{escape(str(s))}</text>"
    )


def _short(text: object, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)
