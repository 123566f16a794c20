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

from visionbench.metrics.coco_data import AnnTable, GroundTruthTable

__all__ = ["scan_object_array", "top_level_spans", "fast_results", "fast_ground_truth"]

_POW10 = np.array([10.0**i for i in range(23)], dtype=np.float64)


def scan_object_array(
    buf: np.ndarray, start: int, end: int, keys: list[str], widths: list[int]
) -> dict[str, Any] | None:
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
    from visionbench.metrics import coco_json_kernels as J

    kb = [k.encode() for k in keys]
    key_bytes = np.frombuffer(b"".join(kb), dtype=np.uint8) if kb else np.zeros(0, np.uint8)
    key_off = np.zeros(len(kb) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in kb], out=key_off[1:])
    w = np.asarray(widths, dtype=np.int64)
    col_off = np.zeros(len(w) + 1, dtype=np.int64)
    np.cumsum(w, out=col_off[1:])
    n_max = int(np.count_nonzero(buf[start:end] == 123)) + 1  # '{' bounds the object count
    values, present, slow, n, status = J.scan_objects(
        buf, start, end, key_bytes, key_off, w, col_off, n_max, _POW10
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
    from visionbench.metrics import coco_json_kernels as J

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
    if not (np.all(np.abs(v) < _INT_LIMIT) and np.array_equal(v, np.floor(v))):
        return None
    return v.astype(np.int64)


def fast_results(raw: bytes, src: str) -> AnnTable | None:
    """bbox results through the columnar reader (None: use the full parser)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    keys = ["image_id", "category_id", "score", "bbox", "caption", "segmentation", "keypoints"]
    r = scan_object_array(buf, 0, len(buf), keys, [1, 1, 1, 4, 0, 0, 0])
    if r is None or len(r["present"]) == 0:
        return None
    pres, v = r["present"], r["values"]
    if pres[0, 4] or not pres[:, :4].all():
        return None  # caption results, or a missing field: the full parser says which
    image_id, category_id = _int_column(v[:, 0]), _int_column(v[:, 1])
    if image_id is None or category_id is None:
        return None
    n = len(v)
    bbox = np.ascontiguousarray(v[:, 3:7])
    return AnnTable(
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=bbox[:, 2] * bbox[:, 3],
        iscrowd=np.zeros(n, dtype=bool),
        ann_id=np.arange(1, n + 1, dtype=np.int64),
        score=np.ascontiguousarray(v[:, 2]),
    )


def fast_ground_truth(raw: bytes, src: str) -> GroundTruthTable | None:
    """A bbox ground truth through the columnar reader (None: use the full parser)."""
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
    r = scan_object_array(buf, *spans["annotations"], keys, [1, 1, 1, 1, 1, 4])
    if r is None or not r["present"].all():
        return None
    v = r["values"]
    ids, img, cat, crowd = (_int_column(v[:, j]) for j in (0, 1, 2, 4))
    if ids is None or img is None or cat is None or crowd is None:
        return None
    if not np.isin(crowd, (0, 1)).all():
        return None  # the full parser names the bad 'iscrowd'
    anns = AnnTable(
        image_id=img,
        category_id=cat,
        bbox=np.ascontiguousarray(v[:, 5:9]),
        area=np.ascontiguousarray(v[:, 3]),
        iscrowd=crowd != 0,
        ann_id=ids,
    )
    return GroundTruthTable(image_ids, heights, widths, cat_ids, cat_names, anns, source=src)
