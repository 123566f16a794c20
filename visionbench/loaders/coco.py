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

Full-size files (train2017 instances: ~450 MB) are parsed and validated once into an
Arrow cache (:mod:`visionbench.loaders.coco_tables`, ``$VISIONBENCH_HOME/arrow``), keyed
by the file's identity, and memory-mapped on every later open (``cache=False``: parse in
memory, write nothing). A changed file is rebuilt. The checks that need the JSON run at
the build (a file that fails one is never cached); dangling annotations, zero-size boxes
and caption-less images are decided from the tables on every open, so the errors,
warnings and ``problems`` are the same with or without the cache.
File paths, parsing and RLE conversion live in :mod:`visionbench.loaders.coco_format`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from visionbench.errors import AnnotationError
from visionbench.label_spaces import LabelSpace
from visionbench.loaders.coco_format import (
    _ids,
    _label_space,
    coco_annotation_file,
    coco_image_dir,
    load_coco_json,
    segmentation_to_rle,
)
from visionbench.loaders.coco_tables import coco_tables, dangling_message
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
    """The tables, open-time checks and per-image index shared by the three COCO datasets."""

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
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.annotation_file = str(annotation_file)
        self.image_dir = str(image_dir) if image_dir is not None else None
        self.root = str(Path(self.annotation_file).parent.parent)
        self.name = name
        self.split = split
        self.problems: list[Problem] = []
        tables = coco_tables(
            self.annotation_file,
            self._kind,
            drop_dangling=drop_dangling,
            cache=cache,
            cache_dir=cache_dir,
        )
        images, anns, dangling = tables["images"], tables["annotations"], tables["dangling"]
        #: False for image lists without annotations (test-dev): predict, do not score.
        self.has_annotations = bool(anns.num_rows + dangling.num_rows) or not Path(
            self.annotation_file
        ).name.startswith("image_info")
        self.categories: list[dict[str, Any]] = [
            _loads(j) for j in tables["categories"].column("json").to_pylist()
        ]
        self._check_dangling(dangling, drop_dangling)
        # images sorted by id; annotations stably sorted by image id (file order within one)
        self._img_ids = _np(images, "id")
        self._file_names: list[str | None] = images.column("file_name").to_pylist()
        self._widths: list[int | None] = images.column("width").to_pylist()
        self._heights: list[int | None] = images.column("height").to_pylist()
        self._image_dicts: list[dict[str, Any]] | None = None
        self._ann_ids = _np(anns, "id")
        ann_iids = _np(anns, "image_id")
        self._lo = np.searchsorted(ann_iids, self._img_ids, "left")
        self._hi = np.searchsorted(ann_iids, self._img_ids, "right")
        self._ranges = list(zip(self._lo.tolist(), self._hi.tolist()))
        self._iid_list: list[int] = self._img_ids.tolist()
        self._open(anns)
        self._keep = self._select_images()

    # -- Dataset protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._keep)

    def __getitem__(self, i: int) -> Sample:
        k = self._keep[i]
        return Sample(
            self._iid_list[k],
            self._image_ref(k),
            self._target(k),
            meta={"file_name": self._file_names[k]},
        )

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            self.image_ids,
            [self._target(k) for k in self._keep],
            files={"annotations": self.annotation_file},
        )

    @property
    def image_ids(self) -> list[int]:
        """COCO image ids in dataset order."""
        return self._img_ids[np.asarray(self._keep, np.int64)].tolist()

    @property
    def _images(self) -> list[dict[str, Any]]:
        """Image records ``{"id", "file_name", "width", "height"}`` in id order (built on
        first use; kept for callers of the former list-of-dicts attribute)."""
        if self._image_dicts is None:
            self._image_dicts = [
                {"id": i, "file_name": f, "width": w, "height": h}
                for i, f, w, h in zip(
                    self._img_ids.tolist(), self._file_names, self._widths, self._heights
                )
            ]
        return self._image_dicts

    # -- helpers for subclasses ----------------------------------------------------------

    def _check_dangling(self, dangling: pa.Table, drop_dangling: bool) -> None:
        """Refuse, or warn about and list, annotations whose image is not in ``images``."""
        if not dangling.num_rows:
            return
        path = self.annotation_file
        ids, image_ids = _np(dangling, "id"), _np(dangling, "image_id")
        msg, missing = dangling_message(ids, image_ids)
        if not drop_dangling:
            raise AnnotationError(
                msg + "; pass drop_dangling=True (bench: --lenient) to drop them",
                path=path, field="annotations.image_id", id=int(missing[0]),
            )  # fmt: skip
        warnings.warn(f"{path}: dropped {msg}", stacklevel=4)
        for aid, iid in zip(ids.tolist(), image_ids.tolist()):
            self.problems.append(
                Problem("dangling", f"annotation {aid} references missing image {iid}; dropped",
                        iid, path)
            )  # fmt: skip

    def _open(self, anns: pa.Table) -> None:
        """Take the annotation columns the targets need; open-time checks."""

    def _select_images(self) -> list[int]:
        return list(range(len(self._img_ids)))

    def _slice(self, k: int) -> slice:
        return slice(*self._ranges[k])

    def _image_ref(self, k: int) -> ImageRef:
        fn = self._file_names[k]
        path = str(Path(self.image_dir) / fn) if self.image_dir and fn is not None else None
        return ImageRef(path=path, width=self._widths[k], height=self._heights[k])

    def _target(self, k: int) -> Any:
        raise NotImplementedError


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
        cache: parse once into the Arrow cache and memory-map it on later opens (False:
            parse in memory every time, write nothing).
        cache_dir: default ``$VISIONBENCH_HOME/arrow``.
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
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.masks = masks
        super().__init__(
            annotation_file,
            image_dir,
            name=name,
            split=split,
            drop_dangling=drop_dangling,
            cache=cache,
            cache_dir=cache_dir,
        )
        self.label_space = _label_space(self.categories, self.annotation_file)

    def _open(self, anns: pa.Table) -> None:
        x, y, w, h = (_np(anns, c) for c in ("x", "y", "w", "h"))
        self._boxes = np.stack([x, y, x + w, y + h], axis=1).reshape(-1, 4)
        self._labels = _np(anns, "category_id")
        self._iscrowd = _np(anns, "iscrowd").astype(bool)
        self._area = _np(anns, "area")
        self._segs = anns.column("segmentation")
        # Zero-width/height boxes occur in the official files (instances_val2014.json has
        # annotation 918 with h = 0) and pycocotools scores them: keep them, say so.
        flat = np.flatnonzero((w == 0) | (h == 0))
        if flat.size:
            flat = flat[np.argsort(_np(anns, "row")[flat], kind="stable")]  # file order
            path = self.annotation_file
            warnings.warn(
                f"{path}: {flat.size} boxes have zero width or height (kept, as pycocotools "
                f"does): annotation ids {_ids(self._ann_ids[flat])}",
                stacklevel=5,
            )
            iids = _np(anns, "image_id")
            for k in flat.tolist():
                box = [float(x[k]), float(y[k]), float(w[k]), float(h[k])]
                self.problems.append(
                    Problem("degenerate_box", f"annotation {int(self._ann_ids[k])} has bbox "
                            f"{box} (zero width or height)", int(iids[k]), path)
                )  # fmt: skip

    def _target(self, k: int) -> DetectionTarget:
        iid = self._iid_list[k]
        sl = self._slice(k)
        area = self._area[sl]
        masks = None
        if self.masks:
            h, w = self._heights[k], self._widths[k]
            if h is None or w is None:
                raise AnnotationError(
                    "image record lacks width/height, needed for masks",
                    path=self.annotation_file, field="images", id=iid,
                )  # fmt: skip
            segs = self._segs.slice(sl.start, sl.stop - sl.start).to_pylist()
            masks = [
                segmentation_to_rle(_loads(s), h, w, aid, self.annotation_file)
                for s, aid in zip(segs, self._ann_ids[sl].tolist())
            ]
        return DetectionTarget(
            boxes=self._boxes[sl],
            labels=self._labels[sl],
            iscrowd=self._iscrowd[sl],
            area=None if np.isnan(area).any() else area,
            ann_ids=self._ann_ids[sl],
            masks=masks,
            keypoints=self._keypoints(sl),
            sample_id=iid,
        )

    def _keypoints(self, sl: slice) -> np.ndarray | None:
        return None


class COCOKeypoints(COCODetection):
    """COCO person keypoints (``person_keypoints_<split>.json``): a detection target with
    ``keypoints`` [N, K, 3] (x, y, visibility; K = 17 for COCO persons)."""

    _kind = "keypoints"

    def _open(self, anns: pa.Table) -> None:
        super()._open(anns)
        self.keypoint_names: tuple[str, ...] = tuple(self.categories[0]["keypoints"])
        k = len(self.keypoint_names)
        flat = anns.column("keypoints").combine_chunks().flatten()
        self._kps = flat.to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, k, 3)

    def _keypoints(self, sl: slice) -> np.ndarray:
        return self._kps[sl]


# ---------------------------------------------------------------------------------------
# Captions


class COCOCaptions(_COCOBase):
    """COCO captions (``captions_<split>.json``): one :class:`CaptionTarget` per image.

    Images without any caption cannot be scored and are left out, with a warning giving
    their count (a real COCO captions file has none). ``cache``, ``cache_dir``: as
    :class:`COCODetection`.
    """

    task = Task.CAPTIONING
    _kind = "captions"

    def __init__(
        self,
        annotation_file: str | Path,
        image_dir: str | Path | None = None,
        *,
        name: str = "coco-captions",
        split: str = "val2017",
        drop_dangling: bool = False,
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__(
            annotation_file,
            image_dir,
            name=name,
            split=split,
            drop_dangling=drop_dangling,
            cache=cache,
            cache_dir=cache_dir,
        )
        self.label_space = LabelSpace("text", ())

    def _open(self, anns: pa.Table) -> None:
        self._caps = anns.column("caption")

    def _select_images(self) -> list[int]:
        keep = np.flatnonzero(self._hi > self._lo).tolist()
        if len(keep) < len(self._img_ids):
            warnings.warn(
                f"{self.annotation_file}: {len(self._img_ids) - len(keep)} of "
                f"{len(self._img_ids)} images have no caption and are left out",
                stacklevel=4,
            )
        return keep

    def _target(self, k: int) -> CaptionTarget:
        sl = self._slice(k)
        caps = self._caps.slice(sl.start, sl.stop - sl.start).to_pylist()
        return CaptionTarget(tuple(caps), sample_id=self._iid_list[k])


def _np(table: pa.Table, column: str) -> np.ndarray:
    """A column as numpy (zero copy for a single chunk of fixed-width values)."""
    col = table.column(column)
    if col.num_chunks == 1:
        return col.chunk(0).to_numpy(zero_copy_only=False)
    return col.to_numpy()


def _loads(s: str) -> Any:
    """JSON written by :func:`coco_tables.build_tables` (``json`` for NaN literals)."""
    import orjson

    try:
        return orjson.loads(s)
    except orjson.JSONDecodeError:
        return json.loads(s)
