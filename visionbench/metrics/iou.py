"""Intersection over union for boxes and masks.

Conventions (see REFERENCE.md §1):

* COCO (default): a box ``[x1, y1, x2, y2]`` covers ``(x2 - x1) * (y2 - y1)`` pixels, no
  ``+1``. Results are bit-identical to ``pycocotools.mask.iou`` (``maskApi.c bbIou``) for
  ``xywh`` boxes: ``w = min(x1 + w1, x2 + w2) - max(x1, x2)``, zero when ``w <= 0``.
* ``plus_one=True``: inclusive pixel coordinates (Pascal VOC / Scene-Graph-Benchmark),
  ``area = (x2 - x1 + 1) * (y2 - y1 + 1)``; ``xyxy`` only.
* Crowd rule: where ``iscrowd[j]`` is true the denominator is the area of the first box
  (the detection), not the union, so a detection may match any part of a crowd region.

Masks are binary arrays ``[N, H, W]`` or COCO RLE dicts (compressed or uncompressed);
RLE work is delegated to :mod:`pycocotools.mask`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["box_iou", "box_iou_elementwise", "mask_iou", "to_rle", "box_area"]

_FORMATS = ("xyxy", "xywh")


def box_iou(
    boxes1: Any,
    boxes2: Any,
    *,
    box_format: str = "xyxy",
    plus_one: bool = False,
    iscrowd: Any = None,
) -> np.ndarray:
    """Pairwise IoU between two sets of boxes.

    Args:
        boxes1: [N, 4] boxes (the detections when ``iscrowd`` is given), pixels.
        boxes2: [M, 4] boxes (the ground truth when ``iscrowd`` is given), pixels.
        box_format: ``"xyxy"`` (corners) or ``"xywh"`` (top-left corner, width, height).
        plus_one: inclusive-pixel convention (``xyxy`` only).
        iscrowd: optional [M] booleans; where true, IoU = intersection / area(boxes1[i]).

    Returns:
        [N, M] float64 IoU in [0, 1]; 0 where boxes do not overlap (or touch only).

    Raises:
        MetricInputError: wrong shape, non-finite values, negative width or height.
    """
    a = _as_boxes(boxes1, "boxes1")
    b = _as_boxes(boxes2, "boxes2")
    crowd = _as_crowd(iscrowd, len(b))
    x1a, y1a, x2a, y2a, area_a = _corners(a, box_format, plus_one, "boxes1")
    x1b, y1b, x2b, y2b, area_b = _corners(b, box_format, plus_one, "boxes2")
    one = 1.0 if plus_one else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.minimum(x2a[:, None], x2b[None, :]) - np.maximum(x1a[:, None], x1b[None, :]) + one
        h = np.minimum(y2a[:, None], y2b[None, :]) - np.maximum(y1a[:, None], y1b[None, :]) + one
        inter = w * h
        union = np.where(crowd[None, :], area_a[:, None], area_a[:, None] + area_b[None, :] - inter)
        out = inter / union
    out[(w <= 0) | (h <= 0)] = 0.0
    return out


def box_iou_elementwise(
    boxes1: Any,
    boxes2: Any,
    *,
    box_format: str = "xyxy",
    plus_one: bool = False,
    iscrowd: Any = None,
) -> np.ndarray:
    """IoU of ``boxes1[i]`` with ``boxes2[i]`` for each i.

    Args:
        boxes1: [N, 4] boxes, pixels.
        boxes2: [N, 4] boxes, pixels.
        box_format: ``"xyxy"`` or ``"xywh"``.
        plus_one: inclusive-pixel convention (``xyxy`` only).
        iscrowd: optional [N] booleans (crowd rule applied to pair i).

    Returns:
        [N] float64 IoU, equal to the diagonal of :func:`box_iou`.
    """
    a = _as_boxes(boxes1, "boxes1")
    b = _as_boxes(boxes2, "boxes2")
    if len(a) != len(b):
        raise MetricInputError(
            f"box_iou_elementwise: expected boxes1 and boxes2 of equal length, got {len(a)} and {len(b)}"
        )
    crowd = _as_crowd(iscrowd, len(b))
    x1a, y1a, x2a, y2a, area_a = _corners(a, box_format, plus_one, "boxes1")
    x1b, y1b, x2b, y2b, area_b = _corners(b, box_format, plus_one, "boxes2")
    one = 1.0 if plus_one else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.minimum(x2a, x2b) - np.maximum(x1a, x1b) + one
        h = np.minimum(y2a, y2b) - np.maximum(y1a, y1b) + one
        inter = w * h
        union = np.where(crowd, area_a, area_a + area_b - inter)
        out = inter / union
    out[(w <= 0) | (h <= 0)] = 0.0
    return out


def box_area(boxes: Any, *, box_format: str = "xyxy", plus_one: bool = False) -> np.ndarray:
    """Area of each box: [N, 4] boxes -> [N] float64, pixels²."""
    return _corners(_as_boxes(boxes, "boxes"), box_format, plus_one, "boxes")[4]


def mask_iou(masks1: Any, masks2: Any, *, iscrowd: Any = None) -> np.ndarray:
    """Pairwise IoU between two sets of masks (pycocotools ``rleIou``).

    Args:
        masks1: [N, H, W] binary array, or a list of N COCO RLE dicts (the detections).
        masks2: [M, H, W] binary array, or a list of M RLE dicts (the ground truth).
        iscrowd: optional [M] booleans; where true, IoU = intersection / area(masks1[i]).

    Returns:
        [N, M] float64 IoU.

    Raises:
        MetricInputError: masks of different sizes, malformed RLE or arrays.
    """
    r1 = to_rle(masks1, "masks1")
    r2 = to_rle(masks2, "masks2")
    crowd = _as_crowd(iscrowd, len(r2))
    if len(r1) == 0 or len(r2) == 0:
        return np.zeros((len(r1), len(r2)), dtype=np.float64)
    sizes1 = {tuple(r["size"]) for r in r1}
    sizes2 = {tuple(r["size"]) for r in r2}
    if len(sizes1 | sizes2) != 1:
        raise MetricInputError(
            f"mask_iou: all masks must share one size [H, W]; got masks1 sizes {sorted(sizes1)} "
            f"and masks2 sizes {sorted(sizes2)}"
        )
    from pycocotools import mask as mask_utils

    return np.asarray(mask_utils.iou(r1, r2, crowd.astype(np.uint8).tolist()), dtype=np.float64)


def to_rle(masks: Any, name: str = "masks") -> list[dict[str, Any]]:
    """Convert binary masks [N, H, W] or a list of RLE dicts into compressed RLE dicts.

    Uncompressed RLE (``counts`` a list of ints) is compressed with ``frPyObjects``;
    compressed RLE with ``counts`` given as ``str`` is passed through.
    """
    from pycocotools import mask as mask_utils

    if isinstance(masks, np.ndarray):
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3:
            raise MetricInputError(
                f"{name}: expected binary masks [N, H, W], got shape {masks.shape}"
            )
        if masks.dtype != np.bool_ and not np.isin(masks, (0, 1)).all():
            raise MetricInputError(f"{name}: expected binary masks (0/1 or bool), got other values")
        if len(masks) == 0:
            return []
        fortran = np.asfortranarray(np.transpose(masks.astype(np.uint8), (1, 2, 0)))
        return list(mask_utils.encode(fortran))
    if not isinstance(masks, Sequence):
        raise MetricInputError(
            f"{name}: expected an array [N, H, W] or a list of RLE dicts, got {type(masks).__name__}"
        )
    out = []
    for i, r in enumerate(masks):
        if not isinstance(r, dict) or "counts" not in r or "size" not in r:
            raise MetricInputError(
                f"{name}[{i}]: expected an RLE dict with 'size' and 'counts', got {r!r:.80}"
            )
        if isinstance(r["counts"], list):
            h, w = r["size"]
            r = mask_utils.frPyObjects(r, h, w)
        out.append(r)
    return out


def _as_boxes(boxes: Any, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricInputError(f"{name}: expected boxes of shape [N, 4], got {list(arr.shape)}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricInputError(f"{name}[{i}]: expected finite coordinates, got {arr[i].tolist()}")
    return arr


def _as_crowd(iscrowd: Any, n: int) -> np.ndarray:
    if iscrowd is None:
        return np.zeros(n, dtype=bool)
    crowd = np.asarray(iscrowd).astype(bool).reshape(-1)
    if len(crowd) != n:
        raise MetricInputError(
            f"iscrowd: expected {n} flags (one per second-argument box), got {len(crowd)}"
        )
    return crowd


def _corners(
    b: np.ndarray, box_format: str, plus_one: bool, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if box_format not in _FORMATS:
        raise MetricInputError(f"box_format: expected one of {_FORMATS}, got {box_format!r}")
    if box_format == "xywh":
        if plus_one:
            raise MetricInputError("plus_one=True is defined for box_format='xyxy' only")
        x, y, w, h = b.T
        _check_nonneg(w, h, name, "width/height")
        # pycocotools bbIou: right edge = w + x, area = w * h (same float operations).
        return x, y, w + x, h + y, w * h
    x1, y1, x2, y2 = b.T
    one = 1.0 if plus_one else 0.0
    w = x2 - x1 + one
    h = y2 - y1 + one
    _check_nonneg(x2 - x1, y2 - y1, name, "x2 - x1 / y2 - y1")
    return x1, y1, x2, y2, w * h


def _check_nonneg(w: np.ndarray, h: np.ndarray, name: str, what: str) -> None:
    bad = (w < 0) | (h < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"{name}[{i}]: expected {what} >= 0, got {float(w[i])}, {float(h[i])}"
        )
