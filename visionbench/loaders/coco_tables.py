"""A COCO JSON file as validated Arrow tables: what the COCO datasets are built from.

:func:`build_tables` parses the file once, runs every check that needs the JSON itself
(the same checks, order and messages as before the cache existed: images, annotation ids,
image ids, categories, boxes, keypoints, captions) and returns columnar tables;
:func:`coco_tables` stores them in the Arrow cache (:mod:`arrow_cache`), keyed by the
source file's identity, and memory-maps them on later opens. A file that fails a check
is never cached, so it fails again, with the same message, on every open. What depends
on open-time options is kept in the tables and decided by the dataset on every open:
annotations whose image is missing (table ``dangling``: refused, or dropped with a
warning), zero-size boxes (warned about) and caption-less images (left out).

Tables (annotation rows stably sorted by ``image_id``, i.e. file order within an image,
as pycocotools' ``getAnnIds``; ``row`` is the position in file order):

- ``images``: ``id``, ``file_name``, ``width``, ``height`` (nullable), sorted by id;
- ``annotations`` (instances, keypoints): ``id``, ``image_id``, ``category_id``, ``x``,
  ``y``, ``w``, ``h`` (the COCO bbox, pixels), ``area`` (NaN when absent), ``iscrowd``,
  ``segmentation`` (the file's polygons or RLE as a JSON string, lossless), ``row``;
  keypoints files also ``keypoints`` (list of 3K numbers) and ``num_keypoints``;
- ``annotations`` (captions): ``id``, ``image_id``, ``caption``, ``row``;
- ``dangling``: ``id``, ``image_id`` of annotations whose image is not in ``images``;
- ``categories``: ``json``, each category record as JSON (lossless).
"""

from __future__ import annotations

import gc
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from visionbench import paths
from visionbench.errors import AnnotationError
from visionbench.loaders.arrow_cache import cache_key, cached_tables
from visionbench.loaders.coco_format import (
    _check_images,
    _column,
    _ids,
    _no_duplicates,
    _opt_int,
    load_coco_doc,
)

__all__ = ["SCHEMA_VERSION", "KINDS", "build_tables", "coco_tables", "dangling_message"]

#: Output version of :func:`build_tables`; part of the cache key.
SCHEMA_VERSION = "2"  # 2: iscrowd, area, bbox types and segmentations validated
#: What a file is read as: the checks and columns differ.
KINDS = ("instances", "keypoints", "captions")
_TABLES = ("images", "annotations", "dangling", "categories")


def coco_tables(
    path: str | Path,
    kind: str,
    *,
    drop_dangling: bool = False,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> dict[str, pa.Table]:
    """The validated tables of a COCO file, from the Arrow cache when the file is unchanged.

    Args:
        path: the COCO JSON file.
        kind: ``"instances"``, ``"keypoints"`` or ``"captions"`` (which checks run).
        drop_dangling: at build, record annotations whose image is missing instead of
            refusing the file (the table ``dangling``; the caller decides per open).
        cache: False builds in memory and writes nothing.
        cache_dir: default ``$VISIONBENCH_HOME/arrow``.

    Raises:
        AnnotationError: the file fails a check (see :func:`build_tables`).
    """
    path = str(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    built: list[bool] = []

    def build() -> dict[str, pa.Table]:
        built.append(True)
        return build_tables(path, kind, drop_dangling=drop_dangling)

    args: dict[str, Any] = {"kind": f"coco-{kind}", "version": SCHEMA_VERSION}
    try:
        tables = cached_tables(path, build, cache_dir=cache_dir, enabled=cache, **args)
        _check_schema(tables, kind)
        return tables
    except (OSError, pa.ArrowException, KeyError, ValueError):
        if built or not cache or not Path(path).is_file():
            raise  # the file itself is bad (nothing was cached), or it is gone
    # An unreadable entry (truncated, deleted table, foreign schema): drop it, build again.
    root = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    shutil.rmtree(root / f"{args['kind']}-{cache_key([path], **args)}", ignore_errors=True)
    tables = cached_tables(path, build, cache_dir=cache_dir, **args)
    _check_schema(tables, kind)
    return tables


def _check_schema(tables: dict[str, pa.Table], kind: str) -> None:
    need = {
        "images": ("id", "file_name", "width", "height"),
        "annotations": ("id", "image_id", "row")
        + (("caption",) if kind == "captions" else ("category_id", "x", "y", "w", "h")),
        "dangling": ("id", "image_id"),
        "categories": ("json",),
    }
    for name, cols in need.items():
        missing = set(cols) - set(tables[name].column_names)
        if missing:
            raise KeyError(f"cached table {name!r} lacks {sorted(missing)}")


# ---------------------------------------------------------------------------------------
# Build


def build_tables(path: str, kind: str, *, drop_dangling: bool = False) -> dict[str, pa.Table]:
    """Parse and validate a COCO file into the tables described in the module doc.

    Raises:
        AnnotationError: not JSON or not COCO-shaped; duplicate or non-integer image or
            annotation ids; annotation id <= 0; image ids missing from ``images`` (unless
            ``drop_dangling``); image width/height not positive; (instances, keypoints) no
            ``categories``, duplicate category ids, unknown category ids, a ``bbox`` that
            is not 4 numbers, NaN/inf or with a negative width/height; (keypoints) no
            keypoint names or a ``keypoints`` list of the wrong length; (captions) a
            ``caption`` that is not a string. Each message names the file, field and ids.
    """
    enabled = gc.isenabled()
    gc.disable()  # the parsed file makes no reference cycles; skip the collector's passes
    try:
        return _build(path, kind, drop_dangling)
    finally:
        if enabled:
            gc.enable()


def _build(path: str, kind: str, drop_dangling: bool) -> dict[str, pa.Table]:
    import orjson

    doc, strict = load_coco_doc(path)
    dumps: Callable[[Any], bytes] = (
        orjson.dumps if strict else lambda o: json.dumps(o, allow_nan=True).encode()
    )
    images = _check_images(doc["images"], path)
    categories = list(doc.get("categories") or [])
    anns, ids, image_ids, dangling = _common(doc["annotations"], images, path, drop_dangling)
    del doc
    if kind == "captions":
        ann_table = _captions(anns, ids, image_ids, path)
    else:
        ann_table = _instances(
            anns, ids, image_ids, categories, path, dumps, kind == "keypoints", images
        )
    return {
        "images": _images_table(images),
        "annotations": ann_table,
        "dangling": dangling,
        "categories": pa.table(
            {"json": pa.array([dumps(c) for c in categories], pa.large_string())}
        ),
    }


def dangling_message(ids: np.ndarray, image_ids: np.ndarray) -> tuple[str, np.ndarray]:
    """The report on annotations ``ids`` whose ``image_ids`` are not in ``images``."""
    missing = np.unique(image_ids)
    return (
        f"{len(ids)} annotations reference {missing.size} image ids that are "
        f"not in `images`: {_ids(missing)}"
    ), missing


def _images_table(images: list[dict[str, Any]]) -> pa.Table:
    def name(im: dict[str, Any]) -> str | None:
        v = im.get("file_name")
        return v if v is None or isinstance(v, str) else str(v)

    return pa.table(
        {
            "id": pa.array([int(im["id"]) for im in images], pa.int64()),
            "file_name": pa.array([name(im) for im in images], pa.string()),
            "width": pa.array([_opt_int(im.get("width")) for im in images], pa.int64()),
            "height": pa.array([_opt_int(im.get("height")) for im in images], pa.int64()),
        }
    )


def _common(
    anns: list[dict[str, Any]], images: list[dict[str, Any]], path: str, drop_dangling: bool
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray, pa.Table]:
    """Annotation ids (unique, > 0) and image ids (in ``images``); dangling ones split off."""
    ids = _column(anns, "id", path, np.int64)
    _no_duplicates(ids, path, "annotations", "id")
    bad = ids <= 0
    if bad.any():
        raise AnnotationError(
            f"{int(bad.sum())} annotation ids are 0 or negative (ids must be > 0: pycocotools "
            f"treats id 0 as 'unmatched'); first at annotations[{int(np.argmax(bad))}]",
            path=path, field="annotations.id", id=int(ids[bad][0]),
        )  # fmt: skip
    image_ids = _column(anns, "image_id", path, np.int64)
    known = np.array([int(im["id"]) for im in images], np.int64)
    dangling = ~np.isin(image_ids, known)
    table = pa.table({"id": ids[dangling], "image_id": image_ids[dangling]})
    if dangling.any():
        if not drop_dangling:
            msg, missing = dangling_message(ids[dangling], image_ids[dangling])
            raise AnnotationError(
                msg + "; pass drop_dangling=True (bench: --lenient) to drop them",
                path=path, field="annotations.image_id", id=int(missing[0]),
            )  # fmt: skip
        anns = [a for a, d in zip(anns, dangling) if not d]
        ids, image_ids = ids[~dangling], image_ids[~dangling]
    return anns, ids, image_ids, table


def _instances(
    anns: list[dict[str, Any]],
    ids: np.ndarray,
    image_ids: np.ndarray,
    categories: list[dict[str, Any]],
    path: str,
    dumps: Callable[[Any], bytes],
    keypoints: bool,
    images: list[dict[str, Any]],
) -> pa.Table:
    if not categories:
        raise AnnotationError("no `categories` in an instances file", path=path, field="categories")
    cat_ids = np.array([int(c["id"]) for c in categories], np.int64)
    _no_duplicates(cat_ids, path, "categories", "id")
    cats = _column(anns, "category_id", path, np.int64)
    unknown = ~np.isin(cats, cat_ids)
    if unknown.any():
        raise AnnotationError(
            f"{int(unknown.sum())} annotations have category ids not in `categories`: "
            f"{_ids(np.unique(cats[unknown]))} (annotation ids {_ids(ids[unknown])})",
            path=path, field="annotations.category_id", id=int(ids[unknown][0]),
        )  # fmt: skip
    boxes = np.zeros((0, 4)) if not anns else _boxes(anns, ids, path)
    _check_instance_fields(anns, images, path, masks_checked=False)
    if keypoints:
        _check_keypoints(anns, categories, path)
    order = np.argsort(image_ids, kind="stable")
    cols: dict[str, Any] = {
        "id": ids[order],
        "image_id": image_ids[order],
        "category_id": cats[order],
        "x": boxes[order, 0],
        "y": boxes[order, 1],
        "w": boxes[order, 2],
        "h": boxes[order, 3],
        "area": np.array([a.get("area", np.nan) for a in anns], np.float64).reshape(-1)[order],
        "iscrowd": np.array([bool(a.get("iscrowd", 0)) for a in anns], bool).reshape(-1)[order],
    }
    take = pa.array(order, pa.int64())
    segs = _json_column([a.get("segmentation") for a in anns], dumps)
    cols["segmentation"] = segs.take(take)
    if keypoints:
        kps = pa.array([a["keypoints"] for a in anns], pa.large_list(pa.float64()))
        cols["keypoints"] = kps.take(take)
        nk = pa.array([_int_or_none(a.get("num_keypoints")) for a in anns], pa.int64())
        cols["num_keypoints"] = nk.take(take)
    cols["row"] = order.astype(np.int64)
    return pa.table(cols)


def _boxes(anns: list[dict[str, Any]], ids: np.ndarray, path: str) -> np.ndarray:
    boxes = _column(anns, "bbox", path, np.float64)
    if boxes.ndim != 2 or (boxes.size and boxes.shape[1] != 4) or not _all_numbers(anns):
        k = next(i for i, a in enumerate(anns) if not _is_box(a["bbox"]))
        raise AnnotationError(
            f"expected `bbox` [x, y, w, h] (4 numbers), got {_short(anns[k]['bbox'])}",
            path=path, field="annotations.bbox", id=anns[k]["id"],
        )  # fmt: skip
    boxes = boxes.reshape(-1, 4)
    nan = ~np.isfinite(boxes).all(axis=1)
    if nan.any():
        raise AnnotationError(
            f"{int(nan.sum())} boxes contain NaN or inf: annotation ids {_ids(ids[nan])}",
            path=path, field="annotations.bbox", id=int(ids[nan][0]),
        )  # fmt: skip
    neg = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if neg.any():
        k = int(np.argmax(neg))
        raise AnnotationError(
            f"{int(neg.sum())} boxes have a negative width or height: annotation ids "
            f"{_ids(ids[neg])} (first: bbox {boxes[k].tolist()}, expected [x, y, w, h] "
            "with w >= 0 and h >= 0)",
            path=path,
            field="annotations.bbox",
            id=int(ids[k]),
        )
    return boxes


def _is_box(b: Any) -> bool:
    return isinstance(b, list) and len(b) == 4 and all(type(v) in (int, float) for v in b)


def _all_numbers(anns: list[dict[str, Any]]) -> bool:
    """Every ``bbox`` holds plain numbers (numpy would turn ``"12"`` or ``True`` into one)."""
    return {type(v) for a in anns for v in a["bbox"]} <= {int, float}


def _short(v: Any, n: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 3] + "..."


def _check_instance_fields(
    anns: list[dict[str, Any]], images: list[dict[str, Any]], path: str, masks_checked: bool
) -> None:
    """``iscrowd`` 0 or 1, ``area`` a number >= 0, and each ``segmentation`` readable by
    pycocotools at its image's size (RLE runs adding up to the size, the size equal to the
    image's, polygon coordinates near the image): before any mask operation."""
    from visionbench.metrics.detection.coco_segm_checks import (
        check_segmentation,
        polygons_look_valid,
    )
    from visionbench.metrics.errors import MetricInputError

    bad = [
        a
        for a in anns
        if not (type(a.get("iscrowd", 0)) in (int, bool) and a.get("iscrowd", 0) in (0, 1))
    ]
    if bad:
        raise AnnotationError(
            f"expected `iscrowd` 0 or 1, got {_short(bad[0].get('iscrowd'))} "
            f"({len(bad)} annotations affected)",
            path=path, field="annotations.iscrowd", id=bad[0].get("id"),
        )  # fmt: skip
    bad = [
        a for a in anns
        if "area" in a and not (type(a["area"]) in (int, float) and not a["area"] < 0)
    ]  # fmt: skip
    if bad:
        raise AnnotationError(
            f"expected `area` a number >= 0 (NaN: the box area stands in), got {_short(bad[0]['area'])} "
            f"({len(bad)} annotations affected)",
            path=path, field="annotations.area", id=bad[0].get("id"),
        )  # fmt: skip
    size = {int(im["id"]): (im.get("height"), im.get("width")) for im in images}
    polys = [a for a in anns if isinstance(a.get("segmentation"), list)]
    if polys:  # one numpy pass over every coordinate; per annotation only to name a bad one
        hw = np.array([size.get(int(a["image_id"]), (None, None)) for a in polys], dtype=float)
        hw = np.nan_to_num(hw, nan=-1.0).reshape(-1, 2)
        if polygons_look_valid([a["segmentation"] for a in polys], hw[:, 0], hw[:, 1]):
            anns = [a for a in anns if not isinstance(a.get("segmentation"), list)]
    for a in anns:
        seg = a.get("segmentation")
        if seg is None or (isinstance(seg, list) and not seg and not masks_checked):
            continue
        h, w = size.get(int(a["image_id"]), (None, None))
        try:
            check_segmentation(
                seg, int(h or -1), int(w or -1), src=path, ident=f"annotation id {a.get('id')}"
            )
        except MetricInputError as e:
            msg = str(e).split("field 'segmentation': ", 1)[-1]
            raise AnnotationError(
                msg, path=path, field="annotations.segmentation", id=a.get("id")
            ) from None


def _check_keypoints(
    anns: list[dict[str, Any]], categories: list[dict[str, Any]], path: str
) -> None:
    names = categories[0].get("keypoints") if categories else None
    if not names:
        raise AnnotationError(
            "keypoints file has no `keypoints` names in its category",
            path=path, field="categories.keypoints",
        )  # fmt: skip
    k = len(names)
    for a in anns:
        kp = a.get("keypoints")
        if isinstance(kp, list) and not {type(v) for v in kp} <= {int, float}:
            bad = next(v for v in kp if type(v) not in (int, float))
            raise AnnotationError(
                f"expected `keypoints` numbers (x, y, v triplets), got {_short(bad)}",
                path=path, field="annotations.keypoints", id=a.get("id"),
            )  # fmt: skip
        if not isinstance(kp, list) or len(kp) != 3 * k:
            raise AnnotationError(
                f"expected `keypoints` a list of {3 * k} numbers ({k} x (x, y, v)), got "
                f"{len(kp) if isinstance(kp, list) else type(kp).__name__}",
                path=path, field="annotations.keypoints", id=a.get("id"),
            )  # fmt: skip


def _captions(
    anns: list[dict[str, Any]], ids: np.ndarray, image_ids: np.ndarray, path: str
) -> pa.Table:
    for a in anns:
        if not isinstance(a.get("caption"), str):
            raise AnnotationError(
                f"expected `caption` a string, got {type(a.get('caption')).__name__}",
                path=path, field="annotations.caption", id=a.get("id"),
            )  # fmt: skip
    order = np.argsort(image_ids, kind="stable")
    caps = pa.array([a["caption"] for a in anns], pa.large_string())
    return pa.table(
        {
            "id": ids[order],
            "image_id": image_ids[order],
            "caption": caps.take(pa.array(order, pa.int64())),
            "row": order.astype(np.int64),
        }
    )


def _json_column(values: list[Any], dumps: Callable[[Any], bytes]) -> pa.Array:
    """Each value as its JSON text: a ``large_string`` array.

    With orjson, one ``dumps`` of ``[{"s":v0},{"s":v1},...]`` (a call per value costs ~4x
    more), cut at the byte sequence ``{"s":``. That sequence cannot occur inside a JSON
    string (a string's ``"`` bytes are escaped), so it marks exactly the wrappers and any
    object with an ``"s"`` key among the values; when the count is not one per value, each
    value is dumped alone instead.
    """
    import orjson

    if dumps is not orjson.dumps or not values:
        return pa.array([dumps(v) for v in values], pa.large_string())
    data = orjson.dumps([{"s": v} for v in values])
    buf = np.frombuffer(data, np.uint8)
    pos = np.flatnonzero(buf[:-4] == 123)  # '{'
    for k, c in enumerate(b'"s":', 1):
        pos = pos[buf[pos + k] == c]
    if len(pos) != len(values):
        return pa.array([dumps(v) for v in values], pa.large_string())
    lo = pos + 5  # value i is data[lo[i]:hi[i]]: between '{"s":' and '}' + ',' or ']'
    hi = np.append(pos[1:] - 2, len(data) - 2)
    keep = np.zeros(len(data), bool)
    keep[lo[0] : hi[-1]] = True
    keep[(pos[1:, None] + np.arange(-2, 5)).ravel()] = False  # '},{"s":' between values
    text = buf[keep]
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(hi - lo, out=offsets[1:])
    return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(text))


def _int_or_none(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None
