"""The COCO annotation file format: where the files are, parsing, masks as RLE, and the
validation helpers the COCO datasets (:mod:`visionbench.loaders.coco`) share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import LabelSpace, get_label_space

__all__ = [
    "coco_annotation_file",
    "coco_image_dir",
    "load_coco_json",
    "load_coco_doc",
    "segmentation_to_rle",
]

_KINDS = {"instances": "instances", "captions": "captions", "keypoints": "person_keypoints"}
_SHOW = 10  # ids listed in an error message


# ---------------------------------------------------------------------------------------
# Files


def coco_annotation_file(root: str | Path, split: str, kind: str = "instances") -> Path:
    """``<root>/annotations/<kind>_<split>.json`` (``kind``: instances, captions, keypoints).

    Raises:
        DatasetNotFoundError: the file is missing; the message names the path and layout.
    """
    prefix = _KINDS[kind]
    if kind == "instances" and split.startswith("test"):
        prefix = "image_info"  # test2017 / test-dev2017: image records only, no annotations
    path = Path(root) / "annotations" / f"{prefix}_{split}.json"
    if not path.is_file():
        raise DatasetNotFoundError(
            f"COCO annotation file not found: {path}. Expected layout {root}/annotations/"
            f"{prefix}_{split}.json and images in {root}/{split}/ (COCO 2017: splits train2017, "
            "val2017, test-dev2017 (image_info_*.json); COCO 2014: train2014, val2014). The "
            "official files are published at "
            "https://cocodataset.org/#download"
        )
    return path


def coco_image_dir(root: str | Path, split: str) -> Path:
    """The image folder of ``split``: ``<root>/<split>`` or ``<root>/images/<split>``
    (the first that exists; the first when neither does, so that verify names it)."""
    split = split.replace("test-dev", "test")  # test-dev2017 images live in test2017/
    candidates = [Path(root) / split, Path(root) / "images" / split]
    return next((p for p in candidates if p.is_dir()), candidates[0])


def load_coco_json(path: str | Path) -> dict[str, Any]:
    """Parse a COCO JSON file (orjson; the stdlib parser for files with NaN literals).

    Raises:
        AnnotationError: not JSON, or not an object with ``images`` and ``annotations`` lists.
    """
    return load_coco_doc(path)[0]


def load_coco_doc(path: str | Path) -> tuple[dict[str, Any], bool]:
    """:func:`load_coco_json` and whether orjson read it (False: it has NaN/Infinity
    literals, which only the stdlib parser reads, and only :func:`json.dumps` writes back)."""
    import orjson

    path = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise AnnotationError(f"cannot read annotation file: {e}", path=path) from None
    strict = True
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        strict = False
        try:  # orjson refuses NaN/Infinity literals; json reads them and validation names them
            doc = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise AnnotationError(f"not valid JSON: {e}", path=path) from None
    if not isinstance(doc, dict):
        raise AnnotationError(f"expected a JSON object, got {type(doc).__name__}", path=path)
    if "annotations" not in doc and Path(path).name.startswith("image_info"):
        doc["annotations"] = []  # test-dev image lists carry no annotations
    for key in ("images", "annotations"):
        if not isinstance(doc.get(key), list):
            raise AnnotationError(
                f"expected a list under {key!r}, got {type(doc.get(key)).__name__}",
                path=path,
                field=key,
            )
    return doc, strict


# ---------------------------------------------------------------------------------------
# Masks


def segmentation_to_rle(
    seg: Any, height: int, width: int, ann_id: Any = None, path: str | None = None
) -> dict[str, Any]:
    """A COCO ``segmentation`` (polygons, uncompressed or compressed RLE) as compressed RLE.

    Validated first (:func:`~visionbench.metrics.detection.coco_segm_checks.check_segmentation`:
    pycocotools trusts RLE sizes and run lengths), then converted by the one conversion,
    :func:`~visionbench.metrics.detection.coco_masks.segm_to_rle` (pycocotools' ``annToRLE``).

    Returns:
        ``{"size": [height, width], "counts": str}``, as pycocotools' ``annToRLE``.

    Raises:
        AnnotationError: naming ``path``, the field and ``ann_id``.
    """
    from visionbench.metrics.detection.coco_masks import segm_to_rle
    from visionbench.metrics.detection.coco_segm_checks import check_segmentation
    from visionbench.metrics.errors import MetricInputError

    try:
        check_segmentation(seg, height, width, src=str(path), ident=f"annotation id {ann_id}")
        rle = segm_to_rle(seg, height, width)
    except MetricInputError as e:
        msg = str(e).split("field 'segmentation': ", 1)[-1]
        raise AnnotationError(msg, path=path, field="segmentation", id=ann_id) from None
    counts = rle["counts"]
    return {
        "size": [int(s) for s in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


# ---------------------------------------------------------------------------------------
# Validation helpers


def _check_images(images: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    ids = _column(images, "id", path, np.int64, where="images")
    _no_duplicates(ids, path, "images", "id")
    for key in ("width", "height"):
        vals = [im.get(key) for im in images]
        bad = [
            int(im["id"])
            for im, v in zip(images, vals)
            if v is not None and not (isinstance(v, (int, float)) and v > 0)
        ]
        if bad:
            raise AnnotationError(
                f"{len(bad)} images have a non-positive or non-numeric {key}: image ids {_ids(np.array(bad))}",
                path=path, field=f"images.{key}", id=bad[0],
            )  # fmt: skip
    order = np.argsort(ids, kind="stable")
    return [images[k] for k in order]


def _column(
    rows: list[dict[str, Any]], key: str, path: str, dtype: Any, where: str = "annotations"
) -> np.ndarray:
    try:
        values = [r[key] for r in rows]
    except (KeyError, TypeError):
        k = next(i for i, r in enumerate(rows) if not isinstance(r, dict) or key not in r)
        rid = rows[k].get("id") if isinstance(rows[k], dict) else None
        raise AnnotationError(
            f"{where}[{k}] has no {key!r}", path=path, field=f"{where}.{key}", id=rid
        ) from None
    try:
        return np.array(values, dtype=dtype) if values else np.zeros((0,), dtype)
    except (TypeError, ValueError):
        if dtype is np.float64:  # ragged bbox lists: let the caller name the bad one
            return np.array([np.nan], np.float64)
        k = next(
            i
            for i, v in enumerate(values)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool)
        )
        raise AnnotationError(
            f"expected an integer {key!r}, got {values[k]!r}",
            path=path,
            field=f"{where}.{key}",
            id=k,
        ) from None


def _no_duplicates(ids: np.ndarray, path: str, where: str, key: str) -> None:
    uniq, counts = np.unique(ids, return_counts=True)
    dup = uniq[counts > 1]
    if dup.size:
        raise AnnotationError(
            f"{dup.size} duplicate {key}s in `{where}`: {_ids(dup)}",
            path=path, field=f"{where}.{key}", id=int(dup[0]),
        )  # fmt: skip


def _label_space(categories: list[dict[str, Any]], path: str) -> LabelSpace:
    """``coco91`` when every category matches its COCO id and name, else the file's own."""
    coco91 = get_label_space("coco91")
    names = dict(zip(coco91.ids, coco91.names))
    if all(names.get(int(c["id"])) == c.get("name") for c in categories):
        return coco91
    cats = sorted(categories, key=lambda c: int(c["id"]))
    return LabelSpace(
        f"coco-format:{Path(path).name}",
        tuple(str(c.get("name")) for c in cats),
        tuple(int(c["id"]) for c in cats),
    )


def _ids(arr: np.ndarray) -> str:
    vals = [int(v) for v in np.asarray(arr).ravel()[:_SHOW]]
    more = np.asarray(arr).size - len(vals)
    return str(vals) + (f" and {more} more" if more > 0 else "")


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)
