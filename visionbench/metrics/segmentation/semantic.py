"""Semantic segmentation metrics from an accumulated confusion matrix.

Units: every score is a **fraction (0-1)**, as in cityscapesScripts (multiply by 100 for
the percentages papers print). Counts are pixels.

Definitions, over the pixels whose ground truth is not ``ignore_index``:

- confusion ``[C, C+1]`` int64: rows ground truth, columns prediction; the extra column
  ``C`` counts pixels predicted as ``ignore_index`` ("no prediction"), which are false
  negatives of their ground-truth class and false positives of no class.
- per-class IoU ``tp / (tp + fp + fn)``; NaN when the class is absent from ground truth
  and predictions. mIoU is the mean over the non-NaN classes.
- pixel accuracy ``sum(tp) / number of evaluated pixels`` (cityscapesScripts' own
  pixel-accuracy option counts the *wrong* pixels and includes void ones; not this).
- per-class accuracy ``tp / (tp + fn)`` (recall); NaN for a class absent from the ground
  truth. Mean class accuracy is the mean over the non-NaN classes.
- frequency-weighted IoU ``sum_c freq_c * IoU_c`` with ``freq_c`` the share of evaluated
  pixels whose ground truth is ``c`` (Long et al. 2015).

For the Cityscapes benchmark protocol (labelIds, void columns, iIoU, categories) use
:mod:`visionbench.metrics.segmentation.cityscapes`, which differs on purpose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult
from visionbench.metrics.errors import MetricInputError

__all__ = [
    "SegmentationEvaluator",
    "miou",
    "segmentation_confusion_matrix",
    "segmentation_scores",
]


def segmentation_confusion_matrix(
    gt: np.ndarray,
    pred: np.ndarray,
    num_classes: int,
    *,
    ignore_index: int | None = 255,
) -> np.ndarray:
    """Confusion matrix of one or more label maps, by one ``np.bincount``.

    Args:
        gt: ``[H, W]`` or ``[N, H, W]`` integer ground-truth class ids in ``[0, C)`` or
            ``ignore_index``.
        pred: integer predicted class ids, same shape as ``gt``, in ``[0, C)`` or
            ``ignore_index`` (no prediction).
        num_classes: C.
        ignore_index: ground-truth value that is not evaluated (None: every value counts).

    Returns:
        ``[C, C+1]`` int64 counts, rows ground truth, columns prediction (column C: no
        prediction).

    Raises:
        MetricInputError: shape mismatch, non-integer input, or a value out of range.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise MetricInputError(
            f"pred: expected the shape of gt {list(gt.shape)}, got {list(pred.shape)}"
        )
    for name, arr in (("gt", gt), ("pred", pred)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise MetricInputError(f"{name}: expected integer class ids, got dtype {arr.dtype}")
    c = int(num_classes)
    gt = gt.ravel()
    pred = pred.ravel()
    if ignore_index is not None:
        valid = gt != ignore_index
        if not valid.all():
            gt, pred = gt[valid], pred[valid]
    if gt.size == 0:
        return np.zeros((c, c + 1), np.int64)
    gmin, gmax = gt.min(), gt.max()
    if gmin < 0 or gmax >= c:
        bad = gmin if gmin < 0 else gmax
        raise MetricInputError(
            f"gt: expected class ids in [0, {c}) or ignore_index={ignore_index}, got {bad}"
        )
    pmin, pmax = pred.min(), pred.max()
    if pmin < 0 or pmax >= c:
        bad_mask = (pred < 0) | (pred >= c)
        if ignore_index is None or not (pred[bad_mask] == ignore_index).all():
            bad = pred[bad_mask & (pred != (ignore_index if ignore_index is not None else -1))]
            raise MetricInputError(
                f"pred: expected class ids in [0, {c}) or ignore_index={ignore_index}, got {bad[0]}"
            )
        pred = np.where(bad_mask, c, pred)
    flat = np.bincount(gt.astype(np.intp) * (c + 1) + pred, minlength=c * (c + 1))
    return flat.reshape(c, c + 1).astype(np.int64, copy=False)


def segmentation_scores(confusion: np.ndarray) -> dict[str, Any]:
    """Scores from a ``[C, C]`` or ``[C, C+1]`` confusion matrix (module docstring).

    Returns:
        ``iou`` and ``class_acc`` ``[C]`` float arrays (NaN where undefined), floats
        ``miou``, ``pixel_acc``, ``mean_class_acc``, ``fwiou`` (0-1; NaN without pixels).
    """
    conf = np.asarray(confusion, dtype=np.int64)
    c = conf.shape[0]
    if conf.ndim != 2 or conf.shape[1] not in (c, c + 1):
        raise MetricInputError(f"confusion: expected [C, C] or [C, C+1], got {list(conf.shape)}")
    tp = np.diag(conf[:, :c]).astype(np.float64)
    gt_count = conf.sum(axis=1).astype(np.float64)
    pred_count = conf[:, :c].sum(axis=0).astype(np.float64)
    union = gt_count + pred_count - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        class_acc = np.where(gt_count > 0, tp / gt_count, np.nan)
    total = gt_count.sum()
    present = gt_count > 0
    out: dict[str, Any] = {"iou": iou, "class_acc": class_acc}
    out["miou"] = _nanmean(iou)
    out["mean_class_acc"] = _nanmean(class_acc)
    out["pixel_acc"] = float(tp.sum() / total) if total else float("nan")
    out["fwiou"] = (
        float(np.sum(gt_count[present] / total * iou[present])) if total else float("nan")
    )
    return out


def miou(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, *, ignore_index: int | None = 255
) -> float:
    """Mean IoU (0-1) of label maps ``gt`` and ``pred`` (``[H, W]`` or ``[N, H, W]``)."""
    conf = segmentation_confusion_matrix(gt, pred, num_classes, ignore_index=ignore_index)
    return segmentation_scores(conf)["miou"]


class SegmentationEvaluator:
    """Mergeable semantic-segmentation evaluator; its state is the confusion matrix.

    Metrics (fractions 0-1, higher is better): ``miou``, ``pixel_acc``,
    ``mean_class_acc``, ``fwiou``. Arrays: ``confusion`` ``[C, C+1]``, ``iou`` and
    ``class_acc`` ``[C]``.

    Args:
        num_classes: C.
        ignore_index: ground-truth value not evaluated (and the "no prediction" value).
    """

    def __init__(self, num_classes: int, *, ignore_index: int | None = 255) -> None:
        if int(num_classes) < 1:
            raise MetricInputError(f"num_classes: expected >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.reset()

    @property
    def signature(self) -> str:
        return f"seg|classes={self.num_classes}|ignore={self.ignore_index}|v{VERSION}"

    def reset(self) -> None:
        """Forget every pixel."""
        self._confusion = np.zeros((self.num_classes, self.num_classes + 1), np.int64)
        # per frame, the non-zero cells of its confusion matrix (flat index, count)
        self._frame_cells: list[tuple[np.ndarray, np.ndarray]] = []
        self._frames_tracked = True

    def update(self, *, predictions: np.ndarray, targets: np.ndarray) -> None:
        """Add label maps (keyword arguments only, as every evaluator's ``update``):
        ``predictions`` and ``targets`` (ground truth) ``[H, W]`` or ``[N, H, W]`` integer
        ids (each ``[H, W]`` map is one frame)."""
        gt, pred = np.asarray(targets), np.asarray(predictions)
        if gt.ndim == 3 and gt.shape == pred.shape:
            frames = [
                segmentation_confusion_matrix(
                    g, p, self.num_classes, ignore_index=self.ignore_index
                )
                for g, p in zip(gt, pred)
            ]
        else:
            frames = [
                segmentation_confusion_matrix(
                    gt, pred, self.num_classes, ignore_index=self.ignore_index
                )
            ]
        for conf in frames:
            self._confusion += conf
            flat = conf.ravel()
            nz = np.flatnonzero(flat)
            self._frame_cells.append((nz.astype(np.int32), flat[nz]))

    def merge(self, other: SegmentationEvaluator) -> None:
        """Add another evaluator's confusion matrix (same classes and ignore index)."""
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise MetricInputError(
                f"merge: expected num_classes={self.num_classes}, ignore_index="
                f"{self.ignore_index}; got {other.num_classes}, {other.ignore_index}"
            )
        self._confusion += other._confusion
        self._frame_cells.extend(other._frame_cells)
        self._frames_tracked = self._frames_tracked and other._frames_tracked

    def frame_cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Per-frame confusion matrices, sparse: ``(offsets [F + 1], flat cell index,
        count)`` in arrival order; None when the state came without them."""
        if not self._frames_tracked:
            return None
        lens = np.array([len(c[0]) for c in self._frame_cells], np.int64)
        offsets = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        if not self._frame_cells:
            return offsets, np.zeros(0, np.int64), np.zeros(0, np.int64)
        idx = np.concatenate([c[0] for c in self._frame_cells]).astype(np.int64)
        cnt = np.concatenate([c[1] for c in self._frame_cells]).astype(np.int64)
        return offsets, idx, cnt

    def compute(self) -> MetricResult:
        """Scores as a :class:`MetricResult` (fractions 0-1; NaN without pixels)."""
        s = segmentation_scores(self._confusion)
        metrics = {k: s[k] for k in ("miou", "pixel_acc", "mean_class_acc", "fwiou")}
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays={
                "confusion": self._confusion.copy(),
                "iou": s["iou"],
                "class_acc": s["class_acc"],
            },
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """The confusion matrix and settings."""
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "confusion": self._confusion.copy(),
            **_frames_state(self.frame_cells()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (settings included)."""
        ignore = state["ignore_index"]
        self.__init__(
            int(state["num_classes"]), ignore_index=None if ignore is None else int(ignore)
        )
        self._confusion = np.asarray(state["confusion"], np.int64).copy()
        self._frame_cells, self._frames_tracked = _frames_from_state(state, self._confusion)


def _frames_state(cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> dict[str, Any]:
    if cells is None:
        return {}
    offsets, idx, cnt = cells
    return {"frame_offsets": offsets, "frame_cell_index": idx, "frame_cell_count": cnt}


def _frames_from_state(
    state: dict[str, Any], confusion: np.ndarray
) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """Per-frame cells of a state (older states have none: not tracked, unless empty)."""
    if state.get("frame_offsets") is None:
        return [], not confusion.any()
    off = np.asarray(state["frame_offsets"], np.int64)
    idx = np.asarray(state["frame_cell_index"], np.int64)
    cnt = np.asarray(state["frame_cell_count"], np.int64)
    cells = [(idx[a:b].astype(np.int32), cnt[a:b]) for a, b in zip(off[:-1], off[1:])]
    return cells, True


def _nanmean(values: np.ndarray) -> float:
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else float("nan")
