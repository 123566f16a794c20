"""Precision / recall for detection: PR curves, P/R/F1 at a threshold, best F1, AP.

The functional core works on matched detections: ``scores`` [N], ``is_tp`` [N] (the
detection matched a ground truth at the chosen IoU) and ``num_gt`` (ground truths that
count). Detections are ranked by descending score with a stable sort (ties keep input
order, as pycocotools). :func:`class_pr_curves` derives these per class from a
:class:`~visionbench.metrics.detection.coco.CocoEvaluator` (COCO greedy matching, crowd and area
rules) at any of its IoU thresholds.

AP methods: ``"coco101"`` (101-point interpolation, as COCO), ``"voc11"`` (11-point, VOC
2007), ``"all"`` (all-point area under the interpolated curve, VOC 2010+).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

if TYPE_CHECKING:
    from visionbench.metrics.detection.coco import CocoEvaluator

__all__ = [
    "PRCurve",
    "pr_curve",
    "average_precision",
    "prf_at_threshold",
    "best_f1",
    "class_pr_curves",
]

AP_METHODS = ("coco101", "voc11", "all")


@dataclass
class PRCurve:
    """A precision-recall curve, one point per ranked detection.

    Attributes:
        precision: [N] tp / (tp + fp) after the i-th detection (not interpolated).
        recall: [N] tp / num_gt (NaN when num_gt == 0).
        thresholds: [N] the scores, descending.
        tp, fp: [N] cumulative counts (int64).
        num_gt: number of ground truths.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    num_gt: int

    def average_precision(self, method: str = "coco101") -> float:
        """AP of this curve, see :func:`average_precision`."""
        return average_precision(self.precision, self.recall, method=method)


def pr_curve(scores: Any, is_tp: Any, num_gt: int) -> PRCurve:
    """PR curve of detections ranked by descending score.

    Args:
        scores: [N] detection scores. is_tp: [N] bool, the detection is a true positive.
        num_gt: number of ground truths (>= number of true positives).

    Raises:
        MetricInputError: mismatched lengths, non-finite scores, more tps than gts.
    """
    s, t = _inputs(scores, is_tp, num_gt)
    order = np.argsort(-s, kind="mergesort")
    t = t[order]
    tp = np.cumsum(t).astype(np.int64)
    fp = np.cumsum(~t).astype(np.int64)
    n = np.arange(1, len(t) + 1)
    precision = tp / n if len(t) else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / num_gt if num_gt > 0 else np.full(len(t), np.nan)
    return PRCurve(precision, recall, s[order], tp, fp, int(num_gt))


def average_precision(precision: Any, recall: Any, *, method: str = "coco101") -> float:
    """Area under a PR curve.

    Args:
        precision: [N] precision per ranked detection. recall: [N] recall, non-decreasing.
        method: ``"coco101"`` (mean over recall 0, .01, ..., 1 of the interpolated precision
            at the first point with recall >= r, 0 beyond the curve), ``"voc11"`` (mean over
            recall 0, .1, ..., 1 of max precision at recall >= r) or ``"all"`` (sum of
            recall steps times interpolated precision).

    Returns:
        AP in [0, 1]; NaN when recall is undefined (no ground truth).
    """
    if method not in AP_METHODS:
        raise MetricInputError(f"method: expected one of {AP_METHODS}, got {method!r}")
    p = np.asarray(precision, dtype=np.float64).reshape(-1)
    r = np.asarray(recall, dtype=np.float64).reshape(-1)
    if len(p) != len(r):
        raise MetricInputError(
            f"precision and recall: expected equal lengths, got {len(p)} and {len(r)}"
        )
    if np.isnan(r).any():
        return float("nan")
    if len(p) == 0:
        return 0.0
    if np.any(np.diff(r) < 0):
        raise MetricInputError(
            "recall: expected a non-decreasing sequence (detections in ranked order)"
        )
    env = np.maximum.accumulate(p[::-1])[::-1]  # interpolated: max precision at recall >= r
    if method == "coco101":
        rec_thrs = np.linspace(0.0, 1.00, 101, endpoint=True)
        idx = np.searchsorted(r, rec_thrs, side="left")
        q = np.where(idx < len(r), env[np.minimum(idx, len(r) - 1)], 0.0)
        return float(np.mean(q))
    if method == "voc11":
        total = 0.0
        for thr in np.arange(0.0, 1.1, 0.1):
            sel = r >= thr
            total += float(p[sel].max()) if sel.any() else 0.0
        return total / 11.0
    mrec = np.concatenate([[0.0], r, [1.0]])
    mpre = np.concatenate([[0.0], p, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def prf_at_threshold(scores: Any, is_tp: Any, num_gt: int, threshold: float) -> dict[str, float]:
    """Counts and P / R / F1 of the detections with ``score >= threshold``.

    Returns:
        dict with ``tp``, ``fp``, ``fn`` (counts), ``precision`` (NaN with no detection),
        ``recall`` (NaN with no gt), ``f1`` (NaN when both are undefined; 0 when tp == 0).
    """
    s, t = _inputs(scores, is_tp, num_gt)
    keep = s >= threshold
    tp = int(np.count_nonzero(t & keep))
    fp = int(np.count_nonzero(~t & keep))
    return _prf(tp, fp, int(num_gt))


def best_f1(scores: Any, is_tp: Any, num_gt: int) -> dict[str, float]:
    """The score threshold with the highest F1 (the highest such threshold on ties).

    Only thresholds equal to a detection score are tried (every distinct operating point).

    Returns:
        dict of :func:`prf_at_threshold` plus ``threshold`` (NaN without detections).
    """
    s, t = _inputs(scores, is_tp, num_gt)
    if len(s) == 0 or num_gt == 0:
        out = _prf(0, len(s), int(num_gt))
        out["threshold"] = float("nan")
        return out
    order = np.argsort(-s, kind="mergesort")
    s_o, t_o = s[order], t[order]
    tp = np.cumsum(t_o)
    fp = np.cumsum(~t_o)
    last = np.flatnonzero(np.r_[s_o[1:] != s_o[:-1], True])  # last index of each distinct score
    f1 = 2 * tp[last] / (tp[last] + fp[last] + num_gt)
    j = last[int(np.argmax(f1))]
    out = _prf(int(tp[j]), int(fp[j]), int(num_gt))
    out["threshold"] = float(s_o[j])
    return out


def class_pr_curves(
    evaluator: CocoEvaluator,
    *,
    iou_threshold: float = 0.5,
    area: str = "all",
    max_dets: int | None = None,
) -> dict[int, PRCurve]:
    """Per-class PR curves from a COCO evaluator's matches.

    Detections ignored by COCO's rules (matched to a crowd or out-of-range gt) are left
    out; each image contributes its top ``max_dets`` detections (default the largest of
    the evaluator's ``max_dets``).

    Args:
        evaluator: a fed :class:`~visionbench.metrics.detection.coco.CocoEvaluator`.
        iou_threshold: one of the evaluator's ``iou_thrs``.
        area: one of its area labels.

    Returns:
        category id -> :class:`PRCurve` (-1 when categories are pooled).
    """
    p = evaluator.params
    t = np.flatnonzero(np.isclose(p.iou_thrs, iou_threshold, rtol=0, atol=1e-12))
    if len(t) == 0:
        raise MetricInputError(
            f"iou_threshold: {iou_threshold} is not one of the evaluator's iou_thrs {p.iou_thrs}"
        )
    if area not in p.area_lbl:
        raise MetricInputError(f"area: expected one of {p.area_lbl}, got {area!r}")
    a = p.area_lbl.index(area)
    md = p.max_dets[-1] if max_dets is None else int(max_dets)
    s = evaluator._state()
    cats = evaluator.cat_ids if p.use_cats else np.array([-1])
    out: dict[int, PRCurve] = {}
    for c in cats.tolist():
        sel = (s.dt_cat == c) & (s.dt_rank < md) & ~s.dt_ignored[:, a, t[0]]
        o = np.lexsort((s.dt_rank[sel], s.dt_image_id[sel]))
        n_gt = int(s.pair_npig[s.pair_cat == c, a].sum())
        out[c] = pr_curve(s.dt_score[sel][o], s.dt_matched[sel, a, t[0]][o], n_gt)
    return out


def _prf(tp: int, fp: int, num_gt: int) -> dict[str, float]:
    fn = num_gt - tp
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / num_gt if num_gt else float("nan")
    if tp + fp + num_gt == 0:
        f1 = float("nan")
    else:
        f1 = 2 * tp / (2 * tp + fp + fn)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": prec, "recall": rec, "f1": f1}


def _inputs(scores: Any, is_tp: Any, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    t = np.asarray(is_tp).astype(bool).reshape(-1)
    if len(s) != len(t):
        raise MetricInputError(
            f"scores and is_tp: expected equal lengths, got {len(s)} and {len(t)}"
        )
    if not np.isfinite(s).all():
        raise MetricInputError(
            f"scores: expected finite values, got {s[~np.isfinite(s)][:3].tolist()}"
        )
    if num_gt < 0 or int(t.sum()) > num_gt:
        raise MetricInputError(
            f"num_gt: expected >= number of true positives ({int(t.sum())}), got {num_gt}"
        )
    return s, t
