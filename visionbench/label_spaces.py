"""Named label spaces and the explicit maps between them.

A :class:`LabelSpace` is a named, ordered list of classes with the ids a dataset or a model
uses for them. ``coco91`` uses the COCO category ids (1..90 with gaps) that the annotation
files carry; ``coco80`` the contiguous indices 0..79 most detectors output. Maps between
spaces are explicit tables (:func:`label_map`); nothing is ever guessed by name.

Built-in spaces: ``coco80``, ``coco91``, ``imagenet1k``, ``cityscapes34``, ``cityscapes19``,
``vg150``, ``vg150_predicates``, ``voc20`` (Pascal VOC detection, ids 1..20), ``ade150``
(ADE20K SceneParsing, ids 0..149 = annotation value - 1), and ``text`` (no classes:
captioning). Their class lists are package data under
``visionbench/data/`` with their provenance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from visionbench.errors import LabelSpaceError

__all__ = [
    "LabelSpace",
    "LabelMap",
    "get_label_space",
    "label_map",
    "label_space_names",
    "IGNORE",
    "CITYSCAPES_LABELS",
    "VOC_CLASSES",
    "COCO_TO_VOC",
]

#: Target value for classes a map drops (Cityscapes' 255 "ignore").
IGNORE = 255


@dataclass(frozen=True)
class LabelSpace:
    """A named, ordered list of classes.

    Attributes:
        name: registry name, e.g. ``"coco91"``.
        names: class names, in order.
        ids: the id used for each class in ``names`` (same length). For contiguous spaces
            this is ``0..C-1``; for ``coco91`` the COCO category ids.
    """

    name: str
    names: tuple[str, ...]
    ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.ids:
            object.__setattr__(self, "ids", tuple(range(len(self.names))))
        if len(self.ids) != len(self.names):
            raise LabelSpaceError(
                f"label space {self.name!r}: {len(self.names)} names but {len(self.ids)} ids"
            )
        if len(set(self.ids)) != len(self.ids):
            raise LabelSpaceError(f"label space {self.name!r}: duplicate ids")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def contiguous(self) -> bool:
        """True when ids are exactly ``0..C-1``."""
        return self.ids == tuple(range(len(self.names)))

    def name_of(self, class_id: int) -> str:
        """The class name of ``class_id`` (an id of this space)."""
        try:
            return self.names[self._index()[int(class_id)]]
        except KeyError:
            raise LabelSpaceError(
                f"id {class_id} is not in label space {self.name!r} "
                f"(ids {min(self.ids)}..{max(self.ids)}, {len(self)} classes)"
            ) from None

    def index_of(self, class_id: int) -> int:
        """Position of ``class_id`` in this space's order."""
        idx = self._index().get(int(class_id))
        if idx is None:
            raise LabelSpaceError(f"id {class_id} is not in label space {self.name!r}")
        return idx

    def check_ids(self, ids: np.ndarray, *, what: str = "labels") -> None:
        """Raise :class:`LabelSpaceError` naming the first ids not in this space."""
        arr = np.asarray(ids).ravel()
        if arr.size == 0:
            return
        bad = np.setdiff1d(np.unique(arr), np.asarray(self.ids))
        if bad.size:
            raise LabelSpaceError(
                f"{what} contain ids not in label space {self.name!r}: "
                f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''}"
            )

    def _index(self) -> dict[int, int]:
        return _index_of(self)


@cache
def _index_of(space: LabelSpace) -> dict[int, int]:
    return {cid: i for i, cid in enumerate(space.ids)}


@dataclass(frozen=True)
class LabelMap:
    """An explicit map from the ids of one space to the ids of another.

    ``table[source_id] = target_id``; ids mapped to :data:`IGNORE` are dropped by the target.
    """

    source: str
    target: str
    table: dict[int, int]

    def apply(self, ids: np.ndarray) -> np.ndarray:
        """Map an integer array elementwise; unknown ids raise :class:`LabelSpaceError`."""
        arr = np.asarray(ids)
        if arr.size == 0:
            return arr.astype(np.int64)
        lo = min(min(self.table), int(arr.min()))
        hi = max(max(self.table), int(arr.max()))
        lut = np.full(hi - lo + 1, -(2**31), dtype=np.int64)
        for k, v in self.table.items():
            lut[k - lo] = v
        out = lut[arr.astype(np.int64) - lo]
        if (out == -(2**31)).any():
            bad = np.unique(arr[out == -(2**31)])[:10].tolist()
            raise LabelSpaceError(
                f"ids {bad} of {self.source!r} have no entry in the map to {self.target!r}"
            )
        return out


# ---------------------------------------------------------------------------------------
# Built-in spaces


def _data(name: str) -> str:
    return resources.files("visionbench").joinpath("data", name).read_text(encoding="utf-8")


def _coco91() -> LabelSpace:
    cats = json.loads(_data("coco_categories.json"))["categories"]
    return LabelSpace("coco91", tuple(c["name"] for c in cats), tuple(c["id"] for c in cats))


def _coco80() -> LabelSpace:
    return LabelSpace("coco80", _coco91().names)


def _imagenet1k() -> LabelSpace:
    rows = [line.split("\t") for line in _data("imagenet1k_classes.tsv").splitlines()[1:]]
    return LabelSpace("imagenet1k", tuple(r[2] for r in rows))


def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC2012 WNIDs in sorted order (index = PyTorch class index)."""
    rows = [line.split("\t") for line in _data("imagenet1k_classes.tsv").splitlines()[1:]]
    return tuple(r[1] for r in rows)


#: Cityscapes labels (cityscapesScripts ``labels.py``): (name, id, trainId, category,
#: hasInstances, ignoreInEval). License plate (id -1) is left out: it never occurs in
#: labelIds images.
CITYSCAPES_LABELS: tuple[tuple[str, int, int, str, bool, bool], ...] = (
    ("unlabeled", 0, 255, "void", False, True),
    ("ego vehicle", 1, 255, "void", False, True),
    ("rectification border", 2, 255, "void", False, True),
    ("out of roi", 3, 255, "void", False, True),
    ("static", 4, 255, "void", False, True),
    ("dynamic", 5, 255, "void", False, True),
    ("ground", 6, 255, "void", False, True),
    ("road", 7, 0, "flat", False, False),
    ("sidewalk", 8, 1, "flat", False, False),
    ("parking", 9, 255, "flat", False, True),
    ("rail track", 10, 255, "flat", False, True),
    ("building", 11, 2, "construction", False, False),
    ("wall", 12, 3, "construction", False, False),
    ("fence", 13, 4, "construction", False, False),
    ("guard rail", 14, 255, "construction", False, True),
    ("bridge", 15, 255, "construction", False, True),
    ("tunnel", 16, 255, "construction", False, True),
    ("pole", 17, 5, "object", False, False),
    ("polegroup", 18, 255, "object", False, True),
    ("traffic light", 19, 6, "object", False, False),
    ("traffic sign", 20, 7, "object", False, False),
    ("vegetation", 21, 8, "nature", False, False),
    ("terrain", 22, 9, "nature", False, False),
    ("sky", 23, 10, "sky", False, False),
    ("person", 24, 11, "human", True, False),
    ("rider", 25, 12, "human", True, False),
    ("car", 26, 13, "vehicle", True, False),
    ("truck", 27, 14, "vehicle", True, False),
    ("bus", 28, 15, "vehicle", True, False),
    ("caravan", 29, 255, "vehicle", True, True),
    ("trailer", 30, 255, "vehicle", True, True),
    ("train", 31, 16, "vehicle", True, False),
    ("motorcycle", 32, 17, "vehicle", True, False),
    ("bicycle", 33, 18, "vehicle", True, False),
)


def _cityscapes34() -> LabelSpace:
    return LabelSpace("cityscapes34", tuple(r[0] for r in CITYSCAPES_LABELS))


def _cityscapes19() -> LabelSpace:
    rows = sorted((r for r in CITYSCAPES_LABELS if r[2] != 255), key=lambda r: r[2])
    return LabelSpace("cityscapes19", tuple(r[0] for r in rows))


def _vg150() -> LabelSpace:
    names = json.loads(_data("vg150.json"))["objects"]
    return LabelSpace("vg150", tuple(names), tuple(range(1, len(names) + 1)))


def _vg150_predicates() -> LabelSpace:
    names = json.loads(_data("vg150.json"))["predicates"]
    return LabelSpace("vg150_predicates", tuple(names), tuple(range(1, len(names) + 1)))


#: The 20 Pascal VOC classes in the devkit's order (``VOCinit.m``); ``voc20`` gives them
#: ids 1..20, the indices of the VOC segmentation PNGs (0 there is background).
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip

#: COCO category id -> VOC class name, for the 20 COCO categories that are VOC classes
#: (same objects, COCO's names: airplane, motorcycle, couch, dining table, potted plant, tv).
COCO_TO_VOC: dict[int, str] = {
    5: "aeroplane", 2: "bicycle", 16: "bird", 9: "boat", 44: "bottle", 6: "bus", 3: "car",
    17: "cat", 62: "chair", 21: "cow", 67: "diningtable", 18: "dog", 19: "horse",
    4: "motorbike", 1: "person", 64: "pottedplant", 20: "sheep", 63: "sofa", 7: "train",
    72: "tvmonitor",
}  # fmt: skip


def _voc20() -> LabelSpace:
    return LabelSpace("voc20", VOC_CLASSES, tuple(range(1, len(VOC_CLASSES) + 1)))


def _ade150() -> LabelSpace:
    names = json.loads(_data("ade150.json"))["classes"]
    return LabelSpace("ade150", tuple(names))


_SPACES: dict[str, Callable[[], LabelSpace]] = {
    "coco80": _coco80,
    "coco91": _coco91,
    "imagenet1k": _imagenet1k,
    "cityscapes34": _cityscapes34,
    "cityscapes19": _cityscapes19,
    "vg150": _vg150,
    "vg150_predicates": _vg150_predicates,
    "voc20": _voc20,
    "ade150": _ade150,
    "text": lambda: LabelSpace("text", ()),
}


def label_space_names() -> list[str]:
    """Names of the built-in label spaces."""
    return sorted(_SPACES)


@cache
def get_label_space(name: str) -> LabelSpace:
    """A built-in label space by name."""
    try:
        return _SPACES[name]()
    except KeyError:
        raise LabelSpaceError(
            f"unknown label space {name!r}; available: {', '.join(label_space_names())}"
        ) from None


def _coco80_to_91() -> dict[int, int]:
    return dict(enumerate(_coco91().ids))


def _cityscapes34_to_19() -> dict[int, int]:
    return {r[1]: r[2] for r in CITYSCAPES_LABELS}


def _cityscapes19_to_34() -> dict[int, int]:
    return {r[2]: r[1] for r in CITYSCAPES_LABELS if r[2] != 255}


def _coco91_to_voc20() -> dict[int, int]:
    """Every COCO category id: its VOC id, or :data:`IGNORE` (not a VOC class: dropped)."""
    voc = {name: i for i, name in zip(_voc20().ids, VOC_CLASSES)}
    return {cid: voc[COCO_TO_VOC[cid]] if cid in COCO_TO_VOC else IGNORE for cid in _coco91().ids}


def _coco80_to_voc20() -> dict[int, int]:
    to91, to_voc = _coco80_to_91(), _coco91_to_voc20()
    return {i: to_voc[cid] for i, cid in to91.items()}


_MAPS: dict[tuple[str, str], Callable[[], dict[int, int]]] = {
    ("coco80", "coco91"): _coco80_to_91,
    ("coco91", "coco80"): lambda: {v: k for k, v in _coco80_to_91().items()},
    ("cityscapes34", "cityscapes19"): _cityscapes34_to_19,
    ("cityscapes19", "cityscapes34"): _cityscapes19_to_34,
    ("coco91", "voc20"): _coco91_to_voc20,
    ("coco80", "voc20"): _coco80_to_voc20,
}


def label_map(source: str, target: str) -> LabelMap:
    """The explicit map from ``source`` ids to ``target`` ids.

    Raises:
        LabelSpaceError: when no map is defined. Visionbench never guesses a mapping
            (for example VOC-21 segmentation weights are not Cityscapes).
    """
    if source == target:
        space = get_label_space(source)
        return LabelMap(source, target, {i: i for i in space.ids})
    try:
        return LabelMap(source, target, _MAPS[(source, target)]())
    except KeyError:
        known = ", ".join(f"{a}->{b}" for a, b in _MAPS)
        raise LabelSpaceError(
            f"no map from label space {source!r} to {target!r}; defined maps: {known}"
        ) from None
