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

__all__ = ["bars_svg", "heatmap_svg", "viridis"]

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
