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
* ``VOCDetection``: the XML is parsed by :func:`~visionbench.loaders.voc.parse_voc_xml`
  and converted as :class:`~visionbench.loaders.voc.VOCDetection` does: boxes
  ``(xmin - 1, ymin - 1, xmax, ymax)``, ``difficult`` flags, label space ``voc20``, the file
  stem as ``sample_id``; scored with the VOC protocol (11-point AP for 2007, all-point
  from 2010 on).

Transforms: the engine decodes the files itself and applies the *model's* preprocessing;
a dataset built with ``transform``/``target_transform``/``transforms`` is refused
(``ignore_transforms=True`` proceeds and drops them), so a number never silently depends
on a transform that was not applied.
"""

from __future__ import annotations

import os
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

__all__ = ["from_torchvision", "TorchvisionDataset"]


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
        #: the scoring protocol when not the task's default (VOC), and its options
        self.protocol: str | None = None
        self.protocol_options: dict[str, Any] | None = None

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
    from visionbench.loaders.voc import VOCTarget, parse_voc_xml

    space = get_label_space("voc20")
    index = dict(zip(space.names, space.ids))
    samples = []
    for img, xml in zip(ds.images, ds.annotations):
        stem = Path(img).stem
        rec = parse_voc_xml(xml, image_id=stem)
        objs = rec["objects"]
        boxes = np.array([o["bbox"] for o in objs], np.float64).reshape(-1, 4)
        boxes[:, :2] -= 1.0  # 1-based inclusive -> 0-based continuous corners (as loaders/voc)
        target = VOCTarget(
            boxes=boxes,
            labels=np.array([index[o["name"]] for o in objs], np.int64),
            difficult=np.array([o["difficult"] for o in objs], bool),
            truncated=np.array([o["truncated"] for o in objs], bool),
            sample_id=stem,
        )
        ref = ImageRef(path=img, width=rec.get("width"), height=rec.get("height"))
        samples.append((stem, ref, target))
    split = str(getattr(ds, "image_set", "") or "")
    out = TorchvisionDataset(name, Task.DETECTION, space, split, str(ds.root), samples, {})
    year = str(getattr(ds, "year", ""))
    out.protocol = "voc"
    out.protocol_options = {"ap_method": "11point" if year == "2007" else "allpoint"}
    return out


def _is_identity(t: Any) -> bool:
    """torchvision wraps a None transform pair in ``StandardTransform(None, None)``."""
    return (
        type(t).__name__ == "StandardTransform"
        and t.transform is None
        and (t.target_transform is None)
    )
