"""Ultralytics / YOLO detection datasets: a ``data.yaml`` + ``images/`` + ``labels/``.

``data.yaml`` (as ultralytics reads it)::

    path: ../datasets/coco8        # dataset root; relative paths: to the yaml's folder
    train: images/train            # a folder of images, a .txt list of image paths, or a list
    val: images/val
    names: {0: person, 1: bicycle} # or a list; nc optional (checked when given)

Each image ``.../images/<sub>/<stem>.jpg`` has its labels in ``.../labels/<sub>/<stem>.txt``
(the last ``images`` path component replaced by ``labels``, as ultralytics'
``img2label_paths``), one object per line: ``class cx cy w h``, normalised to [0, 1] by
the image's width and height (EXIF orientation applied, as ultralytics' ``exif_size``).
A polygon line (``class x1 y1 x2 y2 ...``) counts as its bounding box. A missing label
file means an image without objects. Duplicate lines are dropped with a warning (as
ultralytics does). In a list file, ``./x`` and other relative paths are relative to the
list file's folder.

Label space: when every class name is a COCO name (``person``, ``bicycle``, ...), the
labels are the COCO category ids (all 80: label space ``coco91``; a subset: its own space
``yolo:<name>`` with COCO ids, so COCO results JSON scores as is); otherwise the dataset's
own classes, ids ``0..nc-1``. Scored with the COCO protocol. ``sample_id`` = the image's
stem as an integer when every stem is a unique number (ultralytics' COCO JSON
``image_id``), else the image's position in the sorted list.

Predictions for ``bench eval``: a folder of ``<stem>.txt`` files, ``class cx cy w h conf``
per line (ultralytics ``save_txt=True, save_conf=True``), or a COCO results JSON.
Every error names the file, the line and the field.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.tasks import GroundTruth
from visionbench.types import DetectionPrediction, DetectionTarget, ImageRef, Sample, Task

__all__ = ["YOLODetection", "find_data_yaml", "image_to_label_path", "IMG_FORMATS"]

#: ultralytics' ``IMG_FORMATS``.
IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
FIELDS = ("class", "cx", "cy", "w", "h")


def find_data_yaml(root: str | Path) -> Path:
    """``root`` itself when it is a ``.yaml`` file, else the one ``data.yaml`` / ``*.yaml`` in it."""
    p = Path(root).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        if (p / "data.yaml").is_file():
            return p / "data.yaml"
        found = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
        if len(found) == 1:
            return found[0]
        if found:
            raise DatasetNotFoundError(
                f"{p}: several yaml files ({', '.join(f.name for f in found)}); pass the "
                "data.yaml itself as --data-root"
            )
    raise DatasetNotFoundError(
        f"no ultralytics data.yaml at {p}: expected a data.yaml (path, train/val, names) "
        "beside images/ and labels/"
    )


def image_to_label_path(image: str) -> str:
    """ultralytics' ``img2label_paths``: ``/images/`` -> ``/labels/`` (last one), ext -> .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


class YOLODetection:
    """An ultralytics detection dataset, one split.

    Args:
        data_yaml: the dataset's ``data.yaml``.
        split: the yaml key of the split (``val``, ``train``, ``test``).
        name: recorded in runs (default ``yolo``).
    """

    task = Task.DETECTION

    def __init__(self, data_yaml: str | Path, split: str = "val", *, name: str = "yolo") -> None:
        self.data_yaml = str(data_yaml)
        self.name, self.split = name, split
        cfg = _read_yaml(self.data_yaml)
        base = Path(self.data_yaml).resolve().parent
        root = Path(str(cfg.get("path") or base)).expanduser()
        self.root = str(root if root.is_absolute() else (base / root).resolve())
        self.class_names = _names(cfg, self.data_yaml)
        if split not in cfg or cfg[split] in (None, ""):
            raise AnnotationError(
                f"no '{split}' split in the yaml (keys: {sorted(k for k in cfg if k != 'names')})",
                path=self.data_yaml, field=split,
            )  # fmt: skip
        self._images = _image_files(cfg[split], Path(self.root), self.data_yaml, split)
        if not self._images:
            raise AnnotationError(
                f"split '{split}' lists no images", path=self.data_yaml, field=split
            )
        self.label_space, self._class_to_label = _label_space(self.class_names, self.data_yaml)
        stems = [Path(p).stem for p in self._images]
        numeric = all(s.isdigit() for s in stems) and len(set(map(int, stems))) == len(stems)
        self._stems = stems
        self._ids: list[int] = [int(s) for s in stems] if numeric else list(range(len(stems)))
        self._by_stem = {s: i for i, s in enumerate(stems)}
        self._sizes: list[tuple[int, int] | None] = [None] * len(self._images)
        self._targets: list[DetectionTarget | None] = [None] * len(self._images)

    # -- Dataset protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i: int) -> Sample:
        h, w = self._size(i)
        return Sample(
            self._ids[i],
            ImageRef(path=self._images[i], width=w, height=h),
            self._target(i),
            meta={"file_name": self._images[i], "stem": self._stems[i]},
        )

    def ground_truth(self) -> GroundTruth:
        return GroundTruth(
            self.task,
            self.label_space,
            list(self._ids),
            [self._target(i) for i in range(len(self))],
            files={"data_yaml": self.data_yaml},
        )

    @property
    def image_ids(self) -> list[int]:
        return list(self._ids)

    # -- predictions for bench eval ----------------------------------------------------

    def read_predictions(self, path: str | Path, gt: GroundTruth) -> list[Any] | None:
        """A folder of YOLO txt predictions -> one prediction per sample; None otherwise."""
        p = Path(path)
        if not p.is_dir():
            if p.suffix.lower() == ".json":
                self._warn_class_plus_one(p)
            return None
        files = sorted(p.glob("*.txt"))
        unknown = [f.name for f in files if f.stem not in self._by_stem]
        if unknown:
            raise AnnotationError(
                f"{len(unknown)} prediction files match no image of split '{self.split}', "
                f"e.g. {unknown[:5]}", path=str(p), field="file name",
            )  # fmt: skip
        have = {f.stem: f for f in files}
        out = []
        for i in range(len(self)):
            f = have.get(self._stems[i])
            rows = _read_rows(f, 6, ("class", "cx", "cy", "w", "h", "conf")) if f else []
            boxes, cls = self._boxes(i, rows, str(f), check_range=False)
            scores = np.array([r[1][5] for r in rows], dtype=np.float64)
            out.append(
                DetectionPrediction(boxes=boxes, labels=cls, scores=scores, sample_id=self._ids[i])
            )
        return out

    def _warn_class_plus_one(self, p: Path) -> None:
        """ultralytics writes ``category_id = class + 1`` in its predictions JSON for any
        val set other than COCO's own: say so when the ids look like that."""
        import orjson

        try:
            rows = orjson.loads(p.read_bytes())
            cats = {int(r["category_id"]) for r in rows}
        except (OSError, orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            return  # the COCO reader reports malformed files
        nc = len(self.class_names)
        ids = set(self.label_space.ids)
        plus_one = set(range(1, nc + 1))
        if cats and cats <= plus_one and not cats <= ids:
            warnings.warn(
                f"{p}: every category_id is in 1..{nc} and some are not this dataset's ids "
                f"({sorted(cats - ids)[:10]}): ultralytics writes class index + 1 there for "
                "val sets other than COCO's; this dataset's ids are "
                f"{'COCO category ids' if self.label_space.ids != tuple(range(nc)) else '0..nc-1'}"
                " (the scores below are wrong otherwise; YOLO txt predictions avoid this)",
                stacklevel=3,
            )

    # -- helpers -----------------------------------------------------------------------

    def _size(self, i: int) -> tuple[int, int]:
        """(height, width) of image i, EXIF orientation applied, without decoding pixels."""
        if self._sizes[i] is None:
            from PIL import Image

            path = self._images[i]
            try:
                with Image.open(path) as im:
                    w, h = im.size
                    if im.getexif().get(0x0112) in (5, 6, 7, 8):
                        w, h = h, w
            except (OSError, ValueError) as e:
                raise AnnotationError(f"cannot read image: {e}", path=path) from None
            self._sizes[i] = (h, w)
        return self._sizes[i]  # type: ignore[return-value]

    def _target(self, i: int) -> DetectionTarget:
        t = self._targets[i]
        if t is None:
            lp = image_to_label_path(self._images[i])
            rows = _read_rows(Path(lp), 5, FIELDS) if os.path.isfile(lp) else []
            rows = _drop_duplicates(rows, lp)
            boxes, labels = self._boxes(i, rows, lp, check_range=True)
            t = DetectionTarget(boxes=boxes, labels=labels, sample_id=self._ids[i])
            self._targets[i] = t
        return t

    def _boxes(
        self, i: int, rows: list[tuple[int, list[float]]], where: str, *, check_range: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        nc = len(self.class_names)
        if not rows:
            return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
        h, w = self._size(i)
        out = np.empty((len(rows), 4), dtype=np.float64)
        labels = np.empty(len(rows), dtype=np.int64)
        for n, (line, v) in enumerate(rows):
            c = v[0]
            if c != int(c) or not 0 <= c < nc:
                raise AnnotationError(
                    f"line {line}: field 'class' = {c:g} is not a class index 0..{nc - 1}",
                    path=where, field="class",
                )  # fmt: skip
            cx, cy, bw, bh = v[1], v[2], v[3], v[4]
            if check_range:
                for name, x in zip(FIELDS[1:], (cx, cy, bw, bh)):
                    if not 0.0 <= x <= 1.0:
                        raise AnnotationError(
                            f"line {line}: field '{name}' = {x:g} is not normalised to [0, 1] "
                            "(YOLO labels are fractions of the image width / height)",
                            path=where, field=name,
                        )  # fmt: skip
            if bw < 0 or bh < 0:
                raise AnnotationError(
                    f"line {line}: negative width or height ({bw:g}, {bh:g})",
                    path=where, field="w/h",
                )  # fmt: skip
            out[n] = ((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h)
            labels[n] = self._class_to_label[int(c)]
        return out, labels


# ---------------------------------------------------------------------------------------
# data.yaml


def _read_yaml(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: data.yaml not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnnotationError(
            f"not valid YAML{where}: {getattr(e, 'problem', e)}", path=path
        ) from None
    if not isinstance(cfg, dict):
        raise AnnotationError("expected a mapping (path, train, val, names)", path=path)
    return cfg


def _names(cfg: dict[str, Any], path: str) -> list[str]:
    names = cfg.get("names")
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise AnnotationError(
                "'names' keys must be class indices", path=path, field="names"
            ) from None
        if keys != list(range(len(keys))):
            raise AnnotationError(
                f"'names' keys must be 0..{len(keys) - 1} without gaps, got {keys[:10]}",
                path=path, field="names",
            )  # fmt: skip
        out = [str(names.get(k, names.get(str(k)))) for k in keys]
    elif isinstance(names, list):
        out = [str(n) for n in names]
    else:
        raise AnnotationError(
            f"'names' must be a list or a dict of class names, got {type(names).__name__}",
            path=path, field="names",
        )  # fmt: skip
    if not out:
        raise AnnotationError("'names' is empty", path=path, field="names")
    nc = cfg.get("nc")
    if nc is not None and nc != len(out):
        raise AnnotationError(
            f"nc = {nc} but 'names' has {len(out)} classes", path=path, field="nc"
        )
    return out


def _image_files(entry: Any, root: Path, path: str, split: str) -> list[str]:
    entries = entry if isinstance(entry, list) else [entry]
    files: list[str] = []
    for e in entries:
        p = Path(str(e)).expanduser()
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            files += [str(f) for f in p.rglob("*.*") if f.suffix[1:].lower() in IMG_FORMATS]
        elif p.is_file():
            parent = p.parent
            for line in p.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line:
                    continue
                q = Path(line[2:] if line.startswith("./") else line)
                files.append(str(q if q.is_absolute() else parent / q))
            files = [f for f in files if f.rpartition(".")[-1].lower() in IMG_FORMATS]
        else:
            raise AnnotationError(
                f"split '{split}': {p} is neither an image folder nor a list file",
                path=path, field=split,
            )  # fmt: skip
    return sorted(files)


def _label_space(names: list[str], path: str) -> tuple[LabelSpace, list[int]]:
    coco = get_label_space("coco91")
    by_name = dict(zip(coco.names, coco.ids))
    if all(n in by_name for n in names) and len(set(names)) == len(names):
        ids = [by_name[n] for n in names]
        if len(names) == len(coco):
            return coco, ids
        order = np.argsort(ids)
        space = LabelSpace(
            f"yolo:{Path(path).stem}",
            tuple(names[k] for k in order),
            tuple(ids[k] for k in order),
        )
        return space, ids
    return LabelSpace(f"yolo:{Path(path).stem}", tuple(names)), list(range(len(names)))


# ---------------------------------------------------------------------------------------
# txt files


def _read_rows(f: Path, n_fields: int, fields: tuple[str, ...]) -> list[tuple[int, list[float]]]:
    """Numbers of each non-empty line (1-based line numbers); polygons -> boxes."""
    rows = []
    try:
        text = f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"cannot read: {e}", path=str(f)) from None
    for line_no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        vals = []
        for k, s in enumerate(parts):
            try:
                x = float(s)
            except ValueError:
                x = float("nan")
            if not np.isfinite(x):
                name = fields[k] if k < len(fields) and len(parts) == n_fields else f"value {k + 1}"
                raise AnnotationError(
                    f"line {line_no}: field '{name}' = {s!r} is not a finite number",
                    path=str(f), field=name,
                )  # fmt: skip
            vals.append(x)
        if len(vals) != n_fields:
            if n_fields == 5 and len(vals) >= 7 and len(vals) % 2 == 1:  # polygon label
                xs, ys = np.array(vals[1::2]), np.array(vals[2::2])
                x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
                vals = [vals[0], (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
            else:
                raise AnnotationError(
                    f"line {line_no}: expected {n_fields} fields ({' '.join(fields)}), got {len(vals)}",
                    path=str(f), field=fields[min(len(vals), n_fields - 1)],
                )  # fmt: skip
        rows.append((line_no, vals))
    return rows


def _drop_duplicates(
    rows: list[tuple[int, list[float]]], where: str
) -> list[tuple[int, list[float]]]:
    seen: set[tuple[float, ...]] = set()
    out = []
    for line, v in rows:
        key = tuple(v)
        if key in seen:
            continue
        seen.add(key)
        out.append((line, v))
    if len(out) < len(rows):
        warnings.warn(
            f"{where}: {len(rows) - len(out)} duplicate labels removed (as ultralytics does)",
            stacklevel=4,
        )
    return out
