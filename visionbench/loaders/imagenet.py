"""ImageNet (ILSVRC2012) classification: the reorganised ``<split>/<wnid>/*.JPEG`` layout.

Class index = position of the WNID in the sorted list of the 1000 ILSVRC2012 WNIDs
(REFERENCE.md §4), label space ``imagenet1k``; ``sample_id`` = the file stem
(``ILSVRC2012_val_00000001``).
"""

from __future__ import annotations

import os
from pathlib import Path

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import get_label_space, imagenet_wnids
from visionbench.tasks import GroundTruth
from visionbench.types import ClassificationTarget, ImageRef, Sample, Task

__all__ = ["ImageNetFolder"]

_EXTS = (".jpeg", ".jpg", ".png")


class ImageNetFolder:
    """``root/<split>/<wnid>/<stem>.JPEG`` (torchvision ``ImageNet`` / ``ImageFolder``)."""

    task = Task.CLASSIFICATION

    def __init__(self, root: str | Path, split: str = "val", *, name: str = "imagenet") -> None:
        self.root = str(root)
        self.split = split
        self.name = name
        self.label_space = get_label_space("imagenet1k")
        split_dir = Path(root) / split
        if not split_dir.is_dir():
            raise DatasetNotFoundError(
                f"ImageNet split folder not found: {split_dir}. Expected layout "
                f"{root}/{split}/<wnid>/*.JPEG (the ILSVRC2012 validation images sorted into "
                "WNID folders; the official files are published at https://image-net.org/)"
            )
        index = {w: i for i, w in enumerate(imagenet_wnids())}
        items: list[tuple[str, str, int]] = []
        for wnid in sorted(os.listdir(split_dir)):
            d = split_dir / wnid
            if not d.is_dir():
                continue
            if wnid not in index:
                raise AnnotationError(
                    "folder name is not an ILSVRC2012 WNID", path=str(d), field="wnid", id=wnid
                )
            for f in sorted(os.listdir(d)):
                if f.lower().endswith(_EXTS):
                    items.append((Path(f).stem, str(d / f), index[wnid]))
        if not items:
            raise DatasetNotFoundError(f"no images under {split_dir}/<wnid>/")
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Sample:
        stem, path, label = self._items[i]
        return Sample(stem, ImageRef(path=path), ClassificationTarget(label, sample_id=stem))

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            [s for s, _, _ in self._items],
            [ClassificationTarget(lbl, sample_id=s) for s, _, lbl in self._items],
            files={"root": str(Path(self.root) / self.split)},
        )
