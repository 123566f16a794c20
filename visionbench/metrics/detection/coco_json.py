"""A columnar reader for COCO JSON: numeric fields straight into numpy, no Python objects.

Parsing a 48 MB results file into Python dicts costs more than a whole evaluation; this
reader scans the bytes once (numba) and fills float64 columns for the keys it is asked
for, skipping every other value (segmentations included). Numbers are converted exactly:
decimal numbers with at most 15 significant digits and a decimal exponent within ±22 go
through the exact fast path (one correctly rounded multiplication or division of exact
float64 values, the same double Python's ``float()`` gives); any other number is
re-read with ``float()``. Anything unusual (escaped keys, a missing field, a non-numeric
value, invalid JSON) makes the reader return None, and the caller falls back to the full
parser, whose errors name the field and the id.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_columns import AnnTable, GroundTruthTable

__all__ = ["scan_object_array", "top_level_spans", "fast_results", "fast_ground_truth"]

_POW10 = np.array([10.0**i for i in range(23)], dtype=np.float64)


def scan_object_array(
    buf: np.ndarray, start: int, end: int, keys: list[str], widths: list[int], *,
    release: bool = False,
) -> dict[str, Any] | None:  # fmt: skip
    """Read ``[{...}, {...}, ...]`` between byte offsets ``start`` and ``end``.

    Args:
        buf: the file as a uint8 array.
        keys: the keys to read; the value of key j must be a number (``widths[j] == 1``),
            an array of ``widths[j]`` numbers (e.g. 4 for ``bbox``), or anything
            (``widths[j] == 0``: only its presence is recorded).

    Returns:
        ``{"values": [N, sum(widths)] float64, "present": [N, len(keys)] bool}``, or None
        when the bytes are not a plain array of objects with such values.
    """
    from visionbench.metrics.detection import coco_kernels as J

    kb = [k.encode() for k in keys]
    key_bytes = np.frombuffer(b"".join(kb), dtype=np.uint8) if kb else np.zeros(0, np.uint8)
    key_off = np.zeros(len(kb) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in kb], out=key_off[1:])
    w = np.asarray(widths, dtype=np.int64)
    col_off = np.zeros(len(w) + 1, dtype=np.int64)
    np.cumsum(np.where(w == -1, 2, w), out=col_off[1:])  # -1: a byte span (start, end)
    from visionbench.metrics.detection import coco_kernels as coco_native

    # '{' bounds the object count
    if coco_native.NATIVE is not None:
        n_max = coco_native.NATIVE.count_byte(buf, start, end, 123) + 1
    else:
        n_max = int(np.count_nonzero(buf[start:end] == 123)) + 1
    kw = {"release": True} if release else {}
    values, present, slow, n, status = J.scan_objects(
        buf, start, end, key_bytes, key_off, w, col_off, n_max, _POW10, **kw
    )
    if status != 0:
        return None
    values, present = values[:n], present[:n]
    if len(slow):
        for row, col, s, e in slow.tolist():
            if row < n:
                values[row, col] = float(bytes(buf[s:e]))
    return {"values": values, "present": present}


def top_level_spans(buf: np.ndarray, keys: list[str]) -> dict[str, tuple[int, int]] | None:
    """Byte spans ``[start, end)`` of the values of top-level object keys (None if not an object)."""
    from visionbench.metrics.detection import coco_kernels as J

    kb = [k.encode() for k in keys]
    key_bytes = np.frombuffer(b"".join(kb), dtype=np.uint8)
    key_off = np.zeros(len(kb) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in kb], out=key_off[1:])
    spans, status = J.object_spans(buf, key_bytes, key_off)
    if status != 0:
        return None
    return {k: (int(spans[j, 0]), int(spans[j, 1])) for j, k in enumerate(keys) if spans[j, 0] >= 0}


_INT_LIMIT = 2.0**53


def _int_column(v: np.ndarray) -> np.ndarray | None:
    """v as int64 when every value is an integer below 2**53 in magnitude, else None."""
    if len(v) and not (v.max() < _INT_LIMIT and v.min() > -_INT_LIMIT):
        return None  # (NaN fails the comparisons too)
    iv = v.astype(np.int64)
    return iv if np.array_equal(iv, v) else None


def fast_results(
    raw: Any, src: str, *, iou_type: str = "bbox", kp_width: int = 0, release: bool = False
) -> AnnTable | None:
    """Results through the columnar reader, with ``COCO.loadRes``' rules (None: use the
    full parser, which also names what is wrong).

    bbox: ``area = w * h``. keypoints (``kp_width`` numbers each, the ground truth's):
    with a ``bbox`` in the first result its box and ``w * h``, else the keypoints'
    extent. segm: compressed-RLE ``segmentation`` dicts decoded in C; with a ``bbox`` in
    the first result the box and ``w * h``, else the mask's area and box.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    keys = ["image_id", "category_id", "score", "bbox", "caption", "segmentation", "keypoints"]
    widths = [1, 1, 1, 4, 0, 0, 0]
    if iou_type == "segm":
        widths[5] = -1  # its byte span
    elif iou_type == "keypoints":
        if kp_width <= 0:
            return None
        widths[6] = kp_width
    # segm keeps spans into the bytes: never drop those pages
    r = scan_object_array(buf, 0, len(buf), keys, widths, release=release and iou_type != "segm")
    if r is None or len(r["present"]) == 0:
        return None
    pres, v = r["present"], r["values"]
    if pres[0, 4] or not pres[:, :3].all():
        return None  # caption results, or a missing field: the full parser says which
    has_box = bool(pres[0, 3])
    if (has_box and not pres[:, 3].all()) or (iou_type == "bbox" and not has_box):
        return None
    image_id, category_id = _int_column(v[:, 0]), _int_column(v[:, 1])
    if image_id is None or category_id is None:
        return None
    n = len(v)
    bbox = np.ascontiguousarray(v[:, 3:7])
    segm = kps = None
    if iou_type == "keypoints":
        if not pres[:, 6].all():
            return None
        kps = v[:, 7 : 7 + kp_width]  # a view: the evaluation gathers rows anyway
        if not has_box:  # loadRes' keypoints branch: the keypoints' extent
            x, y = kps[:, 0::3], kps[:, 1::3]
            x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
            bbox = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
            area = (x1 - x0) * (y1 - y0)
    if iou_type == "segm":
        from visionbench.metrics.detection import coco_kernels as coco_native
        from visionbench.metrics.detection.coco_columns import RleColumn

        if not pres[:, 5].all():
            return None
        spans = np.ascontiguousarray(v[:, 7:9]).astype(np.int64)
        cs, size, m_area, m_box, status = coco_native.NATIVE.rle_json_spans(buf, spans)
        if status != 0:
            return None  # polygons, uncompressed or malformed RLE: the full parser
        rle_box = np.frombuffer(m_box, np.float64)[: 4 * n].reshape(n, 4)
        segm = RleColumn(
            buf, np.frombuffer(cs, np.int64)[: 2 * n], np.frombuffer(size, np.int64)[: 2 * n],
            boxes=rle_box,
        )  # fmt: skip
        if not has_box:  # loadRes' segm branch: the mask's area, and its box where none
            area = np.frombuffer(m_area, np.float64)[:n].copy()
            no_box = ~pres[:, 3]
            bbox[no_box] = rle_box[no_box]
    if has_box or iou_type == "bbox":
        area = bbox[:, 2] * bbox[:, 3]
    return AnnTable(
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=area,
        iscrowd=np.zeros(n, dtype=bool),
        ann_id=np.arange(1, n + 1, dtype=np.int64),
        score=np.ascontiguousarray(v[:, 2]),
        segm=segm,
        keypoints=kps,
    )


def fast_ground_truth(raw: bytes, src: str, *, iou_type: str = "bbox") -> GroundTruthTable | None:
    """A bbox or keypoints ground truth through the columnar reader (None: use the full
    parser)."""
    import orjson

    buf = np.frombuffer(raw, dtype=np.uint8)
    spans = top_level_spans(buf, ["images", "annotations", "categories"])
    if spans is None or len(spans) != 3:
        return None
    try:
        images = orjson.loads(raw[slice(*spans["images"])])
        cats = orjson.loads(raw[slice(*spans["categories"])])
        image_ids = np.array([im["id"] for im in images], dtype=np.int64)
        heights = np.array([im.get("height", -1) for im in images], dtype=np.int64)
        widths = np.array([im.get("width", -1) for im in images], dtype=np.int64)
        cat_ids = np.array([c["id"] for c in cats], dtype=np.int64)
        cat_names = [str(c.get("name", c["id"])) for c in cats]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    keys = ["id", "image_id", "category_id", "area", "iscrowd", "bbox"]
    col_widths = [1, 1, 1, 1, 1, 4]  # numbers per field (not the images' widths above)
    kp_width = 0
    if iou_type == "keypoints":
        kp_width = _first_array_length(raw, *spans["annotations"], b'"keypoints"')
        if kp_width <= 0:
            return None
        keys += ["num_keypoints", "keypoints"]
        col_widths += [1, kp_width]
    r = scan_object_array(buf, *spans["annotations"], keys, col_widths)
    if r is None or not r["present"].all():
        return None
    v = r["values"]
    ids, img, cat, crowd = (_int_column(v[:, j]) for j in (0, 1, 2, 4))
    if ids is None or img is None or cat is None or crowd is None:
        return None
    if not np.isin(crowd, (0, 1)).all():
        return None  # the full parser names the bad 'iscrowd'
    kps = nkp = None
    if iou_type == "keypoints":
        nkp = _int_column(v[:, 9])
        if nkp is None:
            return None
        kps = v[:, 10 : 10 + kp_width]
    anns = AnnTable(
        image_id=img,
        category_id=cat,
        bbox=np.ascontiguousarray(v[:, 5:9]),
        area=np.ascontiguousarray(v[:, 3]),
        iscrowd=crowd != 0,
        ann_id=ids,
        keypoints=kps,
        num_keypoints=nkp,
    )
    return GroundTruthTable(image_ids, heights, widths, cat_ids, cat_names, anns, source=src)


def _first_array_length(raw: bytes, start: int, end: int, key: bytes) -> int:
    """Number of values in the first ``key: [...]`` array between start and end (0: none
    found; a wrong guess only makes the scanner give up)."""
    k = raw.find(key, start, end)
    if k < 0:
        return 0
    a = raw.find(b"[", k, end)
    b = raw.find(b"]", a, end)
    if a < 0 or b < 0 or raw[k + len(key) : a].strip(b" \t\r\n:"):
        return 0
    inner = raw[a + 1 : b]
    return inner.count(b",") + 1 if inner.strip() else 0
