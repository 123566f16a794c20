"""Detection confusion matrix with a background row and column.

Per image: detections with score >= ``score_threshold`` are matched one-to-one to ground
truths, class-agnostically, greedily by descending IoU (ties: lower gt index, then lower
detection index) among pairs with IoU >= ``iou_threshold``. A matched pair counts in
``[gt class, predicted class]`` (the diagonal when the class is right, a
classification error elsewhere); an unmatched ground truth in ``[gt class, background]``
(missed); an unmatched detection in ``[background, predicted class]`` (false alarm).
Rows are ground truth, columns prediction; index ``C`` is the background. Crowd ground
truths are left out, as are detections that overlap one at >= ``iou_threshold`` (IoU
over the detection's area, COCO's crowd rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.iou import box_iou

__all__ = ["DetectionConfusion"]


class DetectionConfusion:
    """Accumulates the ``[C + 1, C + 1]`` matrix image by image.

    Args:
        class_ids: the C category ids, in the matrix's order.
        iou_threshold: IoU for a match (0.5). score_threshold: detections kept (0.25).
    """

    def __init__(
        self, class_ids: Any, *, iou_threshold: float = 0.5, score_threshold: float = 0.25
    ) -> None:
        self.class_ids = np.asarray(list(class_ids), dtype=np.int64)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)
        self._index = {int(k): i for i, k in enumerate(self.class_ids)}
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        c = len(self.class_ids)
        self.matrix = np.zeros((c + 1, c + 1), dtype=np.int64)

    def update(
        self, *, dt_boxes: Any, dt_labels: Any, dt_scores: Any, gt_boxes: Any, gt_labels: Any,
        gt_iscrowd: Any = None,
    ) -> None:  # fmt: skip
        """Add one image (keyword arguments only, as every evaluator's ``update``; boxes
        [N, 4] xyxy pixels, labels: category ids)."""
        gb = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
        db = np.asarray(dt_boxes, dtype=np.float64).reshape(-1, 4)
        gl = self._idx(gt_labels, "gt_labels")
        dl = self._idx(dt_labels, "dt_labels")
        ds = np.asarray(dt_scores, dtype=np.float64).reshape(-1)
        if len(gl) != len(gb) or len(dl) != len(db) or len(ds) != len(db):
            raise MetricInputError("update: boxes, labels and scores must have one row each")
        crowd = (
            np.zeros(len(gb), bool)
            if gt_iscrowd is None
            else np.asarray(gt_iscrowd).reshape(-1).astype(bool)
        )
        keep = ds >= self.score_threshold
        db, dl = db[keep], dl[keep]
        if crowd.any() and len(db):
            on_crowd = (
                box_iou(db, gb[crowd], iscrowd=np.ones(crowd.sum(), bool)) >= self.iou_threshold
            ).any(axis=1)
            db, dl = db[~on_crowd], dl[~on_crowd]
        gb, gl = gb[~crowd], gl[~crowd]
        bg = len(self.class_ids)
        g_done = np.zeros(len(gb), bool)
        d_done = np.zeros(len(db), bool)
        if len(gb) and len(db):
            iou = box_iou(gb, db)  # [G, D]
            g_i, d_i = np.nonzero(iou >= self.iou_threshold)
            order = np.lexsort((d_i, g_i, -iou[g_i, d_i]))
            for g, d in zip(g_i[order], d_i[order]):
                if g_done[g] or d_done[d]:
                    continue
                g_done[g] = d_done[d] = True
                self.matrix[gl[g], dl[d]] += 1
        np.add.at(self.matrix, (gl[~g_done], bg), 1)
        np.add.at(self.matrix, (bg, dl[~d_done]), 1)

    def merge(self, other: DetectionConfusion) -> None:
        """Add another accumulator's counts (same classes and thresholds)."""
        same = (
            np.array_equal(other.class_ids, self.class_ids)
            and other.iou_threshold == self.iou_threshold
            and other.score_threshold == self.score_threshold
        )
        if not same:
            raise MetricInputError("merge: different classes or thresholds")
        self.matrix += other.matrix

    def _idx(self, labels: Any, name: str) -> np.ndarray:
        lab = np.asarray(labels).reshape(-1)
        try:
            return np.array([self._index[int(v)] for v in lab], dtype=np.int64)
        except KeyError as e:
            raise MetricInputError(f"{name}: category id {e.args[0]} not in class_ids") from None
