"""Cityscapes semantic segmentation (``leftImg8bit`` + ``gtFine``), REFERENCE.md §3.

Layout::

    <root>/leftImg8bit/<split>/<city>/<city>_<seq:06>_<frame:06>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq:06>_<frame:06>_gtFine_labelIds.png
                                                              _gtFine_instanceIds.png
                                                              _gtFine_labelTrainIds.png  (optional)

``sample_id`` = the frame name (``frankfurt_000000_000294``), samples sorted by it.
Label space ``cityscapes34`` (labelIds 0..33, the evaluation protocol's ids); with
``label_space="cityscapes19"`` masks hold trainIds 0..18 and 255 for ignored pixels,
mapped from labelIds through :func:`~visionbench.label_spaces.label_map`. ``instances``
holds the instanceIds image (``labelId*1000+k`` for instances, plain labelId otherwise).

:meth:`CityscapesSemantic.__getitem__` decodes the masks; :meth:`ground_truth` gives only
file paths. An image without its ground truth, or ground truth without its image, is
reported by name (refused, or dropped with a warning when ``drop_unpaired=True``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import IGNORE, get_label_space, label_map
from visionbench.loaders.verify import Problem
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.tasks import GroundTruth
from visionbench.types import ImageRef, Sample, SegmentationTarget, Task

__all__ = ["CityscapesSemantic", "labelids_to_trainids"]

_IMG = "_leftImg8bit.png"
_PUBLISHED = (
    "the official files are published at https://www.cityscapes-dataset.com/downloads/ "
    "(leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip; registration required)"
)
_SHOW = 10


class CityscapesSemantic:
    """Cityscapes frames of one split with their fine (or coarse) ground truth.

    Args:
        root: the folder holding ``leftImg8bit/`` and ``gtFine/``.
        split: ``train``, ``val`` or ``test``.
        label_space: ``cityscapes34`` (labelIds) or ``cityscapes19`` (trainIds).
        instances: also load ``instanceIds`` (needed for iIoU).
        annotation: ``gtFine`` or ``gtCoarse``.
        cities: restrict to these cities.
        drop_unpaired: drop frames missing their image or their ground truth (warning with
            the names; listed in ``problems``) instead of refusing.
    """

    task = Task.SEMANTIC_SEGMENTATION

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        *,
        name: str = "cityscapes",
        label_space: str = "cityscapes34",
        instances: bool = True,
        annotation: str = "gtFine",
        cities: list[str] | None = None,
        drop_unpaired: bool = False,
    ) -> None:
        if label_space not in ("cityscapes34", "cityscapes19"):
            raise AnnotationError(
                f"label_space must be 'cityscapes34' or 'cityscapes19', got {label_space!r}"
            )
        self.root, self.split, self.name = str(root), split, name
        self.label_space = get_label_space(label_space)
        #: how it is scored: the Cityscapes protocol on labelIds; trainIds (255 = ignored)
        #: by confusion matrix (:mod:`visionbench.protocols`)
        self.protocol = "cityscapes" if label_space == "cityscapes34" else "semantic"
        self.protocol_options = {} if label_space == "cityscapes34" else {"ignore_index": IGNORE}
        self.instances = instances
        self.annotation = annotation
        self.problems: list[Problem] = []
        img_root = Path(root) / "leftImg8bit" / split
        gt_root = Path(root) / annotation / split
        if not img_root.is_dir() or not gt_root.is_dir():
            raise DatasetNotFoundError(
                f"Cityscapes folders not found: {img_root if not img_root.is_dir() else gt_root}. "
                f"Expected layout {root}/leftImg8bit/{split}/<city>/<frame>_leftImg8bit.png and "
                f"{root}/{annotation}/{split}/<city>/<frame>_{annotation}_labelIds.png "
                f"(+ _instanceIds.png); {_PUBLISHED}"
            )
        suffixes = {"labelIds": f"_{annotation}_labelIds.png"}
        if instances:
            suffixes["instanceIds"] = f"_{annotation}_instanceIds.png"
        images = _scan(img_root, _IMG, cities)
        gts = {k: _scan(gt_root, s, cities) for k, s in suffixes.items()}
        frames = sorted(set(images).union(*gts.values()))
        bad: dict[str, list[str]] = {}
        for f in frames:
            missing = (["leftImg8bit"] if f not in images else []) + [
                k for k in gts if f not in gts[k]
            ]
            if missing:
                bad[f] = missing
        if bad:
            self._report_unpaired(bad, img_root, gt_root, drop_unpaired)
        self._frames = [
            (f, images[f], gts["labelIds"][f], gts["instanceIds"][f] if instances else None)
            for f in frames
            if f not in bad
        ]
        if not self._frames:
            raise DatasetNotFoundError(
                f"no Cityscapes frames with ground truth under {img_root} and {gt_root}; {_PUBLISHED}"
            )
        self._lut = _trainid_lut() if label_space == "cityscapes19" else None

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> Sample:
        frame, img, lbl, inst = self._frames[i]
        mask = read_label_png(lbl, single_channel=True)
        if self._lut is not None:
            mask = self._lut[mask]
        instances = read_label_png(inst, single_channel=True) if inst is not None else None
        target = SegmentationTarget(
            mask=mask,
            instances=instances,
            mask_path=self._gt_path(lbl),
            instances_path=inst,
            sample_id=frame,
        )
        return Sample(frame, ImageRef(path=img), target, meta={"city": frame.split("_")[0]})

    def ground_truth(self) -> GroundTruth:
        """Paths only (nothing decoded): ``mask_path`` is the labelIds PNG, or for
        ``cityscapes19`` the labelTrainIds PNG (which must exist: it is made by
        cityscapesScripts' ``csCreateTrainIdLabelImgs``)."""
        targets = [
            SegmentationTarget(
                mask_path=self._gt_path(lbl, strict=True) or lbl, instances_path=inst, sample_id=f
            )
            for f, _, lbl, inst in self._frames
        ]
        return GroundTruth(
            self.task,
            self.label_space,
            [f for f, *_ in self._frames],
            targets,
            files={"root": self.root, "gt": str(Path(self.root) / self.annotation / self.split)},
        )

    @property
    def frames(self) -> list[str]:
        """Frame names in dataset order."""
        return [f for f, *_ in self._frames]

    def _gt_path(self, label_ids_path: str, strict: bool = False) -> str | None:
        if self._lut is None:
            return label_ids_path
        train = label_ids_path[: -len("_labelIds.png")] + "_labelTrainIds.png"
        if strict and not os.path.exists(train):
            raise AnnotationError(
                "cityscapes19 bulk ground truth needs the labelTrainIds PNGs (run cityscapesScripts' "
                "csCreateTrainIdLabelImgs), or use label_space='cityscapes34' (the evaluation "
                "protocol's labelIds)",
                path=train,
            )
        return train if os.path.exists(train) else None

    def _report_unpaired(
        self, bad: dict[str, list[str]], img_root: Path, gt_root: Path, drop: bool
    ) -> None:
        names = sorted(bad)
        shown = "; ".join(f"{f} lacks {', '.join(bad[f])}" for f in names[:_SHOW])
        more = f"; and {len(names) - _SHOW} more" if len(names) > _SHOW else ""
        msg = f"{len(names)} Cityscapes frames are unpaired under {img_root} / {gt_root}: {shown}{more}"
        if not drop:
            raise AnnotationError(
                msg + "; pass drop_unpaired=True to drop them", path=str(gt_root), id=names[0]
            )
        warnings.warn(f"dropped {msg}", stacklevel=3)
        for f in names:
            self.problems.append(
                Problem("unpaired", f"frame lacks {', '.join(bad[f])}; dropped", f)
            )


def labelids_to_trainids(mask: np.ndarray) -> np.ndarray:
    """Map a labelIds mask [H, W] to trainIds (0..18, 255 ignored) via the 34->19 map."""
    return _trainid_lut()[np.asarray(mask)]


def _trainid_lut() -> np.ndarray:
    lut = np.full(256, IGNORE, np.uint8)
    for src, dst in label_map("cityscapes34", "cityscapes19").table.items():
        lut[src] = dst
    return lut


def _scan(root: Path, suffix: str, cities: list[str] | None) -> dict[str, str]:
    """frame name -> path of the files ending in ``suffix`` under ``root/<city>/``."""
    out: dict[str, str] = {}
    for city in sorted(os.listdir(root)):
        d = root / city
        if not d.is_dir() or (cities is not None and city not in cities):
            continue
        for f in os.listdir(d):
            if f.endswith(suffix):
                out[f[: -len(suffix)]] = str(d / f)
    return out
