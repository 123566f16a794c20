"""The Hugging Face ``datasets`` bridge: a visionbench dataset to a ``datasets.Dataset``
with proper ``Features``, and such a dataset (in memory, saved to disk, or an
``imagefolder``) back to a visionbench dataset.

Schemas, per task (every row also has ``image: Image()`` and ``sample_id``):

- classification: ``label: ClassLabel(names=...)``; ``real_labels: Sequence(int64)`` when
  the targets carry ReaL label sets.
- detection: ``width``, ``height``, ``objects: Sequence({bbox_xyxy: Sequence(float64, 4),
  category_id: int64, iscrowd: bool, area: float64, id: int64})``, plus ``segmentation``
  (RLE ``{size, counts}``) and ``keypoints`` when present. ``category_id`` are the label
  space's ids (COCO category ids for ``coco91``); boxes are xyxy pixels.
- semantic_segmentation: ``mask: Image()`` (the label-id PNG), ``instances: Image()``.
- captioning: ``captions: Sequence(string)``.
- scene_graph: ``boxes``, ``labels``, ``relations`` ([R, 3] subject, object, predicate).

``sample_id`` is stored as a string (``int`` ids come back as ``int``). The dataset's name,
split, task and label space travel in ``info.description`` as JSON under ``visionbench``.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.tasks import GroundTruth
from visionbench.types import (
    CaptionTarget,
    ClassificationTarget,
    DetectionTarget,
    ImageRef,
    Sample,
    SceneGraphTarget,
    SegmentationTarget,
    Task,
)

__all__ = ["to_hf_dataset", "from_hf_dataset", "HFDataset", "hf_features"]

_META_KEY = "visionbench"


def hf_features(task: Task, label_space: LabelSpace, *, masks: bool = False, keypoints: bool = False,
                real_labels: bool = False, instances: bool = False) -> Any:  # fmt: skip
    """The ``datasets.Features`` of ``task`` (see the module docstring)."""
    import datasets as hf

    f: dict[str, Any] = {"image": hf.Image(), "sample_id": hf.Value("string")}
    if task == Task.CLASSIFICATION:
        f["label"] = hf.ClassLabel(names=_unique_names(label_space))
        if real_labels:
            f["real_labels"] = hf.Sequence(hf.Value("int64"))
    elif task == Task.DETECTION:
        f["width"] = hf.Value("int64")
        f["height"] = hf.Value("int64")
        obj: dict[str, Any] = {
            "bbox_xyxy": hf.Sequence(hf.Value("float64"), length=4),
            "category_id": hf.Value("int64"),
            "iscrowd": hf.Value("bool"),
            "area": hf.Value("float64"),
            "id": hf.Value("int64"),
        }
        if masks:
            obj["segmentation"] = {
                "size": hf.Sequence(hf.Value("int64"), length=2),
                "counts": hf.Value("string"),
            }
        if keypoints:
            obj["keypoints"] = hf.Sequence(hf.Sequence(hf.Value("float64"), length=3))
        f["objects"] = hf.Sequence(obj)
    elif task == Task.SEMANTIC_SEGMENTATION:
        f["mask"] = hf.Image()
        if instances:
            f["instances"] = hf.Image()
    elif task == Task.CAPTIONING:
        f["captions"] = hf.Sequence(hf.Value("string"))
    elif task == Task.SCENE_GRAPH:
        f["boxes"] = hf.Sequence(hf.Sequence(hf.Value("float64"), length=4))
        f["labels"] = hf.Sequence(hf.Value("int64"))
        f["relations"] = hf.Sequence(hf.Sequence(hf.Value("int64"), length=3))
    return hf.Features(f)


def to_hf_dataset(dataset: Any, *, embed_images: bool = True) -> Any:
    """Convert a visionbench dataset to a ``datasets.Dataset`` (in memory).

    Args:
        dataset: any :class:`~visionbench.tasks.Dataset`.
        embed_images: store the encoded image bytes (self-contained; memory grows with the
            dataset). With False only image paths are stored.

    Returns:
        A ``datasets.Dataset`` with the features of :func:`hf_features`; ``save_to_disk``
        it and :func:`from_hf_dataset` reads it back.
    """
    import datasets as hf

    task = Task(dataset.task)
    samples = [dataset[i] for i in range(len(dataset))]
    targets = [s.target for s in samples]
    opts = {
        "masks": task == Task.DETECTION and any(t.masks is not None for t in targets),
        "keypoints": task == Task.DETECTION and any(t.keypoints is not None for t in targets),
        "real_labels": task == Task.CLASSIFICATION and any(t.labels is not None for t in targets),
        "instances": task == Task.SEMANTIC_SEGMENTATION
        and any(t.instances is not None or t.instances_path is not None for t in targets),
    }
    features = hf_features(task, dataset.label_space, **opts)
    rows = [_row(s, task, opts, embed_images) for s in samples]
    columns = {k: [r[k] for r in rows] for k in features}
    space = dataset.label_space
    meta = {
        "name": dataset.name,
        "split": dataset.split,
        "task": task.value,
        "label_space": space.name,
        "label_space_names": list(space.names),
        "label_space_ids": list(space.ids),
        "sample_id_type": "int"
        if samples and isinstance(samples[0].sample_id, (int, np.integer))
        else "str",
        "boxes": "xyxy pixels",
    }
    info = hf.DatasetInfo(description=json.dumps({_META_KEY: meta}), features=features)
    return hf.Dataset.from_dict(
        columns, features=features, info=info, split=hf.NamedSplit(_split_name(dataset.split))
    )


def from_hf_dataset(source: Any, *, name: str | None = None, split: str | None = None,
                    task: str | Task | None = None, label_space: str | LabelSpace | None = None) -> HFDataset:  # fmt: skip
    """A visionbench dataset over a ``datasets.Dataset`` of the schema above.

    Args:
        source: a ``datasets.Dataset`` or ``DatasetDict``, or a folder written by
            ``save_to_disk`` (a ``DatasetDict`` needs ``split`` unless it has one split).
        name, split, task, label_space: override (or supply, for datasets not written by
            :func:`to_hf_dataset`, e.g. an ``imagefolder`` with a ``label`` column).
    """
    import datasets as hf

    ds = hf.load_from_disk(str(source)) if isinstance(source, (str, Path)) else source
    if isinstance(ds, hf.DatasetDict):
        if split is None and len(ds) != 1:
            raise ContractError(f"a DatasetDict with splits {list(ds)}: pass split=")
        key = split if split is not None else next(iter(ds))
        if key not in ds:
            raise ContractError(f"split {key!r} not in the DatasetDict (splits: {list(ds)})")
        ds = ds[key]
    return HFDataset(ds, name=name, split=split, task=task, label_space=label_space)


class HFDataset:
    """A visionbench :class:`~visionbench.tasks.Dataset` reading a ``datasets.Dataset``.

    Images stay encoded until :meth:`ImageRef.load`; :meth:`ground_truth` reads only the
    non-image columns (segmentation masks are the exception: they live in the Arrow table
    as PNG bytes, so they are decoded).
    """

    def __init__(self, ds: Any, *, name: str | None = None, split: str | None = None,
                 task: str | Task | None = None, label_space: str | LabelSpace | None = None) -> None:  # fmt: skip
        import datasets as hf

        meta = _read_meta(ds)
        self.task = Task(task or meta.get("task") or _infer_task(ds.features))
        self.name = name or meta.get("name") or "hf"
        self.split = split or meta.get("split") or str(ds.split or "train")
        self.root = str(
            getattr(ds, "cache_files", None) and ds.cache_files[0]["filename"] or "<memory>"
        )
        self.label_space = _label_space(label_space, meta, ds.features)
        self._int_ids = meta.get("sample_id_type") == "int"
        images = [c for c in ("image", "mask", "instances") if c in ds.features]
        for c in images:
            ds = ds.cast_column(c, hf.Image(decode=False))
        self._ds = ds
        self._image_cols = images

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, i: int) -> Sample:
        row = self._ds[int(i)]
        sid = self._sample_id(row, i)
        img = row["image"]
        ref = ImageRef(path=None if img.get("bytes") else img.get("path"), data=img.get("bytes"),
                       width=row.get("width"), height=row.get("height"))  # fmt: skip
        return Sample(sid, ref, self._target(row, sid))

    def ground_truth(self) -> GroundTruth:
        cols = [c for c in self._ds.column_names if c not in ("image",)]
        table = self._ds.select_columns(cols)
        ids, targets = [], []
        for i, row in enumerate(table):
            sid = self._sample_id(row, i)
            ids.append(sid)
            targets.append(self._target(row, sid))
        return GroundTruth(
            self.task, self.label_space, ids, targets, files={"hf_dataset": self.root}
        )

    def _sample_id(self, row: dict[str, Any], i: int) -> Any:
        sid = row.get("sample_id")
        if sid is None:
            return i
        return int(sid) if self._int_ids else sid

    def _target(self, row: dict[str, Any], sid: Any) -> Any:
        if self.task == Task.CLASSIFICATION:
            real = row.get("real_labels")
            return ClassificationTarget(
                int(row["label"]), labels=None if real is None else tuple(real), sample_id=sid
            )
        if self.task == Task.DETECTION:
            o = row["objects"]
            boxes = np.array(o["bbox_xyxy"], np.float64).reshape(-1, 4)
            masks = _masks(o.get("segmentation"))
            kp = o.get("keypoints")
            return DetectionTarget(
                boxes=boxes, labels=np.array(o["category_id"], np.int64), iscrowd=np.array(o["iscrowd"], bool),
                area=np.array(o["area"], np.float64), ann_ids=np.array(o["id"], np.int64), masks=masks,
                keypoints=np.array(kp, np.float64).reshape(len(boxes), -1, 3) if kp else None, sample_id=sid,
            )  # fmt: skip
        if self.task == Task.SEMANTIC_SEGMENTATION:
            inst = row.get("instances")
            return SegmentationTarget(mask=_decode_png(row["mask"]), instances=_decode_png(inst) if inst else None,
                                      sample_id=sid)  # fmt: skip
        if self.task == Task.CAPTIONING:
            return CaptionTarget(tuple(row["captions"]), sample_id=sid)
        if self.task == Task.SCENE_GRAPH:
            return SceneGraphTarget(
                boxes=np.array(row["boxes"], np.float64).reshape(-1, 4), labels=np.array(row["labels"], np.int64),
                relations=np.array(row["relations"], np.int64).reshape(-1, 3), sample_id=sid,
            )  # fmt: skip
        raise ContractError(f"task {self.task} has no Hugging Face schema")


# ---------------------------------------------------------------------------------------


def _row(s: Sample, task: Task, opts: dict[str, bool], embed: bool) -> dict[str, Any]:
    t = s.target
    row: dict[str, Any] = {"image": _image_value(s.image, embed), "sample_id": str(s.sample_id)}
    if task == Task.CLASSIFICATION:
        row["label"] = int(t.label)
        if opts["real_labels"]:
            row["real_labels"] = list(t.labels) if t.labels is not None else None
    elif task == Task.DETECTION:
        n = len(t)
        row["width"], row["height"] = s.image.width, s.image.height
        obj: dict[str, Any] = {
            "bbox_xyxy": t.boxes.tolist(),
            "category_id": t.labels.tolist(),
            "iscrowd": t.iscrowd.tolist(),
            "area": t.area.tolist(),
            "id": t.ann_ids.tolist() if t.ann_ids.size else [0] * n,
        }
        if opts["masks"]:
            obj["segmentation"] = [
                {
                    "size": list(m["size"]),
                    "counts": m["counts"].decode()
                    if isinstance(m["counts"], bytes)
                    else m["counts"],
                }
                for m in (t.masks or [])
            ]
        if opts["keypoints"]:
            obj["keypoints"] = (
                t.keypoints.tolist() if t.keypoints is not None else [[] for _ in range(n)]
            )
        row["objects"] = obj
    elif task == Task.SEMANTIC_SEGMENTATION:
        row["mask"] = _label_value(t.mask, t.mask_path)
        if opts["instances"]:
            row["instances"] = _label_value(t.instances, t.instances_path)
    elif task == Task.CAPTIONING:
        row["captions"] = list(t.captions)
    elif task == Task.SCENE_GRAPH:
        row["boxes"], row["labels"], row["relations"] = (
            t.boxes.tolist(),
            t.labels.tolist(),
            t.relations.tolist(),
        )
    else:
        raise ContractError(f"task {task} has no Hugging Face schema")
    return row


def _image_value(ref: ImageRef, embed: bool) -> dict[str, Any]:
    if ref.data is not None:
        return {"bytes": ref.data, "path": None}
    if ref.path is None:
        raise ContractError("sample image has neither a path nor bytes")
    if not embed:
        return {"bytes": None, "path": ref.path}
    return {"bytes": Path(ref.path).read_bytes(), "path": Path(ref.path).name}


def _label_value(arr: np.ndarray | None, path: str | None) -> dict[str, Any] | None:
    """The label image as PNG bytes: the decoded array when there is one, else the file."""
    if arr is None:
        return None if path is None else {"bytes": Path(path).read_bytes(), "path": Path(path).name}
    from PIL import Image

    a = np.asarray(arr)
    im = Image.fromarray(a.astype(np.uint8) if a.max(initial=0) < 256 else a.astype(np.uint16))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def _masks(seg: Any) -> list[dict[str, Any]] | None:
    """RLE dicts from the ``segmentation`` column: a dict of lists (datasets 2.x) or a
    list of dicts (datasets >= 4)."""
    if seg is None:
        return None
    if isinstance(seg, dict):
        return [{"size": list(s), "counts": c} for s, c in zip(seg["size"], seg["counts"])]
    return [{"size": list(m["size"]), "counts": m["counts"]} for m in seg]


def _decode_png(value: dict[str, Any]) -> np.ndarray:
    from visionbench.metrics.segmentation.label_png import read_label_png

    src = value["bytes"] if value.get("bytes") else value["path"]
    return read_label_png(src, single_channel=True, name=value.get("path") or "label image")


def _unique_names(space: LabelSpace) -> list[str]:
    """Class names made unique for ``ClassLabel`` (ImageNet has two "crane"s): a repeated
    name gets `` (<index>)`` appended."""
    if not space.contiguous:
        raise ContractError(
            f"label space {space.name!r} is not contiguous 0..C-1; ClassLabel needs that"
        )
    counts = Counter(space.names)
    return [n if counts[n] == 1 else f"{n} ({i})" for i, n in enumerate(space.names)]


def _read_meta(ds: Any) -> dict[str, Any]:
    try:
        return json.loads(ds.info.description or "{}").get(_META_KEY, {})
    except (ValueError, AttributeError):
        return {}


def _infer_task(features: Any) -> Task:
    import datasets as hf

    if isinstance(features.get("label"), hf.ClassLabel):
        return Task.CLASSIFICATION
    for col, task in (("objects", Task.DETECTION), ("mask", Task.SEMANTIC_SEGMENTATION),
                      ("captions", Task.CAPTIONING), ("relations", Task.SCENE_GRAPH)):  # fmt: skip
        if col in features:
            return task
    raise ContractError(
        f"cannot tell the task of a Hugging Face dataset with columns {list(features)}: "
        "expected `label` (ClassLabel), `objects`, `mask`, `captions` or `relations`; pass task="
    )


def _label_space(given: str | LabelSpace | None, meta: dict[str, Any], features: Any) -> LabelSpace:
    import datasets as hf

    if isinstance(given, LabelSpace):
        return given
    name = given or meta.get("label_space")
    if name:
        try:
            return get_label_space(name)
        except Exception:
            if meta.get("label_space_names") is not None:
                return LabelSpace(
                    name, tuple(meta["label_space_names"]), tuple(meta["label_space_ids"])
                )
            raise
    label = features.get("label")
    if isinstance(label, hf.ClassLabel):
        return LabelSpace("hf:" + "|".join(label.names[:3]), tuple(label.names))
    raise ContractError(
        "cannot tell the label space of this Hugging Face dataset; pass label_space="
    )


def _split_name(split: str) -> str:
    return "".join(c if c.isalnum() or c in "_." else "_" for c in split) or "train"
