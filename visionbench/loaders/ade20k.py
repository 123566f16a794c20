"""ADE20K SceneParsing (MIT scene-parsing benchmark, ``ADEChallengeData2016``), REFERENCE.md §9.

Layout (``root`` is ``ADEChallengeData2016/`` or the folder holding it)::

    ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_00000001.jpg
    ADEChallengeData2016/annotations/{training,validation}/ADE_..._00000001.png   uint8 0..150

20,210 training and 2,000 validation images. ``sample_id`` = the file stem
(``ADE_val_00000001``), samples sorted by it. Masks are the annotation PNGs **as
published**: 0 = "other" (not evaluated), 1..150 the classes. The label space ``ade150``
numbers the classes 0..149 (annotation value - 1), as the 150-channel models of
mmsegmentation predict them; the protocol (``semantic`` with ``reduce_zero_label``) maps
the ground truth the same way (0 -> ignored 255, v -> v - 1) when it scores, so
predictions are ``ade150`` ids.

Split names: ``validation`` / ``training`` (``val`` / ``train`` accepted). An image
without its annotation, or an annotation without its image, is reported by name
(refused, or dropped with a warning when ``drop_unpaired=True``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import get_label_space
from visionbench.loaders.verify import Problem
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.tasks import GroundTruth
from visionbench.types import ImageRef, Sample, SegmentationTarget, Task

__all__ = ["ADE20KSceneParsing", "ade20k_split", "find_ade20k_dir"]

_PUBLISHED = (
    "the official files are published at http://sceneparsing.csail.mit.edu/ "
    "(ADEChallengeData2016.zip)"
)
_SPLITS = {
    "val": "validation",
    "validation": "validation",
    "train": "training",
    "training": "training",
}
_SHOW = 10


class ADE20KSceneParsing:
    """One split of ADE20K SceneParsing with its annotation PNGs.

    Args:
        root: ``ADEChallengeData2016/`` or the folder holding it.
        split: ``validation`` (``val``) or ``training`` (``train``).
        name: the dataset's registry name (``ade20k``, ``ade20k-mini``).
        drop_unpaired: drop unpaired files (warning; listed in ``problems``) instead of
            refusing.
    """

    task = Task.SEMANTIC_SEGMENTATION

    def __init__(
        self,
        root: str | Path,
        split: str = "validation",
        *,
        name: str = "ade20k",
        drop_unpaired: bool = False,
    ) -> None:
        self.split = ade20k_split(split)
        self.name = name
        base = find_ade20k_dir(root, self.split)
        self.root = str(base)
        self.label_space = get_label_space("ade150")
        self.problems: list[Problem] = []
        img_dir = base / "images" / self.split
        ann_dir = base / "annotations" / self.split
        images = _scan(img_dir, ".jpg")
        anns = _scan(ann_dir, ".png")
        unpaired = sorted(set(images) ^ set(anns))
        if unpaired:
            desc = [f"{s} lacks its {'annotation' if s in images else 'image'}" for s in unpaired]
            shown = "; ".join(desc[:_SHOW]) + (
                f"; and {len(desc) - _SHOW} more" if len(desc) > _SHOW else ""
            )
            msg = f"{len(unpaired)} ADE20K files are unpaired under {img_dir} / {ann_dir}: {shown}"
            if not drop_unpaired:
                raise AnnotationError(
                    msg + "; pass drop_unpaired=True to drop them",
                    path=str(ann_dir),
                    id=unpaired[0],
                )
            warnings.warn(f"dropped {msg}", stacklevel=2)
            self.problems += [
                Problem("unpaired", d + "; dropped", s) for s, d in zip(unpaired, desc)
            ]
        stems = sorted(set(images) & set(anns))
        if not stems:
            raise DatasetNotFoundError(
                f"no ADE20K images with annotations under {img_dir} and {ann_dir}; {_PUBLISHED}"
            )
        self._items = [(s, images[s], anns[s]) for s in stems]

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Sample:
        stem, img, ann = self._items[i]
        mask = read_label_png(ann, single_channel=True)
        if mask.max(initial=0) > 150:
            raise AnnotationError(
                f"annotation values must be 0..150 (0 = other), found {int(mask.max())}",
                path=ann,
                id=stem,
            )
        return Sample(
            stem, ImageRef(path=img), SegmentationTarget(mask=mask, mask_path=ann, sample_id=stem)
        )

    def ground_truth(self) -> GroundTruth:
        """Paths only (nothing decoded): ``mask_path`` is the annotation PNG (values 0..150)."""
        return GroundTruth(
            self.task,
            self.label_space,
            [s for s, *_ in self._items],
            [SegmentationTarget(mask_path=a, sample_id=s) for s, _, a in self._items],
            files={"root": self.root, "gt": str(Path(self.root) / "annotations" / self.split)},
        )

    @property
    def stems(self) -> list[str]:
        """Sample ids in dataset order."""
        return [s for s, *_ in self._items]


def ade20k_split(split: str) -> str:
    """``val`` -> ``validation``, ``train`` -> ``training``.

    Raises:
        DatasetNotFoundError: an unknown split (the test images have no public annotations).
    """
    try:
        return _SPLITS[split]
    except KeyError:
        raise DatasetNotFoundError(
            f"unknown ADE20K split {split!r}; expected validation (val) or training (train)"
        ) from None


def find_ade20k_dir(root: str | Path, split: str = "validation") -> Path:
    """``ADEChallengeData2016/`` given it or the folder holding it.

    Raises:
        DatasetNotFoundError: neither holds ``images/<split>/`` and ``annotations/<split>/``.
    """
    r = Path(root).expanduser()
    for cand in (r, r / "ADEChallengeData2016"):
        if (cand / "images" / split).is_dir() and (cand / "annotations" / split).is_dir():
            return cand
    raise DatasetNotFoundError(
        f"ADE20K {split} not found under {r}: expected {r}/ADEChallengeData2016/images/{split}/*.jpg "
        f"and annotations/{split}/*.png (root may also be ADEChallengeData2016/ itself); {_PUBLISHED}"
    )


def _scan(folder: Path, suffix: str) -> dict[str, str]:
    return {f[: -len(suffix)]: str(folder / f) for f in os.listdir(folder) if f.endswith(suffix)}
