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

__all__ = ["bars_svg", "heatmap_svg", "scatter_svg", "label_boxes", "viridis"]

#: viridis at 0, 0.1, ..., 1 (matplotlib's colormap), interpolated linearly in between.
_VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884",
            "#44bf70", "#7ad151", "#bddf26", "#fde725"]  # fmt: skip
_FONT = 'font-family="system-ui,sans-serif" font-size="10"'
BAR_AREA = 340  # px for a full-scale bar


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
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    left, top, pw, ph = 64, 30, 420, 250
    width, height = left + pw + 150, top + ph + 46
    fx = np.log10 if log_x else (lambda v: v)
    gx = fx(xs)
    x0, x1 = _padded(float(gx.min()), float(gx.max()))
    y0, y1 = _padded(float(ys.min()), float(ys.max()))

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
