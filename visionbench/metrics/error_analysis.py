"""Error analysis from a confusion matrix or per-sample scores: the most-confused class
pairs, the k worst samples, per-frame IoU.

Pure numpy; inputs are what the evaluators already keep (``confusion`` arrays of their
results, sample tables of :mod:`visionbench.metrics.sample_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["most_confused_pairs", "worst_samples", "per_frame_miou"]


def most_confused_pairs(
    confusion: Any, *, k: int = 10, names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows ground truth).

    Args:
        confusion: ``[C, C]`` or ``[C, C + 1]`` counts (the extra column, "no
            prediction", is left out).
        names: optional class names.

    Returns:
        rows ``{"true", "predicted", "count", "share"}`` sorted by count descending (ties:
        by true then predicted class); ``share`` = count / samples (pixels) of the true
        class. Cells with count 0 are not listed.
    """
    conf = np.asarray(confusion)
    c = conf.shape[0] if conf.ndim == 2 else -1
    if conf.ndim != 2 or conf.shape[1] not in (c, c + 1):
        raise MetricInputError(f"confusion: expected [C, C] or [C, C+1], got {list(conf.shape)}")
    sq = conf[:, :c].astype(np.int64)
    support = conf.sum(axis=1)
    off = sq.copy()
    np.fill_diagonal(off, 0)
    flat = off.ravel()
    order = np.lexsort((np.arange(flat.size), -flat))[: max(int(k), 0)]
    out = []
    for f in order:
        if flat[f] <= 0:
            break
        t, p = divmod(int(f), c)
        out.append(
            {
                "true": names[t] if names is not None else t,
                "predicted": names[p] if names is not None else p,
                "count": int(flat[f]),
                "share": float(flat[f] / support[t]) if support[t] else float("nan"),
            }
        )
    return out


def worst_samples(scores: Any, sample_ids: Any, *, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` samples of lowest score (NaN scores last; ties by position).

    Returns:
        rows ``{"sample_id", "score"}``, worst first.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ids = np.asarray(sample_ids).reshape(-1)
    if len(s) != len(ids):
        raise MetricInputError(f"scores / sample_ids: lengths {len(s)} and {len(ids)} differ")
    key = np.where(np.isnan(s), np.inf, s)
    order = np.lexsort((np.arange(len(s)), np.isnan(s), key))[: max(int(k), 0)]
    return [{"sample_id": ids[i].item(), "score": float(s[i])} for i in order]


def per_frame_miou(table: Any) -> np.ndarray:
    """mIoU of each frame of a ``SegmentationTable`` (NaN for a frame without labelled
    pixels): the frame's own confusion matrix through ``segmentation_scores``."""
    from visionbench.metrics.segmentation.semantic import segmentation_scores

    off, vals = table.ragged["cells"]
    shape = table.config["shape"]
    out = np.empty(len(off) - 1)
    for f in range(len(off) - 1):
        conf = np.zeros(shape[0] * shape[1], np.int64)
        conf[vals[off[f] : off[f + 1], 0]] = vals[off[f] : off[f + 1], 1]
        out[f] = segmentation_scores(conf.reshape(shape))["miou"]
    return out
