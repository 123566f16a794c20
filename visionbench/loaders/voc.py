"""Pascal VOC detection (VOC2007, VOC2012) in the devkit layout, REFERENCE.md §8.

Layout (``root`` is ``VOCdevkit/``, ``VOCdevkit/VOC<year>/`` or a folder holding
``VOCdevkit/``)::

    VOCdevkit/VOC2007/Annotations/000001.xml
                      ImageSets/Main/{train,val,trainval,test}.txt     one image id a line
                      JPEGImages/000001.jpg

``sample_id`` = the image id as the image set lists it (a string: ``"000001"``,
``"2008_000002"``), samples in image-set order. Labels are ids of ``voc20`` (1..20 in the
devkit's class order). Boxes: the XML's ``xmin ymin xmax ymax`` are 1-based inclusive pixel
indices; targets hold 0-based continuous corners ``(xmin - 1, ymin - 1, xmax, ymax)``
(as detectron2's VOC loader), the convention of every other detection target, so a COCO
detector's boxes compare directly; the VOC protocol converts back to the devkit's boxes
and its ``+1`` IoU exactly. The dataset declares its protocol: ``voc`` with 11-point AP
for VOC2007 (up to 2009), all-point AP from VOC2010 on. ``difficult`` objects are kept, flagged in
:attr:`VOCTarget.difficult`: the protocol neither rewards nor penalises detections of them.

Every XML is parsed and validated when the dataset opens; a defect stops with one line
naming the file, the field (``object[2]/bndbox/xmax``) and the image id. ``<difficult>``,
``<truncated>`` and ``<pose>`` may be missing (some VOC2012 objects lack them: difficult
then counts 0, as mmdetection reads them); coordinates may be written as decimals.
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError, DatasetNotFoundError
from visionbench.label_spaces import VOC_CLASSES, get_label_space
from visionbench.loaders.verify import Problem
from visionbench.tasks import GroundTruth
from visionbench.types import DetectionTarget, ImageRef, Sample, Task

__all__ = ["VOCDetection", "VOCTarget", "parse_voc_xml", "find_voc_year_dir"]

_PUBLISHED = (
    "the official files are published at http://host.robots.ox.ac.uk/pascal/VOC/ "
    "(VOCtrainval_06-Nov-2007.tar, VOCtest_06-Nov-2007.tar, VOCtrainval_11-May-2012.tar)"
)
_SHOW = 10
_CLASS_ID = {name: i + 1 for i, name in enumerate(VOC_CLASSES)}


@dataclass(frozen=True, eq=False)
class VOCTarget(DetectionTarget):
    """A :class:`~visionbench.types.DetectionTarget` plus VOC's ``difficult`` flags.

    Attributes:
        difficult: [N] bool, the object is marked ``<difficult>1</difficult>``.
        truncated: [N] bool (informational).
    """

    difficult: np.ndarray | None = None
    truncated: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = len(self.boxes)
        for name in ("difficult", "truncated"):
            v = getattr(self, name)
            arr = np.zeros(n, bool) if v is None else np.asarray(v, bool).reshape(-1)
            if len(arr) != n:
                raise ContractError(
                    f"Expected `{name}` of length {n} (one per box), got {len(arr)} "
                    f"(sample_id={self.sample_id})"
                )
            object.__setattr__(self, name, arr)


class VOCDetection:
    """One image set of Pascal VOC with its XML annotations.

    Args:
        root: ``VOCdevkit/``, ``VOCdevkit/VOC<year>/``, or the folder holding ``VOCdevkit/``.
        split: image set name under ``ImageSets/Main/`` (``test``, ``val``, ``trainval``...).
        year: 2007 or 2012 (any year folder of the devkit layout is read the same way).
        name: the dataset's registry name (``voc2007``, ``voc2012``, ``voc-mini``).
        drop_unpaired: drop image ids whose XML is missing (warning; listed in
            ``problems``) instead of refusing.
    """

    task = Task.DETECTION

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        *,
        year: int | str = 2007,
        name: str | None = None,
        drop_unpaired: bool = False,
    ) -> None:
        self.year = int(year)
        self.name = name or f"voc{self.year}"
        self.split = split
        self.voc_dir = find_voc_year_dir(root, self.year)
        self.root = str(self.voc_dir)
        self.label_space = get_label_space("voc20")
        #: scored by the VOC protocol with the year's AP rule (11-point up to VOC2009)
        self.protocol = "voc"
        self.protocol_options = {"ap_method": "11point" if self.year < 2010 else "allpoint"}
        self.problems: list[Problem] = []
        ids = _read_image_set(self.voc_dir, split)
        ann_dir = self.voc_dir / "Annotations"
        missing = [i for i in ids if not (ann_dir / f"{i}.xml").is_file()]
        if missing:
            shown = ", ".join(missing[:_SHOW]) + (
                f" and {len(missing) - _SHOW} more" if len(missing) > _SHOW else ""
            )
            msg = f"{len(missing)} images of ImageSets/Main/{split}.txt have no annotation under {ann_dir}: {shown}"
            if not drop_unpaired:
                raise AnnotationError(
                    msg + "; pass drop_unpaired=True to drop them",
                    path=str(ann_dir / f"{missing[0]}.xml"),
                    id=missing[0],
                )
            warnings.warn(f"dropped {msg}", stacklevel=2)
            gone = set(missing)
            ids = [i for i in ids if i not in gone]
            self.problems += [Problem("unpaired", "no annotation XML; dropped", i) for i in missing]
        self._ids = ids
        self._records = [parse_voc_xml(ann_dir / f"{i}.xml", image_id=i) for i in ids]
        self._targets = [self._target(i, r) for i, r in zip(ids, self._records)]

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, i: int) -> Sample:
        sid, rec = self._ids[i], self._records[i]
        img = ImageRef(
            path=str(self.voc_dir / "JPEGImages" / rec["filename"]),
            width=rec["width"],
            height=rec["height"],
        )
        return Sample(sid, img, self._targets[i], meta={"year": self.year})

    def ground_truth(self) -> GroundTruth:
        """All targets (parsed at open; no pixel decoded)."""
        return GroundTruth(
            self.task,
            self.label_space,
            list(self._ids),
            list(self._targets),
            files={
                "root": self.root,
                "annotations": str(self.voc_dir / "Annotations"),
                "image_set": str(self.voc_dir / "ImageSets" / "Main" / f"{self.split}.txt"),
            },
        )

    @property
    def image_ids(self) -> list[str]:
        """Image ids in image-set order."""
        return list(self._ids)

    def _target(self, image_id: str, rec: dict[str, Any]) -> VOCTarget:
        objs = rec["objects"]
        boxes = np.array([o["bbox"] for o in objs], np.float64).reshape(-1, 4)
        boxes[:, :2] -= 1.0  # 1-based inclusive -> 0-based continuous corners
        return VOCTarget(
            boxes=boxes,
            labels=np.array([_CLASS_ID[o["name"]] for o in objs], np.int64),
            difficult=np.array([o["difficult"] for o in objs], bool),
            truncated=np.array([o["truncated"] for o in objs], bool),
            sample_id=image_id,
        )


def find_voc_year_dir(root: str | Path, year: int | str) -> Path:
    """``VOC<year>/`` given it, ``VOCdevkit/`` or the folder holding ``VOCdevkit/``.

    Raises:
        DatasetNotFoundError: none of them holds ``Annotations/`` and ``ImageSets/Main/``.
    """
    r = Path(root).expanduser()
    for cand in (r, r / f"VOC{year}", r / "VOCdevkit" / f"VOC{year}"):
        if (cand / "Annotations").is_dir() and (cand / "ImageSets" / "Main").is_dir():
            return cand
    raise DatasetNotFoundError(
        f"Pascal VOC {year} not found under {r}: expected "
        f"{r}/VOCdevkit/VOC{year}/Annotations/*.xml, ImageSets/Main/<split>.txt and "
        f"JPEGImages/*.jpg (root may also be VOCdevkit/ or VOC{year}/ itself); {_PUBLISHED}"
    )


def parse_voc_xml(path: str | Path, *, image_id: str | None = None) -> dict[str, Any]:
    """One VOC annotation file, validated.

    Returns:
        ``{"filename", "width", "height", "objects": [{"name", "bbox": [xmin, ymin, xmax,
        ymax] (1-based inclusive, float), "difficult": 0|1, "truncated": 0|1}, ...]}``;
        ``width`` / ``height`` None when ``<size>`` is absent.

    Raises:
        AnnotationError: unreadable XML, or a missing / malformed field; the message names
            the file, the field (``object[i]/bndbox/xmin``) and the image id.
    """
    p = str(path)
    sid = image_id if image_id is not None else Path(p).stem
    try:
        tree = ET.parse(p)
    except ET.ParseError as e:
        raise AnnotationError(f"invalid XML: {e}", path=p, id=sid) from None
    except OSError as e:
        raise AnnotationError(
            f"cannot read annotation: {e.strerror or e}", path=p, id=sid
        ) from None
    ann = tree.getroot()
    if ann.tag != "annotation":
        raise AnnotationError(
            f"expected root element <annotation>, got <{ann.tag}>", path=p, id=sid
        )
    filename = (ann.findtext("filename") or "").strip() or f"{sid}.jpg"
    width = height = None
    size = ann.find("size")
    if size is not None:
        width = _int(size, "width", "size/width", p, sid)
        height = _int(size, "height", "size/height", p, sid)
    objects = []
    for k, obj in enumerate(ann.findall("object")):
        where = f"object[{k}]"
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise AnnotationError(
                f"object {k} has no <name>", path=p, field=f"{where}/name", id=sid
            )
        if name not in _CLASS_ID:
            raise AnnotationError(
                f"object {k}: unknown class {name!r}; expected one of the 20 VOC classes "
                f"({', '.join(VOC_CLASSES)})",
                path=p,
                field=f"{where}/name",
                id=sid,
            )
        difficult = _flag(obj, "difficult", f"{where}/difficult", p, sid)
        truncated = _flag(obj, "truncated", f"{where}/truncated", p, sid)
        bnd = obj.find("bndbox")
        if bnd is None:
            raise AnnotationError(
                f"object {k} ({name}) has no <bndbox>", path=p, field=f"{where}/bndbox", id=sid
            )
        box = [
            _coord(bnd, c, f"{where}/bndbox/{c}", p, sid) for c in ("xmin", "ymin", "xmax", "ymax")
        ]
        if box[2] < box[0] or box[3] < box[1]:
            bad = "xmax" if box[2] < box[0] else "ymax"
            raise AnnotationError(
                f"object {k} ({name}): expected xmin <= xmax and ymin <= ymax, got bndbox {box}",
                path=p,
                field=f"{where}/bndbox/{bad}",
                id=sid,
            )
        objects.append({"name": name, "bbox": box, "difficult": difficult, "truncated": truncated})
    return {"filename": filename, "width": width, "height": height, "objects": objects}


def _read_image_set(voc_dir: Path, split: str) -> list[str]:
    path = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        main = voc_dir / "ImageSets" / "Main"
        sets = sorted(f[:-4] for f in os.listdir(main) if f.endswith(".txt") and "_" not in f)
        raise DatasetNotFoundError(
            f"image set {split!r} not found: {path} does not exist; image sets there: "
            f"{', '.join(sets) or 'none'}"
        )
    ids: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 1:
            raise AnnotationError(
                f"line {n}: expected one image id, got {line.strip()!r}",
                path=str(path),
                field="line",
            )
        sid = parts[0]
        if sid in seen:
            raise AnnotationError(
                f"line {n}: image id {sid} already listed on line {seen[sid]}",
                path=str(path),
                id=sid,
            )
        seen[sid] = n
        ids.append(sid)
    if not ids:
        raise AnnotationError("image set lists no image ids", path=str(path))
    return ids


def _text(el: ET.Element, tag: str) -> str | None:
    t = el.findtext(tag)
    return None if t is None else t.strip()


def _int(el: ET.Element, tag: str, field: str, path: str, sid: str) -> int:
    t = _text(el, tag)
    try:
        v = int(float(t))  # type: ignore[arg-type]
        if v != float(t) or v < 0:  # type: ignore[arg-type]
            raise ValueError
        return v
    except (TypeError, ValueError):
        raise AnnotationError(
            f"<{tag}> is {t!r}, expected a non-negative integer", path=path, field=field, id=sid
        ) from None


def _flag(el: ET.Element, tag: str, field: str, path: str, sid: str) -> int:
    t = _text(el, tag)
    if t is None or t == "":
        return 0
    if t not in ("0", "1"):
        raise AnnotationError(f"<{tag}> is {t!r}, expected 0 or 1", path=path, field=field, id=sid)
    return int(t)


def _coord(el: ET.Element, tag: str, field: str, path: str, sid: str) -> float:
    t = _text(el, tag)
    if t is None:
        raise AnnotationError(f"<bndbox> has no <{tag}>", path=path, field=field, id=sid)
    try:
        v = float(t)
    except ValueError:
        v = float("nan")
    if not np.isfinite(v):
        raise AnnotationError(
            f"<{tag}> is {t!r}, expected a number", path=path, field=field, id=sid
        )
    return v
