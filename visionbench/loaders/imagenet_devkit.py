"""Readers for the ImageNet (ILSVRC2012) ground-truth files (REFERENCE.md §4).

- devkit ``meta.mat`` (``synsets`` struct array; leaves have ``num_children == 0``) and
  ``ILSVRC2012_validation_ground_truth.txt`` (line i = the 1-based ILSVRC2012_ID of
  ``ILSVRC2012_val_{i:08d}``). The ids are **not** sorted-WNID indices: they are mapped to
  WNIDs through ``meta.mat``, then to the PyTorch class index (position in the sorted list
  of the 1000 WNIDs). ``id - 1`` is never used as a class.
- Kaggle ``LOC_val_solution.csv`` (``ImageId,PredictionString``; class = first token) and
  ``LOC_synset_mapping.txt`` (``n01440764 tench, Tinca tinca``).
- ImageNet-ReaL ``real.json`` (list of 50,000 lists; index i ↔ ``ILSVRC2012_val_{i+1:08d}``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from visionbench.errors import AnnotationError
from visionbench.label_spaces import imagenet_wnids

__all__ = [
    "read_meta_mat",
    "read_devkit_ground_truth",
    "read_kaggle_solution",
    "read_synset_mapping",
    "read_real_labels",
    "wnid_index",
    "val_number",
]

_VAL_STEM = re.compile(r"^ILSVRC2012_val_(\d{8})$")


def wnid_index() -> dict[str, int]:
    """WNID -> PyTorch class index (sorted-WNID order, ``n01440764`` tench = 0)."""
    return {w: i for i, w in enumerate(imagenet_wnids())}


def val_number(stem: str) -> int | None:
    """The 1-based number of ``ILSVRC2012_val_00000001`` (None for other names)."""
    m = _VAL_STEM.match(stem)
    return int(m.group(1)) if m else None


def read_meta_mat(path: str | Path) -> dict[int, tuple[str, str]]:
    """ILSVRC2012_ID -> (WNID, words) for the leaf synsets of the devkit's ``meta.mat``.

    Raises:
        AnnotationError: unreadable file, no ``synsets``, a missing field, or a leaf WNID
            that is not one of the 1000 ILSVRC2012 classes.
    """
    import scipy.io

    path = str(path)
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except Exception as e:
        raise AnnotationError(f"cannot read meta.mat: {e}", path=path) from None
    if "synsets" not in mat:
        raise AnnotationError("no `synsets` struct array in meta.mat", path=path, field="synsets")
    synsets = mat["synsets"].ravel()
    need = ("ILSVRC2012_ID", "WNID", "num_children")
    names = synsets.dtype.names or ()
    for f in need:
        if f not in names:
            raise AnnotationError(
                f"`synsets` lacks field {f!r} (has {list(names)})", path=path, field=f
            )
    index = wnid_index()
    out: dict[int, tuple[str, str]] = {}
    for s in synsets:
        if int(s["num_children"]) != 0:
            continue
        sid, wnid = int(s["ILSVRC2012_ID"]), str(s["WNID"])
        if wnid not in index:
            raise AnnotationError(
                "leaf synset is not an ILSVRC2012 class", path=path, field="synsets.WNID", id=wnid
            )
        words = str(s["words"]) if "words" in names else ""
        out[sid] = (wnid, words)
    if not out:
        raise AnnotationError("meta.mat has no leaf synsets (num_children == 0)", path=path)
    return out


def read_devkit_ground_truth(
    gt_path: str | Path, meta_path: str | Path, synsets: dict[int, tuple[str, str]] | None = None
) -> list[int]:
    """Class index (sorted-WNID order) of ``ILSVRC2012_val_{i+1:08d}`` at position i.

    Args:
        gt_path: ``ILSVRC2012_validation_ground_truth.txt``.
        meta_path: the devkit's ``meta.mat``.
        synsets: :func:`read_meta_mat` of ``meta_path``, when already read.

    Raises:
        AnnotationError: a line that is not an integer, or an id missing from ``meta.mat``.
    """
    id_to_wnid = synsets if synsets is not None else read_meta_mat(meta_path)
    index = wnid_index()
    labels: list[int] = []
    blank: int | None = None
    with open(gt_path, encoding="ascii", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s:
                blank = blank or lineno
                continue
            if blank is not None:  # line i is image i: a blank line would shift every label
                raise AnnotationError(
                    f"line {blank}: empty line before line {lineno} (line i is the label of "
                    f"ILSVRC2012_val_{{i:08d}}; an empty line would shift every later label)",
                    path=str(gt_path), field="lines", id=blank,
                )  # fmt: skip
            try:
                sid = int(s)
            except ValueError:
                raise AnnotationError(
                    f"line {lineno}: expected an ILSVRC2012_ID, got {s!r}", path=str(gt_path)
                ) from None
            if sid not in id_to_wnid:
                raise AnnotationError(
                    f"line {lineno}: ILSVRC2012_ID {sid} is not a leaf synset of {meta_path}",
                    path=str(gt_path), id=sid,
                )  # fmt: skip
            labels.append(index[id_to_wnid[sid][0]])
    return labels


def read_kaggle_solution(path: str | Path) -> dict[str, int]:
    """ImageId -> class index from ``LOC_val_solution.csv`` (class = first WNID token).

    Raises:
        AnnotationError: wrong header, an empty prediction, an unknown WNID or a repeated ImageId.
    """
    index = wnid_index()
    out: dict[str, int] = {}
    with open(path, newline="", encoding="ascii") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["ImageId", "PredictionString"]:
            raise AnnotationError(
                f"expected header 'ImageId,PredictionString', got {header!r}", path=str(path)
            )
        for row in reader:
            if not row:
                continue
            image_id = row[0].strip()
            tokens = row[1].split() if len(row) > 1 else []
            if not tokens:
                raise AnnotationError(
                    "empty PredictionString", path=str(path), field="PredictionString", id=image_id
                )
            if tokens[0] not in index:
                raise AnnotationError(
                    f"first token {tokens[0]!r} is not an ILSVRC2012 WNID",
                    path=str(path), field="PredictionString", id=image_id,
                )  # fmt: skip
            if image_id in out:
                raise AnnotationError(
                    "ImageId appears twice", path=str(path), field="ImageId", id=image_id
                )
            out[image_id] = index[tokens[0]]
    return out


def read_synset_mapping(path: str | Path) -> dict[str, str]:
    """WNID -> human-readable words from ``LOC_synset_mapping.txt``."""
    index = wnid_index()
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            wnid, _, words = line.rstrip("\n").partition(" ")
            if wnid not in index:
                raise AnnotationError(
                    f"line {lineno}: {wnid!r} is not an ILSVRC2012 WNID", path=str(path), id=wnid
                )
            out[wnid] = words.strip()
    return out


def read_real_labels(path: str | Path) -> list[tuple[int, ...]]:
    """ImageNet-ReaL labels: position i holds the valid class indices of
    ``ILSVRC2012_val_{i+1:08d}`` (an empty tuple: no valid label, the image is dropped).

    Raises:
        AnnotationError: not a list of lists of class indices in 0..999.
    """
    import orjson

    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise AnnotationError(f"cannot read ReaL labels: {e}", path=str(path)) from None
    if not isinstance(data, list):
        raise AnnotationError(f"expected a JSON list, got {type(data).__name__}", path=str(path))
    out: list[tuple[int, ...]] = []
    for i, labels in enumerate(data):
        if not isinstance(labels, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1000 for v in labels
        ):
            raise AnnotationError(
                f"entry {i} (ILSVRC2012_val_{i + 1:08d}): expected a list of class indices 0..999, "
                f"got {labels!r}",
                path=str(path), id=i,
            )  # fmt: skip
        out.append(tuple(labels))
    return out
