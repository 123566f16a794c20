"""The Cityscapes pixel-level benchmark, exactly as cityscapesScripts evaluates it.

Reproduces ``cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling`` (v2.x) number for
number (the tests compare every class, category and average score):

- predictions and ground truth are **labelIds 0..33** (not trainIds); the confusion
  matrix is ``[34, 34]`` over all pixels, rows ground truth, columns prediction;
- class IoU for the 19 evaluated classes: ``tp = C[l, l]``, ``fn = row sum - tp``
  (predicting a void id on a valid pixel is a miss), ``fp`` = column sum over the
  *non-ignored* ground-truth rows only (predictions on void pixels are free); NaN when
  ``tp + fp + fn == 0``; NaN for ignored ids;
- instance-level iIoU for the 8 classes with instances: each ground-truth instance (from
  ``instanceIds`` pixels ``> 1000``, label ``id // 1000``) weighs its tp and fn pixels by
  ``avgClassSize[class] / instance size``; fp as for IoU, unweighted;
- category IoU (7 categories; void is NaN) and category iIoU (human, vehicle);
- averages are means over the non-NaN entries, summed in cityscapesScripts' order.

Units: fractions 0-1. Per-instance weighted sums are accumulated in ``update`` order
(and merge order), as cityscapesScripts does frame after frame; evaluating the same
frames in the same order gives bit-identical numbers.

Metric names: ``miou`` (cityscapesScripts' "averageScoreClasses"), ``iiou``
("averageScoreInstClasses"), ``miou_category``, ``iiou_category``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult
from visionbench.metrics.errors import MetricInputError

__all__ = [
    "CITYSCAPES_AVG_CLASS_SIZE",
    "CITYSCAPES_CATEGORIES",
    "CITYSCAPES_LABEL_NAMES",
    "CityscapesEvaluator",
    "CityscapesFrameStats",
    "cityscapes_frame_stats",
    "cityscapes_scores",
    "train_ids_to_label_ids",
]

NUM_IDS = 34

# (id, name, trainId, category, hasInstances, ignoreInEval), cityscapesscripts/helpers/labels.py
_LABELS = [
    (0, "unlabeled", 255, "void", False, True),
    (1, "ego vehicle", 255, "void", False, True),
    (2, "rectification border", 255, "void", False, True),
    (3, "out of roi", 255, "void", False, True),
    (4, "static", 255, "void", False, True),
    (5, "dynamic", 255, "void", False, True),
    (6, "ground", 255, "void", False, True),
    (7, "road", 0, "flat", False, False),
    (8, "sidewalk", 1, "flat", False, False),
    (9, "parking", 255, "flat", False, True),
    (10, "rail track", 255, "flat", False, True),
    (11, "building", 2, "construction", False, False),
    (12, "wall", 3, "construction", False, False),
    (13, "fence", 4, "construction", False, False),
    (14, "guard rail", 255, "construction", False, True),
    (15, "bridge", 255, "construction", False, True),
    (16, "tunnel", 255, "construction", False, True),
    (17, "pole", 5, "object", False, False),
    (18, "polegroup", 255, "object", False, True),
    (19, "traffic light", 6, "object", False, False),
    (20, "traffic sign", 7, "object", False, False),
    (21, "vegetation", 8, "nature", False, False),
    (22, "terrain", 9, "nature", False, False),
    (23, "sky", 10, "sky", False, False),
    (24, "person", 11, "human", True, False),
    (25, "rider", 12, "human", True, False),
    (26, "car", 13, "vehicle", True, False),
    (27, "truck", 14, "vehicle", True, False),
    (28, "bus", 15, "vehicle", True, False),
    (29, "caravan", 255, "vehicle", True, True),
    (30, "trailer", 255, "vehicle", True, True),
    (31, "train", 16, "vehicle", True, False),
    (32, "motorcycle", 17, "vehicle", True, False),
    (33, "bicycle", 18, "vehicle", True, False),
]
CITYSCAPES_LABEL_NAMES: tuple[str, ...] = tuple(lab[1] for lab in _LABELS)
CITYSCAPES_CATEGORIES = (
    "void",
    "flat",
    "construction",
    "object",
    "nature",
    "sky",
    "human",
    "vehicle",
)
#: average instance size in pixels per class (cityscapesScripts ``args.avgClassSize``)
CITYSCAPES_AVG_CLASS_SIZE = {
    "bicycle": 4672.3249222261,
    "caravan": 36771.8241758242,
    "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518,
    "bus": 35732.1511111111,
    "train": 67583.7075812274,
    "car": 12794.0202738185,
    "person": 3462.4756337644,
    "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}

_IGNORED = np.array([lab[5] for lab in _LABELS])
_EVAL_IDS = np.flatnonzero(~_IGNORED)  # the 19 evaluated label ids
_HAS_INST = np.array([lab[4] for lab in _LABELS])
_INST_IDS = np.flatnonzero(_HAS_INST & ~_IGNORED)  # 24..28, 31..33
_CATEGORY_OF = np.array([CITYSCAPES_CATEGORIES.index(lab[3]) for lab in _LABELS])
# label ids whose category iIoU exists (every label of the category has instances),
# ignored ones included, as cityscapesScripts' generateInstanceStats builds them
_INST_CATEGORY_IDS = {
    cat: np.flatnonzero(CITYSCAPES_CATEGORIES.index(cat) == _CATEGORY_OF)
    for cat in ("human", "vehicle")
}
_CATEGORY_OF_I64 = _CATEGORY_OF.astype(np.int64)
_TRAIN_TO_LABEL = np.array([lab[0] for lab in _LABELS if lab[2] != 255], np.uint8)
_MAX_INSTANCE_ID = NUM_IDS * 1000


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map a trainId map (0..18, 255 = ignore) to labelIds for this evaluation.

    trainId ``t`` becomes its labelId (0 road -> 7, ..., 18 bicycle -> 33); 255 becomes 0
    (unlabeled), which the protocol counts as a miss on valid pixels.

    Args:
        train_ids: integer array of any shape.

    Returns:
        ``uint8`` labelIds, same shape.
    """
    train_ids = np.asarray(train_ids)
    lut = np.zeros(256, np.uint8)
    lut[:19] = _TRAIN_TO_LABEL
    bad = (train_ids < 0) | (train_ids > 255) | ((train_ids > 18) & (train_ids != 255))
    if bad.any():
        raise MetricInputError(
            f"train_ids: expected trainIds 0..18 or 255, got {train_ids[bad].ravel()[0]}"
        )
    return lut[train_ids.astype(np.intp)]


class CityscapesFrameStats(NamedTuple):
    """Sufficient statistics of one or more frames.

    Attributes:
        confusion: ``[34, 34]`` int64 pixel counts, rows gt labelId, columns predicted.
        inst_label: ``[M]`` labelId of each evaluated gt instance (frame order, then
            ascending instance id, as cityscapesScripts visits them).
        inst_size: ``[M]`` instance size in pixels.
        inst_tp: ``[M]`` instance pixels predicted as the instance's class.
        inst_cat_tp: ``[M]`` instance pixels predicted as any label of its category.
    """

    confusion: np.ndarray
    inst_label: np.ndarray
    inst_size: np.ndarray
    inst_tp: np.ndarray
    inst_cat_tp: np.ndarray


def cityscapes_frame_stats(
    gt_label_ids: np.ndarray,
    pred_label_ids: np.ndarray,
    gt_instance_ids: np.ndarray | None = None,
    *,
    frame: str = "",
    check_train_ids: bool = True,
) -> CityscapesFrameStats:
    """Confusion matrix and per-instance counts of one frame, in one pass over the pixels.

    Args:
        gt_label_ids: ``[H, W]`` integer gt labelIds (0..33), ``*_gtFine_labelIds.png``.
        pred_label_ids: ``[H, W]`` integer predicted labelIds (0..33).
        gt_instance_ids: ``[H, W]`` integer ``*_gtFine_instanceIds.png`` values, or None
            (no instance statistics).
        frame: frame name, used in error messages.
        check_train_ids: refuse predictions that look like trainIds: ids 0..18 only
            while at least 1% of the evaluated gt pixels have labelIds >= 19.

    Raises:
        MetricInputError: shape mismatch, ids out of 0..33, trainId-looking predictions,
            or an instance id whose class has no instances.
    """
    where = f" (frame {frame})" if frame else ""
    gt = _as_2d_int("gt_label_ids", gt_label_ids, where)
    pred = _as_2d_int("pred_label_ids", pred_label_ids, where)
    if pred.shape != gt.shape:
        raise MetricInputError(
            f"pred_label_ids{where}: expected the gt size {list(gt.shape)} (H, W), "
            f"got {list(pred.shape)}"
        )
    if gt_instance_ids is None:
        inst = np.zeros(0, np.uint16)
    else:
        inst = _as_2d_int("gt_instance_ids", gt_instance_ids, where)
        if inst.shape != gt.shape:
            raise MetricInputError(
                f"gt_instance_ids{where}: expected the gt size {list(gt.shape)}, "
                f"got {list(inst.shape)}"
            )
        inst = inst.ravel()
    flat = np.zeros(NUM_IDS * NUM_IDS, np.int64)
    n_inst = _MAX_INSTANCE_ID if inst.size else 1
    counts = np.zeros((3, n_inst), np.int64)
    bad = np.zeros(4, np.int64)
    _frame_kernel()(gt.ravel(), pred.ravel(), inst, _CATEGORY_OF_I64, flat, counts, bad)
    conf = flat.reshape(NUM_IDS, NUM_IDS)
    if bad[1]:
        _raise_bad_pred(pred, where)
    if bad[0]:
        raise MetricInputError(
            f"gt_label_ids{where}: expected labelIds 0..33, got {int(bad[2])} "
            "(is this a *_gtFine_labelIds.png?)"
        )
    if bad[3]:
        raise MetricInputError(
            f"gt_instance_ids{where}: expected labelId*1000+k with labelId 0..33, got an id "
            f">= {_MAX_INSTANCE_ID} (is this a *_gtFine_instanceIds.png?)"
        )
    if check_train_ids:
        _check_not_train_ids(conf, where)
    ids = np.flatnonzero(counts[0])
    labels = ids // 1000
    keep = ~_IGNORED[labels]
    wrong = keep & ~_HAS_INST[labels]
    if wrong.any():
        i = int(ids[wrong][0])
        raise MetricInputError(
            f"gt_instance_ids{where}: instance id {i} has labelId {i // 1000} "
            f"({CITYSCAPES_LABEL_NAMES[i // 1000]}), a class without instances"
        )
    ids = ids[keep]
    return CityscapesFrameStats(
        confusion=conf,
        inst_label=(ids // 1000).astype(np.int64),
        inst_size=counts[0, ids],
        inst_tp=counts[1, ids],
        inst_cat_tp=counts[2, ids],
    )


def cityscapes_scores(stats: CityscapesFrameStats) -> dict[str, Any]:
    """All cityscapesScripts scores from accumulated statistics.

    Returns:
        ``class_iou`` / ``class_iiou`` ``[34]`` (NaN for ignored ids and undefined
        scores), ``category_iou`` / ``category_iiou`` ``[8]`` in
        :data:`CITYSCAPES_CATEGORIES` order, and floats ``miou``, ``iiou``,
        ``miou_category``, ``iiou_category`` (fractions 0-1).
    """
    conf = np.asarray(stats.confusion, np.int64)
    eval_rows = conf[_EVAL_IDS]
    class_iou = np.full(NUM_IDS, np.nan)
    class_iiou = np.full(NUM_IDS, np.nan)
    # weighted tp / fn per class and per category, summed in visiting order
    weight = np.array(
        [CITYSCAPES_AVG_CLASS_SIZE[CITYSCAPES_LABEL_NAMES[lab]] for lab in stats.inst_label],
        np.float64,
    ) / np.asarray(stats.inst_size, np.float64)
    tp_w = np.asarray(stats.inst_tp, np.float64) * weight
    fn_w = (np.asarray(stats.inst_size) - np.asarray(stats.inst_tp)).astype(np.float64) * weight
    cat_tp_w = np.asarray(stats.inst_cat_tp, np.float64) * weight
    cat_fn_w = (np.asarray(stats.inst_size) - np.asarray(stats.inst_cat_tp)).astype(
        np.float64
    ) * weight
    inst_label = np.asarray(stats.inst_label)
    for lab in _EVAL_IDS:
        tp = int(conf[lab, lab])
        fn = int(conf[lab].sum()) - tp
        fp = int(eval_rows[:, lab].sum()) - tp
        denom = tp + fp + fn
        class_iou[lab] = tp / denom if denom else np.nan
        if lab in _INST_IDS:
            sel = inst_label == lab
            tpw = _sequential_sum(tp_w[sel])
            fnw = _sequential_sum(fn_w[sel])
            d = tpw + fp + fnw
            class_iiou[lab] = tpw / d if d != 0 else np.nan
    category_iou = np.full(len(CITYSCAPES_CATEGORIES), np.nan)
    category_iiou = np.full(len(CITYSCAPES_CATEGORIES), np.nan)
    for ci, cat in enumerate(CITYSCAPES_CATEGORIES):
        in_cat = ci == _CATEGORY_OF
        ids = np.flatnonzero(in_cat & ~_IGNORED)
        other_rows = np.flatnonzero(~in_cat & ~_IGNORED)
        if ids.size:
            tp = int(conf[np.ix_(ids, ids)].sum())
            fn = int(conf[ids].sum()) - tp
            fp = int(conf[np.ix_(other_rows, ids)].sum())
            denom = tp + fp + fn
            category_iou[ci] = tp / denom if denom else np.nan
        if cat in _INST_CATEGORY_IDS:
            sel = np.isin(inst_label, _INST_CATEGORY_IDS[cat])
            tpw = _sequential_sum(cat_tp_w[sel])
            fnw = _sequential_sum(cat_fn_w[sel])
            fp = int(conf[np.ix_(other_rows, _INST_CATEGORY_IDS[cat])].sum())
            d = tpw + fp + fnw
            category_iiou[ci] = tpw / d if d != 0 else np.nan
    return {
        "class_iou": class_iou,
        "class_iiou": class_iiou,
        "category_iou": category_iou,
        "category_iiou": category_iiou,
        "miou": _score_average(class_iou),
        "iiou": _score_average(class_iiou),
        "miou_category": _score_average(category_iou),
        "iiou_category": _score_average(category_iiou),
    }


def cityscapes_replicate_scores(
    frame_conf: np.ndarray,
    inst_offsets: np.ndarray,
    inst_rows: np.ndarray,
    weights: np.ndarray,
) -> dict[str, np.ndarray]:
    """``miou``, ``iiou``, ``miou_category``, ``iiou_category`` ``[B]`` of B weighted
    replicates of a set of frames at once: each equal bit for bit to
    :func:`cityscapes_scores` of the duplicated set (frame f ``weights[b, f]`` times, the
    frames in order), the bootstrap of ``bench eval``'s intervals.

    Args:
        frame_conf: ``[F, 34 * 34]`` each frame's confusion counts.
        inst_offsets, inst_rows: frame f's instances are rows ``inst_offsets[f] ..
            inst_offsets[f + 1]`` of ``inst_rows`` ``[m, 4]`` (label, size, tp, category tp).
        weights: ``[B, F]`` draw counts.

    The confusion matrices are one matrix product (integer counts, exact in float64); the
    instance-weighted sums, which cityscapesScripts adds one instance at a time, are added
    in the duplicated set's order by a numba kernel; the rest is the same operations as
    :func:`cityscapes_scores` on ``[B]`` vectors.
    """
    from visionbench.metrics.segmentation.cityscapes_kernels import instance_sums

    w = np.ascontiguousarray(weights, np.int64)
    n_rep = w.shape[0]
    flat = w.astype(np.float64) @ np.asarray(frame_conf, np.float64)
    conf = np.rint(flat).astype(np.int64).reshape(n_rep, NUM_IDS, NUM_IDS)
    rows = np.asarray(inst_rows, np.int64).reshape(-1, 4)
    lab, size, itp, ctp = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    avg = np.array([CITYSCAPES_AVG_CLASS_SIZE.get(n, np.nan) for n in CITYSCAPES_LABEL_NAMES])
    weight = avg[lab] / size.astype(np.float64)  # as cityscapes_scores forms them
    tp_w = itp.astype(np.float64) * weight
    fn_w = (size - itp).astype(np.float64) * weight
    cat_tp_w = ctp.astype(np.float64) * weight
    cat_fn_w = (size - ctp).astype(np.float64) * weight
    cats = tuple(_INST_CATEGORY_IDS)
    cslot = np.full(len(lab), -1, np.int64)
    for k, cat in enumerate(cats):
        cslot[np.isin(lab, _INST_CATEGORY_IDS[cat])] = k
    out_cls = np.zeros((n_rep, NUM_IDS, 2))
    out_cat = np.zeros((n_rep, len(cats), 2))
    instance_sums(w, np.ascontiguousarray(inst_offsets, np.int64), np.ascontiguousarray(lab),
                  tp_w, fn_w, cslot, cat_tp_w, cat_fn_w, out_cls, out_cat)  # fmt: skip

    nan = np.full(n_rep, np.nan)
    class_iou = np.full((n_rep, NUM_IDS), np.nan)
    class_iiou = np.full((n_rep, NUM_IDS), np.nan)
    row_sum = conf.sum(axis=2)
    eval_col_sum = conf[:, _EVAL_IDS, :].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for lab_id in _EVAL_IDS:
            tp = conf[:, lab_id, lab_id]
            fn = row_sum[:, lab_id] - tp
            fp = eval_col_sum[:, lab_id] - tp
            denom = tp + fp + fn
            class_iou[:, lab_id] = np.where(denom != 0, tp / denom, nan)
            if lab_id in _INST_IDS:
                tpw, fnw = out_cls[:, lab_id, 0], out_cls[:, lab_id, 1]
                d = tpw + fp + fnw
                class_iiou[:, lab_id] = np.where(d != 0, tpw / d, nan)
        category_iou = np.full((n_rep, len(CITYSCAPES_CATEGORIES)), np.nan)
        category_iiou = np.full((n_rep, len(CITYSCAPES_CATEGORIES)), np.nan)
        for ci, cat in enumerate(CITYSCAPES_CATEGORIES):
            in_cat = ci == _CATEGORY_OF
            ids = np.flatnonzero(in_cat & ~_IGNORED)
            other_rows = np.flatnonzero(~in_cat & ~_IGNORED)
            if ids.size:
                tp = conf[:, ids][:, :, ids].sum(axis=(1, 2))
                fn = conf[:, ids].sum(axis=(1, 2)) - tp
                fp = conf[:, other_rows][:, :, ids].sum(axis=(1, 2))
                denom = tp + fp + fn
                category_iou[:, ci] = np.where(denom != 0, tp / denom, nan)
            if cat in _INST_CATEGORY_IDS:
                k = cats.index(cat)
                tpw, fnw = out_cat[:, k, 0], out_cat[:, k, 1]
                fp = conf[:, other_rows][:, :, _INST_CATEGORY_IDS[cat]].sum(axis=(1, 2))
                d = tpw + fp + fnw
                category_iiou[:, ci] = np.where(d != 0, tpw / d, nan)
    return {
        "miou": _score_averages(class_iou),
        "iiou": _score_averages(class_iiou),
        "miou_category": _score_averages(category_iou),
        "iiou_category": _score_averages(category_iiou),
    }


def _score_averages(scores: np.ndarray) -> np.ndarray:
    """:func:`_score_average` of each row: the left-to-right mean of its non-NaN entries."""
    total = np.zeros(scores.shape[0])
    n = np.zeros(scores.shape[0], np.int64)
    for j in range(scores.shape[1]):
        v = scores[:, j]
        ok = v == v
        total = np.where(ok, total + v, total)
        n += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


class CityscapesEvaluator:
    """Mergeable Cityscapes pixel-level evaluator (cityscapesScripts protocol).

    State: the ``[34, 34]`` confusion matrix and the per-instance counts (a few dozen
    integers per frame). Metrics (fractions 0-1, higher is better): ``miou``, ``iiou``,
    ``miou_category``, ``iiou_category``; ``iiou*`` are NaN when some frame came without
    instanceIds. Arrays: ``confusion``, ``class_iou``, ``class_iiou`` ``[34]`` (index =
    labelId), ``category_iou``, ``category_iiou`` ``[8]``.

    Args:
        check_train_ids: refuse trainId-looking predictions (:func:`cityscapes_frame_stats`).
    """

    signature = f"cityscapes|pixel|ids=labelIds|iiou=avgClassSize|v{VERSION}"

    def __init__(self, *, check_train_ids: bool = True) -> None:
        self.check_train_ids = check_train_ids
        self.reset()

    def reset(self) -> None:
        """Forget every frame."""
        self._confusion = np.zeros((NUM_IDS, NUM_IDS), np.int64)
        self._inst: list[np.ndarray] = []  # [4, M] blocks: label, size, tp, cat_tp
        self._frames = 0
        self._frames_without_instances = 0
        # per frame: non-zero confusion cells (flat index, count), instance count, has ids
        self._frame_cells: list[tuple[np.ndarray, np.ndarray]] = []
        self._frame_inst: list[int] = []
        self._frame_has_inst: list[bool] = []

    def update(
        self,
        *,
        pred_label_ids: np.ndarray,
        gt_label_ids: np.ndarray,
        gt_instance_ids: np.ndarray | None = None,
        frame: str = "",
    ) -> None:
        """Add one frame: ``[H, W]`` predicted labelIds, gt labelIds, gt instanceIds
        (keyword arguments only, as every evaluator's ``update``)."""
        stats = cityscapes_frame_stats(
            gt_label_ids,
            pred_label_ids,
            gt_instance_ids,
            frame=frame,
            check_train_ids=self.check_train_ids,
        )
        self.add_stats(stats, has_instances=gt_instance_ids is not None)

    def add_stats(self, stats: CityscapesFrameStats, *, has_instances: bool = True) -> None:
        """Add the statistics of a frame computed by :func:`cityscapes_frame_stats`."""
        self._confusion += stats.confusion
        block = np.stack([stats.inst_label, stats.inst_size, stats.inst_tp, stats.inst_cat_tp])
        if block.shape[1]:
            self._inst.append(block.astype(np.int64))
        self._frames += 1
        self._frames_without_instances += 0 if has_instances else 1
        flat = np.asarray(stats.confusion, np.int64).ravel()
        nz = np.flatnonzero(flat)
        self._frame_cells.append((nz.astype(np.int32), flat[nz]))
        self._frame_inst.append(int(block.shape[1]))
        self._frame_has_inst.append(bool(has_instances))

    def merge(self, other: CityscapesEvaluator) -> None:
        """Append another evaluator's frames (after this one's frames)."""
        self._confusion += other._confusion
        self._inst.extend(other._inst)
        self._frames += other._frames
        self._frames_without_instances += other._frames_without_instances
        self._frame_cells.extend(other._frame_cells)
        self._frame_inst.extend(other._frame_inst)
        self._frame_has_inst.extend(other._frame_has_inst)

    def frames(self) -> dict[str, np.ndarray] | None:
        """Per-frame statistics in arrival order: ``offsets`` [F + 1] / ``cell_index`` /
        ``cell_count`` (sparse 34x34 confusion per frame), ``inst_count`` [F] (instances
        of each frame, in :meth:`stats` order), ``has_instances`` [F]; None when the state
        came without them."""
        if len(self._frame_cells) != self._frames:
            return None
        lens = np.array([len(c[0]) for c in self._frame_cells], np.int64)
        offsets = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        cat = (
            (lambda i: np.concatenate([c[i] for c in self._frame_cells]).astype(np.int64))
            if (self._frame_cells)
            else (lambda i: np.zeros(0, np.int64))
        )
        return {
            "offsets": offsets,
            "cell_index": cat(0),
            "cell_count": cat(1),
            "inst_count": np.array(self._frame_inst, np.int64),
            "has_instances": np.array(self._frame_has_inst, bool),
        }

    def stats(self) -> CityscapesFrameStats:
        """The accumulated statistics."""
        inst = np.concatenate(self._inst, axis=1) if self._inst else np.zeros((4, 0), np.int64)
        return CityscapesFrameStats(self._confusion.copy(), inst[0], inst[1], inst[2], inst[3])

    def compute(self) -> MetricResult:
        """Scores as a :class:`MetricResult` (fractions 0-1)."""
        s = cityscapes_scores(self.stats())
        if self._frames_without_instances:
            for key in ("iiou", "iiou_category"):
                s[key] = float("nan")
            s["class_iiou"][:] = np.nan
            s["category_iiou"][:] = np.nan
        metrics = {k: s[k] for k in ("miou", "iiou", "miou_category", "iiou_category")}
        arrays = {k: s[k] for k in ("class_iou", "class_iiou", "category_iou", "category_iiou")}
        arrays["confusion"] = self._confusion.copy()
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays=arrays,
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """Confusion matrix, per-instance counts ``[4, M]`` and frame counts."""
        st = self.stats()
        return {
            "confusion": st.confusion,
            "instances": np.stack([st.inst_label, st.inst_size, st.inst_tp, st.inst_cat_tp]),
            "frames": self._frames,
            "frames_without_instances": self._frames_without_instances,
            "check_train_ids": self.check_train_ids,
            **{f"frame_{k}": v for k, v in (self.frames() or {}).items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        self.__init__(check_train_ids=bool(state["check_train_ids"]))
        self._confusion = np.asarray(state["confusion"], np.int64).copy()
        inst = np.asarray(state["instances"], np.int64).reshape(4, -1)
        self._inst = [inst.copy()] if inst.shape[1] else []
        self._frames = int(state["frames"])
        self._frames_without_instances = int(state["frames_without_instances"])
        if state.get("frame_offsets") is not None:
            off = np.asarray(state["frame_offsets"], np.int64)
            idx = np.asarray(state["frame_cell_index"], np.int64)
            cnt = np.asarray(state["frame_cell_count"], np.int64)
            self._frame_cells = [
                (idx[a:b].astype(np.int32), cnt[a:b]) for a, b in zip(off[:-1], off[1:])
            ]
            self._frame_inst = [int(n) for n in np.asarray(state["frame_inst_count"])]
            self._frame_has_inst = [bool(h) for h in np.asarray(state["frame_has_instances"])]


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right float sum (``cumsum`` is sequential; ``sum`` is pairwise)."""
    return float(np.cumsum(values)[-1]) if values.size else 0.0


def _score_average(scores: np.ndarray) -> float:
    """cityscapesScripts' getScoreAverage: a left-to-right mean of the non-NaN entries."""
    total, n = 0.0, 0
    for x in scores.tolist():
        if x == x:
            total += x
            n += 1
    return total / n if n else float("nan")


def _as_2d_int(name: str, arr: Any, where: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise MetricInputError(
            f"{name}{where}: expected a single-channel [H, W] id map, got shape {list(arr.shape)}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise MetricInputError(f"{name}{where}: expected integer ids, got dtype {arr.dtype}")
    if arr.dtype.itemsize > 4 or arr.dtype == np.uint32:
        arr = arr.astype(np.int64)
    return np.ascontiguousarray(arr)


def _raise_bad_pred(pred: np.ndarray, where: str) -> None:
    values = np.unique(pred)
    if np.isin(values, np.r_[0:19, 255]).all():
        raise MetricInputError(
            f"pred_label_ids{where}: values {values.tolist()} look like trainIds (0..18, "
            "255 = ignore); this protocol needs labelIds 0..33. Convert with "
            "visionbench.metrics.segmentation.cityscapes.train_ids_to_label_ids(pred) "
            "(trainId t -> labelId, 255 -> 0 unlabeled)"
        )
    bad = values[(values < 0) | (values >= NUM_IDS)]
    raise MetricInputError(f"pred_label_ids{where}: expected labelIds 0..33, got {bad.tolist()}")


def _check_not_train_ids(conf: np.ndarray, where: str) -> None:
    if conf[:, 19:].any():
        return
    gt_eval = conf[_EVAL_IDS].sum()
    gt_high = conf[_EVAL_IDS[_EVAL_IDS >= 19]].sum()
    if gt_eval and gt_high >= 0.01 * gt_eval:
        raise MetricInputError(
            f"pred_label_ids{where}: only ids 0..18 are predicted while {gt_high} evaluated gt "
            "pixels have labelIds >= 19 (vegetation, sky, person, car, ...): these look like "
            "trainIds; this protocol needs labelIds 0..33. Convert with "
            "visionbench.metrics.segmentation.cityscapes.train_ids_to_label_ids(pred), or pass "
            "check_train_ids=False if these really are labelIds"
        )


@cache
def _frame_kernel() -> Any:
    import numba

    @numba.njit(nogil=True, cache=True)
    def frame_kernel(gt, pred, inst, category_of, flat, counts, bad):  # pragma: no cover
        # confusion counts, run-length accumulated (label maps have long runs)
        last = np.int64(-1)
        run = np.int64(0)
        for i in range(gt.size):
            g = np.int64(gt[i])
            p = np.int64(pred[i])
            if p < 0 or p >= 34:
                bad[1] += 1
                continue
            if g < 0 or g >= 34:
                bad[0] += 1
                bad[2] = g
                continue
            key = g * 34 + p
            if key == last:
                run += 1
            else:
                if last >= 0:
                    flat[last] += run
                last = key
                run = 1
        if last >= 0:
            flat[last] += run
        # per-instance size, class hits, category hits (instance pixels only)
        for i in range(inst.size):
            v = np.int64(inst[i])
            if v > 1000:
                if v >= 34000:
                    bad[3] += 1
                    continue
                p = np.int64(pred[i])
                if p < 0 or p >= 34:
                    continue
                lab = v // 1000
                counts[0, v] += 1
                if p == lab:
                    counts[1, v] += 1
                if category_of[p] == category_of[lab]:
                    counts[2, v] += 1

    return frame_kernel
