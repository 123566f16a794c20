"""Object keypoint similarity (OKS) of ``COCOeval.computeOks``, pair by pair.

The arithmetic is pycocotools' own (numpy, same operations and reduction order), so the
values are bit-identical.
"""

from __future__ import annotations

import numpy as np

from visionbench.metrics.detection.coco_columns import AnnTable
from visionbench.metrics.errors import MetricInputError

__all__ = ["keypoint_ious", "oks"]


def oks(
    gt_kps: np.ndarray,
    gt_bbox: np.ndarray,
    gt_area: np.ndarray,
    dt_kps: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS matrix [D, G] between detections and ground truths.

    Args:
        gt_kps: [G, 3k] (x, y, visibility) triplets. gt_bbox: [G, 4] xywh. gt_area: [G].
        dt_kps: [D, 3k]. sigmas: [k].
    """
    d_n, g_n = len(dt_kps), len(gt_kps)
    k = len(sigmas)
    if gt_kps.shape[1] != 3 * k or dt_kps.shape[1] != 3 * k:
        raise MetricInputError(
            f"keypoints: expected {3 * k} values (x, y, v for {k} sigmas), got {gt_kps.shape[1]} (gt) "
            f"and {dt_kps.shape[1]} (results)"
        )
    out = np.zeros((d_n, g_n))
    if d_n == 0 or g_n == 0:
        return out
    variances = (sigmas * 2) ** 2
    for j in range(g_n):
        g = gt_kps[j]
        xg, yg, vg = g[0::3], g[1::3], g[2::3]
        k1 = np.count_nonzero(vg > 0)
        bb = gt_bbox[j]
        x0 = bb[0] - bb[2]
        x1 = bb[0] + bb[2] * 2
        y0 = bb[1] - bb[3]
        y1 = bb[1] + bb[3] * 2
        for i in range(d_n):
            d = dt_kps[i]
            xd, yd = d[0::3], d[1::3]
            if k1 > 0:
                dx = xd - xg
                dy = yd - yg
            else:
                z = np.zeros(k)
                dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
            e = (dx**2 + dy**2) / variances / (gt_area[j] + np.spacing(1)) / 2
            if k1 > 0:
                e = e[vg > 0]
            out[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return out


def keypoint_ious(
    gt: AnnTable, dt: AnnTable, go: np.ndarray, do: np.ndarray, gt_start: np.ndarray, gt_end: np.ndarray,
    dt_start: np.ndarray, dt_end: np.ndarray, iou_off: np.ndarray, sigmas: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Flat OKS matrices of every (image, category) pair (layout of ``pair_box_ious``)."""
    if gt.keypoints is None or dt.keypoints is None:
        raise MetricInputError(
            "keypoints evaluation needs 'keypoints' in the ground truth and the results"
        )
    from visionbench.metrics.detection import coco_kernels as coco_native

    k = len(sigmas)
    if iou_off[-1] > 0 and (gt.keypoints.shape[1] != 3 * k or dt.keypoints.shape[1] != 3 * k):
        oks(gt.keypoints[:0], gt.bbox[:0], gt.area[:0], dt.keypoints[:0], sigmas)  # its error
    if coco_native.NATIVE is not None:
        return coco_native.oks_matrices(
            gt_start, gt_end, dt_start, dt_end, iou_off, gt.keypoints, gt.bbox, gt.area,
            dt.keypoints, sigmas, gt_rows=go, dt_rows=do,
        )  # fmt: skip
    out = np.zeros(iou_off[-1], dtype=np.float64)
    for p in range(len(gt_start)):
        if iou_off[p + 1] == iou_off[p]:
            continue
        g = go[gt_start[p] : gt_end[p]]
        d = do[dt_start[p] : dt_end[p]]
        m = oks(gt.keypoints[g], gt.bbox[g], gt.area[g], dt.keypoints[d], sigmas)
        out[iou_off[p] : iou_off[p + 1]] = m.reshape(-1)
    return out
