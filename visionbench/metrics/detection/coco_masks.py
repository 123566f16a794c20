"""Segmentations of COCO annotations as compressed RLE, exactly as pycocotools' ``annToRLE``.

Polygons (a list of ``[x1, y1, x2, y2, ...]``) are rasterised at the image's size with
``pycocotools.mask.frPyObjects`` and merged; uncompressed RLE (``counts`` a list) is
compressed; compressed RLE passes through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_columns import AnnTable
from visionbench.metrics.errors import MetricInputError

__all__ = ["decoded_rles", "rles_for", "segm_to_rle"]


def segm_to_rle(segm: Any, h: int, w: int) -> dict[str, Any]:
    """One annotation's ``segmentation`` -> compressed RLE dict (pycocotools ``annToRLE``).

    The one conversion: the loaders (:func:`~visionbench.loaders.coco_format.segmentation_to_rle`)
    and the evaluators call it. Validate first
    (:func:`~visionbench.metrics.detection.coco_segm_checks.check_segmentation`).

    Raises:
        MetricInputError: not a polygon list or an RLE dict, or input pycocotools refuses
            (e.g. a first polygon of 4 coordinates, which ``frPyObjects`` reads as a box).
    """
    from pycocotools import mask as mask_utils

    try:
        if isinstance(segm, list):
            if len(segm) == 0:
                raise MetricInputError("empty polygon list")
            return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        if isinstance(segm, dict) and "counts" in segm and "size" in segm:
            if isinstance(segm["counts"], list):
                return mask_utils.frPyObjects(segm, h, w)
            return segm
    except MetricInputError:
        raise
    except Exception as e:  # pycocotools raises bare Exception / TypeError on bad input
        raise MetricInputError(f"malformed segmentation ({e})") from None
    raise MetricInputError(f"expected a polygon list or an RLE dict, got {type(segm).__name__}")


def rles_for(
    table: AnnTable,
    rows: np.ndarray,
    image_size: Callable[[int], tuple[int, int]] | None,
    what: str,
) -> Any:
    """Compressed RLE of ``table.segm[i]`` for each i in ``rows`` (a list of RLE dicts, or
    an ``RleColumn`` when the table holds one).

    Raises:
        MetricInputError: no segmentation, a polygon without a known image size, a
            malformed segmentation (naming the annotation id).
    """
    if table.segm is None:
        raise MetricInputError(
            f"{what}: segm evaluation needs a 'segmentation' for every annotation"
        )
    from visionbench.metrics.detection.coco_columns import RleColumn

    if isinstance(table.segm, RleColumn):  # decoded by the columnar reader
        return table.segm.take(rows)
    out: list[Any] = [None] * len(rows)
    if image_size is not None:
        _polygons_by_image(table, rows, image_size, out)
    for n, i in enumerate(rows.tolist()):
        if out[n] is not None:
            continue
        s = table.segm[i]
        if isinstance(s, dict) and "counts" in s and not isinstance(s["counts"], list):
            out[n] = s
            continue
        if image_size is None:
            if isinstance(s, dict) and "size" in s:
                h, w = s["size"]
            else:
                raise MetricInputError(
                    f"{what}: annotation id {int(table.ann_id[i])}: a polygon segmentation needs the image size"
                )
        else:
            h, w = image_size(int(table.image_id[i]))
        try:
            out[n] = segm_to_rle(s, h, w)
        except MetricInputError as e:
            raise MetricInputError(
                f"{what}: annotation id {int(table.ann_id[i])}: field 'segmentation': {e}"
            ) from None
        except Exception as e:  # pycocotools raises bare Exception / TypeError on bad input
            raise MetricInputError(
                f"{what}: annotation id {int(table.ann_id[i])}: field 'segmentation' is malformed ({e})"
            ) from None
    return out


def decoded_rles(
    table: AnnTable,
    rows: np.ndarray,
    image_size: Callable[[int], tuple[int, int]] | None,
    what: str,
) -> Any:
    """:func:`rles_for` for the C kernels: an ``RleColumn`` view, or the run lengths of
    every row (:class:`~visionbench.metrics.detection.coco_kernels.DecodedRles`) -- plain polygons
    rasterised by the C port of pycocotools' ``rleFrPoly`` / ``rleMerge``, every other
    segmentation through :func:`rles_for` and decoded."""
    from visionbench.metrics.detection import coco_kernels as coco_native
    from visionbench.metrics.detection.coco_columns import RleColumn

    if table.segm is None or isinstance(table.segm, RleColumn):
        return rles_for(table, rows, image_size, what)
    segm = table.segm
    rows = np.asarray(rows, dtype=np.int64)
    if image_size is not None:
        fast = _all_plain_polygons(table, rows, image_size)
        if fast is not None:
            return fast
    poly = np.zeros(len(rows), dtype=bool)
    if image_size is not None:
        for n, i in enumerate(rows.tolist()):
            s = segm[i]
            if (
                isinstance(s, list)
                and s
                and isinstance(s[0], list)
                and len(s[0]) > 4
                and all(isinstance(q, list) and len(q) >= 2 for q in s)
            ):
                poly[n] = True
    pieces: list[Any] = [None] * len(rows)
    sizes = np.zeros((len(rows), 2), dtype=np.int64)
    if poly.any():
        flat: list[Any] = []
        p_off, a_off = [0], [0]
        pr = np.flatnonzero(poly)
        for n in pr.tolist():
            for q in segm[rows[n]]:
                flat.extend(q)
                p_off.append(len(flat))
            a_off.append(len(p_off) - 1)
            sizes[n] = image_size(int(table.image_id[rows[n]]))
        try:
            xy = np.array(flat, dtype=np.float64)
        except (TypeError, ValueError):  # malformed: rles_for names the annotation
            poly[:] = False
        else:
            counts, off = _polys_to_rle(xy, p_off, a_off, sizes[pr])
            for k, n in enumerate(pr.tolist()):
                pieces[n] = counts[off[k] : off[k + 1]]
    rest = np.flatnonzero(~poly)
    if len(rest):
        rles = rles_for(table, rows[rest], image_size, what)
        counts, off, rsize = coco_native.rle_counts(rles)
        for k, n in enumerate(rest.tolist()):
            pieces[n] = counts[off[k] : off[k + 1]]
            sizes[n] = rsize[k]
    lens = np.array([len(x) for x in pieces], dtype=np.int64)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    all_counts = np.concatenate(pieces).astype(np.uint32) if pieces else np.zeros(0, np.uint32)
    return coco_native.DecodedRles(all_counts, offsets, sizes)


def _polys_to_rle(
    xy: np.ndarray, p_off: Any, a_off: Any, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The C port of ``rleFrPoly`` / ``rleMerge``: (counts [C] uint32, offsets [N + 1])."""
    from visionbench.metrics.detection import coco_kernels as coco_native

    c, off = coco_native.NATIVE.polys_to_rle(
        xy, np.asarray(p_off, np.int64), np.asarray(a_off, np.int64),
        np.ascontiguousarray(sizes[:, 0], np.int64), np.ascontiguousarray(sizes[:, 1], np.int64),
    )  # fmt: skip
    return np.frombuffer(c, np.uint32), np.frombuffer(off, np.int64)


def _all_plain_polygons(
    table: AnnTable, rows: np.ndarray, image_size: Callable[[int], tuple[int, int]]
) -> Any:
    """:func:`decoded_rles` when every row is a plain polygon list (what the per-row test
    there accepts: lists of lists, the first with more than 4 numbers, each with at least
    2) of finite numbers: one pass over all coordinates, one size look-up per image.
    None: some row is something else (the caller's general path)."""
    from itertools import chain

    from visionbench.metrics.detection import coco_kernels as coco_native

    segm = table.segm
    sel = [segm[i] for i in rows.tolist()]
    if not all(type(s) is list and s for s in sel):
        return None
    polys = list(chain.from_iterable(sel))
    if not all(type(q) is list for q in polys):
        return None
    n_poly = np.fromiter(map(len, sel), np.int64, len(sel))
    lengths = np.fromiter(map(len, polys), np.int64, len(polys))
    a_off = np.zeros(len(sel) + 1, dtype=np.int64)
    np.cumsum(n_poly, out=a_off[1:])
    if len(polys) and (lengths.min() < 2 or (lengths[a_off[:-1]] <= 4).any()):
        return None
    p_off = np.zeros(len(polys) + 1, dtype=np.int64)
    np.cumsum(lengths, out=p_off[1:])
    try:
        xy = np.fromiter(chain.from_iterable(polys), np.float64, int(p_off[-1]))
    except (TypeError, ValueError):
        return None
    from visionbench.metrics.detection.coco_columns import unique_ints

    ids = np.asarray(table.image_id)[rows]
    img = unique_ints(ids)
    by_image = np.array([image_size(int(i)) for i in img.tolist()], np.int64).reshape(-1, 2)
    sizes = np.ascontiguousarray(by_image[np.searchsorted(img, ids)])
    counts, off = _polys_to_rle(xy, p_off, a_off, sizes)
    return coco_native.DecodedRles(counts[: off[-1]], off, sizes)


def _polygons_by_image(
    table: AnnTable, rows: np.ndarray, image_size: Callable[[int], tuple[int, int]], out: list[Any]
) -> None:
    """Rasterise the plain polygon annotations of each image with one ``frPyObjects`` call.

    ``frPyObjects(polys, h, w)`` rasterises each polygon on its own, so one call per image
    gives the RLEs of one call per annotation; an annotation with one polygon needs no
    ``merge``. Annotations whose first polygon does not have more than 4 numbers take
    pycocotools' other branches and are left to :func:`segm_to_rle`.
    """
    from pycocotools import mask as mask_utils

    segm, img = table.segm, table.image_id
    groups: dict[int, list[int]] = {}
    for n, i in enumerate(rows.tolist()):
        s = segm[i]
        if isinstance(s, list) and s and isinstance(s[0], list) and len(s[0]) > 4:
            groups.setdefault(int(img[i]), []).append(n)
    for iid, members in groups.items():
        h, w = image_size(iid)
        polys: list[Any] = []
        for n in members:
            polys.extend(segm[rows[n]])
        try:
            rles = mask_utils.frPyObjects(polys, h, w)
        except Exception:  # malformed: left to the per-annotation path, whose error names it
            continue
        k = 0
        for n in members:
            m = len(segm[rows[n]])
            out[n] = rles[k] if m == 1 else mask_utils.merge(rles[k : k + m])
            k += m
