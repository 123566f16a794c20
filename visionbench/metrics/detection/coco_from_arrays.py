"""One image's arrays (the engine's contract) -> columnar COCO tables.

Boxes arrive in ``xyxy`` pixels (the ``DetectionTarget`` / ``DetectionPrediction``
contract) or ``xywh``; they are stored as COCO ``xywh`` (``w = x2 - x1``). Areas default to
the box area (segm: the mask area), like ``COCO.loadRes`` for results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_columns import AnnTable
from visionbench.metrics.errors import MetricInputError

__all__ = ["columns_from_image"]


def columns_from_image(
    image_id: int,
    iou_type: str,
    gt_boxes: Any,
    gt_labels: Any,
    dt_boxes: Any,
    dt_labels: Any,
    dt_scores: Any,
    *,
    gt_iscrowd: Any = None,
    gt_area: Any = None,
    gt_ann_ids: Any = None,
    box_format: str = "xyxy",
    gt_masks: Any = None,
    dt_masks: Any = None,
    dt_area: Any = None,
    gt_keypoints: Any = None,
    gt_num_keypoints: Any = None,
    dt_keypoints: Any = None,
) -> tuple[AnnTable, AnnTable]:
    """Validate one image's gt and detections and return them as two AnnTables."""
    where = f"image id {image_id}"
    gb = _boxes(gt_boxes, box_format, f"{where}: gt_boxes")
    db = _boxes(dt_boxes, box_format, f"{where}: dt_boxes")
    n_g, n_d = len(gb), len(db)
    g_lab = _vec(gt_labels, n_g, np.int64, f"{where}: gt_labels")
    d_lab = _vec(dt_labels, n_d, np.int64, f"{where}: dt_labels")
    score = _vec(dt_scores, n_d, np.float64, f"{where}: dt_scores")
    crowd = (
        np.zeros(n_g, bool)
        if gt_iscrowd is None
        else _vec(gt_iscrowd, n_g, np.int64, f"{where}: gt_iscrowd") != 0
    )
    ids = (
        np.arange(1, n_g + 1, dtype=np.int64)
        if gt_ann_ids is None
        else _vec(gt_ann_ids, n_g, np.int64, f"{where}: gt_ann_ids")
    )
    g_segm = d_segm = None
    if iou_type == "segm":
        from visionbench.metrics.iou import to_rle

        if gt_masks is None or dt_masks is None:
            raise MetricInputError(f"{where}: iou_type='segm' needs gt_masks and dt_masks")
        g_segm = to_rle(gt_masks, f"{where}: gt_masks")
        d_segm = to_rle(dt_masks, f"{where}: dt_masks")
        if len(g_segm) != n_g or len(d_segm) != n_d:
            raise MetricInputError(
                f"{where}: expected {n_g} gt masks and {n_d} dt masks (one per box), got {len(g_segm)} and {len(d_segm)}"
            )
        sizes = {tuple(r["size"]) for r in g_segm + d_segm}
        if len(sizes) > 1:
            raise MetricInputError(
                f"{where}: gt_masks / dt_masks: masks of different sizes {sorted(sizes)}"
            )
    g_area = _default_area(gt_area, gb, g_segm, n_g, f"{where}: gt_area")
    d_area = _default_area(dt_area, db, d_segm, n_d, f"{where}: dt_area")
    g_kp = d_kp = g_nkp = None
    if iou_type == "keypoints":
        if gt_keypoints is None or dt_keypoints is None:
            raise MetricInputError(
                f"{where}: iou_type='keypoints' needs gt_keypoints and dt_keypoints"
            )
        g_kp = _keypoint_rows(gt_keypoints, n_g)
        d_kp = _keypoint_rows(dt_keypoints, n_d)
        if gt_num_keypoints is None:
            g_nkp = np.count_nonzero(g_kp[:, 2::3] > 0, axis=1).astype(np.int64)
        else:
            g_nkp = _vec(gt_num_keypoints, n_g, np.int64, f"{where}: gt_num_keypoints")
    img_g = np.full(n_g, image_id, dtype=np.int64)
    img_d = np.full(n_d, image_id, dtype=np.int64)
    g = AnnTable(img_g, g_lab, gb, g_area, crowd, ids, None, g_segm, g_kp, g_nkp)
    d = AnnTable(
        img_d, d_lab, db, d_area, np.zeros(n_d, bool), np.arange(1, n_d + 1), score, d_segm, d_kp
    )
    return g, d


def _keypoint_rows(kp: Any, n: int) -> np.ndarray:
    """[n, 3k] rows; an image without objects keeps the width it was given ([0, 3k])."""
    a = np.asarray(kp, dtype=np.float64)
    if n == 0:
        return a.reshape(0, int(np.prod(a.shape[1:])) if a.ndim >= 2 else 0)
    return a.reshape(n, -1)


def _boxes(b: Any, box_format: str, name: str) -> np.ndarray:
    arr = np.asarray(b, dtype=np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricInputError(f"{name}: expected boxes of shape [N, 4], got {list(arr.shape)}")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise MetricInputError(f"{name}[{i}]: expected finite coordinates, got {arr[i].tolist()}")
    if box_format == "xyxy":
        arr = np.stack([arr[:, 0], arr[:, 1], arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]], axis=1)
    elif box_format != "xywh":
        raise MetricInputError(f"box_format: expected 'xyxy' or 'xywh', got {box_format!r}")
    neg = (arr[:, 2] < 0) | (arr[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise MetricInputError(
            f"{name}[{i}]: expected width and height >= 0, got {arr[i].tolist()} (xywh)"
        )
    return np.ascontiguousarray(arr)


def _vec(x: Any, n: int, dtype: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.size == 0 and n == 0:
        return np.zeros(0, dtype=dtype)
    arr = arr.reshape(-1)
    if len(arr) != n:
        raise MetricInputError(f"{name}: expected {n} values (one per box), got {len(arr)}")
    if dtype is np.float64 and not np.isfinite(arr.astype(np.float64)).all():
        i = int(np.flatnonzero(~np.isfinite(arr.astype(np.float64)))[0])
        raise MetricInputError(f"{name}[{i}]: expected a finite number, got {arr[i]}")
    return arr.astype(dtype)


def _default_area(
    area: Any, boxes: np.ndarray, segm: list[Any] | None, n: int, name: str
) -> np.ndarray:
    if area is not None:
        return _vec(area, n, np.float64, name)
    if segm is not None:
        from pycocotools import mask as mask_utils

        return np.asarray(mask_utils.area(segm), dtype=np.float64).reshape(n) if n else np.zeros(0)
    return boxes[:, 2] * boxes[:, 3]
