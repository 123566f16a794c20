"""The built-in mini datasets: generated on first use into the cache
(:func:`visionbench.synth.ensure`), then loaded through the same loaders as the real
datasets. A ``root`` argument reads a copy written elsewhere (``bench data synth NAME --out DIR``).
"""

from __future__ import annotations

from pathlib import Path

from visionbench.loaders.ade20k import ADE20KSceneParsing
from visionbench.loaders.cityscapes import CityscapesSemantic
from visionbench.loaders.coco import (
    COCOCaptions,
    COCODetection,
    coco_annotation_file,
    coco_image_dir,
)
from visionbench.loaders.imagenet import ImageNetFolder
from visionbench.loaders.voc import VOCDetection

__all__ = [
    "imagenet_mini",
    "coco_mini",
    "coco_mini_captions",
    "cityscapes_mini",
    "voc_mini",
    "ade20k_mini",
]


def _root(name: str, root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    from visionbench import synth

    return synth.ensure(name)


def imagenet_mini(root: str | Path | None = None, split: str = "val") -> ImageNetFolder:
    """imagenet-mini in the ``<split>/<wnid>/`` layout."""
    return ImageNetFolder(_root("imagenet-mini", root), split, name="imagenet-mini")


def coco_mini(
    root: str | Path | None = None, split: str = "val2017", *, masks: bool = False
) -> COCODetection:
    """coco-mini instances (``annotations/instances_val2017.json``, ``val2017/*.jpg``)."""
    r = _root("coco-mini", root)
    return COCODetection(coco_annotation_file(r, split), coco_image_dir(r, split), name="coco-mini",
                         split=split, masks=masks)  # fmt: skip


def coco_mini_captions(root: str | Path | None = None, split: str = "val2017") -> COCOCaptions:
    """coco-mini captions (``annotations/captions_val2017.json``)."""
    r = _root("coco-mini", root)
    return COCOCaptions(coco_annotation_file(r, split, "captions"), coco_image_dir(r, split),
                        name="coco-mini-captions", split=split)  # fmt: skip


def cityscapes_mini(root: str | Path | None = None, split: str = "val", *,
                    label_space: str = "cityscapes34") -> CityscapesSemantic:  # fmt: skip
    """cityscapes-mini (``leftImg8bit/`` and ``gtFine/`` with labelIds and instanceIds)."""
    return CityscapesSemantic(_root("cityscapes-mini", root), split, name="cityscapes-mini",
                              label_space=label_space)  # fmt: skip


def voc_mini(
    root: str | Path | None = None, split: str = "test", *, year: int = 2007
) -> VOCDetection:
    """voc-mini in the devkit layout (``VOCdevkit/VOC2007`` test/trainval, ``VOC2012`` val/train).

    Scored like the real year: VOC2007's 11-point AP, VOC2012's all-point AP."""
    return VOCDetection(_root("voc-mini", root), split, year=year, name="voc-mini")


def ade20k_mini(root: str | Path | None = None, split: str = "validation") -> ADE20KSceneParsing:
    """ade20k-mini (``ADEChallengeData2016/images|annotations/{training,validation}``)."""
    return ADE20KSceneParsing(_root("ade20k-mini", root), split, name="ade20k-mini")
