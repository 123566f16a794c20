"""``torchvision.datasets`` objects as visionbench datasets: :func:`from_torchvision`.

Supported: ``CocoDetection`` (and ``CocoCaptions``' detection sibling only),
``ImageNet``, ``ImageFolder`` (and ``DatasetFolder`` subclasses with image files),
``Cityscapes`` (``target_type`` containing ``"semantic"``), ``VOCDetection``. The object
is read for its file lists and annotations only (its ``__getitem__`` is never called),
and its targets are converted to the contracts:

* ``CocoDetection``: the image id is the ``sample_id``; boxes xywh -> xyxy pixels,
  ``category_id`` (label space ``coco91`` when the categories are COCO's, else the file's),
  ``iscrowd``, ``area``, annotation ids, like :class:`~visionbench.loaders.coco.COCODetection`;
* ``ImageNet`` / ``ImageFolder``: the file stem is the ``sample_id``; classes that are
  ImageNet WNIDs map to ``imagenet1k`` (sorted-WNID index), others form the folder's own
  label space;
* ``Cityscapes``: the frame name is the ``sample_id``; ``*_labelIds.png`` (and
  ``*_instanceIds.png`` when ``"instance"`` is a target type) by path, label space
  ``cityscapes34``: scored with the Cityscapes protocol;
* ``VOCDetection``: the XML is parsed; VOC pixel boxes (1-based, inclusive) become
  ``(xmin - 1, ymin - 1, xmax, ymax)`` (detectron2's convention); ``difficult`` objects
  become ``iscrowd=True`` (ignored regions under the COCO protocol, which scores this
  adapter; the VOC protocol is the VOC loader's); label space ``voc20``.

Transforms: the engine decodes the files itself and applies the *model's* preprocessing;
a dataset built with ``transform``/``target_transform``/``transforms`` is refused
(``ignore_transforms=True`` proceeds and drops them), so a number never silently depends
on a transform that was not applied.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError
from visionbench.label_spaces import LabelSpace, get_label_space, imagenet_wnids
from visionbench.tasks import GroundTruth
from visionbench.types import (
    ClassificationTarget,
    DetectionTarget,
    ImageRef,
    Sample,
    SegmentationTarget,
    Task,
)

__all__ = ["from_torchvision", "TorchvisionDataset", "VOC20"]

# TODO(issue 10b): use the VOC label space of the VOC loader once it lands on main.
VOC20 = LabelSpace(
    "voc20",
    (
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
        "train", "tvmonitor",
    ),
)  # fmt: skip


def from_torchvision(ds: Any, *, name: str | None = None, ignore_transforms: bool = False) -> Any:
    """A visionbench dataset over a ``torchvision.datasets`` object (see module doc).

    Raises:
        ContractError: an unsupported class, or transforms set (unless ``ignore_transforms``).
    """
    kinds = [c.__name__ for c in type(ds).__mro__]
    for attr in ("transform", "target_transform", "transforms"):
        t = getattr(ds, attr, None)
        if t is not None and not _is_identity(t) and not ignore_transforms:
            raise ContractError(
                f"{type(ds).__name__} has {attr}={type(t).__name__}: visionbench decodes the "
                "files and applies the model's own preprocessing, so a dataset transform would "
                "not be applied; build it without transforms (or pass ignore_transforms=True)"
            )
    if "CocoDetection" in kinds:
        return _coco(ds, name or "tv-coco")
    if "ImageNet" in kinds or "DatasetFolder" in kinds:
        return _folder(ds, name or ("tv-imagenet" if "ImageNet" in kinds else "tv-imagefolder"))
    if "Cityscapes" in kinds:
        return _cityscapes(ds, name or "tv-cityscapes")
    if "VOCDetection" in kinds:
        return _voc(ds, name or "tv-voc")
    raise ContractError(
        f"from_torchvision: {type(ds).__name__} is not supported; supported: CocoDetection, "
        "ImageNet, ImageFolder, Cityscapes, VOCDetection"
    )


class TorchvisionDataset:
    """A list of samples built from a torchvision dataset object."""

    def __init__(self, name: str, task: Task, label_space: LabelSpace, split: str, root: str,
                 samples: list[tuple[Any, ImageRef, Any]], files: dict[str, str]) -> None:  # fmt: skip
        self.name, self.task, self.label_space = name, task, label_space
        self.split, self.root = split, root
        self._samples = samples
        self._files = files

    def __len__(self) -> int:
        return len(self._samples)

    def __getitem__(self, i: int) -> Sample:
        sid, ref, target = self._samples[i]
        return Sample(sid, ref, target)

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task, self.label_space, [s[0] for s in self._samples],
            [s[2] for s in self._samples], files=self._files,
        )  # fmt: skip


# ---------------------------------------------------------------------------------------


def _coco(ds: Any, name: str) -> TorchvisionDataset:
    coco = ds.coco
    cats = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c["id"])
    c91 = get_label_space("coco91")
    known = dict(zip(c91.ids, c91.names))
    if all(known.get(c["id"]) == c["name"] for c in cats):
        space = c91
    else:
        space = LabelSpace(
            f"tv-coco:{len(cats)}", tuple(c["name"] for c in cats), tuple(c["id"] for c in cats)
        )
    samples = []
    for iid in ds.ids:
        info = coco.loadImgs(iid)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=iid))
        b = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        xyxy = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
        target = DetectionTarget(
            boxes=xyxy,
            labels=np.array([a["category_id"] for a in anns], dtype=np.int64),
            iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns]),
            area=np.array([a["area"] for a in anns], dtype=np.float64),
            ann_ids=np.array([a["id"] for a in anns], dtype=np.int64),
            sample_id=int(iid),
        )
        ref = ImageRef(
            path=os.path.join(ds.root, info["file_name"]),
            width=info.get("width"),
            height=info.get("height"),
        )
        samples.append((int(iid), ref, target))
    return TorchvisionDataset(name, Task.DETECTION, space, "", str(ds.root), samples, {})


def _folder(ds: Any, name: str) -> TorchvisionDataset:
    classes = list(getattr(ds, "wnids", None) or ds.classes)
    wnids = {w: k for k, w in enumerate(imagenet_wnids())}
    if all(c in wnids for c in classes):
        space = get_label_space("imagenet1k")
        cmap = [wnids[c] for c in classes]
    else:
        space = LabelSpace(f"tv-folder:{Path(str(ds.root)).name}", tuple(str(c) for c in classes))
        cmap = list(range(len(classes)))
    seen: dict[str, str] = {}
    samples = []
    for path, k in ds.samples:
        stem = Path(path).stem
        if stem in seen:
            raise AnnotationError(
                f"two images share the file stem {stem!r} (the sample id): {seen[stem]}",
                path=str(path), field="file name",
            )  # fmt: skip
        seen[stem] = str(path)
        samples.append(
            (stem, ImageRef(path=str(path)), ClassificationTarget(cmap[k], sample_id=stem))
        )
    split = str(getattr(ds, "split", "") or "")
    return TorchvisionDataset(name, Task.CLASSIFICATION, space, split, str(ds.root), samples, {})


def _cityscapes(ds: Any, name: str) -> TorchvisionDataset:
    types = [ds.target_type] if isinstance(ds.target_type, str) else list(ds.target_type)
    if "semantic" not in types:
        raise ContractError(
            f"Cityscapes target_type={types}: semantic segmentation needs 'semantic' (labelIds)"
        )
    if getattr(ds, "mode", "fine") != "gtFine":
        raise ContractError(f"Cityscapes mode={ds.mode!r}: the evaluation uses mode='fine'")
    si = types.index("semantic")
    ii = types.index("instance") if "instance" in types else None
    samples = []
    for img, tgts in zip(ds.images, ds.targets):
        frame = Path(img).name.removesuffix("_leftImg8bit.png")
        target = SegmentationTarget(
            mask_path=tgts[si], instances_path=tgts[ii] if ii is not None else None, sample_id=frame
        )
        samples.append((frame, ImageRef(path=img), target))
    samples.sort(key=lambda s: s[0])
    space = get_label_space("cityscapes34")
    return TorchvisionDataset(
        name, Task.SEMANTIC_SEGMENTATION, space, str(ds.split), str(ds.root), samples, {}
    )


def _voc(ds: Any, name: str) -> TorchvisionDataset:
    index = {n: k for k, n in enumerate(VOC20.names)}
    samples = []
    for img, xml in zip(ds.images, ds.annotations):
        stem = Path(img).stem
        digits = stem.replace("_", "")
        sid = int(digits) if digits.isdigit() else len(samples)
        boxes, labels, difficult = [], [], []
        try:
            root = ET.parse(xml).getroot()
        except (ET.ParseError, OSError) as e:
            raise AnnotationError(f"cannot parse VOC XML: {e}", path=str(xml)) from None
        for n, obj in enumerate(root.iter("object")):
            cls = (obj.findtext("name") or "").strip()
            if cls not in index:
                raise AnnotationError(
                    f"object {n}: class {cls!r} is not a VOC class", path=str(xml), field="name"
                )
            bb = obj.find("bndbox")
            try:
                x0, y0, x1, y1 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr, arg-type]
            except (AttributeError, TypeError, ValueError):
                raise AnnotationError(
                    f"object {n}: bndbox needs numeric xmin, ymin, xmax, ymax",
                    path=str(xml), field="bndbox",
                ) from None  # fmt: skip
            boxes.append((x0 - 1.0, y0 - 1.0, x1, y1))
            labels.append(index[cls])
            difficult.append((obj.findtext("difficult") or "0").strip() == "1")
        size = root.find("size")
        w = int(size.findtext("width") or 0) if size is not None else None
        h = int(size.findtext("height") or 0) if size is not None else None
        target = DetectionTarget(
            boxes=np.array(boxes, dtype=np.float64).reshape(-1, 4),
            labels=np.array(labels, dtype=np.int64),
            iscrowd=np.array(difficult, dtype=bool),
            sample_id=sid,
        )
        samples.append((sid, ImageRef(path=img, width=w or None, height=h or None), target))
    split = str(getattr(ds, "image_set", "") or "")
    return TorchvisionDataset(name, Task.DETECTION, VOC20, split, str(ds.root), samples, {})


def _is_identity(t: Any) -> bool:
    """torchvision wraps a None transform pair in ``StandardTransform(None, None)``."""
    return (
        type(t).__name__ == "StandardTransform"
        and t.transform is None
        and (t.target_transform is None)
    )
