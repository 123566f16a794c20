"""Pascal VOC detection AP, as the devkit (``VOCevaldet.m``) and its Python port ``voc_eval``
(py-faster-rcnn, kept in detectron2 ``pascal_voc_evaluation.py``) compute it.

Boxes are in the **devkit's convention**: ``[xmin, ymin, xmax, ymax]`` inclusive pixel
indices (1-based in the XML files), so a box covers ``(xmax - xmin + 1) * (ymax - ymin + 1)``
pixels and IoU uses the ``+1`` rule. (A loader that stores 0-based continuous corners
``(xmin - 1, ymin - 1, xmax, ymax)``, as detectron2 does, converts back with
:func:`devkit_boxes`.)

Per class, over the whole split (REFERENCE.md §8):

- ground truth: the objects of that class; ``npos`` counts the non-difficult ones.
- detections ranked by descending score (a **stable** sort: ties keep input order, as the
  devkit's MATLAB ``sort``; the Python port's ``np.argsort`` is not stable, so on tied
  scores its order, and its AP, can differ from the devkit's).
- each detection takes the ground truth of its image with the largest IoU (taken or not);
  IoU ``> iou_threshold`` (strictly): a difficult gt makes the detection neither TP nor FP,
  a free gt makes it a TP (and takes the gt), a taken gt makes it an FP; otherwise FP.
- ``rec = cumsum(tp) / npos``, ``prec = cumsum(tp) / max(cumsum(tp) + cumsum(fp), eps)``.
- AP: ``"11point"`` (VOC2007: mean over t = 0, 0.1, ..., 1 of the max precision at recall
  >= t) or ``"allpoint"`` (VOC2010+: area under the precision envelope).

Matching looks only at one image's detections in score order, so the per-detection TP/FP
flags are computed image by image (:meth:`VOCEvaluator.update`) and the state is the flags
and scores per class: shards merge exactly.

Per image (:func:`voc_threshold_sweep`, from the kept flags; no re-matching): the best-F1
score threshold over all classes and each image's F1 at it, ``2 tp / (tp + fp + npos)``
with the devkit's matching (a difficult hit is neither TP nor FP, a difficult object is
not to be found), the per-sample score the worst images are ranked by.

Units: AP and mAP are **fractions (0-1)**; papers print percentages. A class without
non-difficult ground truth has AP NaN (the port divides by zero there: 0 with the 11-point
rule, NaN with the all-point rule) and is left out of mAP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult
from visionbench.metrics.errors import MetricInputError

__all__ = [
    "VOC_AP_METHODS",
    "VOCEvaluator",
    "voc_ap",
    "voc_box_iou",
    "voc_match_image",
    "voc_threshold_sweep",
    "devkit_boxes",
]

#: AP rules: VOC2007's 11-point interpolation, VOC2010+'s all-point area.
VOC_AP_METHODS = ("11point", "allpoint")


def voc_box_iou(dt: Any, gt: Any) -> np.ndarray:
    """Pairwise IoU with the devkit's ``+1`` rule, computed exactly as ``voc_eval`` does.

    Args:
        dt: [N, 4] devkit boxes (xmin, ymin, xmax, ymax inclusive pixel indices).
        gt: [M, 4] devkit boxes.

    Returns:
        [N, M] float64; boxes that do not overlap get 0.
    """
    d = _boxes(dt, "dt")
    g = _boxes(gt, "gt")
    iw = np.maximum(np.minimum(g[None, :, 2], d[:, None, 2]) - np.maximum(g[None, :, 0], d[:, None, 0]) + 1.0, 0.0)  # fmt: skip
    ih = np.maximum(np.minimum(g[None, :, 3], d[:, None, 3]) - np.maximum(g[None, :, 1], d[:, None, 1]) + 1.0, 0.0)  # fmt: skip
    inters = iw * ih
    uni = (
        (d[:, None, 2] - d[:, None, 0] + 1.0) * (d[:, None, 3] - d[:, None, 1] + 1.0)
        + (g[None, :, 2] - g[None, :, 0] + 1.0) * (g[None, :, 3] - g[None, :, 1] + 1.0)
        - inters
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return inters / uni


def voc_match_image(
    dt_boxes: Any,
    dt_scores: Any,
    gt_boxes: Any,
    gt_difficult: Any,
    *,
    iou_threshold: float = 0.5,
    dt_labels: Any = None,
    gt_labels: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """TP / FP flags of one image's detections (devkit matching).

    Args:
        dt_boxes: [N, 4] devkit boxes. dt_scores: [N].
        gt_boxes: [M, 4] devkit boxes. gt_difficult: [M] bool.
        iou_threshold: a detection needs IoU strictly above it.
        dt_labels, gt_labels: [N] and [M] class ids: each detection is matched among the
            gts of its class only (all classes of an image in one call). Without them, all
            boxes are one class.

    Returns:
        ``(tp, fp)``, two [N] bool arrays in the input order of the detections; both False
        for a detection whose best gt is difficult.
    """
    d = _boxes(dt_boxes, "dt_boxes")
    s = np.asarray(dt_scores, np.float64).reshape(-1)
    g = _boxes(gt_boxes, "gt_boxes")
    diff = np.asarray(gt_difficult, bool).reshape(-1)
    if len(s) != len(d) or len(diff) != len(g):
        raise MetricInputError(
            f"expected one score per detection and one difficult flag per gt, got "
            f"{len(d)} boxes / {len(s)} scores and {len(g)} boxes / {len(diff)} flags"
        )
    n = len(d)
    tp = np.zeros(n, bool)
    fp = np.zeros(n, bool)
    if n == 0:
        return tp, fp
    if len(g) == 0:
        fp[:] = True
        return tp, fp
    order = np.argsort(-s, kind="mergesort")
    ious = voc_box_iou(d[order], g)
    if dt_labels is not None or gt_labels is not None:
        dl = np.asarray(dt_labels).reshape(-1)[order]
        gl = np.asarray(gt_labels).reshape(-1)
        if len(dl) != n or len(gl) != len(g):
            raise MetricInputError(
                f"expected one label per box, got {len(dl)} for {n} detections and "
                f"{len(gl)} for {len(g)} gts"
            )
        ious[dl[:, None] != gl[None, :]] = -np.inf  # other classes: never the best gt
    best = np.argmax(ious, axis=1)  # first maximum, as np.argmax in the port
    hit = ious[np.arange(n), best] > iou_threshold  # NaN (empty boxes) is no hit
    # The best gt of a detection does not depend on what is taken, so in score order the
    # first hit of a non-difficult gt takes it (TP) and later hits of it are FPs; hits of a
    # difficult gt are neither; misses are FPs.
    free = np.flatnonzero(hit & ~diff[best])
    _, first = np.unique(best[free], return_index=True)
    tp_ranked = np.zeros(n, bool)
    tp_ranked[free[first]] = True
    fp_ranked = ~hit
    fp_ranked[free] = True
    fp_ranked[free[first]] = False
    tp[order] = tp_ranked
    fp[order] = fp_ranked
    return tp, fp


def voc_ap(recall: Any, precision: Any, *, method: str = "allpoint") -> float:
    """AP from a ranked recall / precision curve, exactly as ``voc_ap`` of the port.

    Args:
        recall: [N] non-decreasing. precision: [N].
        method: ``"11point"`` (VOC2007) or ``"allpoint"`` (VOC2010+).

    Returns:
        AP in [0, 1] (0 for an empty curve).
    """
    _check_method(method)
    rec = np.asarray(recall, np.float64).reshape(-1)
    prec = np.asarray(precision, np.float64).reshape(-1)
    if len(rec) != len(prec):
        raise MetricInputError(
            f"recall and precision: expected equal lengths, got {len(rec)} and {len(prec)}"
        )
    if method == "11point":
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            sel = rec >= t
            ap = ap + (float(np.max(prec[sel])) if sel.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_threshold_sweep(
    det_offsets: Any,
    dets: Any,
    npos: Any,
    *,
    image_ids: Sequence[Any] | None = None,
    class_ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """P / R / F1 against the score threshold, overall and per class, and each image's F1
    at the overall best threshold, from the per-image devkit flags
    (:meth:`VOCEvaluator.sample_table`'s arrays; nothing is matched again).

    A detection whose best gt is difficult (flag 0) is neither TP nor FP: it is left out,
    as the devkit leaves it out of the PR curve; ``npos`` counts only non-difficult
    objects (as COCO's ignored detections are left out of
    :func:`~visionbench.metrics.pr.detection_threshold_sweep`). Each best F1 is
    :func:`~visionbench.metrics.pr.best_f1`'s: thresholds at the counted detections'
    scores, ``score >= threshold`` kept, the highest threshold on ties.

    Args:
        det_offsets: [I + 1] image ``i`` owns ``dets[det_offsets[i]:det_offsets[i + 1]]``.
        dets: [M, 3] rows (class position, score, flag: 1 tp, -1 fp, 0 difficult hit).
        npos: [I, C] non-difficult ground truth per image and class.
        image_ids: [I] (default 0..I-1). class_ids: [C] (default 0..C-1).

    Returns:
        ``best_f1``, ``best_threshold``, ``precision``, ``recall`` (overall, at that
        threshold; threshold NaN without a detection or a ground truth); ``per_class``:
        rows ``{"category_id", "best_f1", "best_threshold", "precision", "recall",
        "num_gt"}`` in class order; ``image_ids`` and ``image_f1`` [I]: each image's
        ``2 tp / (tp + fp + npos)`` at the overall best threshold (NaN for an image with
        neither a non-difficult object nor a counted detection kept).

    Raises:
        MetricInputError: shapes disagree, a class position or flag out of range.
    """
    from visionbench.metrics.pr import best_f1, sweep_class_row, sweep_result

    off = np.asarray(det_offsets, np.int64).reshape(-1)
    d = np.asarray(dets, np.float64).reshape(-1, 3)
    gt = np.asarray(npos, np.int64)
    if gt.ndim != 2 or len(off) != len(gt) + 1 or (len(off) and (off[0] != 0 or off[-1] != len(d))) \
            or np.any(np.diff(off) < 0):  # fmt: skip
        raise MetricInputError(
            f"expected offsets [I + 1] from 0 to the number of detections ({len(d)}) and npos "
            f"[I, C], got offsets of length {len(off)} and npos of shape {list(gt.shape)}"
        )
    n_img, n_cls = gt.shape
    ids = list(range(n_img)) if image_ids is None else list(image_ids)
    cids = list(range(n_cls)) if class_ids is None else [int(c) for c in class_ids]
    if len(ids) != n_img or len(cids) != n_cls:
        raise MetricInputError(
            f"expected {n_img} image ids and {n_cls} class ids, got {len(ids)} and {len(cids)}"
        )
    k = d[:, 0].astype(np.int64)
    flag = d[:, 2]
    if np.any((k < 0) | (k >= n_cls)) or not np.isin(flag, (-1.0, 0.0, 1.0)).all():
        raise MetricInputError(
            f"dets: expected class positions in 0..{n_cls - 1} and flags in {{1, -1, 0}}"
        )
    img = np.repeat(np.arange(n_img), np.diff(off))
    counted = flag != 0
    s, tp, k, img = d[counted, 1], flag[counted] == 1, k[counted], img[counted]
    n_gt_cls = gt.sum(axis=0)
    overall = best_f1(s, tp, int(n_gt_cls.sum()))
    thr = overall["threshold"]
    per_class = []
    for c in range(n_cls):
        sel = k == c
        row = best_f1(s[sel], tp[sel], int(n_gt_cls[c]))
        per_class.append(sweep_class_row(cids[c], row, int(n_gt_cls[c])))
    keep = s >= thr if np.isfinite(thr) else np.zeros(len(s), bool)
    i_tp = np.bincount(img, weights=tp & keep, minlength=n_img)
    i_fp = np.bincount(img, weights=~tp & keep, minlength=n_img)
    return sweep_result(overall, per_class, ids, i_tp, i_fp, gt.sum(axis=1))


def devkit_boxes(boxes: Any) -> np.ndarray:
    """0-based continuous corners ``[x1, y1, x2, y2]`` (the project's contract; detectron2's
    VOC loader) -> devkit boxes ``[x1 + 1, y1 + 1, x2, y2]``."""
    b = _boxes(boxes, "boxes").copy()
    b[:, :2] += 1.0
    return b


class VOCEvaluator:
    """Mergeable Pascal VOC detection evaluator, fed image by image.

    State per class: detection scores and TP / FP flags (in update order) and ``npos``.

    Metrics (fractions 0-1, higher is better): ``mAP`` (mean AP over the classes with
    non-difficult ground truth) and ``AP_<class name>`` per class. Arrays:
    ``ap_per_category`` [C] (NaN without ground truth), ``category_ids`` [C],
    ``num_gt_per_category`` [C] (non-difficult), ``num_det_per_category`` [C],
    ``recall_per_category`` [C] (final recall).

    Args:
        class_ids: the C class ids predictions and ground truth use, in report order.
        iou_threshold: IoU a detection must exceed (strictly); 0.5 in the benchmark.
        ap_method: ``"11point"`` (VOC2007 test) or ``"allpoint"`` (VOC2010+).
        class_names: name per class id (for the ``AP_<name>`` metrics); default the ids.
        use_difficult: count difficult objects as ordinary ground truth (the flags given
            to :meth:`update` are then not used); the benchmark ignores them (False).
    """

    def __init__(
        self,
        class_ids: Sequence[int],
        *,
        iou_threshold: float = 0.5,
        ap_method: str = "allpoint",
        class_names: Sequence[str] | None = None,
        use_difficult: bool = False,
    ) -> None:
        _check_method(ap_method)
        ids = [int(c) for c in class_ids]
        if not ids or len(set(ids)) != len(ids):
            raise MetricInputError(f"class_ids: expected distinct ids, got {list(class_ids)}")
        if not 0.0 <= float(iou_threshold) < 1.0:
            raise MetricInputError(f"iou_threshold: expected in [0, 1), got {iou_threshold}")
        names = [str(c) for c in ids] if class_names is None else [str(n) for n in class_names]
        if len(names) != len(ids):
            raise MetricInputError(
                f"class_names: expected {len(ids)} names (one per class id), got {len(names)}"
            )
        self.class_ids = ids
        self.class_names = names
        self.iou_threshold = float(iou_threshold)
        self.ap_method = ap_method
        self.use_difficult = bool(use_difficult)
        lo = min(ids)
        lut = np.full(max(ids) - lo + 1, -1, np.int64)
        lut[np.asarray(ids) - lo] = np.arange(len(ids))
        self._lut = (lo, lut)  # class id -> position
        self.reset()

    @property
    def signature(self) -> str:
        return (
            f"voc|iou>{self.iou_threshold:g}|ap={self.ap_method}|box=+1px"
            f"|difficult={'counted' if self.use_difficult else 'ignored'}"
            f"|classes={len(self.class_ids)}|v{VERSION}"
        )

    @property
    def has_per_image_statistics(self) -> bool:
        """Whether per-image statistics are kept (False after loading an older state dict
        or merging one): :meth:`sample_table` and :meth:`threshold_sweep` need them."""
        return self._img_npos is not None

    def reset(self) -> None:
        """Forget every image."""
        self._npos = np.zeros(len(self.class_ids), np.int64)
        # per update: class positions, scores and flags (1 tp, -1 fp, 0 difficult hit) of
        # its detections, in input order
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.num_images = 0
        # per image, in update order (the bootstrap's samples): its id, its non-difficult
        # ground truth per class and its number of detections
        self._img_ids: list[Any] = []
        self._img_npos: list[np.ndarray] = []
        self._img_ndet: list[int] = []

    def update(
        self,
        *,
        dt_boxes: Any,
        dt_labels: Any,
        dt_scores: Any,
        gt_boxes: Any,
        gt_labels: Any,
        gt_difficult: Any = None,
        image_id: Any = None,
    ) -> None:
        """Add one image (keyword arguments only, as every evaluator's ``update``).

        Args:
            dt_boxes: [N, 4] devkit boxes. dt_labels: [N] class ids. dt_scores: [N] finite.
            gt_boxes: [M, 4] devkit boxes. gt_labels: [M] class ids.
            gt_difficult: [M] bool (default all False).
            image_id: named in error messages.

        Raises:
            MetricInputError: shapes disagree, a score is not finite, or a label is not one
                of ``class_ids``.
        """
        where = f" (image_id={image_id})" if image_id is not None else ""
        d = _boxes(dt_boxes, "dt_boxes", where)
        dl = np.asarray(dt_labels).reshape(-1)
        ds = np.asarray(dt_scores, np.float64).reshape(-1)
        g = _boxes(gt_boxes, "gt_boxes", where)
        gl = np.asarray(gt_labels).reshape(-1)
        gd = (
            np.zeros(len(g), bool)
            if gt_difficult is None
            else np.asarray(gt_difficult, bool).reshape(-1)
        )
        if self.use_difficult and len(gd) == len(g):  # (a length mismatch is refused below)
            gd = np.zeros(len(g), bool)
        if not (len(d) == len(dl) == len(ds)):
            raise MetricInputError(
                f"expected as many dt_labels and dt_scores as dt_boxes ({len(d)}), got "
                f"{len(dl)} and {len(ds)}{where}"
            )
        if not (len(g) == len(gl) == len(gd)):
            raise MetricInputError(
                f"expected as many gt_labels and gt_difficult as gt_boxes ({len(g)}), got "
                f"{len(gl)} and {len(gd)}{where}"
            )
        if not np.isfinite(ds).all():
            raise MetricInputError(f"dt_scores: expected finite values{where}")
        dk = self._positions(dl, "dt_labels", where)
        gk = self._positions(gl, "gt_labels", where)
        npos = np.bincount(gk[~gd], minlength=len(self.class_ids))
        self._npos += npos
        self._img_ids.append(self.num_images if image_id is None else image_id)
        self._img_npos.append(npos)
        self._img_ndet.append(len(d))
        if len(d):
            tp, fp = voc_match_image(
                d, ds, g, gd, iou_threshold=self.iou_threshold, dt_labels=dk, gt_labels=gk
            )
            self._parts.append((dk, ds, tp.astype(np.int8) - fp.astype(np.int8)))
        self.num_images += 1

    def merge(self, other: VOCEvaluator) -> None:
        """Append another evaluator's images (same classes, threshold and AP rule)."""
        if (
            not isinstance(other, VOCEvaluator)
            or other.signature != self.signature
            or (other.class_ids != self.class_ids)
        ):
            raise MetricInputError(
                f"merge: expected a VOCEvaluator with signature {self.signature!r} and the same "
                f"class ids, got {getattr(other, 'signature', type(other).__name__)!r}"
            )
        self._npos += other._npos
        self._parts += other._parts
        self.num_images += other.num_images
        if self._img_npos is not None and other._img_npos is not None:
            self._img_ids += other._img_ids
            self._img_npos += other._img_npos
            self._img_ndet += other._img_ndet
        else:
            self._img_ids = self._img_npos = self._img_ndet = None  # type: ignore[assignment]

    def sample_table(self) -> Any:
        """Per-image statistics for the bootstrap (:class:`~visionbench.metrics.sample_tables.VOCTable`):
        each image's detections (class, score, tp / fp flag, in update order) and its
        non-difficult ground truth per class."""
        from visionbench.metrics.sample_tables import VOCTable

        if self._img_npos is None:
            raise MetricInputError("bootstrap: this VOC state has no per-image statistics")
        k, s, flags = self._flat()
        off = np.zeros(len(self._img_ndet) + 1, np.int64)
        np.cumsum(self._img_ndet, out=off[1:])
        npos = (
            np.stack(self._img_npos)
            if self._img_npos
            else np.zeros((0, len(self.class_ids)), np.int64)
        )
        ids = np.asarray([str(i) for i in self._img_ids]) if self._img_ids else np.zeros(0, str)
        return VOCTable(
            {"npos": npos},
            {"dets": (off, np.stack([k.astype(np.float64), s, flags.astype(np.float64)], axis=1))},
            sample_ids=ids,
            config={"class_ids": list(self.class_ids), "class_names": list(self.class_names),
                    "iou_threshold": self.iou_threshold, "ap_method": self.ap_method,
                    "use_difficult": self.use_difficult},
        )  # fmt: skip

    def threshold_sweep(self) -> dict[str, Any]:
        """:func:`voc_threshold_sweep` of the images fed so far (their own ids, class ids).

        Raises:
            MetricInputError: a state without per-image statistics (an older state dict).
        """
        if self._img_npos is None:
            raise MetricInputError("threshold sweep: this VOC state has no per-image statistics")
        t = self.sample_table()
        off, dets = t.ragged["dets"]
        return voc_threshold_sweep(
            off, dets, t.columns["npos"], image_ids=list(self._img_ids), class_ids=self.class_ids
        )

    def curves(self) -> dict[int, dict[str, np.ndarray]]:
        """Per class id: ``scores`` (ranked), ``recall``, ``precision`` [N] as the port's
        ``voc_eval`` returns them (recall NaN-free only when ``npos > 0``)."""
        out = {}
        per_class = self._per_class()
        for k, cid in enumerate(self.class_ids):
            s, flags = per_class[k]
            order = np.argsort(-s, kind="mergesort")
            ctp = np.cumsum((flags[order] == 1).astype(np.float64))
            cfp = np.cumsum((flags[order] == -1).astype(np.float64))
            with np.errstate(divide="ignore", invalid="ignore"):
                rec = ctp / float(self._npos[k])
            prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
            out[cid] = {"scores": s[order], "recall": rec, "precision": prec}
        return out

    def compute(self) -> MetricResult:
        """AP per class and mAP (fractions 0-1; NaN for a class without ground truth)."""
        c = len(self.class_ids)
        ap = np.full(c, np.nan)
        final_rec = np.full(c, np.nan)
        n_det = np.zeros(c, np.int64)
        for k, curve in enumerate(self.curves().values()):
            n_det[k] = len(curve["scores"])
            if self._npos[k] > 0:
                ap[k] = voc_ap(curve["recall"], curve["precision"], method=self.ap_method)
                final_rec[k] = curve["recall"][-1] if n_det[k] else 0.0
        ok = ~np.isnan(ap)
        metrics = {"mAP": float(ap[ok].mean()) if ok.any() else float("nan")}
        for name, v in zip(self.class_names, ap.tolist()):
            metrics[f"AP_{name}"] = float(v)
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays={
                "ap_per_category": ap,
                "category_ids": np.asarray(self.class_ids, np.int64),
                "num_gt_per_category": self._npos.copy(),
                "num_det_per_category": n_det,
                "recall_per_category": final_rec,
            },
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """Settings, ``npos`` and per class the concatenated scores and flags."""
        state: dict[str, Any] = {
            "class_ids": np.asarray(self.class_ids, np.int64),
            "class_names": list(self.class_names),
            "iou_threshold": self.iou_threshold,
            "ap_method": self.ap_method,
            "use_difficult": self.use_difficult,
            "npos": self._npos.copy(),
            "num_images": self.num_images,
        }
        if self._img_npos is not None:
            state["img_ids"] = [str(i) for i in self._img_ids]
            state["img_npos"] = (
                np.stack(self._img_npos)
                if self._img_npos
                else np.zeros((0, len(self.class_ids)), np.int64)
            )
            state["img_ndet"] = np.asarray(self._img_ndet, np.int64)
        k, s, flags = self._flat()
        state.update(det_class=k, det_score=s, det_flag=flags)  # flag: 1 tp, -1 fp, 0 neither
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (settings included)."""
        self.__init__(
            np.asarray(state["class_ids"]).tolist(),
            iou_threshold=float(state["iou_threshold"]),
            ap_method=str(state["ap_method"]),
            class_names=[str(n) for n in state["class_names"]],
            use_difficult=bool(state.get("use_difficult", False)),
        )
        self._npos = np.asarray(state["npos"], np.int64).copy()
        self.num_images = int(state["num_images"])
        if "img_npos" in state:
            self._img_ids = list(state["img_ids"])
            self._img_npos = list(np.asarray(state["img_npos"], np.int64))
            self._img_ndet = np.asarray(state["img_ndet"], np.int64).tolist()
        else:  # an older state: no per-image statistics
            self._img_ids = self._img_npos = self._img_ndet = None  # type: ignore[assignment]
        self._parts = [
            (
                np.asarray(state["det_class"], np.int64).copy(),
                np.asarray(state["det_score"], np.float64).copy(),
                np.asarray(state["det_flag"], np.int8).copy(),
            )
        ]

    # -- helpers ----------------------------------------------------------------------
    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All detections in update order: class positions, scores, flags."""
        if not self._parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int8)
        if len(self._parts) > 1:
            self._parts = [tuple(np.concatenate(a) for a in zip(*self._parts))]  # type: ignore[misc]
        return self._parts[0]

    def _per_class(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per class position: (scores, flags) of its detections in update order."""
        k, s, flags = self._flat()
        order = np.argsort(k, kind="stable")
        bounds = np.searchsorted(k[order], np.arange(len(self.class_ids) + 1))
        return [(s[order[a:b]], flags[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]

    def _positions(self, labels: np.ndarray, name: str, where: str) -> np.ndarray:
        if labels.size and labels.dtype.kind not in "iu":
            if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
                raise MetricInputError(
                    f"{name}: expected integer class ids, got {labels[:5]}{where}"
                )
        ids = labels.astype(np.int64)
        lo, lut = self._lut
        pos = np.full(len(ids), -1, np.int64)
        inside = (ids >= lo) & (ids < lo + len(lut))
        pos[inside] = lut[ids[inside] - lo]
        if (pos < 0).any():
            bad = int(ids[np.argmax(pos < 0)])
            raise MetricInputError(
                f"{name}: class id {bad} is not one of the evaluator's class ids "
                f"{self.class_ids[:5]}{' ...' if len(self.class_ids) > 5 else ''}{where}"
            )
        return pos


def _check_method(method: str) -> None:
    if method not in VOC_AP_METHODS:
        raise MetricInputError(f"ap_method: expected one of {VOC_AP_METHODS}, got {method!r}")


def _boxes(value: Any, name: str, where: str = "") -> np.ndarray:
    arr = np.asarray(value, np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricInputError(f"{name}: expected shape [N, 4], got {list(arr.shape)}{where}")
    if not np.isfinite(arr).all():
        raise MetricInputError(f"{name}: expected finite coordinates{where}")
    return arr
