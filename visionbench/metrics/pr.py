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
    "detection_threshold_sweep",
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


def detection_threshold_sweep(
    evaluator: CocoEvaluator,
    *,
    iou_threshold: float = 0.5,
    area: str = "all",
    max_dets: int | None = None,
) -> dict[str, Any]:
    """P / R / F1 against the score threshold, overall and per class, from a COCO
    evaluator's matches (the detections of :func:`class_pr_curves`), in one pass.

    Overall pools every class's detections and ground truths. Each best F1 is
    :func:`best_f1`'s (thresholds at the detection scores, the highest on ties).

    Returns:
        ``best_f1``, ``best_threshold``, ``precision``, ``recall`` (overall, at that
        threshold); ``per_class``: rows ``{"category_id", "best_f1", "best_threshold",
        "precision", "recall", "num_gt"}`` in the evaluator's category order;
        ``image_ids`` [I] and ``image_f1`` [I]: each image's F1 at the overall best
        threshold (``2 tp / (tp + fp + gt)``; NaN for an image with neither a ground
        truth nor a detection kept).
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
    cats = evaluator.cat_ids if p.use_cats else np.array([-1], dtype=np.int64)
    f = s.dt_flags[:, a, t[0]]  # one cell's flags (not the [N, A, T] dt_matched / dt_ignored)
    sel = (s.dt_rank < md) & ((f & 2) == 0)
    score = s.dt_score[sel].astype(np.float64)
    tp = (f[sel] & 1).astype(bool)
    cat = _positions(cats, s.dt_cat[sel]) if p.use_cats else np.zeros(len(score), np.int64)
    n_gt_cat = np.bincount(
        _positions(cats, s.pair_cat) if p.use_cats else np.zeros(len(s.pair_cat), np.int64),
        weights=s.pair_npig[:, a], minlength=len(cats),
    ).astype(np.int64)  # fmt: skip
    imgs = np.asarray(s.image_ids, np.int64)
    i_idx = _positions(imgs, s.dt_image_id[sel])
    sweep = _sweep_c if _sweep_native() is not None else _sweep_numpy
    overall, (c_tp, c_n, c_thr, c_has, c_det), i_tp, i_fp = sweep(
        score, tp, cat, i_idx, n_gt_cat, len(imgs)
    )
    per_class = []
    for c in range(len(cats)):
        if c_det[c] == 0 or n_gt_cat[c] == 0 or not c_has[c]:
            row = _prf(0, int(c_det[c]), int(n_gt_cat[c]))
            row["threshold"] = float("nan")
        else:
            row = _prf(int(c_tp[c]), int(c_n[c] - c_tp[c]), int(n_gt_cat[c]))
            row["threshold"] = float(c_thr[c])
        per_class.append(sweep_class_row(int(cats[c]), row, int(n_gt_cat[c])))

    # per image at the overall best threshold
    i_gt = np.bincount(
        _positions(imgs, s.pair_image_id), weights=s.pair_npig[:, a], minlength=len(imgs)
    )
    return sweep_result(overall, per_class, imgs, i_tp, i_fp, i_gt)


def sweep_class_row(category_id: Any, row: dict[str, Any], num_gt: int) -> dict[str, Any]:
    """One ``per_class`` row of a threshold sweep from a :func:`best_f1`-shaped row."""
    return {
        "category_id": category_id, "best_f1": row["f1"], "best_threshold": row["threshold"],
        "precision": row["precision"], "recall": row["recall"], "num_gt": int(num_gt),
    }  # fmt: skip


def sweep_result(
    overall: dict[str, Any], per_class: list[dict[str, Any]], image_ids: Any,
    i_tp: np.ndarray, i_fp: np.ndarray, i_gt: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """A threshold sweep's result (COCO / LVIS here, VOC's): ``overall`` at its best
    threshold, ``per_class``, and each image's F1 ``2 tp / (tp + fp + gt)`` from its kept
    counts at that threshold (NaN for an image with neither)."""
    den = i_tp + i_fp + i_gt
    with np.errstate(invalid="ignore", divide="ignore"):
        image_f1 = np.where(den > 0, 2 * i_tp / den, np.nan)
    return {
        "best_f1": overall["f1"], "best_threshold": overall["threshold"],
        "precision": overall["precision"], "recall": overall["recall"],
        "per_class": per_class, "image_ids": image_ids, "image_f1": image_f1,
    }  # fmt: skip


def _sweep_native() -> Any:
    """The C kernel of the sweep (``_coco_ext.threshold_sweep``), or None (no build, or a
    build older than it: the numpy path gives the same numbers)."""
    from visionbench.metrics.detection.coco_kernels import NATIVE

    return getattr(NATIVE, "threshold_sweep", None) if _USE_NATIVE_SWEEP else None


_USE_NATIVE_SWEEP = True  # tests switch it off to check both paths


def _sweep_c(score, tp, cat, i_idx, n_gt_cat, n_imgs):  # noqa: ANN001, ANN202
    """One C pass (a radix sort by score, then a scan in that order): ~8x the numpy path."""
    k = len(n_gt_cat)
    c_tp, c_n, c_det, c_has = (np.empty(k, np.int64) for _ in range(4))
    c_thr = np.empty(k, np.float64)
    i_tp, i_fp = np.empty(n_imgs, np.float64), np.empty(n_imgs, np.float64)
    n_gt = int(n_gt_cat.sum())
    n_j, tp_j, thr = _sweep_native()(
        np.ascontiguousarray(score, np.float64), np.ascontiguousarray(tp, np.uint8),
        np.ascontiguousarray(cat, np.int64), np.ascontiguousarray(i_idx, np.int64),
        np.ascontiguousarray(n_gt_cat, np.int64), n_gt,
        c_tp, c_n, c_thr, c_det, c_has, i_tp, i_fp,
    )  # fmt: skip
    if len(score) == 0 or n_gt == 0 or n_j == 0:
        overall = _prf(0, len(score), n_gt)
        overall["threshold"] = float("nan")
    else:
        overall = _prf(int(tp_j), int(n_j - tp_j), n_gt)
        overall["threshold"] = float(thr)
    return overall, (c_tp, c_n, c_thr, c_has, c_det), i_tp, i_fp


def _sweep_numpy(score, tp, cat, i_idx, n_gt_cat, n_imgs):  # noqa: ANN001, ANN202
    """The sweep in numpy: one sort by score serves both overall and per class (a stable
    radix sort of that order by class keeps descending scores within each class). The
    score sort need not be stable: F1 is read only at the last detection of each run of
    equal scores, where the cumulative counts do not depend on the order inside the run."""
    k = len(n_gt_cat)
    by_score = np.argsort(-score)
    overall = _best_f1_sorted(score[by_score], tp[by_score], int(n_gt_cat.sum()))
    thr = overall["threshold"]
    ck = cat[by_score].astype(np.int16 if k < 2**15 else np.int64)
    o = by_score[np.argsort(ck, kind="stable")]
    c_o, s_o, t_o = cat[o], score[o], tp[o]
    start = np.searchsorted(c_o, np.arange(k + 1))
    lens = np.diff(start)
    ctp = np.cumsum(t_o)
    before = np.concatenate([[0], ctp])[start[:-1]]  # tps of earlier classes
    k_tp = ctp - np.repeat(before, lens)
    k_n = np.arange(len(o)) + 1 - np.repeat(start[:-1], lens)
    last = np.ones(len(o), bool)
    if len(o):
        last[:-1] = (c_o[1:] != c_o[:-1]) | (s_o[1:] != s_o[:-1])
    gts = n_gt_cat[c_o]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(last & (gts > 0), 2 * k_tp / (k_n + gts), -1.0)
    best = np.full(k, -1, np.int64)
    has = np.flatnonzero(lens > 0)
    if len(has):  # per class: the first position of the highest F1 (highest threshold)
        seg_max = np.maximum.reduceat(f1, start[has])
        top = np.flatnonzero(f1 == np.repeat(_spread(seg_max, has, k), lens))
        first = np.r_[True, c_o[top][1:] != c_o[top][:-1]]
        best[c_o[top][first]] = top[first]
    ok = best >= 0
    jj = np.where(ok, best, 0)
    pick = (lambda v: np.where(ok, v[jj], 0)) if len(o) else (lambda v: np.zeros(k, v.dtype))
    c_tp, c_n = pick(k_tp), pick(k_n)
    c_thr = np.where(ok, s_o[jj], np.nan) if len(o) else np.full(k, np.nan)
    keep = score >= thr if np.isfinite(thr) else np.zeros(len(score), bool)
    i_tp = np.bincount(i_idx, weights=tp & keep, minlength=n_imgs)
    i_fp = np.bincount(i_idx, weights=~tp & keep, minlength=n_imgs)
    return overall, (c_tp, c_n, c_thr, ok, lens), i_tp, i_fp


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position in the sorted ``ids`` of each of ``values`` (all present): a lookup
    table where the id range is small (COCO's category and image ids), else a binary
    search (5x faster than ``searchsorted`` on 500k values)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0 or len(values) == 0:
        return np.searchsorted(ids, values)
    lo, hi = int(ids[0]), int(ids[-1])
    if lo >= 0 and hi < max(4 * len(values), 1 << 20) and values.min() >= 0 and values.max() <= hi:
        lut = np.zeros(hi + 1, dtype=np.int64)
        lut[ids] = np.arange(len(ids))
        return lut[values]
    return np.searchsorted(ids, values)


def _spread(values: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[at] = values
    return out


def _best_f1_sorted(s_o: np.ndarray, t_o: np.ndarray, num_gt: int) -> dict[str, float]:
    """:func:`best_f1` of detections already in its order (stable, descending score)."""
    if len(s_o) == 0 or num_gt == 0:
        out = _prf(0, len(s_o), int(num_gt))
        out["threshold"] = float("nan")
        return out
    tp = np.cumsum(t_o)
    fp = np.cumsum(~t_o)
    last = np.flatnonzero(np.r_[s_o[1:] != s_o[:-1], True])
    f1 = 2 * tp[last] / (tp[last] + fp[last] + num_gt)
    j = last[int(np.argmax(f1))]
    out = _prf(int(tp[j]), int(fp[j]), int(num_gt))
    out["threshold"] = float(s_o[j])
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
