"""LVIS v1 ground truth as arrays: the COCO-style table plus the federated annotations.

An LVIS annotation file (``lvis_v1_val.json``) is COCO-shaped with three additions that
the evaluation reads: every image lists ``neg_category_ids`` (categories verified absent)
and ``not_exhaustive_category_ids`` (categories whose instances are not all annotated),
and every category has a ``frequency`` group (``r`` rare, ``c`` common, ``f`` frequent).
LVIS annotations carry no ``iscrowd`` (``lvis`` 0.5.3 ignores it if present and reads an
optional ``ignore`` flag instead). Every check names the file, the field and the id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from visionbench.metrics.detection.coco_columns import AnnTable, GroundTruthTable, read_json
from visionbench.metrics.errors import MetricInputError

__all__ = ["LvisGroundTruth", "load_lvis_ground_truth", "FREQUENCY_GROUPS"]

#: The frequency groups of ``LVISEval`` (``Params.img_count_lbl``), in order.
FREQUENCY_GROUPS = ("r", "c", "f")


@dataclass
class LvisGroundTruth:
    """An LVIS annotation file as arrays.

    Attributes:
        table: images, categories (file order) and annotations; ``anns.iscrowd`` is all
            False (LVIS has no crowd regions).
        ignore: [N] bool, the annotations' optional ``ignore`` field (default False).
        frequency: [K] frequency group (``"r"``, ``"c"``, ``"f"``) of each category of
            ``table.cat_ids``.
        neg_image_id, neg_cat_id: [P] (image id, category id) pairs of ``neg_category_ids``.
        nel_image_id, nel_cat_id: [Q] pairs of ``not_exhaustive_category_ids``.
    """

    table: GroundTruthTable
    ignore: np.ndarray
    frequency: list[str]
    neg_image_id: np.ndarray
    neg_cat_id: np.ndarray
    nel_image_id: np.ndarray
    nel_cat_id: np.ndarray

    @property
    def source(self) -> str:
        return self.table.source

    def image_lists(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(neg_category_ids, not_exhaustive_category_ids) of one image."""
        i = int(image_id)
        return self.neg_cat_id[self.neg_image_id == i], self.nel_cat_id[self.nel_image_id == i]


def load_lvis_ground_truth(gt: Any, *, iou_type: str = "bbox") -> LvisGroundTruth:
    """Read an LVIS annotation file (path, bytes or parsed dict).

    Refused, with the file, field and id named: a missing ``neg_category_ids`` /
    ``not_exhaustive_category_ids`` / ``frequency`` / ``area``; a frequency outside r/c/f;
    annotation id 0 or duplicate ids (``lvis`` matches by id, 0 meaning "unmatched");
    annotations on images or categories not listed; non-finite boxes or areas.

    Args:
        iou_type: ``"bbox"`` (needs ``bbox``) or ``"segm"`` (needs ``segmentation`` and
            the images' ``height`` / ``width``).
    """
    if iou_type not in ("bbox", "segm"):
        raise MetricInputError(f"iou_type: LVIS evaluates 'bbox' or 'segm', got {iou_type!r}")
    data, src = read_json(gt)
    if not isinstance(data, dict):
        raise MetricInputError(
            f"{src}: expected an LVIS annotation object (dict), got {type(data).__name__}"
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise MetricInputError(
                f"{src}: expected a list under '{key}', got {type(data.get(key)).__name__}"
            )
    images, cats, anns = data["images"], data["categories"], data["annotations"]
    n_img = len(images)
    image_ids = np.empty(n_img, dtype=np.int64)
    heights = np.full(n_img, -1, dtype=np.int64)
    widths = np.full(n_img, -1, dtype=np.int64)
    neg_i: list[int] = []
    neg_c: list[int] = []
    nel_i: list[int] = []
    nel_c: list[int] = []
    for n, im in enumerate(images):
        if not isinstance(im, dict) or not isinstance(im.get("id"), int):
            raise MetricInputError(f"{src}: images[{n}]: needs an integer 'id'")
        iid = im["id"]
        image_ids[n] = iid
        heights[n] = im.get("height", -1)
        widths[n] = im.get("width", -1)
        for key, out_i, out_c in (
            ("neg_category_ids", neg_i, neg_c),
            ("not_exhaustive_category_ids", nel_i, nel_c),
        ):
            v = im.get(key)
            if not isinstance(v, list):
                raise MetricInputError(
                    f"{src}: image id {iid}: field '{key}' must be a list of category ids, "
                    f"got {type(v).__name__} (an LVIS file lists it on every image)"
                )
            out_i.extend([iid] * len(v))
            out_c.extend(v)
    cat_ids = np.empty(len(cats), dtype=np.int64)
    names: list[str] = []
    freq: list[str] = []
    for n, c in enumerate(cats):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int):
            raise MetricInputError(f"{src}: categories[{n}]: needs an integer 'id'")
        cat_ids[n] = c["id"]
        names.append(str(c.get("name", c["id"])))
        f = c.get("frequency")
        if f not in FREQUENCY_GROUPS:
            raise MetricInputError(
                f"{src}: category id {c['id']}: field 'frequency' must be one of "
                f"{list(FREQUENCY_GROUPS)}, got {f!r}"
            )
        freq.append(f)
    table = _annotations(anns, src, iou_type)
    ignore = np.array([bool(a.get("ignore", 0)) for a in anns], dtype=bool).reshape(len(anns))
    gtt = GroundTruthTable(image_ids, heights, widths, cat_ids, names, table, source=src)
    _check(gtt, iou_type)
    try:
        arrs = [np.array(x, dtype=np.int64).reshape(-1) for x in (neg_i, neg_c, nel_i, nel_c)]
    except (TypeError, ValueError):
        raise MetricInputError(
            f"{src}: 'neg_category_ids' / 'not_exhaustive_category_ids' must hold integer ids"
        ) from None
    return LvisGroundTruth(gtt, ignore, freq, *arrs)


def _annotations(anns: list[Any], src: str, iou_type: str) -> AnnTable:
    n = len(anns)
    image_id = np.empty(n, dtype=np.int64)
    category_id = np.empty(n, dtype=np.int64)
    ann_id = np.empty(n, dtype=np.int64)
    area = np.empty(n, dtype=np.float64)
    bbox = np.zeros((n, 4), dtype=np.float64)
    segm: list[Any] | None = [None] * n if iou_type == "segm" else None
    need_bbox = iou_type == "bbox"
    for i, a in enumerate(anns):
        if not isinstance(a, dict):
            raise MetricInputError(
                f"{src}: annotations[{i}]: expected an object, got {type(a).__name__}"
            )
        aid = a.get("id", f"<index {i}>")
        try:
            ann_id[i] = a["id"]
            image_id[i] = a["image_id"]
            category_id[i] = a["category_id"]
            area[i] = a["area"]
        except KeyError as e:
            raise MetricInputError(f"{src}: annotation id {aid}: missing field {e}") from None
        except (TypeError, ValueError, OverflowError):
            raise MetricInputError(
                f"{src}: annotation id {aid}: 'id', 'image_id', 'category_id' and 'area' must be numbers"
            ) from None
        if need_bbox or "bbox" in a:
            b = a.get("bbox")
            if not isinstance(b, (list, tuple)) or len(b) != 4:
                raise MetricInputError(
                    f"{src}: annotation id {aid}: field 'bbox' must be [x, y, w, h], got {b!r}"
                )
            try:
                bbox[i] = b
            except (TypeError, ValueError):
                raise MetricInputError(
                    f"{src}: annotation id {aid}: field 'bbox' must hold numbers, got {b!r}"
                ) from None
        if segm is not None:
            if "segmentation" not in a:
                raise MetricInputError(f"{src}: annotation id {aid}: missing field 'segmentation'")
            segm[i] = a["segmentation"]
    return AnnTable(
        image_id=image_id,
        category_id=category_id,
        bbox=bbox,
        area=area,
        iscrowd=np.zeros(n, dtype=bool),
        ann_id=ann_id,
        segm=segm,
    )


def _check(g: GroundTruthTable, iou_type: str) -> None:
    a, src = g.anns, g.source
    for name, arr in (("bbox", a.bbox), ("area", a.area)):
        bad = ~np.isfinite(arr) if arr.ndim == 1 else ~np.isfinite(arr).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MetricInputError(
                f"{src}: annotation id {int(a.ann_id[i])}: field '{name}' must be finite, got {arr[i].tolist()}"
            )
    neg = (a.bbox[:, 2] < 0) | (a.bbox[:, 3] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise MetricInputError(
            f"{src}: annotation id {int(a.ann_id[i])}: field 'bbox' needs width and height >= 0, got {a.bbox[i].tolist()}"
        )
    uniq, counts = np.unique(a.ann_id, return_counts=True)
    if (counts > 1).any():
        raise MetricInputError(
            f"{src}: duplicate annotation ids {uniq[counts > 1][:10].tolist()} (field 'id')"
        )
    if (a.ann_id == 0).any():
        raise MetricInputError(
            f"{src}: annotation id 0 (field 'id'): lvis uses id 0 as its 'unmatched' sentinel, "
            "so a detection matched to it would count as unmatched; renumber the annotations (ids >= 1)"
        )
    if len(np.unique(g.image_ids)) != len(g.image_ids):
        raise MetricInputError(f"{src}: duplicate image ids in 'images'")
    if len(np.unique(g.cat_ids)) != len(g.cat_ids):
        raise MetricInputError(f"{src}: duplicate category ids in 'categories'")
    for field_name, ids, known in (
        ("image_id", a.image_id, g.image_ids),
        ("category_id", a.category_id, g.cat_ids),
    ):
        bad = ~np.isin(ids, known)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MetricInputError(
                f"{src}: annotation id {int(a.ann_id[i])}: field '{field_name}' = {int(ids[i])} is not "
                f"listed in the file ({int(bad.sum())} annotations affected)"
            )
    if iou_type == "segm" and ((g.heights <= 0) | (g.widths <= 0)).any():
        i = int(np.flatnonzero((g.heights <= 0) | (g.widths <= 0))[0])
        raise MetricInputError(
            f"{src}: image id {int(g.image_ids[i])}: segm needs 'height' and 'width' > 0"
        )
