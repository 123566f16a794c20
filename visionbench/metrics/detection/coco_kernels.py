"""The COCO kernels, from the C extension when it is built, else from numba.

Every function here has the signature and the result of its namesake in
:mod:`visionbench.metrics.detection.coco_kernels_numba` / :mod:`visionbench.metrics.detection.coco_json_scanner`
(the numba reference kernels, which the tests compare against bit for bit). The C
extension ``visionbench.metrics.detection._coco_ext`` (built by ``pip install -e .``; see
``setup.py``) runs the same operations without numba's start-up (importing numba and
loading cached kernels costs ~0.8 s of CPU per process, more than a whole COCO bbox
evaluation from arrays). ``VISIONBENCH_COCO_KERNELS=numba`` forces the reference kernels.

The C extension also has kernels that have no numba twin (their references are
pycocotools' own functions): RLE decoding / area / bounding box and mask IoU, and the
arithmetic of keypoint OKS.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = [
    "NATIVE",
    "accumulate_ranked",
    "group_order",
    "match_pairs",
    "object_spans",
    "oks_matrices",
    "pair_box_ious",
    "pair_rle_ious",
    "rle_area_bbox",
    "scan_objects",
    "segment_order_desc",
]


def _load() -> Any:
    if os.environ.get("VISIONBENCH_COCO_KERNELS", "").lower() == "numba":
        return None
    try:
        from visionbench.metrics.detection import _coco_ext
    except ImportError:
        return None
    return _coco_ext


#: the C extension module, or None (numba kernels)
NATIVE = _load()


def _i64(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def _f64(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _u8(x: Any) -> np.ndarray:
    a = np.ascontiguousarray(x)
    return a.view(np.uint8) if a.dtype == np.bool_ else np.ascontiguousarray(a, dtype=np.uint8)


def group_order(
    fine_key: np.ndarray, n_fine: int, coarse_div: int, neg_score: np.ndarray, by_score: bool
) -> np.ndarray:
    if NATIVE is None:
        from visionbench.metrics.detection import coco_kernels_numba as K

        return K.group_order(fine_key, n_fine, coarse_div, neg_score, by_score)
    key = _i64(fine_key)
    order = np.empty(len(key), dtype=np.int64)
    neg = _f64(neg_score) if by_score else np.zeros(1)
    NATIVE.group_order(key, int(n_fine), int(coarse_div), neg, bool(by_score), order)
    return order


def segment_order_desc(base: np.ndarray, seg_key: np.ndarray, score: np.ndarray) -> np.ndarray:
    if NATIVE is None:
        from visionbench.metrics.detection import coco_kernels_numba as K

        return K.segment_order_desc(base, seg_key, score)
    base = _i64(base)
    order = np.empty(len(base), dtype=np.int64)
    NATIVE.segment_order_desc(base, _i64(seg_key), _f64(score), order)
    return order


def pair_box_ious(
    gt_start: np.ndarray, gt_end: np.ndarray, dt_start: np.ndarray, dt_end: np.ndarray,
    iou_off: np.ndarray, gt_box: np.ndarray, gt_crowd: np.ndarray, dt_box: np.ndarray,
) -> np.ndarray:  # fmt: skip
    if NATIVE is None:
        from visionbench.metrics.detection import coco_kernels_numba as K

        return K.pair_box_ious(
            gt_start, gt_end, dt_start, dt_end, iou_off, gt_box, gt_crowd, dt_box
        )
    out = np.zeros(int(iou_off[-1]), dtype=np.float64)
    NATIVE.pair_box_ious(
        _i64(gt_start), _i64(gt_end), _i64(dt_start), _i64(dt_end), _i64(iou_off),
        _f64(gt_box), _u8(gt_crowd), _f64(dt_box), out,
    )  # fmt: skip
    return out


def match_pairs(
    gt_start: np.ndarray, gt_end: np.ndarray, dt_start: np.ndarray, dt_end: np.ndarray,
    iou_off: np.ndarray, ious: np.ndarray, gt_area: np.ndarray, gt_crowd: np.ndarray,
    gt_ignore: np.ndarray, gt_zero_id: np.ndarray, dt_area: np.ndarray, area_rng: np.ndarray,
    iou_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    if NATIVE is None:
        from visionbench.metrics.detection import coco_kernels_numba as K

        return K.match_pairs(
            gt_start, gt_end, dt_start, dt_end, iou_off, ious, gt_area, gt_crowd, gt_ignore,
            gt_zero_id, dt_area, area_rng, iou_thrs,
        )  # fmt: skip
    rng = _f64(area_rng).reshape(-1, 2)
    thr = _f64(iou_thrs)
    flags = np.zeros((len(dt_area), len(rng), len(thr)), dtype=np.uint8)
    npig = np.zeros((len(gt_start), len(rng)), dtype=np.int64)
    NATIVE.match_pairs(
        _i64(gt_start), _i64(gt_end), _i64(dt_start), _i64(dt_end), _i64(iou_off), _f64(ious),
        _f64(gt_area), _u8(gt_crowd), _u8(gt_ignore), _u8(gt_zero_id), _f64(dt_area), rng, thr,
        flags, npig,
    )  # fmt: skip
    return flags, npig


def accumulate_ranked(
    order: np.ndarray, cat_start: np.ndarray, cat_end: np.ndarray, score: np.ndarray,
    rank: np.ndarray, flags: np.ndarray, npig: np.ndarray, max_dets: np.ndarray,
    rec_thrs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    if NATIVE is None:
        from visionbench.metrics.detection import coco_kernels_numba as K

        return K.accumulate_ranked(
            order, cat_start, cat_end, score, rank, flags, npig, max_dets, rec_thrs
        )
    n_cat = len(cat_start)
    _, n_area, n_thr = flags.shape
    n_m, n_r = len(max_dets), len(rec_thrs)
    precision = np.full((n_thr, n_r, n_cat, n_area, n_m), -1.0)
    recall = np.full((n_thr, n_cat, n_area, n_m), -1.0)
    scores = np.full((n_thr, n_r, n_cat, n_area, n_m), -1.0)
    NATIVE.accumulate_ranked(
        _i64(order), _i64(cat_start), _i64(cat_end), _f64(score), _i64(rank), _u8(flags),
        n_area, n_thr, _i64(npig).reshape(n_cat, n_area) if n_cat else _i64(npig),
        _i64(max_dets), _f64(rec_thrs), precision, recall, scores,
    )  # fmt: skip
    return precision, recall, scores


def scan_objects(
    b: np.ndarray, start: int, end: int, key_bytes: np.ndarray, key_off: np.ndarray,
    widths: np.ndarray, col_off: np.ndarray, n_max: int, pow10: np.ndarray,
    release: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:  # fmt: skip
    """``release``: ``b`` is a read-only file mapping whose scanned pages may be dropped
    (they are read again from the page cache if touched: the caller's fallback still
    works); the C kernel only."""
    if NATIVE is None:
        from visionbench.metrics.detection import coco_json_scanner as J

        return J.scan_objects(b, start, end, key_bytes, key_off, widths, col_off, n_max, pow10)
    widths, col_off = _i64(widths), _i64(col_off)
    values = np.zeros((n_max, int(col_off[-1])), dtype=np.float64)
    present = np.zeros((n_max, len(widths)), dtype=np.bool_)
    kb = key_bytes if len(key_bytes) else np.zeros(1, np.uint8)
    n, status, slow = NATIVE.scan_objects(
        b, int(start), int(end), kb, _i64(key_off), widths, col_off, values,
        present.view(np.uint8), bool(release),
    )  # fmt: skip
    slow_a = np.array(slow, dtype=np.int64).reshape(-1, 4)
    return values, present, slow_a, n, status


def object_spans(
    b: np.ndarray, key_bytes: np.ndarray, key_off: np.ndarray
) -> tuple[np.ndarray, int]:
    if NATIVE is None:
        from visionbench.metrics.detection import coco_json_scanner as J

        return J.object_spans(b, key_bytes, key_off)
    key_off = _i64(key_off)
    spans = np.full((len(key_off) - 1, 2), -1, dtype=np.int64)
    kb = key_bytes if len(key_bytes) else np.zeros(1, np.uint8)
    status = NATIVE.object_spans(b, kb, key_off, spans)
    return spans, status


# -- kernels without a numba twin (references: pycocotools' own functions) -------------
def rle_counts(rles: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode compressed RLEs (pycocotools ``rleFrString``).

    Returns:
        (counts [C] uint32, offsets [N + 1] int64, sizes [N, 2] int64 (h, w)).
    """
    c, off = NATIVE.rle_from_strings([r["counts"] for r in rles])
    offsets = np.frombuffer(off, dtype=np.int64)
    counts = np.frombuffer(c, dtype=np.uint32)[: offsets[-1]]
    sizes = np.array([r["size"] for r in rles], dtype=np.int64).reshape(len(rles), 2)
    return counts, offsets, sizes


def rle_area_bbox(rles: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """``pycocotools.mask.area`` and ``toBbox`` of compressed RLEs: ([N] float64, [N, 4])."""
    counts, off, size = rle_counts(rles)
    n = len(rles)
    area = np.zeros(n, dtype=np.float64)
    bbox = np.zeros((n, 4), dtype=np.float64)
    NATIVE.rle_area_bbox(counts, off, _i64(size[:, 0]), _i64(size[:, 1]), area, bbox)
    return area, bbox


class DecodedRles:
    """Run lengths of n masks: ``counts[offsets[i]:offsets[i + 1]]`` ([C] uint32, [n + 1]
    int64), ``sizes`` [n, 2] (height, width)."""

    def __init__(self, counts: np.ndarray, offsets: np.ndarray, sizes: np.ndarray) -> None:
        self.counts, self.offsets, self.sizes = counts, offsets, sizes

    def __len__(self) -> int:
        return len(self.offsets) - 1


_NO_BOX = np.zeros(0, dtype=np.float64)


def _rle_side(rles: Any) -> tuple[Any, ...]:
    """The C kernels' view of an RleColumn, DecodedRles or list of RLE dicts: (buf, spans,
    mode, index, heights, widths, boxes) -- row r is mask ``index[r]``, its counts at
    ``buf[spans[index[r]]]`` as a counts string (mode 0: pycocotools' reading of the bytes;
    1: JSON as the columnar reader validated it) or as uint32 counts (mode 2); boxes: every
    mask's ``toBbox`` when known, else empty."""
    from visionbench.metrics.detection.coco_columns import RleColumn

    if isinstance(rles, DecodedRles):
        c = np.ascontiguousarray(rles.counts, np.uint32)
        buf = c.view(np.uint8) if len(c) else np.zeros(4, np.uint8)
        spans = np.stack([rles.offsets[:-1], rles.offsets[1:]], axis=1)
        index = np.arange(len(rles), dtype=np.int64)
        return buf, _i64(spans), 2, index, *_hw(rles.sizes), _NO_BOX
    if isinstance(rles, RleColumn):
        boxes = _NO_BOX if rles.boxes is None else _f64(rles.boxes)
        return rles.buf, _i64(rles.spans), 1, _i64(rles.index), *_hw(rles.all_sizes), boxes
    strings = [c.encode() if isinstance(c, str) else bytes(c) for c in (r["counts"] for r in rles)]
    ends = np.cumsum([len(c) for c in strings], dtype=np.int64)
    spans = (
        np.stack([ends - [len(c) for c in strings], ends], axis=1)
        if strings
        else np.zeros((0, 2), np.int64)
    )
    buf = np.frombuffer(b"".join(strings) or b"\0", dtype=np.uint8)
    sizes = np.array([r["size"] for r in rles], dtype=np.int64).reshape(len(rles), 2)
    return buf, _i64(spans), 0, np.arange(len(rles), dtype=np.int64), *_hw(sizes), _NO_BOX


def _hw(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _i64(sizes[:, 0]), _i64(sizes[:, 1])


def pair_rle_ious(
    gt_start: np.ndarray, gt_end: np.ndarray, dt_start: np.ndarray, dt_end: np.ndarray,
    iou_off: np.ndarray, gt_rles: Any, gt_crowd: np.ndarray, dt_rles: Any,
) -> np.ndarray:  # fmt: skip
    """Mask IoU matrices of every pair (``pycocotools.mask.iou``), layout of ``pair_box_ious``.

    ``gt_rles`` / ``dt_rles``: lists of compressed RLE dicts, ``RleColumn`` s or
    ``DecodedRles``, in the pairs' row order."""
    out = np.zeros(int(iou_off[-1]), dtype=np.float64)
    NATIVE.pair_rle_ious(
        _i64(gt_start), _i64(gt_end), _i64(dt_start), _i64(dt_end), _i64(iou_off),
        _rle_side(gt_rles), _u8(gt_crowd), _rle_side(dt_rles), out,
    )  # fmt: skip
    return out


def oks_matrices(
    gt_start: np.ndarray, gt_end: np.ndarray, dt_start: np.ndarray, dt_end: np.ndarray,
    iou_off: np.ndarray, gt_kps: np.ndarray, gt_bbox: np.ndarray, gt_area: np.ndarray,
    dt_kps: np.ndarray, sigmas: np.ndarray, gt_rows: np.ndarray | None = None,
    dt_rows: np.ndarray | None = None, chunk: int = 1 << 16,
) -> np.ndarray:  # fmt: skip
    """OKS matrices of every pair (``COCOeval.computeOks``), layout of ``pair_box_ious``.

    Pair row r of the gts is ``gt_kps[gt_rows[r]]`` (default: r), likewise for the dts.
    The exponents are computed in C with computeOks' operations, ``exp`` by numpy (the
    ufunc pycocotools calls), the sum in numpy's pairwise order; ``chunk`` matrix entries
    at a time.
    """
    var = _f64((sigmas * 2) ** 2)
    n_e, k = int(iou_off[-1]), len(var)
    gi = np.arange(len(gt_kps)) if gt_rows is None else gt_rows
    di = np.arange(len(dt_kps)) if dt_rows is None else dt_rows
    gs, ge, ds, de, off = (_i64(x) for x in (gt_start, gt_end, dt_start, dt_end, iou_off))
    (gk, gst), (dk, dst) = _rows(gt_kps), _rows(dt_kps)
    gi, di = _i64(gi), _i64(di)
    gb, ga = _f64(gt_bbox), _f64(gt_area)
    out = np.zeros(n_e, dtype=np.float64)
    p0, n_p = 0, len(gs)
    while p0 < n_p:  # pairs p0..p1 hold about `chunk` entries
        p1 = int(np.searchsorted(off, off[p0] + chunk, side="right"))
        p1 = min(max(p1 - 1, p0 + 1), n_p)
        e = np.empty((int(off[p1] - off[p0]), k), dtype=np.float64)
        NATIVE.oks_exponents(gs, ge, ds, de, off, p0, p1, gk, gst, gb, ga, gi, dk, dst, di, var, e)
        np.exp(e, out=e)
        NATIVE.oks_reduce(gs, ge, ds, de, off, p0, p1, k, gk, gst, gi, e, out)
        p0 = p1
    return out


def _rows(a: np.ndarray) -> tuple[np.ndarray, int]:
    """A 2-D float64 array as (1-D buffer, row stride in values) without copying a row-strided
    view (the scanner's columns are views into its value table)."""
    a = np.asarray(a)
    if (
        a.dtype == np.float64
        and a.ndim == 2
        and len(a) > 0
        and a.strides[1] == 8
        and a.strides[0] % 8 == 0
        and a.strides[0] >= 8 * a.shape[1]
    ):
        row = a.strides[0] // 8
        flat = np.lib.stride_tricks.as_strided(
            a, shape=((len(a) - 1) * row + a.shape[1],), strides=(8,)
        )
        return flat, row
    c = np.ascontiguousarray(a, dtype=np.float64)
    return c.reshape(-1) if c.size else np.zeros(1), (c.shape[1] if c.ndim == 2 else 0)
