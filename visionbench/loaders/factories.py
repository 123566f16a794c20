"""Factories for the real datasets: ``(root=None, split=..., **options) -> Dataset``.

Each finds its folder with :func:`visionbench.loaders.roots.find_root` (``--data-root``,
``$VISIONBENCH_DATA``, the config file), then builds the loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.errors import DatasetNotFoundError
from visionbench.loaders.ade20k import ADE20KSceneParsing
from visionbench.loaders.cityscapes import CityscapesSemantic
from visionbench.loaders.coco import (
    COCOCaptions,
    COCODetection,
    COCOKeypoints,
    coco_annotation_file,
    coco_image_dir,
)
from visionbench.loaders.imagenet import (
    ImageNetDevkit,
    ImageNetFolder,
    ImageNetKaggle,
    ImageNetV2,
    detect_layout,
)
from visionbench.loaders.roots import find_root
from visionbench.loaders.voc import VOCDetection

__all__ = [
    "coco",
    "coco_captions",
    "coco_keypoints",
    "lvis",
    "yolo",
    "imagenet",
    "imagenetv2",
    "cityscapes",
    "voc2007",
    "voc2012",
    "ade20k",
    "coco_split",
]

# ---------------------------------------------------------------------------------------
# Factories: (root=None, split=..., **options) -> Dataset


def coco_split(split: str, year: int | str = 2017) -> str:
    """``val`` -> ``val2017`` (``year`` 2014 or 2017); ``val2014`` stays."""
    return split if split[-4:].isdigit() else f"{split}{year}"


def coco(root: str | Path | None = None, split: str = "val2017", *, year: int = 2017,
         masks: bool = False, drop_dangling: bool = False) -> COCODetection:  # fmt: skip
    """COCO instances (detection, with masks on request)."""
    r, s = find_root("coco", root), coco_split(split, year)
    return COCODetection(coco_annotation_file(r, s), coco_image_dir(r, s), name="coco", split=s,
                         masks=masks, drop_dangling=drop_dangling)  # fmt: skip


def coco_captions(root: str | Path | None = None, split: str = "val2017", *, year: int = 2017,
                  drop_dangling: bool = False) -> COCOCaptions:  # fmt: skip
    """COCO captions."""
    r, s = find_root("coco", root), coco_split(split, year)
    return COCOCaptions(coco_annotation_file(r, s, "captions"), coco_image_dir(r, s), name="coco-captions",
                        split=s, drop_dangling=drop_dangling)  # fmt: skip


def coco_keypoints(root: str | Path | None = None, split: str = "val2017", *, year: int = 2017,
                   drop_dangling: bool = False) -> COCOKeypoints:  # fmt: skip
    """COCO person keypoints."""
    r, s = find_root("coco", root), coco_split(split, year)
    return COCOKeypoints(coco_annotation_file(r, s, "keypoints"), coco_image_dir(r, s), name="coco-keypoints",
                         split=s, drop_dangling=drop_dangling)  # fmt: skip


def lvis(root: str | Path | None = None, split: str = "val", *, masks: bool = False,
         image_root: str | Path | None = None) -> Any:  # fmt: skip
    """LVIS v1 (federated detection / instance segmentation) over the COCO 2017 images."""
    from visionbench.loaders.lvis import LVISDetection, lvis_annotation_file

    r = find_root("lvis", root)
    images = Path(image_root).expanduser() if image_root is not None else r
    return LVISDetection(lvis_annotation_file(r, split), images, name="lvis", split=split,
                         masks=masks)  # fmt: skip


def yolo(root: str | Path | None = None, split: str = "val") -> Any:
    """An ultralytics detection dataset from its data.yaml (``root``: the yaml or its folder)."""
    from visionbench.loaders.yolo import YOLODetection, find_data_yaml

    if root is not None and Path(root).expanduser().is_file():
        return YOLODetection(Path(root).expanduser(), split)
    return YOLODetection(find_data_yaml(find_root("yolo", root)), split)


def imagenet(root: str | Path | None = None, split: str = "val", *, layout: str = "auto",
             real_labels: str | Path | None = None) -> ImageNetFolder | ImageNetDevkit | ImageNetKaggle:  # fmt: skip
    """ImageNet in the ``folder``, ``devkit`` or ``kaggle`` layout (``auto``: detected)."""
    r = find_root("imagenet", root)
    kind = detect_layout(r, split) if layout == "auto" else layout
    classes = {"folder": ImageNetFolder, "devkit": ImageNetDevkit, "kaggle": ImageNetKaggle}
    if kind not in classes:
        raise DatasetNotFoundError(
            f"unknown ImageNet layout {layout!r}; expected auto, folder, devkit or kaggle"
        )
    return classes[kind](r, split, real_labels=real_labels)


def imagenetv2(root: str | Path | None = None, split: str = "matched-frequency") -> ImageNetV2:
    """ImageNetV2 (``matched-frequency``, ``threshold0.7``, ``top-images``)."""
    return ImageNetV2(find_root("imagenetv2", root), split)


def cityscapes(root: str | Path | None = None, split: str = "val", *, label_space: str = "cityscapes34",
               instances: bool = True, drop_unpaired: bool = False) -> CityscapesSemantic:  # fmt: skip
    """Cityscapes fine annotations (labelIds, or trainIds with ``label_space="cityscapes19"``)."""
    return CityscapesSemantic(find_root("cityscapes", root), split, label_space=label_space,
                              instances=instances, drop_unpaired=drop_unpaired)  # fmt: skip


def voc2007(root: str | Path | None = None, split: str = "test", *,
            drop_unpaired: bool = False) -> VOCDetection:  # fmt: skip
    """Pascal VOC2007 detection (``test``: 4,952 images; ``trainval``, ``train``, ``val``)."""
    return VOCDetection(find_root("voc2007", root), split, year=2007, name="voc2007",
                        drop_unpaired=drop_unpaired)  # fmt: skip


def voc2012(root: str | Path | None = None, split: str = "val", *,
            drop_unpaired: bool = False) -> VOCDetection:  # fmt: skip
    """Pascal VOC2012 detection (``val``: 5,823 images; ``train``, ``trainval``; the test
    annotations are not public)."""
    return VOCDetection(find_root("voc2012", root), split, year=2012, name="voc2012",
                        drop_unpaired=drop_unpaired)  # fmt: skip


def ade20k(root: str | Path | None = None, split: str = "validation", *,
           drop_unpaired: bool = False) -> ADE20KSceneParsing:  # fmt: skip
    """ADE20K SceneParsing (``validation``: 2,000 images; ``training``: 20,210)."""
    return ADE20KSceneParsing(find_root("ade20k", root), split, name="ade20k",
                              drop_unpaired=drop_unpaired)  # fmt: skip
