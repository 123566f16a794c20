"""TIDE: which errors cost a detector its AP (Bolya et al., ECCV 2020), as ``tidecv`` 1.0.1.

Every detection that is not a true positive at IoU ``pos_threshold`` (0.5) is given one
error type, tested in this order (IoU with the image's ground truths, ``t_f`` =
``pos_threshold``, ``t_b`` = ``bg_threshold`` = 0.1):

- **Bkg** when the image has no ground truth at all;
- **Loc**: ``t_b <= IoU <= t_f`` with the best-overlapping ground truth of its class;
- **Cls**: ``IoU >= t_f`` with a ground truth of another class;
- **Dupe**: ``IoU >= t_f`` with a ground truth of its class already matched;
- **Bkg**: ``IoU <= t_b`` with every ground truth;
- **Both** (wrong class and poorly localised): everything else.

A ground truth no detection matched is **Miss** unless a Cls or Loc error points at it.
Each error's *dAP* is the AP gained when an oracle fixes all errors of that type and
nothing else: Cls / Loc errors become true positives (the class corrected; of several
errors pointing at one unmatched ground truth only the highest-scored one, the others are
suppressed; errors pointing at a matched ground truth are suppressed), Dupe / Bkg / Both
are suppressed, Miss removes the missed ground truths. A main dAP below 0 is reported as
0 (tidecv's "binning differences"). Special errors: **FalsePos** (every false positive
scored below every true positive) and **FalseNeg** (every unmatched ground truth removed),
not clamped.

AP here is tidecv's: per class, the 101-point interpolated precision (COCO's recall
points, no ``np.spacing`` in the precision), the mean over classes; detections ranked per
image by score (ties keep input order) and cut at ``max_dets`` per image over all classes
(tidecv's ``Data.max_dets``; pycocotools cuts per image *and category*); greedy matching
by descending score to the unmatched same-class ground truth of highest IoU (first on
ties). Crowd ground truths are tidecv's ignore regions: an unmatched detection whose
crowd IoU (intersection / detection area) with a crowd of its class exceeds ``t_f`` leaves
the AP (its error is still classified). Images are processed in ascending id order,
which fixes the order of tied scores exactly as tidecv's insertion order does when the
images are added in that order.

**Where this differs from tidecv 1.0.1 (its known bug, corrected here):** tidecv averages
AP over every class that has a ground truth *or a detection*, so a class predicted but
absent from the ground truth counts as AP 0 and lowers the mAP and every fixed mAP
(dbolya/tide#28: "Mismatch of AP as compared to pycocotools due to mismatch number of
categories"). Here, as in pycocotools, only classes with at least one (non-crowd) ground
truth in the evaluated images enter the means; ``tidecv_compat=True`` reproduces tidecv's
numbers instead. The tests show both numbers on a case that triggers it. Other tidecv
behaviours are kept as they are and listed here so that nobody mistakes them for ours:
the shared "best detection" of a ground truth across Cls and Loc errors, and the main
dAP clamp at 0.

Units: AP and dAP are fractions (0-1), like the COCO metrics; tidecv prints 0-100.
numpy + numba (the per-image pass and the AP curves are compiled once, cached on disk).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["MAIN_ERRORS", "SPECIAL_ERRORS", "tide_errors", "tide_from_evaluator"]

#: main error types, in tidecv's order
MAIN_ERRORS = ("Cls", "Loc", "Both", "Dupe", "Bkg", "Miss")
SPECIAL_ERRORS = ("FalsePos", "FalseNeg")

# detection error codes of the kernel
_NONE, _CLS, _LOC, _BOTH, _DUPE, _BKG = 0, 1, 2, 3, 4, 5
_CODE = {"Cls": _CLS, "Loc": _LOC, "Both": _BOTH, "Dupe": _DUPE, "Bkg": _BKG}
# detection states
_FP, _TP, _IGNORED = 0, 1, 2


def tide_errors(
    gt_image_id: Any,
    gt_category_id: Any,
    gt_bbox: Any,
    dt_image_id: Any,
    dt_category_id: Any,
    dt_bbox: Any,
    dt_score: Any,
    *,
    gt_iscrowd: Any = None,
    image_ids: Any = None,
    pos_threshold: float = 0.5,
    bg_threshold: float = 0.1,
    max_dets: int = 100,
    tidecv_compat: bool = False,
) -> dict[str, Any]:
    """TIDE's error breakdown of one set of detections (see the module docstring).

    Args:
        gt_image_id, gt_category_id: [G] ints. gt_bbox: [G, 4] xywh pixels.
        dt_image_id, dt_category_id: [D] ints. dt_bbox: [D, 4] xywh. dt_score: [D] finite.
        gt_iscrowd: [G] bool, crowd regions (tidecv's ignore regions); default none.
        image_ids: the evaluated images (default: those of the ground truth); detections
            on other images are left out.
        pos_threshold: IoU of a true positive (``t_f``). bg_threshold: ``t_b``.
        max_dets: detections kept per image (over all classes, highest scores).
        tidecv_compat: reproduce tidecv's class set of the means (module docstring).

    Returns:
        ``ap`` (the mAP at ``pos_threshold``, fraction), ``dAP`` (error -> float, the six
        main errors), ``special`` (``FalsePos``, ``FalseNeg``), ``counts`` (error ->
        number of errors), ``pos_threshold``, ``bg_threshold``, ``max_dets``,
        ``definition`` (``"tidecv"`` or ``"corrected"``).
    """
    g_img = _ints(gt_image_id, "gt_image_id")
    g_cls = _ints(gt_category_id, "gt_category_id")
    g_box = _boxes(gt_bbox, "gt_bbox", len(g_img))
    d_img = _ints(dt_image_id, "dt_image_id")
    d_cls = _ints(dt_category_id, "dt_category_id")
    d_box = _boxes(dt_bbox, "dt_bbox", len(d_img))
    d_score = np.asarray(dt_score, dtype=np.float64).reshape(-1)
    crowd = (
        np.zeros(len(g_img), bool)
        if gt_iscrowd is None
        else np.asarray(gt_iscrowd).astype(bool).reshape(-1)
    )
    if len(g_cls) != len(g_img) or len(crowd) != len(g_img):
        raise MetricInputError("gt_*: expected arrays of one length")
    if len(d_cls) != len(d_img) or len(d_score) != len(d_img):
        raise MetricInputError("dt_*: expected arrays of one length")
    if not np.isfinite(d_score).all():
        raise MetricInputError("dt_score: expected finite scores")
    if not 0 < pos_threshold <= 1 or not 0 <= bg_threshold <= pos_threshold:
        raise MetricInputError(
            f"thresholds: expected 0 <= bg_threshold <= pos_threshold <= 1, pos_threshold > 0; "
            f"got {bg_threshold}, {pos_threshold}"
        )
    if int(max_dets) < 1:
        raise MetricInputError(f"max_dets: expected >= 1, got {max_dets}")
    imgs = np.unique(g_img if image_ids is None else _ints(image_ids, "image_ids"))
    if len(imgs) == 0:
        raise MetricInputError("TIDE: no images to evaluate")

    # images in ascending id order; ground truths in input order, crowds apart
    g_rank = np.searchsorted(imgs, g_img)
    g_ok = (g_rank < len(imgs)) & (imgs[np.minimum(g_rank, len(imgs) - 1)] == g_img)
    gi = np.flatnonzero(g_ok & ~crowd)
    gi = gi[np.argsort(g_rank[gi], kind="stable")]
    ci = np.flatnonzero(g_ok & crowd)
    ci = ci[np.argsort(g_rank[ci], kind="stable")]
    # detections: per image by descending score (ties: input order), top max_dets
    d_rank = np.searchsorted(imgs, d_img)
    d_ok = (d_rank < len(imgs)) & (imgs[np.minimum(d_rank, len(imgs) - 1)] == d_img)
    di = np.flatnonzero(d_ok)
    di = di[np.lexsort((di, -d_score[di], d_rank[di]))]
    starts = _starts(d_rank[di], len(imgs))
    pos_in_img = np.arange(len(di)) - np.repeat(starts[:-1], np.diff(starts))
    di = di[pos_in_img < int(max_dets)]

    n_img = len(imgs)
    gs, ds, cs = _starts(g_rank[gi], n_img), _starts(d_rank[di], n_img), _starts(g_rank[ci], n_img)
    gbox, gcls = np.ascontiguousarray(g_box[gi]), np.ascontiguousarray(g_cls[gi])
    dbox, dcls = np.ascontiguousarray(d_box[di]), np.ascontiguousarray(d_cls[di])
    dsc = np.ascontiguousarray(d_score[di])
    cbox, ccls = np.ascontiguousarray(g_box[ci]), np.ascontiguousarray(g_cls[ci])

    K = _kernels()
    state, err, target, g_used, g_usable, g_best = K.image_pass(
        gs, ds, cs, gbox, gcls, dbox, dcls, dsc, cbox, ccls,
        float(pos_threshold), float(bg_threshold),
    )  # fmt: skip
    return _breakdown(
        state, err, target, g_used, g_usable, g_best, gcls, dcls, dsc,
        pos_threshold=float(pos_threshold), bg_threshold=float(bg_threshold),
        max_dets=int(max_dets), tidecv_compat=bool(tidecv_compat),
    )  # fmt: skip


def tide_from_evaluator(evaluator: Any, **kw: Any) -> dict[str, Any]:
    """:func:`tide_errors` of a bbox ``CocoEvaluator`` built with ``keep_boxes=True``
    (its images, its categories; ``max_dets`` default: the largest of its ``max_dets``).

    Raises:
        MetricInputError: the evaluator kept no boxes, or is not bbox.
    """
    kept = getattr(evaluator, "kept_boxes", None)
    boxes = kept() if callable(kept) else None
    if boxes is None:
        raise MetricInputError(
            "TIDE needs the boxes: build the COCO evaluator with keep_boxes=True "
            "(bench: -M tide=true)"
        )
    if evaluator.params.iou_type != "bbox":
        raise MetricInputError(f"TIDE: bbox only, not iou_type={evaluator.params.iou_type!r}")
    gt, dt, image_ids = boxes
    kw.setdefault("max_dets", int(evaluator.params.max_dets[-1]))
    return tide_errors(
        gt.image_id, gt.category_id, gt.bbox, dt.image_id, dt.category_id, dt.bbox, dt.score,
        gt_iscrowd=gt.iscrowd, image_ids=image_ids, **kw,
    )  # fmt: skip


# -- the fixes and the APs ------------------------------------------------------------


def _breakdown(
    state: np.ndarray, err: np.ndarray, target: np.ndarray, g_used: np.ndarray,
    g_usable: np.ndarray, g_best: np.ndarray, gcls: np.ndarray, dcls: np.ndarray,
    dsc: np.ndarray, *, pos_threshold: float, bg_threshold: float, max_dets: int,
    tidecv_compat: bool,
) -> dict[str, Any]:  # fmt: skip
    n_d = len(state)
    idx = np.arange(n_d, dtype=np.int64)
    is_tp = state == _TP
    is_fp = state == _FP
    missed = ~g_used & ~g_usable
    unmatched = ~g_used
    classes = np.unique(np.concatenate([gcls, dcls[is_tp | is_fp]]))
    n_gt = _count(gcls, classes)
    # the class set of the means: tidecv's (gt or detection), or classes with a gt
    in_mean = np.ones(len(classes), bool) if tidecv_compat else n_gt > 0
    K = _kernels()

    # one ranking per ordering of tied scores: push order (the run as it is) and the
    # fixed runs' order (the errors' data points first, in error order, then the TPs)
    base_order = np.lexsort((idx, -dsc))
    fixed_order = np.lexsort((np.where(is_tp, n_d + idx, idx), -dsc))
    c_idx = np.searchsorted(classes, dcls)

    def mean_ap(order, cls, sel, tp, gts):
        ap, n_pts = K.class_ap(order, cls, sel, tp, gts.astype(np.int64), len(classes))
        keep = in_mean & ~((n_pts == 0) & (gts == 0))  # tidecv's APDataObject.is_empty
        return float(np.mean(ap[keep])) if keep.any() else float("nan")

    base_sel = is_tp | is_fp
    base = mean_ap(base_order, c_idx, base_sel, is_tp, n_gt)

    t_ok = target >= 0
    tt = np.where(t_ok, target, 0)
    fixable = ((err == _CLS) | (err == _LOC)) & t_ok & ~g_used[tt] & (g_best[tt] == idx)
    fixed_cls = np.where(err == _CLS, np.searchsorted(classes, gcls[tt]), c_idx)

    dAP: dict[str, float] = {}
    for name in MAIN_ERRORS:
        if name == "Miss":
            gts = n_gt - _count(gcls[missed], classes)
            ap = mean_ap(fixed_order, c_idx, base_sel, is_tp, gts)
        else:
            mine = err == _CODE[name]
            keep_fix = mine & fixable
            sel = (is_fp & ~mine) | is_tp | keep_fix
            cls = np.where(keep_fix, fixed_cls, c_idx)
            ap = mean_ap(fixed_order, cls, sel, is_tp | keep_fix, n_gt)
        dAP[name] = max(ap - base, 0.0)
    # FalsePos: TPs scored 1, FPs 0 (TPs first, each group in the fixed runs' order);
    # FalseNeg: every unmatched gt removed
    fp_order = fixed_order[np.argsort(~is_tp[fixed_order], kind="stable")]
    ap_fp = mean_ap(fp_order, c_idx, base_sel, is_tp, n_gt)
    gts_fn = n_gt - _count(gcls[unmatched], classes)
    ap_fn = mean_ap(fixed_order, c_idx, base_sel, is_tp, gts_fn)
    counts = {name: int(np.count_nonzero(err == _CODE[name])) for name in _CODE}
    counts["Miss"] = int(missed.sum())
    return {
        "ap": base,
        "dAP": dAP,
        "special": {"FalsePos": ap_fp - base, "FalseNeg": ap_fn - base},
        "counts": {k: counts[k] for k in MAIN_ERRORS},
        "pos_threshold": pos_threshold,
        "bg_threshold": bg_threshold,
        "max_dets": max_dets,
        "definition": "tidecv" if tidecv_compat else "corrected",
    }


# -- helpers --------------------------------------------------------------------------


def _ints(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x).reshape(-1)
    if len(a) and not np.issubdtype(a.dtype, np.integer):
        if not np.issubdtype(a.dtype, np.floating) or (a != np.round(a)).any():
            raise MetricInputError(f"{name}: expected integer ids, got dtype {a.dtype}")
    return a.astype(np.int64)


def _boxes(x: Any, name: str, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, 4)
    if a.ndim != 2 or a.shape != (n, 4):
        raise MetricInputError(f"{name}: expected [{n}, 4] xywh boxes, got {list(a.shape)}")
    if not np.isfinite(a).all():
        raise MetricInputError(f"{name}: expected finite boxes")
    return a


def _starts(sorted_keys: np.ndarray, n: int) -> np.ndarray:
    """[n + 1] offsets of the runs of keys 0..n-1 in a sorted key array."""
    return np.searchsorted(sorted_keys, np.arange(n + 1)).astype(np.int64)


def _count(cls: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(classes, cls), minlength=len(classes)).astype(np.int64)


def _kernels() -> Any:
    """The numba kernels (imported on first use: numba's import is not free)."""
    from visionbench.metrics.detection import tide_kernels

    return tide_kernels
