"""Classification calibration: expected / maximum calibration error and the reliability
diagram, as torchmetrics' ``MulticlassCalibrationError`` computes them.

The confidence of a sample is its top-1 probability (a softmax is applied first when any
score lies outside [0, 1], as torchmetrics does); it is correct when the top-1 class is
the label. Confidences fall into ``n_bins`` equal-width bins by
``bucketize(conf, linspace(0, 1, n_bins + 1), right=True) - 1`` (a confidence of exactly
1.0 gets a bin of its own, as in torchmetrics). Per bin: mean confidence, accuracy, share
of the samples. ECE = sum over bins of share * |accuracy - confidence|; MCE = the largest
|accuracy - confidence| (empty bins count as 0, as in torchmetrics). Computed in float32
like torchmetrics; equal to it up to float32 summation order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["calibration_error", "top1_confidence"]


def top1_confidence(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence [N] float32, correct [N] bool)`` from ``[N, C]`` scores or probabilities."""
    s = np.asarray(scores, dtype=np.float32)
    y = np.asarray(labels)
    if s.ndim != 2 or len(s) != len(y):
        raise MetricInputError(
            f"scores: expected [N, C] with N = len(labels) = {len(y)}, got {list(s.shape)}"
        )
    if ((s < 0) | (s > 1)).any():  # logits: softmax, as torchmetrics' normalize_logits_if_needed
        e = np.exp(s - s.max(axis=1, keepdims=True))
        s = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return s.max(axis=1), s.argmax(axis=1) == y


def calibration_error(confidence: Any, correct: Any, *, n_bins: int = 15) -> dict[str, Any]:
    """ECE / MCE and the reliability diagram.

    Args:
        confidence: [N] top-1 probabilities in [0, 1]. correct: [N] bool.
        n_bins: equal-width bins over [0, 1] (15, torchmetrics' default).

    Returns:
        ``ece``, ``mce`` (floats, 0-1) and arrays ``bin_edges`` [n_bins + 1],
        ``bin_accuracy``, ``bin_confidence``, ``bin_count`` [n_bins + 1] (the last bin
        holds confidences of exactly 1.0).
    """
    conf = np.asarray(confidence, dtype=np.float32).reshape(-1)
    acc = np.asarray(correct, dtype=np.float32).reshape(-1)
    if len(conf) != len(acc) or len(conf) == 0:
        raise MetricInputError(
            f"confidence / correct: expected two non-empty arrays of one length, got "
            f"{len(conf)} and {len(acc)}"
        )
    if not np.isfinite(conf).all() or conf.min() < 0 or conf.max() > 1:
        raise MetricInputError("confidence: expected probabilities in [0, 1]")
    edges = _linspace_f32(n_bins + 1)
    idx = np.searchsorted(edges, conf, side="right") - 1  # torch.bucketize(right=True) - 1
    n = len(edges)
    count = np.zeros(n, np.float32)
    conf_sum = np.zeros(n, np.float32)
    acc_sum = np.zeros(n, np.float32)
    np.add.at(count, idx, np.float32(1))  # sequential, like scatter_add_
    np.add.at(conf_sum, idx, conf)
    np.add.at(acc_sum, idx, acc)
    with np.errstate(divide="ignore", invalid="ignore"):
        conf_bin = np.nan_to_num(conf_sum / count)
        acc_bin = np.nan_to_num(acc_sum / count)
    prop = count / count.sum()
    gap = np.abs(acc_bin - conf_bin)
    return {
        "ece": float(np.sum(gap * prop, dtype=np.float32)),
        "mce": float(gap.max()),
        "bin_edges": edges,
        "bin_accuracy": acc_bin,
        "bin_confidence": conf_bin,
        "bin_count": count.astype(np.int64),
    }


def _linspace_f32(steps: int) -> np.ndarray:
    """``torch.linspace(0, 1, steps)`` in float32, same bits: a float32 step; the first
    half ``i * step`` from 0, the second ``1 - (steps - 1 - i) * step`` from 1, each
    rounded once (torch's fused multiply-add; checked for steps 2..299 in the tests)."""
    step = np.float64(np.float32(1.0) / np.float32(steps - 1))
    i = np.arange(steps)
    up = i * step
    down = 1.0 - (steps - 1 - i) * step
    return np.where(i < steps // 2, up, down).astype(np.float32)
