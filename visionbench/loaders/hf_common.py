"""Hugging Face datasets in the common Hub schemas: ``--dataset hf:PATH``.

``PATH`` is a folder written by ``save_to_disk`` (a ``Dataset`` or ``DatasetDict``), a
Parquet file, or a folder of Parquet files (the Hub layout ``data/<split>-*.parquet`` or
``<split>/*.parquet``). A dataset written by visionbench's own bridge
(:func:`~visionbench.loaders.hf.to_hf_dataset`) is read with that bridge; any other is read
in the schema of its task (column names changeable with options, ``--dataset-option``):

* image classification: ``image`` + ``label`` (``ClassLabel``). The classes map to
  ``imagenet1k`` when every name is an ImageNet WNID (``n01440764``) or an ImageNet class
  name (``tench, Tinca tinca`` or its first synonym ``tench``), one to one; otherwise the
  dataset's own classes. Rows with label -1 (unlabelled test splits) are refused.
* object detection: ``image`` + ``objects`` {``bbox``, ``category``, optional ``area``,
  ``iscrowd``, ``id``} with boxes in ``bbox_format`` ``xywh`` (COCO, the Hub default) or
  ``xyxy``, pixels. ``category`` names that are all COCO names map to COCO category ids;
  otherwise the dataset's own classes ``0..C-1``. Scored with the COCO protocol.
* semantic segmentation: ``image`` + ``annotation`` (or ``label``) label-id image; classes
  ``0..num_classes-1`` (option ``num_classes``, else the largest id found + 1), 255 ignored.

Options: ``task`` (classification, detection, semantic_segmentation; default: from the
columns), ``image``, ``label``, ``objects``, ``bbox``, ``category``, ``annotation`` (column
names), ``bbox_format``, ``num_classes``, ``name``. Errors name the path, the column and
the row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError, DatasetNotFoundError
from visionbench.label_spaces import LabelSpace, get_label_space, imagenet_wnids
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.tasks import GroundTruth
from visionbench.types import (
    ClassificationTarget,
    DetectionTarget,
    ImageRef,
    Sample,
    SegmentationTarget,
    Task,
)

__all__ = ["hf_dataset", "open_hf", "HFCommonDataset"]

_SPLIT_PREFERENCE = ("validation", "val", "test", "train")


def hf_dataset(spec: str, root: str | None = None, split: str = "", **options: Any) -> Any:
    """Factory of ``hf:PATH`` (``spec`` = PATH; ``root`` is ignored: the path is the data)."""
    ds, split_name = open_hf(spec, split or None)
    from visionbench.loaders.hf import HFDataset, _read_meta

    if _read_meta(ds):
        unknown = set(options) - {"name", "task"}
        if unknown:
            raise ContractError(
                f"hf:{spec} was written by visionbench; options {sorted(unknown)} do not apply"
            )
        return HFDataset(ds, name=options.get("name"), split=split_name, task=options.get("task"))
    return HFCommonDataset(ds, source=spec, split=split_name, **options)


def open_hf(path: str | Path, split: str | None = None) -> tuple[Any, str]:
    """(``datasets.Dataset``, split name) from a save_to_disk folder or Parquet files."""
    import datasets as hf

    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetNotFoundError(
            f"hf:{p}: not found; expected a folder written by datasets' save_to_disk, "
            "a .parquet file or a folder of .parquet files"
        )
    if p.is_dir() and any((p / f).is_file() for f in ("dataset_dict.json", "state.json")):
        ds = hf.load_from_disk(str(p))
        if isinstance(ds, hf.DatasetDict):
            key = _pick_split(list(ds), split, p)
            return ds[key], key
        return ds, split or str(ds.split or "train")
    files = [p] if p.is_file() else sorted(p.rglob("*.parquet"))
    if not files:
        raise DatasetNotFoundError(f"hf:{p}: no save_to_disk files and no .parquet files")
    groups: dict[str, list[Path]] = {}
    for f in files:
        m = re.match(r"([A-Za-z0-9_.]+?)[-_]\d{5}-of-\d{5}", f.name)
        key = m.group(1) if m else f.parent.name if f.parent != p else f.stem
        groups.setdefault(key, []).append(f)
    key = _pick_split(list(groups), split, p) if len(groups) > 1 or split else next(iter(groups))
    return hf.Dataset.from_parquet([str(f) for f in groups[key]]), key


def _pick_split(names: list[str], split: str | None, p: Path) -> str:
    if split is not None:
        if split in names:
            return split
        alias = {"val": "validation", "validation": "val"}.get(split)
        if alias in names:
            return alias
        raise DatasetNotFoundError(f"hf:{p}: no split {split!r} (splits: {sorted(names)})")
    if len(names) == 1:
        return names[0]
    for s in _SPLIT_PREFERENCE:
        if s in names:
            return s
    raise DatasetNotFoundError(f"hf:{p}: several splits {sorted(names)}; pass --split")


class HFCommonDataset:
    """A visionbench dataset over a Hub-schema ``datasets.Dataset`` (see module doc)."""

    def __init__(
        self,
        ds: Any,
        *,
        source: str,
        split: str,
        task: str | None = None,
        image: str = "image",
        label: str | None = None,
        objects: str = "objects",
        bbox: str = "bbox",
        category: str = "category",
        annotation: str | None = None,
        bbox_format: str = "xywh",
        num_classes: int | str | None = None,
        name: str | None = None,
    ) -> None:
        import datasets as hf

        self.source, self.root, self.split = str(source), str(source), split
        self.name = name or f"hf:{Path(source).name}"
        cols = ds.features
        self._where = f"hf:{source}"
        if image not in cols:
            raise AnnotationError(
                f"no image column {image!r} (columns: {list(cols)}); set the option image=",
                path=self._where, field=image,
            )  # fmt: skip
        self.task = Task(task) if task else _infer(cols, label, objects, annotation, self._where)
        self._image, self._objects, self._bbox, self._category = image, objects, bbox, category
        if bbox_format not in ("xywh", "xyxy"):
            raise AnnotationError(
                f"bbox_format must be xywh or xyxy, got {bbox_format!r}", path=self._where,
                field="bbox_format",
            )  # fmt: skip
        self._bbox_format = bbox_format
        decode_off = {image: hf.Image(decode=False)}
        if self.task == Task.CLASSIFICATION:
            self._label = label or ("label" if "label" in cols else "labels")
            self.label_space, self._map = _classification_space(
                cols.get(self._label), self._label, self._where
            )
        elif self.task == Task.DETECTION:
            self.label_space, self._map = _detection_space(cols, objects, category, self._where)
        else:
            self._ann = annotation or ("annotation" if "annotation" in cols else "label")
            if self._ann not in cols:
                raise AnnotationError(
                    f"no label-image column {self._ann!r}; set the option annotation=",
                    path=self._where, field=self._ann,
                )  # fmt: skip
            decode_off[self._ann] = hf.Image(decode=False)
            self._num_classes = int(num_classes) if num_classes is not None else None
        for c, f in decode_off.items():
            ds = ds.cast_column(c, f)
        self._ds = ds
        self._ids = _sample_ids(ds)
        if self.task == Task.SEMANTIC_SEGMENTATION:
            n = self._num_classes or self._scan_classes()
            self.label_space = LabelSpace(self.name, tuple(str(i) for i in range(n)))

    # -- Dataset protocol --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, i: int) -> Sample:
        row = self._ds[int(i)]
        img = row[self._image] or {}
        ref = ImageRef(path=None if img.get("bytes") else img.get("path"), data=img.get("bytes"))
        if ref.path is None and ref.data is None:
            raise AnnotationError(
                "row has no image", path=self._where, field=self._image, id=int(i)
            )
        return Sample(self._ids[int(i)], ref, self._target(row, int(i), ref))

    def ground_truth(self) -> GroundTruth:
        cols = [c for c in self._ds.column_names if c != self._image]
        table = self._ds.select_columns(cols)
        targets = [self._target(row, i, None) for i, row in enumerate(table)]
        return GroundTruth(
            self.task, self.label_space, list(self._ids), targets,
            files={"hf_dataset": self.source},
        )  # fmt: skip

    # -- targets -----------------------------------------------------------------------

    def _target(self, row: dict[str, Any], i: int, ref: ImageRef | None) -> Any:
        if self.task == Task.CLASSIFICATION:
            v = row.get(self._label)
            if v is None or int(v) < 0 or int(v) >= len(self._map):
                raise AnnotationError(
                    f"label {v!r} is not a class index (unlabelled split?)",
                    path=self._where, field=self._label, id=i,
                )  # fmt: skip
            return ClassificationTarget(self._map[int(v)], sample_id=self._ids[i])
        if self.task == Task.DETECTION:
            return self._detection(row, i)
        return SegmentationTarget(mask=self._mask(row, i), sample_id=self._ids[i])

    def _detection(self, row: dict[str, Any], i: int) -> DetectionTarget:
        o = row.get(self._objects)
        if o is None:
            raise AnnotationError("no objects", path=self._where, field=self._objects, id=i)
        if isinstance(o, list):  # datasets >= 4 may give a list of dicts
            o = {k: [d.get(k) for d in o] for k in (o[0] if o else {})}
        raw = o.get(self._bbox, [])
        try:
            b = np.array(raw, dtype=np.float64).reshape(-1, 4)
        except ValueError:
            raise AnnotationError(
                f"boxes must be lists of 4 numbers, got {raw!r:.80}",
                path=self._where, field=f"{self._objects}.{self._bbox}", id=i,
            ) from None  # fmt: skip
        if self._bbox_format == "xywh":
            b = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)
        bad = ~np.isfinite(b).all(axis=1) | (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise AnnotationError(
                f"object {k}: box {np.array(raw[k]).tolist()} is not a valid "
                f"{self._bbox_format} box (NaN or negative size; is bbox_format right?)",
                path=self._where, field=f"{self._objects}.{self._bbox}", id=i,
            )  # fmt: skip
        cats = np.array(o.get(self._category, []), dtype=np.int64).reshape(-1)
        if len(cats) != len(b) or ((cats < 0) | (cats >= len(self._map))).any():
            raise AnnotationError(
                f"expected one category index 0..{len(self._map) - 1} per box, got {cats.tolist()[:10]}",
                path=self._where, field=f"{self._objects}.{self._category}", id=i,
            )  # fmt: skip
        labels = np.array([self._map[c] for c in cats.tolist()], dtype=np.int64)
        area = o.get("area")
        crowd = o.get("iscrowd")
        ids = o.get("id")
        ok_ids = (
            ids is not None and len(ids) == len(b) and all(v is not None and v > 0 for v in ids)
        )
        return DetectionTarget(
            boxes=b, labels=labels,
            iscrowd=None if crowd is None else np.array(crowd, dtype=bool),
            area=None if area is None else np.array(area, dtype=np.float64),
            ann_ids=np.array(ids, dtype=np.int64) if ok_ids else None, sample_id=self._ids[i],
        )  # fmt: skip

    def _mask(self, row: dict[str, Any], i: int) -> np.ndarray:
        v = row.get(self._ann) or {}
        src = v["bytes"] if v.get("bytes") else v.get("path")
        if src is None:
            raise AnnotationError("no label image", path=self._where, field=self._ann, id=i)
        try:
            return read_label_png(src, single_channel=True, name=v.get("path") or "label image")
        except MetricInputError as e:
            raise AnnotationError(str(e), path=self._where, field=self._ann, id=i) from None

    def _scan_classes(self) -> int:
        top = 0
        for i, row in enumerate(self._ds.select_columns([self._ann])):
            m = self._mask(row, i)
            valid = m[m != 255]
            top = max(top, int(valid.max()) + 1 if valid.size else 0)
        return max(top, 1)


def _sample_ids(ds: Any) -> list[int]:
    """The ``image_id`` column when it holds unique integers (COCO-style Hub detection
    datasets: COCO results JSON then scores as is), else the row index."""
    if "image_id" in ds.column_names:
        ids = ds["image_id"]
        if all(isinstance(v, int) for v in ids) and len(set(ids)) == len(ids):
            return [int(v) for v in ids]
    return list(range(len(ds)))


def _infer(cols: Any, label: str | None, objects: str, annotation: str | None, where: str) -> Task:
    import datasets as hf

    if objects in cols:
        return Task.DETECTION
    if annotation and annotation in cols or "annotation" in cols:
        return Task.SEMANTIC_SEGMENTATION
    lab = label or ("label" if "label" in cols else "labels")
    if isinstance(cols.get(lab), hf.ClassLabel):
        return Task.CLASSIFICATION
    if isinstance(cols.get(lab), hf.Image):
        return Task.SEMANTIC_SEGMENTATION
    raise AnnotationError(
        f"cannot tell the task from the columns {list(cols)}: expected 'label' (ClassLabel), "
        "'objects' or 'annotation'; set the option task= and the column names",
        path=where,
    )


def _classification_space(feat: Any, col: str, where: str) -> tuple[LabelSpace, list[int]]:
    import datasets as hf

    if not isinstance(feat, hf.ClassLabel):
        raise AnnotationError(
            f"column {col!r} must be a ClassLabel (class names), got {type(feat).__name__}",
            path=where, field=col,
        )  # fmt: skip
    names = list(feat.names)
    inet = get_label_space("imagenet1k")
    wnids = imagenet_wnids()
    by_key: dict[str, int] = {}
    dup: set[str] = set()
    for k, (w, n) in enumerate(zip(wnids, inet.names)):
        for key in {w, n, n.split(",")[0].strip()}:
            if key in by_key and by_key[key] != k:
                dup.add(key)
            by_key[key] = k
    mapped = [by_key.get(n) if n not in dup else None for n in names]
    if all(m is not None for m in mapped) and len(set(mapped)) == len(mapped):
        return inet, [int(m) for m in mapped]  # type: ignore[arg-type]
    return LabelSpace(f"hf:{col}:" + "|".join(names[:3]), tuple(names)), list(range(len(names)))


def _detection_space(
    cols: Any, objects: str, category: str, where: str
) -> tuple[LabelSpace, list[int]]:
    import datasets as hf

    feat = cols[objects]
    inner = feat.feature if isinstance(feat, hf.Sequence) else feat
    if isinstance(inner, list):
        inner = inner[0]
    cat = inner.get(category) if isinstance(inner, dict) else None
    while isinstance(cat, (hf.Sequence, list)) and not isinstance(cat, hf.ClassLabel):
        cat = cat.feature if isinstance(cat, hf.Sequence) else cat[0]
    if not isinstance(cat, hf.ClassLabel):
        raise AnnotationError(
            f"'{objects}.{category}' must be a ClassLabel (class names), got {type(cat).__name__}",
            path=where, field=f"{objects}.{category}",
        )  # fmt: skip
    names = list(cat.names)
    coco = get_label_space("coco91")
    by_name = dict(zip(coco.names, coco.ids))
    if all(n in by_name for n in names) and len(set(names)) == len(names):
        ids = [by_name[n] for n in names]
        if len(names) == len(coco):
            return coco, ids
        order = np.argsort(ids)
        return (
            LabelSpace(
                f"hf:{objects}", tuple(names[k] for k in order), tuple(ids[k] for k in order)
            ),
            ids,
        )
    return LabelSpace(f"hf:{objects}:" + "|".join(names[:3]), tuple(names)), list(range(len(names)))
