"""Checks of COCO segmentations before any mask operation touches them.

pycocotools trusts its input: an RLE whose runs add up to more pixels than its ``size``
makes ``maskUtils.iou`` walk past the end of the shorter run list (minutes of spinning, or
a crash), an RLE string cut inside a number is read past its end, and a polygon with
coordinates of 1e9 makes ``frPyObjects`` allocate gigabytes. These functions refuse such
input with a message naming the source, the annotation (or result) id, the field, what was
expected and what arrived; each costs one pass over the bytes of the segmentation.

A segmentation is accepted when pycocotools' own reading of it is well defined:

- compressed RLE (``counts`` a string): characters in ``'0'..'o'``, the last number
  complete, every decoded run length in ``[0, 2**32)`` (pycocotools stores uint32), and
  the runs adding up to exactly ``height * width``;
- uncompressed RLE (``counts`` a list): integers >= 0 adding up to ``height * width``;
- ``size`` ``[height, width]``: two positive integers equal to the image's height and
  width when those are known;
- polygons: a non-empty list of lists of finite numbers, each coordinate within
  ``MAX_POLYGON_EXTENT`` image sizes of the image (pycocotools clips what lies outside).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = [
    "check_annotation_columns",
    "check_box",
    "check_result_fields",
    "check_segmentation",
    "check_segmentations",
    "polygons_look_valid",
    "rle_string_counts",
    "MAX_POLYGON_EXTENT",
]

#: polygon coordinates may lie this many image sizes outside the image
MAX_POLYGON_EXTENT = 4
#: the largest ``height * width`` accepted when the image's own size is unknown
MAX_PIXELS = 2**31 - 1


def check_box(b: Any, src: str, ident: str) -> Any:
    """``b`` if it is ``[x, y, w, h]``, four numbers (``bool`` and strings are not numbers).

    Raises:
        MetricInputError: naming ``src``, ``ident`` (``"annotation id 7"``, ``"results[3]"``)
            and the value.
    """
    if (
        isinstance(b, (list, tuple))
        and len(b) == 4
        and all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in b)
    ):
        return b
    raise MetricInputError(
        f"{src}: {ident}: field 'bbox' must be [x, y, w, h] (4 numbers), got {_short(b)}"
    )


def check_annotation_columns(cols: dict[str, list[Any]], src: str) -> None:
    """Types of the ground-truth columns ``id``, ``image_id``, ``category_id`` (integers),
    ``area`` (a number) and ``iscrowd`` (0 or 1), one list per field, in file order.

    pycocotools would compare a string id with integer ids (never equal: the annotation
    silently vanishes) and treat any non-zero ``iscrowd`` as a crowd; both are refused.

    Raises:
        MetricInputError: naming the annotation id, the field, expected and got.
    """
    ids = cols.get("id", [])
    for key in ("id", "image_id", "category_id"):
        col = cols.get(key)
        if col is not None and not _all_ints(col):
            i = next(k for k, v in enumerate(col) if not _is_int(v))
            raise MetricInputError(
                f"{src}: annotation id {_short(ids[i])}: field '{key}' must be an integer, got "
                f"{_short(col[i])}"
            )
    area = cols.get("area")
    if area is not None and not {type(v) for v in area} <= {int, float}:
        i = next(k for k, v in enumerate(area) if not isinstance(v, _NUMBER) or isinstance(v, bool))
        raise MetricInputError(
            f"{src}: annotation id {_short(ids[i])}: field 'area' must be a number, got "
            f"{_short(area[i])}"
        )
    crowd = cols.get("iscrowd")
    if crowd is not None:
        bad = [k for k, v in enumerate(crowd) if not (type(v) in (int, bool) and v in (0, 1))]
        if bad:
            i = bad[0]
            raise MetricInputError(
                f"{src}: annotation id {_short(ids[i])}: field 'iscrowd' must be 0 or 1, got "
                f"{_short(crowd[i])} ({len(bad)} annotations affected)"
            )


def check_result_fields(r: Any, i: int, src: str) -> None:
    """One COCO result: an object whose ``image_id`` and ``category_id`` are integers and
    whose ``score`` is a number.

    A ``category_id`` given as a string (``"18"``) never equals pycocotools' integer
    category ids, so pycocotools silently drops the detection; refused rather than
    converted, so that the number never differs from the reference without a word.
    """
    if not isinstance(r, dict):
        raise MetricInputError(f"{src}: results[{i}]: expected an object, got {type(r).__name__}")
    for key in ("image_id", "category_id"):
        if key not in r:
            raise MetricInputError(f"{src}: results[{i}]: missing field '{key}'")
        v = r[key]
        if not _is_int(v):
            hint = (
                " (a string: pycocotools would silently drop this result and score it as "
                "missing; write the number without quotes)"
                if isinstance(v, str)
                else ""
            )
            raise MetricInputError(
                f"{src}: results[{i}]: field '{key}' must be an integer, got {_short(v)}{hint}"
            )
    if "score" not in r:
        raise MetricInputError(f"{src}: results[{i}]: missing field 'score'")
    v = r["score"]
    if not isinstance(v, _NUMBER) or isinstance(v, bool):
        raise MetricInputError(
            f"{src}: results[{i}]: field 'score' must be a number, got {_short(v)}"
        )


def check_segmentations(
    segms: list[Any],
    heights: np.ndarray | None,
    widths: np.ndarray | None,
    ids: np.ndarray,
    *,
    src: str,
    what: str = "annotation id",
) -> None:
    """:func:`check_segmentation` of every ``segms[i]`` (None entries are skipped).

    Args:
        heights, widths: [N] the size of each segmentation's image (<= 0 or None: unknown).
        ids: [N] what the messages call each segmentation (annotation id, results index).
    """
    rows = [i for i, s_ in enumerate(segms) if isinstance(s_, list)]
    skip: set[int] = set()
    if rows and heights is not None and widths is not None:
        idx = np.asarray(rows, np.int64)
        h_, w_ = np.asarray(heights)[idx], np.asarray(widths)[idx]
        if polygons_look_valid([segms[i] for i in rows], h_, w_):
            skip = set(rows)  # all fine in one pass; else each is checked to name the bad one
    for i, s in enumerate(segms):
        if s is None or i in skip:
            continue
        h = int(heights[i]) if heights is not None else -1
        w = int(widths[i]) if widths is not None else -1
        check_segmentation(s, h, w, src=src, ident=f"{what} {ids[i]}")


def check_segmentation(
    segm: Any, height: int = -1, width: int = -1, *, src: str, ident: str
) -> None:
    """Refuse a ``segmentation`` pycocotools cannot read safely (see the module doc).

    Args:
        height, width: the image's size in pixels (<= 0: unknown).
        src, ident: the file and e.g. ``"annotation id 7"`` for the message.

    Raises:
        MetricInputError: naming ``src``, ``ident``, the field, expected and got.
    """
    where = f"{src}: {ident}: field 'segmentation'"
    if isinstance(segm, dict):
        _check_rle(segm, height, width, where)
    elif isinstance(segm, list):
        _check_polygons(segm, height, width, where)
    else:
        raise MetricInputError(
            f"{where}: expected polygons (a list of [x1, y1, x2, y2, ...]) or an RLE dict "
            f"{{'size', 'counts'}}, got {type(segm).__name__}"
        )


def polygons_look_valid(segms: list[Any], heights: np.ndarray, widths: np.ndarray) -> bool:
    """True when every entry of ``segms`` is a non-empty list of lists of finite numbers
    within :data:`MAX_POLYGON_EXTENT` image sizes of its image (one numpy pass over all
    coordinates). False: check each with :func:`check_segmentation` to name the bad one.

    Args:
        segms: N polygon segmentations. heights, widths: [N] their images' sizes (> 0).
    """
    from itertools import chain

    polys = list(chain.from_iterable(segms))
    if not all(segms) or not all(type(q) is list for q in polys):
        return False
    lengths = np.fromiter(map(len, polys), np.int64, len(polys))
    try:
        xy = np.fromiter(chain.from_iterable(polys), np.float64, int(lengths.sum()))
    except (TypeError, ValueError):
        return False
    if not np.isfinite(xy).all():
        return False
    per_ann = np.fromiter((sum(len(q) for q in s_) for s_ in segms), np.int64, len(segms))
    if xy.size == 0:
        return True
    nonempty = per_ann > 0
    starts = np.concatenate([[0], np.cumsum(per_ann)[:-1]])[nonempty]
    lo, hi = np.minimum.reduceat(xy, starts), np.maximum.reduceat(xy, starts)
    ext = MAX_POLYGON_EXTENT * np.maximum(heights, widths)[nonempty]
    known = (heights > 0)[nonempty] & (widths > 0)[nonempty]
    return bool(not (known & ((lo < -ext) | (hi > ext))).any())


def rle_string_counts(counts: str | bytes) -> np.ndarray:
    """The run lengths of a compressed RLE string, decoded as pycocotools' ``rleFrString``.

    Returns:
        [R] int64 run lengths (before pycocotools' cast to uint32).

    Raises:
        ValueError: a character outside ``'0'..'o'``, a number cut off at the end, or a
            number longer than 12 characters (it would overflow 64 bits).
    """
    raw = counts.encode("latin-1") if isinstance(counts, str) else bytes(counts)
    if not raw:
        return np.zeros(0, np.int64)
    b = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    bad = (b < 0) | (b > 63)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"character {raw[k : k + 1]!r} at offset {k} is not in '0'..'o'")
    last = (b & 0x20) == 0  # the character that ends a number
    if not last[-1]:
        raise ValueError("the string ends inside a number (truncated)")
    start = np.flatnonzero(np.concatenate(([True], last[:-1])))
    lengths = np.diff(np.append(start, len(b)))
    if lengths.max() > 12:
        raise ValueError(f"a number of {int(lengths.max())} characters overflows 64 bits")
    k = np.arange(len(b)) - np.repeat(start, lengths)
    x = np.add.reduceat((b & 0x1F) << (5 * k), start)
    neg = (b[last] & 0x10) != 0
    x[neg] |= np.left_shift(np.int64(-1), 5 * lengths[neg])
    cnts = x.copy()
    cnts[1::2] = np.cumsum(x[1::2])  # cnts[m] = x[m] + cnts[m - 2] for m > 2
    cnts[2::2] = np.cumsum(x[2::2])
    return cnts


# ---------------------------------------------------------------------------------------
# helpers

_NUMBER = (int, float, np.integer, np.floating)


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, (float, np.floating)) and float(v).is_integer()


def _all_ints(col: list[Any]) -> bool:
    types = {type(v) for v in col}
    if types <= {int}:
        return True
    return all(_is_int(v) for v in col)


def _short(v: Any, n: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."


def _check_size(size: Any, height: int, width: int, where: str) -> tuple[int, int]:
    ok = (
        isinstance(size, (list, tuple))
        and len(size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
    )
    if not ok or size[0] <= 0 or size[1] <= 0:
        raise MetricInputError(
            f"{where}: 'size' must be [height, width], two positive integers, got {size!r}"
        )
    h, w = int(size[0]), int(size[1])
    if height > 0 and width > 0 and (h, w) != (height, width):
        raise MetricInputError(
            f"{where}: RLE 'size' {[h, w]} differs from the image's [height, width] "
            f"{[height, width]}"
        )
    if h * w > MAX_PIXELS:
        raise MetricInputError(
            f"{where}: RLE 'size' {[h, w]} claims {h * w} pixels (at most {MAX_PIXELS})"
        )
    return h, w


def _check_rle(segm: dict[str, Any], height: int, width: int, where: str) -> None:
    if "counts" not in segm or "size" not in segm:
        raise MetricInputError(
            f"{where}: an RLE needs 'size' and 'counts', got keys {sorted(map(str, segm))}"
        )
    h, w = _check_size(segm["size"], height, width, where)
    counts = segm["counts"]
    if isinstance(counts, (str, bytes)):
        try:
            cnts = rle_string_counts(counts)
        except (ValueError, UnicodeEncodeError) as e:
            raise MetricInputError(
                f"{where}: 'counts' is not a valid compressed RLE ({e})"
            ) from None
        kind = "compressed"
    elif isinstance(counts, list):
        try:
            cnts = np.asarray(counts)
        except (TypeError, ValueError):
            cnts = np.asarray([], dtype=object)
        if cnts.ndim != 1 or (cnts.size and cnts.dtype.kind not in "iu"):
            raise MetricInputError(
                f"{where}: uncompressed RLE 'counts' must be a flat list of integers"
            )
        cnts = cnts.astype(np.int64)
        kind = "uncompressed"
    else:
        raise MetricInputError(
            f"{where}: RLE 'counts' must be a string (compressed) or a list of integers "
            f"(uncompressed), got {type(counts).__name__}"
        )
    if cnts.size and (cnts.min() < 0 or cnts.max() >= 2**32):
        k = int(np.argmax((cnts < 0) | (cnts >= 2**32)))
        raise MetricInputError(
            f"{where}: {kind} RLE run {k} has length {int(cnts[k])} (expected 0 <= run < 2**32)"
        )
    total = int(cnts.sum()) if cnts.size else 0
    if total != h * w:
        raise MetricInputError(
            f"{where}: {kind} RLE runs add up to {total} pixels but 'size' {[h, w]} has {h * w}"
        )


def _check_polygons(segm: list[Any], height: int, width: int, where: str) -> None:
    if not segm:
        raise MetricInputError(f"{where}: empty polygon list")
    if not all(isinstance(p, list) for p in segm):
        raise MetricInputError(
            f"{where}: polygons must be a list of lists [x1, y1, x2, y2, ...], got an element "
            f"{type(next(p for p in segm if not isinstance(p, list))).__name__}"
        )
    flat = [v for p in segm for v in p]
    try:
        xy = np.asarray(flat, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(
            (v for v in flat if not isinstance(v, (int, float)) or isinstance(v, bool)), None
        )
        raise MetricInputError(
            f"{where}: polygon coordinates must be numbers, got {bad!r}"
        ) from None
    if xy.ndim != 1:
        raise MetricInputError(f"{where}: polygon coordinates must be numbers, got nested lists")
    if not np.isfinite(xy).all():
        raise MetricInputError(
            f"{where}: polygon coordinates must be finite, got {xy[~np.isfinite(xy)][0]}"
        )
    if height > 0 and width > 0 and xy.size:
        ext = MAX_POLYGON_EXTENT * max(height, width)
        lo, hi = float(xy.min()), float(xy.max())
        if lo < -ext or hi > ext:
            raise MetricInputError(
                f"{where}: polygon coordinate {lo if lo < -ext else hi} lies far outside the "
                f"{width}x{height} image (expected within [-{ext}, {ext}])"
            )
