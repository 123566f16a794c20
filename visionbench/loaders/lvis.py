"""LVIS v1 in its official format: ``lvis_v1_val.json`` + the COCO 2017 images.

Layout::

    <root>/annotations/lvis_v1_val.json     (or <root>/lvis_v1_val.json)
    <root>/train2017/000000391895.jpg       LVIS v1 val draws images from COCO train2017
    <root>/val2017/000000397133.jpg         and val2017: each image's ``coco_url`` says which

An image's path is ``<root>/<folder>/<name>`` from its ``coco_url``
(``http://images.cocodataset.org/<folder>/<name>``), or ``<root>/<file_name>`` for files
that give ``file_name`` (LVIS v0.5). Images are needed only to run a model; the ground
truth is the JSON alone. ``sample_id`` = the image id; samples in increasing id order.
Boxes become xyxy pixels; labels are the LVIS category ids (label space ``lvis_v1`` for
the 1,203 categories of v1, named after the file otherwise). Each target carries the
image's ``neg_category_ids`` and ``not_exhaustive_category_ids``; the dataset declares the
LVIS protocol (federated AP, APr/APc/APf, 300 results per image) in its catalog entry;
``frequency`` gives each category's group (label-space order) to the protocol.

Refused with the file, field and id named: images without the two federated lists,
categories without a ``frequency`` in r/c/f, annotations without ``bbox`` / ``area``, on
unlisted images or categories, with id 0 or duplicate ids, NaN or negative-size boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError
from visionbench.label_spaces import LabelSpace
from visionbench.loaders.coco_format import segmentation_to_rle
from visionbench.tasks import GroundTruth
from visionbench.types import DetectionTarget, ImageRef, Sample, Task

__all__ = ["LVISDetection", "lvis_annotation_file"]

FREQUENCIES = ("r", "c", "f")


def lvis_annotation_file(root: Path, split: str) -> Path:
    """``<root>/annotations/lvis_v1_<split>.json`` (or directly under ``root``)."""
    names = [f"lvis_v1_{split}.json", f"lvis_{split}.json", f"lvis_v0.5_{split}.json"]
    for base in (root / "annotations", root):
        for n in names:
            if (base / n).is_file():
                return base / n
    from visionbench.errors import DatasetNotFoundError

    raise DatasetNotFoundError(
        f"no LVIS annotation file under {root}: expected {root}/annotations/lvis_v1_{split}.json "
        "(published at https://www.lvisdataset.org/dataset) beside the COCO 2017 image folders"
    )


class LVISDetection:
    """LVIS instances as a detection / instance segmentation dataset.

    Args:
        annotation_file: ``lvis_v1_val.json``.
        image_root: the folder holding ``train2017/`` and ``val2017/`` (None: ground truth only).
        name, split: recorded in runs.
        masks: also give each target its masks as COCO RLE dicts (for segm evaluation).
    """

    task = Task.DETECTION

    def __init__(
        self,
        annotation_file: str | Path,
        image_root: str | Path | None = None,
        *,
        name: str = "lvis",
        split: str = "val",
        masks: bool = False,
    ) -> None:
        import orjson

        self.annotation_file = str(annotation_file)
        self.image_root = str(image_root) if image_root is not None else None
        self.root = self.image_root or str(Path(self.annotation_file).parent)
        self.name, self.split, self.masks = name, split, masks
        path = self.annotation_file
        try:
            data = orjson.loads(Path(path).read_bytes())
        except FileNotFoundError:
            raise AnnotationError("annotation file not found", path=path) from None
        except orjson.JSONDecodeError as e:
            raise AnnotationError(f"not valid JSON ({e})", path=path) from None
        if not isinstance(data, dict):
            raise AnnotationError("expected an LVIS annotation object", path=path)
        for key in ("images", "annotations", "categories"):
            if not isinstance(data.get(key), list):
                raise AnnotationError(f"expected a list under '{key}'", path=path, field=key)
        self._read_categories(data["categories"])
        self._read_images(data["images"])
        self._read_annotations(data["annotations"])

    # -- Dataset protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._img_ids)

    def __getitem__(self, i: int) -> Sample:
        if self.image_root is not None and self._paths[i] is None:
            raise AnnotationError(
                "an image needs 'coco_url' (or 'file_name') to find its file",
                path=self.annotation_file, field="images.coco_url", id=int(self._img_ids[i]),
            )  # fmt: skip
        return Sample(
            int(self._img_ids[i]),
            ImageRef(path=self._paths[i], width=int(self._w[i]), height=int(self._h[i])),
            self._target(i),
            meta={"file_name": self._paths[i]},
        )

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            self.image_ids,
            [self._target(i) for i in range(len(self))],
            files={"annotations": self.annotation_file},
        )

    @property
    def image_ids(self) -> list[int]:
        return self._img_ids.tolist()

    # -- parsing -----------------------------------------------------------------------

    def _read_categories(self, cats: list[Any]) -> None:
        path = self.annotation_file
        ids, names, freq = [], [], []
        for n, c in enumerate(cats):
            if not isinstance(c, dict) or not isinstance(c.get("id"), int):
                raise AnnotationError(
                    "every category needs an integer 'id'", path=path, field=f"categories[{n}]"
                )
            if c.get("frequency") not in FREQUENCIES:
                raise AnnotationError(
                    f"'frequency' must be one of {list(FREQUENCIES)}, got {c.get('frequency')!r}",
                    path=path, field="categories.frequency", id=c["id"],
                )  # fmt: skip
            ids.append(c["id"])
            names.append(str(c.get("name", c["id"])))
            freq.append(c["frequency"])
        if len(set(ids)) != len(ids):
            raise AnnotationError("duplicate category ids", path=path, field="categories.id")
        order = np.argsort(ids, kind="stable")
        space = "lvis_v1" if len(ids) == 1203 else f"lvis:{Path(path).stem}"
        self.label_space = LabelSpace(
            space, tuple(names[i] for i in order), tuple(ids[i] for i in order)
        )
        self.frequency = [freq[i] for i in order]

    def _read_images(self, images: list[Any]) -> None:
        path = self.annotation_file
        rows = []
        for n, im in enumerate(images):
            if not isinstance(im, dict) or not isinstance(im.get("id"), int):
                raise AnnotationError(
                    "every image needs an integer 'id'", path=path, field=f"images[{n}]"
                )
            for key in ("neg_category_ids", "not_exhaustive_category_ids"):
                if not isinstance(im.get(key), list):
                    raise AnnotationError(
                        "an LVIS image lists its federated categories; missing or not a list",
                        path=path, field=f"images.{key}", id=im["id"],
                    )  # fmt: skip
            for key in ("height", "width"):
                if not isinstance(im.get(key), int) or im[key] <= 0:
                    raise AnnotationError(
                        f"'{key}' must be a positive integer, got {im.get(key)!r}",
                        path=path, field=f"images.{key}", id=im["id"],
                    )  # fmt: skip
            rows.append(im)
        rows.sort(key=lambda im: im["id"])
        self._img_ids = np.array([im["id"] for im in rows], dtype=np.int64)
        if len(np.unique(self._img_ids)) != len(self._img_ids):
            raise AnnotationError("duplicate image ids", path=path, field="images.id")
        self._h = np.array([im["height"] for im in rows], dtype=np.int64)
        self._w = np.array([im["width"] for im in rows], dtype=np.int64)
        self._neg = [np.asarray(im["neg_category_ids"], dtype=np.int64) for im in rows]
        self._nel = [np.asarray(im["not_exhaustive_category_ids"], dtype=np.int64) for im in rows]
        self._paths = [self._image_path(im) for im in rows]

    def _image_path(self, im: dict[str, Any]) -> str | None:
        if self.image_root is None:
            return None
        if im.get("file_name"):
            return str(Path(self.image_root) / str(im["file_name"]))
        url = str(im.get("coco_url", ""))
        parts = url.rstrip("/").split("/")
        if len(parts) < 2:
            return None  # scoring needs no pixels; __getitem__ says what is missing
        return str(Path(self.image_root) / parts[-2] / parts[-1])

    def _read_annotations(self, anns: list[Any]) -> None:
        path = self.annotation_file
        n = len(anns)
        aid = np.empty(n, np.int64)
        iid = np.empty(n, np.int64)
        cid = np.empty(n, np.int64)
        area = np.empty(n, np.float64)
        box = np.empty((n, 4), np.float64)
        self._segs: list[Any] = [None] * n
        for i, a in enumerate(anns):
            ident = a.get("id", f"<index {i}>") if isinstance(a, dict) else f"<index {i}>"
            try:
                aid[i], iid[i], cid[i] = a["id"], a["image_id"], a["category_id"]
                area[i] = a["area"]
                b = a["bbox"]
                if len(b) != 4:
                    raise ValueError
                box[i] = b
            except KeyError as e:
                raise AnnotationError(
                    f"missing field {e}", path=path, field=f"annotations.{e.args[0]}", id=ident
                ) from None
            except (TypeError, ValueError, OverflowError):
                raise AnnotationError(
                    "'id', 'image_id', 'category_id', 'area' must be numbers and 'bbox' [x, y, w, h]",
                    path=path, field="annotations", id=ident,
                ) from None  # fmt: skip
            if a.get("ignore"):
                raise AnnotationError(
                    "an 'ignore' flag is honoured by visionbench.metrics.lvis_evaluate (file in, "
                    "numbers out) but not carried by the dataset's targets",
                    path=path, field="annotations.ignore", id=ident,
                )  # fmt: skip
            if self.masks:
                self._segs[i] = a.get("segmentation")
        bad = ~np.isfinite(box).all(axis=1) | (box[:, 2] < 0) | (box[:, 3] < 0)
        bad |= ~np.isfinite(area)
        checks = [
            (bad, "annotations.bbox", "boxes and areas must be finite, widths and heights >= 0"),
            (aid <= 0, "annotations.id", "annotation ids must be >= 1 (0 is lvis' 'unmatched')"),
            (~np.isin(iid, self._img_ids), "annotations.image_id", "image id not in 'images'"),
            (~np.isin(cid, self.label_space.ids), "annotations.category_id",
             "category id not in 'categories'"),
        ]  # fmt: skip
        for mask, field, msg in checks:
            if mask.any():
                k = int(np.flatnonzero(mask)[0])
                raise AnnotationError(
                    f"{msg} ({int(mask.sum())} annotations affected)",
                    path=path, field=field, id=int(aid[k]),
                )  # fmt: skip
        uniq, counts = np.unique(aid, return_counts=True)
        if (counts > 1).any():
            raise AnnotationError(
                "duplicate annotation id", path=path, field="annotations.id",
                id=int(uniq[counts > 1][0]),
            )  # fmt: skip
        order = np.argsort(iid, kind="stable")
        self._ann_order = order
        self._aid, self._cid, self._area = aid[order], cid[order], area[order]
        b = box[order]
        self._boxes = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
        sorted_iid = iid[order]
        self._lo = np.searchsorted(sorted_iid, self._img_ids, "left")
        self._hi = np.searchsorted(sorted_iid, self._img_ids, "right")

    def _target(self, i: int) -> DetectionTarget:
        sl = slice(int(self._lo[i]), int(self._hi[i]))
        masks = None
        if self.masks:
            h, w = int(self._h[i]), int(self._w[i])
            masks = [
                segmentation_to_rle(
                    self._segs[k], h, w, int(self._aid[sl][n]), self.annotation_file
                )
                for n, k in enumerate(self._ann_order[sl].tolist())
            ]
        return DetectionTarget(
            boxes=self._boxes[sl],
            labels=self._cid[sl],
            area=self._area[sl],
            ann_ids=self._aid[sl],
            masks=masks,
            sample_id=int(self._img_ids[i]),
            neg_labels=self._neg[i],
            not_exhaustive_labels=self._nel[i],
        )
