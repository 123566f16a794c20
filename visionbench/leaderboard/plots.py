"""Report plots as self-contained PNG data URIs (matplotlib, Agg backend).

Each function takes plain numbers and returns a ``data:image/png;base64,...`` string
(matplotlib: the efficiency and PR plots) or inline SVG markup (:mod:`svg`: per-class bars
and confusion heatmaps, one per run, so they must be cheap), or None when the data it
needs is missing (a run without GFLOPs, a record without an arrays file): plots are
skipped, never faked.

Arrays come from ``<run_id>.arrays.npz`` beside each record: COCO ``precision``
[T, R, K, A, M] (-1 where a class has no ground truth), ``rec_thrs`` [R], ``iou_thrs`` [T],
``ap_per_category`` [K] with ``category_ids`` [K]; ``confusion`` [C, C] (rows = ground
truth, columns = prediction) for classification and segmentation; ``class_iou`` / ``iou``
[C] for segmentation; ``mR@K_per_predicate`` [P] for scene graphs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.leaderboard.svg import bars_svg, grouped_bars_svg, heatmap_svg

__all__ = [
    "pareto_front",
    "efficiency_plot",
    "pr_curve_plot",
    "pr_curve_points",
    "per_class_plot",
    "per_class_grouped_plot",
    "confusion_plot",
    "confusion_classes",
    "load_arrays",
    "class_names",
]

#: At most this many classes in a confusion heatmap (the most confused ones).
MAX_CONFUSION_CLASSES = 30
#: At most this many bars in a per-class plot (the lowest values when there are more).
MAX_BARS = 80


def pareto_front(cost: Sequence[float], value: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats: lower ``cost`` and higher ``value``.

    A point is on the front when no other point has ``cost <= c`` and ``value >= v`` with
    one of them strict. Returned in increasing cost. NaN points are never on the front.
    """
    c = np.asarray(cost, dtype=float)
    v = np.asarray(value, dtype=float)
    ok = np.flatnonzero(np.isfinite(c) & np.isfinite(v))
    order = ok[np.lexsort((-v[ok], c[ok]))]  # cost ascending, value descending
    front: list[int] = []
    best = -np.inf
    for i in order:
        if v[i] > best:
            front.append(int(i))
            best = v[i]
    return front


def efficiency_plot(
    models: Sequence[str],
    cost: Sequence[float | None],
    value: Sequence[float | None],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    higher_cost_is_better: bool = False,
) -> str | None:
    """Accuracy vs a cost (GFLOPs, latency) with the Pareto front; log x axis.

    ``higher_cost_is_better`` flips the front for an x that is a benefit (throughput).
    None when no model has both numbers.
    """
    c = np.array([np.nan if x is None else x for x in cost], dtype=float)
    v = np.array([np.nan if x is None else x for x in value], dtype=float)
    ok = np.isfinite(c) & np.isfinite(v) & (c > 0)
    if not ok.any():
        return None
    fig, ax = _subplots(figsize=(5.6, 3.8))
    idx = np.flatnonzero(ok)
    ax.scatter(c[idx], v[idx], s=28, color="#3b6ea8", zorder=3)
    for i in idx:
        ax.annotate(
            _short(models[i]), (c[i], v[i]), xytext=(4, 3), textcoords="offset points", fontsize=7
        )
    front = pareto_front(-c if higher_cost_is_better else c, np.where(ok, v, np.nan))
    if len(front) > 1:
        fc = c[front]
        order = np.argsort(fc)
        ax.step(fc[order], v[front][order], where="post" if not higher_cost_is_better else "pre",
                color="#d9534f", lw=1.2, label="Pareto front", zorder=2)  # fmt: skip
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return _png(fig)


def pr_curve_plot(curves: dict[str, dict[str, np.ndarray]], *, title: str) -> str | None:
    """COCO precision-recall curves, one line per model, at IoU 0.50 and averaged over the
    IoU thresholds; area ``all``, the largest max-detections.

    Args:
        curves: model -> its arrays (``precision`` [T, R, K, A, M], ``rec_thrs`` [R],
            ``iou_thrs`` [T]). Classes without ground truth (-1) are left out of the
            class mean.
    """
    lines = []
    for model, arr in curves.items():
        pr = pr_curve_points(arr)
        if pr is not None:
            lines.append((model, *pr))
    if not lines:
        return None
    fig, axes = _subplots(1, 2, figsize=(8.4, 3.6), sharey=True)
    ious = next(iter(curves.values())).get("iou_thrs")
    span = f"{ious[0]:.2f}:{ious[-1]:.2f}" if ious is not None and len(ious) else "all"
    for ax, key, sub in ((axes[0], 2, "IoU 0.50"), (axes[1], 3, f"mean over IoU {span}")):
        for line in lines:
            ax.plot(line[1], line[key], lw=1.3, label=_short(line[0]))
        ax.set_title(sub, fontsize=9)
        ax.set_xlabel("recall")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("precision (mean over classes)")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def pr_curve_points(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, ...] | None:
    """``(recall [R], precision at IoU .50 [R], precision averaged over IoU [R])``, each
    precision the mean over the classes that have ground truth (area all, the largest
    max-detections); None without a usable ``precision`` [T, R, K, A, M]."""
    prec = arrays.get("precision")
    if prec is None or prec.ndim != 5 or prec.shape[1] == 0:
        return None
    rec = arrays.get("rec_thrs", np.linspace(0, 1, prec.shape[1]))
    p = prec[:, :, :, 0, -1]  # [T, R, K]
    at50 = _class_mean(p[0])
    if not np.isfinite(at50).any():
        return None
    mean_t = np.mean(np.stack([_class_mean(p[t]) for t in range(p.shape[0])]), axis=0)
    return rec, at50, mean_t


def per_class_plot(
    names: Sequence[str], values: np.ndarray, *, xlabel: str, title: str
) -> str | None:
    """Inline SVG bars, one per class, best at the top (NaN classes left out; at most
    :data:`MAX_BARS`, the lowest, when there are more). None when no value is finite."""
    v = np.asarray(values, dtype=float)
    keep = np.flatnonzero(np.isfinite(v))
    if keep.size == 0:
        return None
    keep = keep[np.argsort(v[keep], kind="stable")]
    note = ""
    if keep.size > MAX_BARS:
        note = f" (lowest {MAX_BARS} of {keep.size})"
        keep = keep[:MAX_BARS]
    keep = keep[::-1]  # best at the top
    return bars_svg([str(names[i]) for i in keep], v[keep], title=title + note, xlabel=xlabel)


def per_class_grouped_plot(
    names: Sequence[str], values: np.ndarray, models: Sequence[str], *, xlabel: str,
    title: str,
) -> str | None:  # fmt: skip
    """Inline SVG grouped bars: a group per class, a bar per model (``values`` [classes,
    models]); classes where no model has a finite value left out, the others sorted by
    the models' mean (best at the top; at most :data:`MAX_BARS`, the lowest means, when
    there are more). None when no value is finite."""
    v = np.asarray(values, dtype=float).reshape(len(names), len(models))
    keep = np.flatnonzero(np.isfinite(v).any(axis=1))
    if keep.size == 0:
        return None
    mean = np.array([np.nanmean(v[i]) for i in keep])
    keep = keep[np.argsort(mean, kind="stable")]
    note = ""
    if keep.size > MAX_BARS:
        note = f" (lowest {MAX_BARS} of {keep.size} by the mean over models)"
        keep = keep[:MAX_BARS]
    keep = keep[::-1]
    if len(models) == 1:
        title += f": {models[0]}"
    return grouped_bars_svg([str(names[i]) for i in keep], list(models), v[keep],
                            title=title + note, xlabel=xlabel)  # fmt: skip


def confusion_plot(confusion: np.ndarray, names: Sequence[str], *, title: str) -> str | None:
    """Inline SVG heatmap of the row-normalised confusion (rows = ground truth) over
    :func:`confusion_classes`. None when the matrix is not square or is all zero."""
    cm = np.asarray(confusion, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.sum() == 0:
        return None
    present = confusion_classes(cm)
    n_present = int(((cm.sum(1) > 0) | (cm.sum(0) > 0)).sum())
    if present.size < n_present:
        title += f" ({present.size} most confused of {n_present} classes)"
    sub = cm[np.ix_(present, present)]
    rows = sub.sum(1, keepdims=True)
    norm = np.divide(sub, rows, out=np.zeros_like(sub), where=rows > 0)
    return heatmap_svg(norm, sub, [str(names[i]) for i in present], title=title)


def confusion_classes(confusion: np.ndarray, limit: int = MAX_CONFUSION_CLASSES) -> np.ndarray:
    """Indices (ascending) of the classes a heatmap shows: those that occur as ground
    truth or as prediction; beyond ``limit``, the ``limit`` with the most errors
    (off-diagonal counts of their row plus their column; ties to the lower index)."""
    cm = np.asarray(confusion)
    present = np.flatnonzero((cm.sum(1) > 0) | (cm.sum(0) > 0))
    if present.size <= limit:
        return present
    off = cm.sum(1) + cm.sum(0) - 2 * np.diag(cm)
    return np.sort(present[np.argsort(-off[present], kind="stable")[:limit]])


def load_arrays(record: dict[str, Any], records_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of a record (empty when it has none or the file is missing/unreadable)."""
    name = record.get("arrays_file")
    if not name:
        return {}
    path = records_dir / Path(name).name  # never leave the records folder
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return {}


def class_names(record: dict[str, Any], n: int, ids: np.ndarray | None = None) -> list[str]:
    """Names for ``n`` classes of a record: by ``ids`` (dataset category ids) when given,
    else the first label space of the dataset/model (or a sibling space, e.g.
    ``cityscapes19`` for ``cityscapes34``) with ``n`` classes; else the indices."""
    from visionbench.errors import LabelSpaceError
    from visionbench.label_spaces import get_label_space, label_space_names

    spaces = [
        record.get("dataset", {}).get("label_space"),
        record.get("model", {}).get("label_space"),
    ]
    spaces = [s for s in spaces if s]
    families = {s.rstrip("0123456789") for s in spaces}
    spaces += [s for s in label_space_names() if s.rstrip("0123456789") in families]
    for s in spaces:
        try:
            space = get_label_space(s)
        except LabelSpaceError:
            continue
        if ids is not None:
            by_id = dict(zip(space.ids, space.names))
            if all(int(i) in by_id for i in ids):
                return [by_id[int(i)] for i in ids]
        elif len(space.names) == n:
            return list(space.names)
    return [str(int(i)) for i in ids] if ids is not None else [str(i) for i in range(n)]


# -- helpers ---------------------------------------------------------------------------


def _class_mean(p: np.ndarray) -> np.ndarray:
    """[R, K] precision with -1 for absent classes -> [R] mean over present classes."""
    present = (p > -1).all(axis=0)
    if not present.any():
        return np.full(p.shape[0], np.nan)
    return p[:, present].mean(axis=1)


def _short(text: str, n: int = 28) -> str:
    """A run's name for a legend, whole (a name is never cut: it must match the table),
    wrapped every ``n`` characters; ``$`` escaped so that mathtext never parses it."""
    text = str(text)
    text = "\n".join(text[i : i + n] for i in range(0, len(text), n)) or text
    return text.replace("$", r"\$")


def _subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """A figure on its own Agg canvas: no pyplot, no global backend, no state kept."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=96, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
