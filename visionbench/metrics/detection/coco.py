"""COCO detection / instance-segmentation / keypoint evaluation, identical to pycocotools.

Two entry points share one implementation:

* :func:`coco_evaluate` -- COCO JSON in (ground-truth file or dict, results file or list
  with ``COCO.loadRes`` behaviour), :class:`~visionbench.metrics.base.MetricResult` out.
* :class:`CocoEvaluator` -- columnar arrays in, image by image (``update``), with
  mergeable sufficient statistics (``merge`` / ``state_dict``): any split of the images
  into shards, merged, gives arrays identical to one pass.

The result holds the 12 stats (10 for keypoints) under their usual names (``AP``,
``AP50``, ..., ``AR100``, ``ARl``; values in [0, 1], NaN where pycocotools prints -1), the
full ``precision`` [T, R, K, A, M], ``recall`` [T, K, A, M] and ``scores`` arrays (-1 where
undefined, exactly as pycocotools), per-category AP / AR, and a signature.

``compat="pycocotools"`` reproduces pycocotools' quirks exactly: ``stats[0]`` reads
``maxDets == 100`` literally, fewer than 3 ``maxDets`` is an error (pycocotools crashes),
annotation id 0 never counts as matched (with a warning), annotations on images or
categories missing from the file are dropped (with a warning), result categories not in
the gt are dropped silently. Our own mode (``compat=None``) differs deliberately: the
"100" of the stats means ``max_dets[-1]``, id 0 and dangling annotations are errors,
dropped result categories are warned about. In both modes an empty results list is
evaluated as "no detections" with a warning (pycocotools crashes), and NaN / inf boxes,
negative sizes, unknown result image ids, duplicate gt ids, missing ``iscrowd`` / ``area``
fields are errors naming the field and the id.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import MetricResult, check_mergeable
from visionbench.metrics.detection.coco_columns import (
    AnnTable,
    GroundTruthTable,
    load_ground_truth,
    load_results,
    member_of,
    unique_ints,
)
from visionbench.metrics.detection.coco_evaluation import (
    MatchState,
    accumulate,
    match_tables,
    state_from_dict,
    state_to_dict,
    summarize,
    summary_result,
)
from visionbench.metrics.detection.coco_from_arrays import columns_from_image
from visionbench.metrics.detection.coco_params import CocoParams
from visionbench.metrics.errors import MetricInputError

__all__ = ["coco_evaluate", "CocoEvaluator", "CocoParams"]

COMPAT_MODES = (None, "pycocotools")


def coco_evaluate(
    gt: Any,
    results: Any,
    *,
    iou_type: str = "bbox",
    compat: str | None = None,
    params: CocoParams | None = None,
    keep_boxes: bool = False,
    **param_kw: Any,
) -> MetricResult:
    """Evaluate COCO results against a COCO ground truth.

    Args:
        gt: ground truth: a path to a COCO JSON file, its bytes, the parsed dict, or a
            :class:`~visionbench.metrics.detection.coco_columns.GroundTruthTable`.
        results: detections: a path to a results JSON file, its bytes, a list of result
            dicts (``image_id``, ``category_id``, ``score`` and ``bbox`` [x, y, w, h] px /
            ``segmentation`` / ``keypoints``), or an ``AnnTable``.
        iou_type: ``"bbox"``, ``"segm"`` or ``"keypoints"``.
        compat: None (our API) or ``"pycocotools"`` (reproduce its quirks, see module doc).
        params: a :class:`CocoParams`; or give its fields as keywords (``iou_thrs``,
            ``rec_thrs``, ``max_dets``, ``area_rng``, ``area_lbl``, ``use_cats``,
            ``img_ids``, ``cat_ids``, ``kpt_oks_sigmas``).
        keep_boxes: keep the boxes in the result's evaluator (for TIDE, see
            :meth:`CocoEvaluator.kept_boxes`).

    Returns:
        MetricResult: ``metrics`` (stats by name, in [0, 1]), ``arrays`` (``precision``,
        ``recall``, ``scores``, ``stats``, ``category_ids``, ``ap_per_category``,
        ``ar_per_category``), ``signature``.
    """
    _check_compat(compat)
    if params is None:
        params = CocoParams(iou_type=iou_type, **param_kw)
    elif param_kw or params.iou_type != iou_type and iou_type != "bbox":
        raise MetricInputError(
            "give either params= or parameter keywords (and iou_type inside params)"
        )
    is_compat = compat is not None
    gtt = (
        gt
        if isinstance(gt, GroundTruthTable)
        else load_ground_truth(gt, iou_type=params.iou_type, compat=is_compat)
    )
    dtt = load_results(results, gtt, iou_type=params.iou_type, compat=is_compat)
    ev = CocoEvaluator(
        gtt.cat_ids if params.cat_ids is None else params.cat_ids,
        params=params,
        compat=compat,
        cat_names=dict(zip(gtt.cat_ids.tolist(), gtt.cat_names)),
        keep_boxes=keep_boxes,
    )
    img_ids = unique_ints(
        np.asarray(gtt.image_ids if params.img_ids is None else params.img_ids, dtype=np.int64)
    )
    ev._add_tables(
        gtt.anns, dtt, img_ids, image_size=gtt.image_size if params.iou_type == "segm" else None
    )
    return ev.compute()


class CocoEvaluator:
    """Mergeable COCO evaluator fed image by image with columnar arrays.

    Per image, ``update`` matches the detections to the ground truth at once and keeps
    only the match flags (the sufficient statistics); ``compute`` accumulates. The state
    is independent of the order in which images arrive, so shards merge exactly.

    Args:
        cat_ids: the dataset's category ids (K). Detections of other categories are
            dropped (with a warning unless ``compat``).
        iou_type: ``"bbox"``, ``"segm"`` or ``"keypoints"``.
        compat: None or ``"pycocotools"`` (see module docstring).
        params: :class:`CocoParams` (its ``img_ids`` / ``cat_ids`` are ignored here), or
            its fields as keywords.
        cat_names: optional category id -> name, for per-category metric names.
        keep_boxes: also keep every image's boxes, classes, scores and crowd flags (what
            TIDE needs, :mod:`visionbench.metrics.detection.tide`); they merge and travel in
            ``state_dict`` like the match flags. Not part of the signature.
    """

    def __init__(
        self,
        cat_ids: Sequence[int],
        *,
        iou_type: str = "bbox",
        compat: str | None = None,
        params: CocoParams | None = None,
        cat_names: dict[int, str] | None = None,
        keep_boxes: bool = False,
        **param_kw: Any,
    ) -> None:
        _check_compat(compat)
        self.keep_boxes = bool(keep_boxes)
        self.params = params if params is not None else CocoParams(iou_type=iou_type, **param_kw)
        self.compat = compat
        order = np.asarray(list(cat_ids), dtype=np.int64)
        if self.params.use_cats:
            order = unique_ints(order)
        elif len(unique_ints(order)) != len(order):
            raise MetricInputError(f"cat_ids: duplicate category ids in {order.tolist()}")
        self.cat_ids = order
        self.cat_names = dict(cat_names or {})
        self.signature = self.params.signature(compat)
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self._states: list[MatchState] = []
        self._pending: list[tuple[AnnTable, AnnTable, int]] = []
        self._seen: set[int] = set()
        self._kept: list[tuple[AnnTable, AnnTable]] = []

    # -- feeding --------------------------------------------------------------------
    def update(
        self,
        *,
        image_id: int,
        dt_boxes: Any,
        dt_labels: Any,
        dt_scores: Any,
        dt_masks: Any = None,
        dt_area: Any = None,
        dt_keypoints: Any = None,
        gt_boxes: Any,
        gt_labels: Any,
        gt_iscrowd: Any = None,
        gt_area: Any = None,
        gt_ann_ids: Any = None,
        gt_masks: Any = None,
        gt_keypoints: Any = None,
        gt_num_keypoints: Any = None,
        box_format: str = "xyxy",
    ) -> None:
        """Add one image (keyword arguments only, as every evaluator's ``update``).

        Args:
            image_id: the dataset's image id (each image once per evaluator).
            dt_boxes: [D, 4] boxes, pixels. dt_labels: [D] category ids. dt_scores: [D].
            gt_boxes: [G, 4] boxes, pixels, in ``box_format`` (``"xyxy"`` or ``"xywh"``).
            gt_labels: [G] dataset category ids.
            gt_iscrowd: [G] bool, default all False.
            gt_area: [G] object areas, pixels² (COCO's ``area`` field: the mask area),
                default the box area (segm: the mask area).
            gt_ann_ids: [G] annotation ids (only for messages; default 1..G).
            gt_masks, dt_masks: segm only: [N, H, W] binary arrays or lists of RLE dicts.
            dt_area: [D] detection areas; default box area (segm: mask area).
            gt_keypoints, dt_keypoints: keypoints only: [N, 3k]; gt_num_keypoints: [G].
        """
        iid = int(image_id)
        if iid in self._seen:
            raise MetricInputError(f"update: image id {iid} was already added to this evaluator")
        g, d = columns_from_image(
            iid, self.params.iou_type, gt_boxes, gt_labels, dt_boxes, dt_labels, dt_scores,
            gt_iscrowd=gt_iscrowd, gt_area=gt_area, gt_ann_ids=gt_ann_ids, box_format=box_format,
            gt_masks=gt_masks, dt_masks=dt_masks, dt_area=dt_area, gt_keypoints=gt_keypoints,
            gt_num_keypoints=gt_num_keypoints, dt_keypoints=dt_keypoints,
        )  # fmt: skip
        # matched in bulk at the next compute / merge / state_dict (same result, less overhead)
        self._pending.append((g, d, iid))
        self._seen.add(iid)

    def update_tables(
        self, gt: AnnTable, dt: AnnTable, image_ids: Any, *, image_size: Any = None
    ) -> None:
        """Add many images at once from columnar tables (``bbox`` xywh).

        Args:
            gt, dt: :class:`~visionbench.metrics.detection.coco_columns.AnnTable` rows of any images.
            image_ids: the images to add (rows of other images are left out).
            image_size: image id -> (height, width), for polygon segmentations.
        """
        ids = unique_ints(np.asarray(image_ids, dtype=np.int64))
        dup = [i for i in ids.tolist() if i in self._seen]
        if dup:
            raise MetricInputError(f"update_tables: image ids already added: {dup[:10]}")
        self._add_tables(gt, dt, ids, image_size=image_size)

    def _flush(self) -> None:
        if not self._pending:
            return
        g = AnnTable.concat([p[0] for p in self._pending])
        d = AnnTable.concat([p[1] for p in self._pending])
        ids = unique_ints(np.array([p[2] for p in self._pending], dtype=np.int64))
        self._pending = []
        self._add_tables(g, d, ids, image_size=None, record=False)

    def _add_tables(
        self,
        gt: AnnTable,
        dt: AnnTable,
        img_ids: np.ndarray,
        *,
        image_size: Any,
        record: bool = True,
    ) -> None:
        if self.compat is None and len(dt):
            in_img = member_of(dt.image_id, img_ids)
            unknown = in_img & ~member_of(dt.category_id, self.cat_ids)
            if unknown.any():
                cats = np.unique(dt.category_id[unknown])[:10].tolist()
                warnings.warn(
                    f"{int(unknown.sum())} detections have category ids not in the ground truth "
                    f"({cats}); they are dropped, as pycocotools does",
                    stacklevel=3,
                )
        state = match_tables(gt, dt, self.params, self.cat_ids, img_ids, image_size=image_size)
        self._states.append(state)
        if self.keep_boxes:
            self._kept.append(_box_rows(gt, dt, img_ids, self.cat_ids))
        if record:
            self._seen.update(img_ids.tolist())

    # -- mergeable state ------------------------------------------------------------
    def merge(self, other: CocoEvaluator) -> None:
        """Add another evaluator's images (same parameters, disjoint images)."""
        check_mergeable(self, other, "signature", quote=True)
        if not np.array_equal(other.cat_ids, self.cat_ids):
            raise MetricInputError("merge: the evaluators have different cat_ids")
        both = self._seen & other._seen
        if both:
            raise MetricInputError(
                f"merge: image ids present in both evaluators: {sorted(both)[:10]}"
            )
        self._flush()
        other._flush()
        self._states.extend(other._states)
        self._seen |= other._seen
        if self.keep_boxes:
            if not other.keep_boxes:
                raise MetricInputError("merge: the other evaluator kept no boxes (keep_boxes)")
            self._kept.extend(other._kept)

    def state_dict(self) -> dict[str, Any]:
        """Sufficient statistics as plain arrays (match flags bit-packed)."""
        d = state_to_dict(self._state())
        d["signature"] = self.signature
        d["cat_ids"] = self.cat_ids.copy()
        kept = self.kept_boxes()
        if kept is not None:
            for side, t in (("gt", kept[0]), ("dt", kept[1])):
                for f in _KEPT_FIELDS[side]:
                    d[f"kept_{side}_{f}"] = getattr(t, f)
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this evaluator's statistics by ``state`` (from :meth:`state_dict`)."""
        if str(state["signature"]) != self.signature:
            raise MetricInputError(
                f"load_state_dict: signature {state['signature']!r} differs from {self.signature!r}"
            )
        if not np.array_equal(np.asarray(state["cat_ids"]), self.cat_ids):
            raise MetricInputError("load_state_dict: the state has different cat_ids")
        s = state_from_dict(state)
        self._states = [s]
        self._pending = []
        self._seen = set(s.image_ids.tolist())
        self._kept = []
        if self.keep_boxes and "kept_gt_bbox" in state:
            tables = []
            for side in ("gt", "dt"):
                cols = {f: np.asarray(state[f"kept_{side}_{f}"]) for f in _KEPT_FIELDS[side]}
                n = len(cols["image_id"])
                cols.setdefault("iscrowd", np.zeros(n, bool))
                tables.append(AnnTable(
                    cols["image_id"], cols["category_id"], cols["bbox"].reshape(n, 4),
                    np.zeros(n), cols["iscrowd"], np.zeros(n, np.int64), cols.get("score"),
                ))  # fmt: skip
            self._kept = [(tables[0], tables[1])]

    def kept_boxes(self) -> tuple[AnnTable, AnnTable, np.ndarray] | None:
        """``(gt, dt, image_ids)``: the boxes of every image added (``image_id``,
        ``category_id``, ``bbox`` xywh, ``iscrowd``; detections with ``score``, only those
        of known categories), and the sorted ids of the images evaluated; None unless
        built with ``keep_boxes=True`` (or when the state came without them)."""
        if not self.keep_boxes:
            return None
        self._flush()
        ids = self._state().image_ids
        if not self._kept:
            if len(ids):
                return None
            e = _box_rows(None, None, ids, self.cat_ids)
            return e[0], e[1], ids
        gt = AnnTable.concat([k[0] for k in self._kept])
        dt = AnnTable.concat([k[1] for k in self._kept])
        self._kept = [(gt, dt)]
        return gt, dt, np.unique(ids)

    def _state(self) -> MatchState:
        self._flush()
        A, T = len(self.params.area_rng), len(self.params.iou_thrs)
        if not self._states:
            return MatchState.empty(A, T)
        s = MatchState.concat(self._states)
        self._states = [s]
        return s

    # -- result ---------------------------------------------------------------------
    def compute(self) -> MetricResult:
        """Accumulate and summarize: see :func:`coco_evaluate` for the result's fields."""
        p = self.params
        arrays = accumulate(self._state(), p, self.cat_ids)
        stats, names = summarize(
            arrays["precision"], arrays["recall"], p, compat=self.compat is not None
        )
        cat_ids = self.cat_ids if p.use_cats else np.array([-1], dtype=np.int64)
        arrays.update(
            category_ids=cat_ids, iou_thrs=p.iou_thrs.copy(), rec_thrs=p.rec_thrs.copy(),
            max_dets=np.asarray(p.max_dets, dtype=np.int64),
            area_rng=np.asarray(p.area_rng, dtype=np.float64),
        )  # fmt: skip
        return summary_result(
            stats, names, arrays["precision"][..., 0, -1], arrays["recall"][..., 0, -1],
            arrays, self.signature, evaluator=self,
        )  # fmt: skip


_KEPT_FIELDS = {
    "gt": ("image_id", "category_id", "bbox", "iscrowd"),
    "dt": ("image_id", "category_id", "bbox", "score"),
}


def _box_rows(
    gt: AnnTable | None, dt: AnnTable | None, img_ids: np.ndarray, cat_ids: np.ndarray
) -> tuple[AnnTable, AnnTable]:
    """The rows TIDE needs of the images ``img_ids`` (detections: known categories)."""

    def light(t: AnnTable | None, keep: Any, with_score: bool) -> AnnTable:
        if t is None:
            z = np.zeros(0, np.int64)
            return AnnTable(z, z, np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool), z,
                            np.zeros(0) if with_score else None)  # fmt: skip
        i = np.flatnonzero(keep)
        return AnnTable(
            t.image_id[i], t.category_id[i], np.asarray(t.bbox, np.float64).reshape(-1, 4)[i],
            np.zeros(len(i)), np.asarray(t.iscrowd, bool)[i], np.zeros(len(i), np.int64),
            np.asarray(t.score, np.float64)[i] if with_score else None,
        )  # fmt: skip

    g = None if gt is None else member_of(gt.image_id, img_ids)
    d = None if dt is None else member_of(dt.image_id, img_ids) & member_of(dt.category_id, cat_ids)
    return light(gt, g, False), light(dt, d, True)


def _check_compat(compat: str | None) -> None:
    if compat not in COMPAT_MODES:
        raise MetricInputError(f"compat: expected one of {COMPAT_MODES}, got {compat!r}")
