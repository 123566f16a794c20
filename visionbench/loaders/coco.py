"""COCO in its official JSON format: instances, captions and person keypoints.

Layout (2017 and 2014 naming)::

    <root>/annotations/instances_val2017.json      captions_val2017.json
    <root>/annotations/person_keypoints_val2017.json
    <root>/val2017/000000397133.jpg                (2014: val2014/COCO_val2014_000000391895.jpg)

Images are found from each record's ``file_name`` under ``<root>/<split>/`` (or
``<root>/images/<split>/``); they are needed only to run a model: the bulk ground truth is
the JSON alone. ``sample_id`` = the COCO image id; samples are in increasing image id
order (as pycocotools' ``imgIds``). Boxes are converted from COCO ``[x, y, w, h]`` to xyxy
pixels; labels are the COCO category ids (label space ``coco91``; ``coco80`` via
:func:`~visionbench.label_spaces.label_map`). Crowd annotations are kept with
``iscrowd=True`` (the evaluator ignores them).

Every file is validated when loaded, and all defects of a kind are reported at once with
their ids: annotations pointing at images missing from ``images`` (refused, or dropped
with a warning when ``drop_dangling=True``), duplicate image or annotation ids, annotation
id 0 or negative (pycocotools uses ids as its match sentinel), boxes that are NaN or
have a negative width or height, category ids missing from ``categories``. Zero-width or
zero-height boxes, which the official files contain (``instances_val2014.json``
annotation 918), are kept with a warning and listed in ``problems``.
File paths, parsing and RLE conversion live in :mod:`visionbench.loaders.coco_format`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError
from visionbench.label_spaces import LabelSpace
from visionbench.loaders.coco_format import (
    _check_images,
    _column,
    _ids,
    _label_space,
    _no_duplicates,
    _opt_int,
    coco_annotation_file,
    coco_image_dir,
    load_coco_json,
    segmentation_to_rle,
)
from visionbench.loaders.verify import Problem
from visionbench.tasks import GroundTruth
from visionbench.types import CaptionTarget, DetectionTarget, ImageRef, Sample, Task

__all__ = [
    "COCODetection",
    "COCOCaptions",
    "COCOKeypoints",
    "load_coco_json",
    "coco_annotation_file",
    "coco_image_dir",
    "segmentation_to_rle",
]


class _COCOBase:
    """Parsing, validation and the per-image index shared by the three COCO datasets."""

    task: Task
    _kind = "instances"

    def __init__(
        self,
        annotation_file: str | Path,
        image_dir: str | Path | None = None,
        *,
        name: str = "coco",
        split: str = "val2017",
        drop_dangling: bool = False,
    ) -> None:
        self.annotation_file = str(annotation_file)
        self.image_dir = str(image_dir) if image_dir is not None else None
        self.root = str(Path(self.annotation_file).parent.parent)
        self.name = name
        self.split = split
        self.problems: list[Problem] = []
        doc = load_coco_json(self.annotation_file)
        #: False for image lists without annotations (test-dev): predict, do not score.
        self.has_annotations = bool(doc["annotations"]) or not Path(
            self.annotation_file
        ).name.startswith("image_info")
        self._images = _check_images(doc["images"], self.annotation_file)
        self.categories: list[dict[str, Any]] = list(doc.get("categories") or [])
        anns = self._validate(doc["annotations"], drop_dangling)
        del doc
        # Annotation dicts (polygons and all) are kept only when targets need more than the
        # columns built by _validate: captions, masks, keypoints.
        self._by_image: dict[int, list[dict[str, Any]]] = {}
        if self._needs_ann_dicts():
            self._by_image = {int(im["id"]): [] for im in self._images}
            for a in anns:
                self._by_image[a["image_id"]].append(a)
        self._keep = self._select_images()

    # -- Dataset protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keep)

    def __getitem__(self, i: int) -> Sample:
        im = self._images[self._keep[i]]
        iid = int(im["id"])
        return Sample(
            iid, self._image_ref(im), self._target(im), meta={"file_name": im.get("file_name")}
        )

    def ground_truth(self) -> GroundTruth:
        ims = [self._images[k] for k in self._keep]
        return GroundTruth(
            self.task,
            self.label_space,
            [int(im["id"]) for im in ims],
            [self._target(im) for im in ims],
            files={"annotations": self.annotation_file},
        )

    @property
    def image_ids(self) -> list[int]:
        """COCO image ids in dataset order."""
        return [int(self._images[k]["id"]) for k in self._keep]

    # -- helpers for subclasses ----------------------------------------------------------

    def _select_images(self) -> list[int]:
        return list(range(len(self._images)))

    def _image_ref(self, im: dict[str, Any]) -> ImageRef:
        path = (
            str(Path(self.image_dir) / im["file_name"])
            if self.image_dir and "file_name" in im
            else None
        )
        return ImageRef(
            path=path, width=_opt_int(im.get("width")), height=_opt_int(im.get("height"))
        )

    def _target(self, im: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _needs_ann_dicts(self) -> bool:
        return True

    def _validate(self, anns: list[dict[str, Any]], drop_dangling: bool) -> list[dict[str, Any]]:
        path = self.annotation_file
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
        known = np.array([int(im["id"]) for im in self._images], np.int64)
        dangling = ~np.isin(image_ids, known)
        if dangling.any():
            missing = np.unique(image_ids[dangling])
            msg = (
                f"{int(dangling.sum())} annotations reference {missing.size} image ids that are "
                f"not in `images`: {_ids(missing)}"
            )
            if not drop_dangling:
                raise AnnotationError(
                    msg + "; pass drop_dangling=True to drop them",
                    path=path, field="annotations.image_id", id=int(missing[0]),
                )  # fmt: skip
            warnings.warn(f"{path}: dropped {msg}", stacklevel=3)
            for k in np.flatnonzero(dangling):
                self.problems.append(
                    Problem("dangling", f"annotation {int(ids[k])} references missing image "
                            f"{int(image_ids[k])}; dropped", int(image_ids[k]), path)
                )  # fmt: skip
            anns = [a for a, d in zip(anns, dangling) if not d]
        return anns


# ---------------------------------------------------------------------------------------
# Instances and keypoints


class COCODetection(_COCOBase):
    """COCO instances (``instances_<split>.json``) as detection / instance segmentation.

    Args:
        annotation_file: the instances JSON.
        image_dir: the folder holding the ``file_name`` images (None: ground truth only).
        name, split: recorded in runs.
        masks: also give each target its masks as COCO RLE dicts (``counts`` a str),
            converted from polygons or uncompressed RLE with ``pycocotools.mask``.
        drop_dangling: drop annotations whose image is missing from ``images`` (warns
            with the count; they are listed in ``problems``) instead of refusing the file.
    """

    task = Task.DETECTION

    def __init__(
        self,
        annotation_file: str | Path,
        image_dir: str | Path | None = None,
        *,
        name: str = "coco",
        split: str = "val2017",
        masks: bool = False,
        drop_dangling: bool = False,
    ) -> None:
        self.masks = masks
        super().__init__(
            annotation_file, image_dir, name=name, split=split, drop_dangling=drop_dangling
        )
        self.label_space = _label_space(self.categories, self.annotation_file)

    def _validate(self, anns: list[dict[str, Any]], drop_dangling: bool) -> list[dict[str, Any]]:
        anns = super()._validate(anns, drop_dangling)
        path = self.annotation_file
        if not self.categories:
            raise AnnotationError(
                "no `categories` in an instances file", path=path, field="categories"
            )
        cat_ids = np.array([int(c["id"]) for c in self.categories], np.int64)
        _no_duplicates(cat_ids, path, "categories", "id")
        ids = _column(anns, "id", path, np.int64)
        image_ids = _column(anns, "image_id", path, np.int64)
        cats = _column(anns, "category_id", path, np.int64)
        unknown = ~np.isin(cats, cat_ids)
        if unknown.any():
            raise AnnotationError(
                f"{int(unknown.sum())} annotations have category ids not in `categories`: "
                f"{_ids(np.unique(cats[unknown]))} (annotation ids {_ids(ids[unknown])})",
                path=path, field="annotations.category_id", id=int(ids[unknown][0]),
            )  # fmt: skip
        if not anns:
            self._build_columns(anns, ids, image_ids, cats, np.zeros((0, 4)))
            return anns
        boxes = _column(anns, "bbox", path, np.float64)
        if boxes.ndim != 2 or (boxes.size and boxes.shape[1] != 4):
            lens = [len(a["bbox"]) if isinstance(a["bbox"], list) else -1 for a in anns]
            k = next(i for i, n in enumerate(lens) if n != 4)
            raise AnnotationError(
                f"expected `bbox` [x, y, w, h] (4 numbers), got {anns[k]['bbox']!r}",
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
        # Zero-width/height boxes occur in the official files (instances_val2014.json has
        # annotation 918 with h = 0) and pycocotools scores them: keep them, say so.
        flat = (boxes[:, 2] == 0) | (boxes[:, 3] == 0)
        if flat.any():
            warnings.warn(
                f"{path}: {int(flat.sum())} boxes have zero width or height (kept, as pycocotools "
                f"does): annotation ids {_ids(ids[flat])}",
                stacklevel=4,
            )
            for k in np.flatnonzero(flat):
                self.problems.append(
                    Problem("degenerate_box", f"annotation {int(ids[k])} has bbox "
                            f"{boxes[k].tolist()} (zero width or height)", int(image_ids[k]), path)
                )  # fmt: skip
        self._build_columns(anns, ids, image_ids, cats, boxes)
        return anns

    def _build_columns(self, anns: list[dict[str, Any]], ids: np.ndarray, image_ids: np.ndarray,
                       cats: np.ndarray, boxes: np.ndarray) -> None:  # fmt: skip
        """Columns of all annotations, stably sorted by image id (file order within an image,
        as pycocotools' ``getAnnIds``); ``_target`` slices them."""
        order = np.argsort(image_ids, kind="stable")
        xyxy = boxes.reshape(-1, 4).copy()
        xyxy[:, 2:] += xyxy[:, :2]
        self._iids = image_ids[order]
        self._boxes = xyxy[order]
        self._labels = cats[order]
        self._ann_ids = ids[order]
        self._iscrowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], bool).reshape(-1)[order]
        area = np.array([a.get("area", np.nan) for a in anns], np.float64).reshape(-1)
        self._area = area[order]
        uniq, starts, counts = np.unique(self._iids, return_index=True, return_counts=True)
        self._ranges = {int(i): (int(a), int(a + n)) for i, a, n in zip(uniq, starts, counts)}

    def _target(self, im: dict[str, Any]) -> DetectionTarget:
        iid = int(im["id"])
        sl = slice(*self._ranges.get(iid, (0, 0)))
        area = self._area[sl]
        masks = None
        anns = self._by_image[iid] if self.masks or self._has_keypoints else []
        if self.masks:
            h, w = _opt_int(im.get("height")), _opt_int(im.get("width"))
            if h is None or w is None:
                raise AnnotationError(
                    "image record lacks width/height, needed for masks",
                    path=self.annotation_file, field="images", id=iid,
                )  # fmt: skip
            masks = [
                segmentation_to_rle(a.get("segmentation"), h, w, a["id"], self.annotation_file)
                for a in anns
            ]
        return DetectionTarget(
            boxes=self._boxes[sl],
            labels=self._labels[sl],
            iscrowd=self._iscrowd[sl],
            area=None if np.isnan(area).any() else area,
            ann_ids=self._ann_ids[sl],
            masks=masks,
            keypoints=self._keypoints(anns) if self._has_keypoints else None,
            sample_id=iid,
        )

    _has_keypoints = False

    def _needs_ann_dicts(self) -> bool:
        return self.masks or self._has_keypoints

    def _keypoints(self, anns: list[dict[str, Any]]) -> np.ndarray | None:
        return None


class COCOKeypoints(COCODetection):
    """COCO person keypoints (``person_keypoints_<split>.json``): a detection target with
    ``keypoints`` [N, K, 3] (x, y, visibility; K = 17 for COCO persons)."""

    _has_keypoints = True

    def _validate(self, anns: list[dict[str, Any]], drop_dangling: bool) -> list[dict[str, Any]]:
        anns = super()._validate(anns, drop_dangling)
        names = self.categories[0].get("keypoints") if self.categories else None
        if not names:
            raise AnnotationError(
                "keypoints file has no `keypoints` names in its category",
                path=self.annotation_file, field="categories.keypoints",
            )  # fmt: skip
        self.keypoint_names: tuple[str, ...] = tuple(names)
        k = len(names)
        for a in anns:
            kp = a.get("keypoints")
            if not isinstance(kp, list) or len(kp) != 3 * k:
                raise AnnotationError(
                    f"expected `keypoints` a list of {3 * k} numbers ({k} x (x, y, v)), got "
                    f"{len(kp) if isinstance(kp, list) else type(kp).__name__}",
                    path=self.annotation_file, field="annotations.keypoints", id=a.get("id"),
                )  # fmt: skip
        return anns

    def _keypoints(self, anns: list[dict[str, Any]]) -> np.ndarray:
        k = len(self.keypoint_names)
        return np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), k, 3)


# ---------------------------------------------------------------------------------------
# Captions


class COCOCaptions(_COCOBase):
    """COCO captions (``captions_<split>.json``): one :class:`CaptionTarget` per image.

    Images without any caption cannot be scored and are left out, with a warning giving
    their count (a real COCO captions file has none).
    """

    task = Task.CAPTIONING

    def __init__(
        self,
        annotation_file: str | Path,
        image_dir: str | Path | None = None,
        *,
        name: str = "coco-captions",
        split: str = "val2017",
        drop_dangling: bool = False,
    ) -> None:
        super().__init__(
            annotation_file, image_dir, name=name, split=split, drop_dangling=drop_dangling
        )
        self.label_space = LabelSpace("text", ())

    def _validate(self, anns: list[dict[str, Any]], drop_dangling: bool) -> list[dict[str, Any]]:
        anns = super()._validate(anns, drop_dangling)
        for a in anns:
            if not isinstance(a.get("caption"), str):
                raise AnnotationError(
                    f"expected `caption` a string, got {type(a.get('caption')).__name__}",
                    path=self.annotation_file, field="annotations.caption", id=a.get("id"),
                )  # fmt: skip
        return anns

    def _select_images(self) -> list[int]:
        keep = [k for k, im in enumerate(self._images) if self._by_image[int(im["id"])]]
        if len(keep) < len(self._images):
            warnings.warn(
                f"{self.annotation_file}: {len(self._images) - len(keep)} of {len(self._images)} "
                "images have no caption and are left out",
                stacklevel=3,
            )
        return keep

    def _target(self, im: dict[str, Any]) -> CaptionTarget:
        anns = self._by_image[int(im["id"])]
        return CaptionTarget(tuple(a["caption"] for a in anns), sample_id=int(im["id"]))
