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
) -> tuple[np.ndarray, np.ndarray]:
    """TP / FP flags of one image's detections of one class (devkit matching).

    Args:
        dt_boxes: [N, 4] devkit boxes. dt_scores: [N].
        gt_boxes: [M, 4] devkit boxes of the same class. gt_difficult: [M] bool.
        iou_threshold: a detection needs IoU strictly above it.

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
    best = np.argmax(ious, axis=1)  # first maximum, as np.argmax in the port
    best_iou = ious[np.arange(n), best]
    taken = np.zeros(len(g), bool)
    for r, i in enumerate(order.tolist()):
        if best_iou[r] > iou_threshold:
            j = best[r]
            if not diff[j]:
                if not taken[j]:
                    tp[i] = True
                    taken[j] = True
                else:
                    fp[i] = True
        else:
            fp[i] = True
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
        self._index = {c: k for k, c in enumerate(ids)}
        self.reset()

    @property
    def signature(self) -> str:
        return (
            f"voc|iou>{self.iou_threshold:g}|ap={self.ap_method}|box=+1px"
            f"|difficult={'counted' if self.use_difficult else 'ignored'}"
            f"|classes={len(self.class_ids)}|v{VERSION}"
        )

    def reset(self) -> None:
        """Forget every image."""
        c = len(self.class_ids)
        self._npos = np.zeros(c, np.int64)
        self._scores: list[list[np.ndarray]] = [[] for _ in range(c)]
        self._tp: list[list[np.ndarray]] = [[] for _ in range(c)]
        self._fp: list[list[np.ndarray]] = [[] for _ in range(c)]
        self.num_images = 0

    def update(
        self,
        dt_boxes: Any,
        dt_labels: Any,
        dt_scores: Any,
        gt_boxes: Any,
        gt_labels: Any,
        gt_difficult: Any = None,
        *,
        image_id: Any = None,
    ) -> None:
        """Add one image.

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
        for k in np.unique(np.concatenate([dk, gk])).tolist():
            gsel = gk == k
            self._npos[k] += int(np.count_nonzero(~gd[gsel]))
            dsel = dk == k
            if not dsel.any():
                continue
            tp, fp = voc_match_image(
                d[dsel], ds[dsel], g[gsel], gd[gsel], iou_threshold=self.iou_threshold
            )
            self._scores[k].append(ds[dsel])
            self._tp[k].append(tp)
            self._fp[k].append(fp)
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
        for k in range(len(self.class_ids)):
            self._scores[k] += other._scores[k]
            self._tp[k] += other._tp[k]
            self._fp[k] += other._fp[k]
        self.num_images += other.num_images

    def curves(self) -> dict[int, dict[str, np.ndarray]]:
        """Per class id: ``scores`` (ranked), ``recall``, ``precision`` [N] as the port's
        ``voc_eval`` returns them (recall NaN-free only when ``npos > 0``)."""
        out = {}
        for k, cid in enumerate(self.class_ids):
            s, tp, fp = self._flat(k)
            order = np.argsort(-s, kind="mergesort")
            ctp = np.cumsum(tp[order].astype(np.float64))
            cfp = np.cumsum(fp[order].astype(np.float64))
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
        for k in range(len(self.class_ids)):
            s, tp, fp = self._flat(k)
            state[f"scores_{k}"] = s
            state[f"flags_{k}"] = tp.astype(np.int8) - fp.astype(np.int8)  # 1 tp, -1 fp, 0 none
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
        for k in range(len(self.class_ids)):
            flags = np.asarray(state[f"flags_{k}"], np.int8)
            self._scores[k] = [np.asarray(state[f"scores_{k}"], np.float64).copy()]
            self._tp[k] = [flags == 1]
            self._fp[k] = [flags == -1]

    # -- helpers ----------------------------------------------------------------------
    def _flat(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._scores[k]:
            return np.zeros(0), np.zeros(0, bool), np.zeros(0, bool)
        s = np.concatenate(self._scores[k])
        tp = np.concatenate(self._tp[k])
        fp = np.concatenate(self._fp[k])
        self._scores[k], self._tp[k], self._fp[k] = [s], [tp], [fp]
        return s, tp, fp

    def _positions(self, labels: np.ndarray, name: str, where: str) -> np.ndarray:
        if labels.size and labels.dtype.kind not in "iu":
            if labels.dtype.kind != "f" or not np.all(labels == np.round(labels)):
                raise MetricInputError(
                    f"{name}: expected integer class ids, got {labels[:5]}{where}"
                )
        try:
            return np.fromiter(
                (self._index[int(v)] for v in labels.tolist()), np.int64, count=len(labels)
            )
        except KeyError as e:
            raise MetricInputError(
                f"{name}: class id {e.args[0]} is not one of the evaluator's class ids "
                f"{self.class_ids[:5]}{' ...' if len(self.class_ids) > 5 else ''}{where}"
            ) from None


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
