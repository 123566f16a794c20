"""ImageNet (ILSVRC2012) classification in its four published layouts, and ImageNetV2.

Class index = position of the WNID in the sorted list of the 1000 ILSVRC2012 WNIDs
(REFERENCE.md §4), label space ``imagenet1k`` (its names are the human-readable class
names); ``sample_id`` = the file stem (``ILSVRC2012_val_00000001``).

- :class:`ImageNetFolder`: ``<root>/<split>/<wnid>/*.JPEG`` (torchvision ``ImageNet``).
- :class:`ImageNetDevkit`: flat ``<root>/val/ILSVRC2012_val_*.JPEG`` (or
  ``ILSVRC2012_img_val/``) with ``ILSVRC2012_devkit_t12/data/`` ground truth + ``meta.mat``.
- :class:`ImageNetKaggle`: ``ILSVRC/Data/CLS-LOC/val/*.JPEG``, ``LOC_val_solution.csv``,
  ``LOC_synset_mapping.txt``.
- :class:`ImageNetV2`: folders ``0..999`` named by class index (``int(dirname)``).

Every layout accepts ``real_labels=<real.json>``: each target's ``labels`` is then the
ImageNet-ReaL set (an empty tuple marks an image ReaL drops).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import get_label_space
from visionbench.loaders import imagenet_devkit as devkit
from visionbench.tasks import GroundTruth
from visionbench.types import ClassificationTarget, ImageRef, Sample, Task

__all__ = [
    "ImageNetFolder",
    "ImageNetDevkit",
    "ImageNetKaggle",
    "ImageNetV2",
    "detect_layout",
    "LAYOUTS",
]

_EXTS = (".jpeg", ".jpg", ".png")
_PUBLISHED = "the official files are published at https://image-net.org/ (ILSVRC2012)"
LAYOUTS = ("folder", "devkit", "kaggle")
_DEVKIT = ("ILSVRC2012_devkit_t12", "data")
_KAGGLE_IMAGES = ("ILSVRC", "Data", "CLS-LOC")


class _ImageNetBase:
    """A list of ``(sample_id, image path, class index)`` plus optional ReaL labels."""

    task = Task.CLASSIFICATION

    def __init__(self, root: str | Path, split: str, name: str, items: list[tuple[str, str, int]],
                 real_labels: str | Path | None, files: dict[str, str]) -> None:  # fmt: skip
        self.root = str(root)
        self.split = split
        self.name = name
        self.label_space = get_label_space("imagenet1k")
        self._items = items
        self._files = files
        self._real: list[tuple[int, ...] | None] | None = None
        if real_labels is not None:
            self._real = _attach_real(items, real_labels)
            self._files["real_labels"] = str(real_labels)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> Sample:
        stem, path, _ = self._items[i]
        return Sample(stem, ImageRef(path=path), self._target(i))

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            [s for s, _, _ in self._items],
            [self._target(i) for i in range(len(self._items))],
            files=dict(self._files),
        )

    @property
    def class_names(self) -> tuple[str, ...]:
        """Human-readable names in class-index order."""
        return self.label_space.names

    def _target(self, i: int) -> ClassificationTarget:
        stem, _, label = self._items[i]
        labels = self._real[i] if self._real is not None else None
        return ClassificationTarget(label, labels=labels, sample_id=stem)


class ImageNetFolder(_ImageNetBase):
    """``root/<split>/<wnid>/<stem>.JPEG`` (torchvision ``ImageNet`` / ``ImageFolder``)."""

    def __init__(self, root: str | Path, split: str = "val", *, name: str = "imagenet",
                 real_labels: str | Path | None = None) -> None:  # fmt: skip
        split_dir = Path(root) / split
        if not split_dir.is_dir():
            raise DatasetNotFoundError(
                f"ImageNet split folder not found: {split_dir}. Expected layout "
                f"{root}/{split}/<wnid>/*.JPEG (the ILSVRC2012 validation images sorted into "
                f"WNID folders); {_PUBLISHED}"
            )
        index = devkit.wnid_index()
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
        super().__init__(root, split, name, items, real_labels, {"root": str(split_dir)})


class ImageNetDevkit(_ImageNetBase):
    """Flat validation images + the devkit's ground truth mapped through ``meta.mat``.

    Samples are the ground-truth file's lines (``ILSVRC2012_val_{i:08d}``, i = line); an
    image found under the image folder (flat, or one level of sub-folders) gives the path.
    Missing images are warned about with their count and reported by ``bench data verify``.
    """

    def __init__(self, root: str | Path, split: str = "val", *, name: str = "imagenet",
                 real_labels: str | Path | None = None, image_dir: str | Path | None = None) -> None:  # fmt: skip
        if split != "val":
            raise DatasetNotFoundError(
                f"the devkit layout has ground truth for split 'val' only, not {split!r}"
            )
        data = Path(root).joinpath(*_DEVKIT)
        gt_path = data / "ILSVRC2012_validation_ground_truth.txt"
        meta_path = data / "meta.mat"
        for p in (gt_path, meta_path):
            if not p.is_file():
                raise DatasetNotFoundError(
                    f"ImageNet devkit file not found: {p}. Expected layout {root}/val/ILSVRC2012_val_"
                    f"XXXXXXXX.JPEG and {data}/{{ILSVRC2012_validation_ground_truth.txt,meta.mat}} "
                    f"(ILSVRC2012_devkit_t12.tar.gz); {_PUBLISHED}"
                )
        synsets = devkit.read_meta_mat(meta_path)
        labels = devkit.read_devkit_ground_truth(gt_path, meta_path, synsets)
        img_dir = Path(image_dir) if image_dir else _first_dir(root, ["val", "ILSVRC2012_img_val"])
        found = _index_images(img_dir)
        _check_ground_truth_covers(found, len(labels), gt_path, img_dir)
        items = []
        for i, label in enumerate(labels, 1):
            stem = f"ILSVRC2012_val_{i:08d}"
            items.append((stem, found.get(stem, str(img_dir / f"{stem}.JPEG")), label))
        _warn_missing(len(labels) - sum(s in found for s, _, _ in items), len(labels), img_dir)
        self.synset_words = {w: words for w, words in synsets.values()}
        files = {"ground_truth": str(gt_path), "meta": str(meta_path), "root": str(img_dir)}
        super().__init__(root, split, name, items, real_labels, files)


class ImageNetKaggle(_ImageNetBase):
    """The Kaggle ImageNet Object Localization layout (``LOC_val_solution.csv``).

    Samples are the solution's rows, sorted by ImageId.
    """

    def __init__(self, root: str | Path, split: str = "val", *, name: str = "imagenet",
                 real_labels: str | Path | None = None, image_dir: str | Path | None = None) -> None:  # fmt: skip
        sol = Path(root) / f"LOC_{split}_solution.csv"
        if not sol.is_file():
            raise DatasetNotFoundError(
                f"Kaggle ImageNet solution file not found: {sol}. Expected layout {root}/"
                f"LOC_{split}_solution.csv, {root}/LOC_synset_mapping.txt and images in "
                f"{root}/ILSVRC/Data/CLS-LOC/{split}/ (Kaggle competition "
                "'imagenet-object-localization-challenge'); " + _PUBLISHED
            )
        labels = devkit.read_kaggle_solution(sol)
        mapping = Path(root) / "LOC_synset_mapping.txt"
        self.synset_words = devkit.read_synset_mapping(mapping) if mapping.is_file() else {}
        img_dir = Path(image_dir) if image_dir else _first_dir(
            root, [os.path.join(*_KAGGLE_IMAGES, split), split]
        )  # fmt: skip
        found = _index_images(img_dir)
        unlisted = sorted(s for s in found if s not in labels and devkit.val_number(s) is not None)
        if unlisted:  # a short solution file would otherwise score only the rows it has
            raise AnnotationError(
                f"{len(unlisted)} validation images in {img_dir} have no row in the solution "
                f"file ({len(labels)} rows; first: {unlisted[0]})",
                path=str(sol), field="ImageId", id=unlisted[0],
            )  # fmt: skip
        items = [(s, found.get(s, str(img_dir / f"{s}.JPEG")), labels[s]) for s in sorted(labels)]
        _warn_missing(sum(s not in found for s in labels), len(labels), img_dir)
        files = {"solution": str(sol), "root": str(img_dir)}
        super().__init__(root, split, name, items, real_labels, files)


class ImageNetV2(_ImageNetBase):
    """ImageNetV2 (``imagenetv2-matched-frequency-format-val`` and siblings): folders
    ``0..999`` named by class index, read as ``int(dirname)`` (never a string sort).

    ``sample_id`` = ``"<class>/<stem>"`` (stems repeat across classes).
    """

    def __init__(
        self, root: str | Path, split: str = "matched-frequency", *, name: str = "imagenetv2"
    ) -> None:
        base = Path(root)
        variant = base / f"imagenetv2-{split}-format-val"
        if not (base / "0").is_dir() and variant.is_dir():
            base = variant
        dirs = [d for d in os.listdir(base) if (base / d).is_dir()] if base.is_dir() else []
        if not dirs:
            raise DatasetNotFoundError(
                f"ImageNetV2 folders not found under {base}. Expected layout {root}/0/ .. {root}/999/ "
                "(or <root>/imagenetv2-<variant>-format-val/<class index>/*.jpeg); the official "
                "files are published at https://github.com/modestyachts/ImageNetV2"
            )
        items = []
        for d in sorted(dirs, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s)):
            if not d.isdigit() or not 0 <= int(d) < 1000:
                raise AnnotationError(
                    "folder name is not a class index 0..999", path=str(base / d), id=d
                )
            for f in sorted(os.listdir(base / d)):
                if f.lower().endswith(_EXTS):
                    items.append((f"{int(d)}/{Path(f).stem}", str(base / d / f), int(d)))
        super().__init__(root, split, name, items, None, {"root": str(base)})


def detect_layout(root: str | Path, split: str = "val") -> str:
    """``folder``, ``kaggle`` or ``devkit``, from what is under ``root`` (in that order).

    Raises:
        DatasetNotFoundError: none of the three layouts is there; the message describes each.
    """
    r = Path(root)
    split_dir = r / split
    if split_dir.is_dir() and any(
        d.startswith("n") and (split_dir / d).is_dir() for d in os.listdir(split_dir)
    ):
        return "folder"
    if (r / f"LOC_{split}_solution.csv").is_file():
        return "kaggle"
    if r.joinpath(*_DEVKIT, "ILSVRC2012_validation_ground_truth.txt").is_file():
        return "devkit"
    raise DatasetNotFoundError(
        f"no ImageNet layout recognised under {r}. Expected one of: folder ({r}/{split}/<wnid>/"
        f"*.JPEG); kaggle ({r}/LOC_{split}_solution.csv + {r}/ILSVRC/Data/CLS-LOC/{split}/); "
        f"devkit ({r}/val/ILSVRC2012_val_*.JPEG + {r}/ILSVRC2012_devkit_t12/data/"
        f"ILSVRC2012_validation_ground_truth.txt and meta.mat); {_PUBLISHED}"
    )


# ---------------------------------------------------------------------------------------


def _attach_real(
    items: list[tuple[str, str, int]], path: str | Path
) -> list[tuple[int, ...] | None]:
    real = devkit.read_real_labels(path)
    out: list[tuple[int, ...] | None] = []
    for stem, _, _ in items:
        n = devkit.val_number(stem)
        if n is None or n > len(real):
            raise AnnotationError(
                f"no ReaL labels for {stem!r} ({len(real)} entries, for ILSVRC2012_val_00000001 "
                f"..{len(real):08d})",
                path=str(path), id=stem,
            )  # fmt: skip
        out.append(real[n - 1])
    return out


def _first_dir(root: str | Path, names: list[str]) -> Path:
    cands = [Path(root) / n for n in names]
    return next((p for p in cands if p.is_dir()), cands[0])


def _index_images(img_dir: Path) -> dict[str, str]:
    """stem -> path of the images in ``img_dir`` and its direct sub-folders."""
    found: dict[str, str] = {}
    if not img_dir.is_dir():
        return found
    with os.scandir(img_dir) as it:
        for e in it:
            if e.is_dir():
                with os.scandir(e.path) as sub:
                    for f in sub:
                        if f.name.lower().endswith(_EXTS):
                            found[os.path.splitext(f.name)[0]] = f.path
            elif e.name.lower().endswith(_EXTS):
                found[os.path.splitext(e.name)[0]] = e.path
    return found


def _check_ground_truth_covers(
    found: dict[str, str], n_labels: int, gt_path: Path, img_dir: Path
) -> None:
    """Every ``ILSVRC2012_val_N`` image has a line N in the ground truth: a short file would
    otherwise score only the images it covers, without a word."""
    numbers = [n for n in map(devkit.val_number, found) if n is not None]
    beyond = [n for n in numbers if n > n_labels]
    if beyond:
        first = min(beyond)
        raise AnnotationError(
            f"the ground truth has {n_labels} lines but {len(beyond)} validation images in "
            f"{img_dir} have no line (first: ILSVRC2012_val_{first:08d}; expected one line per "
            f"image, {max(numbers)} lines)",
            path=str(gt_path), field="lines", id=f"ILSVRC2012_val_{first:08d}",
        )  # fmt: skip


def _warn_missing(missing: int, total: int, img_dir: Path) -> None:
    if missing:
        warnings.warn(
            f"{missing} of {total} ImageNet validation images are missing from {img_dir} "
            "(`bench data verify` lists them)",
            stacklevel=3,
        )
