"""The contracts shared by loaders, models, the engine and the metrics adapters.

One ground-truth type and one prediction type per task (DESIGN.md, "Contracts"). Every
type validates itself at construction: a wrong shape, dtype, NaN box or length mismatch
raises :class:`~visionbench.errors.ContractError` that names the field, what was expected
and what arrived (and the sample id when the caller gives one).

Conventions: boxes are ``[N, 4]`` float64 **xyxy in pixels of the original image**; labels
are ids of the declaring label space (for COCO the category ids 1..90); masks are COCO RLE
dicts (``{"size": [h, w], "counts": ...}``) or ``[H, W]`` arrays as stated per field.
This module imports numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import ContractError

__all__ = [
    "RANDOM_WEIGHTS",
    "Task",
    "ImageRef",
    "Sample",
    "ClassificationTarget",
    "DetectionTarget",
    "SegmentationTarget",
    "SceneGraphTarget",
    "CaptionTarget",
    "ClassificationPrediction",
    "DetectionPrediction",
    "SegmentationPrediction",
    "SceneGraphPrediction",
    "CaptionPrediction",
    "Target",
    "Prediction",
]


#: ``--weights random``: a random init (structure checks, profiling, smoke tests). Also the
#: run record's ``model.weights_id`` of such a model, which the leaderboard ranks apart.
RANDOM_WEIGHTS = "random"


class Task(str, Enum):
    """The five tasks. The value is the name used on the CLI and in run records."""

    CLASSIFICATION = "classification"
    DETECTION = "detection"
    SEMANTIC_SEGMENTATION = "semantic_segmentation"
    SCENE_GRAPH = "scene_graph"
    CAPTIONING = "captioning"

    def __str__(self) -> str:
        return self.value


# ---------------------------------------------------------------------------------------
# Validation helpers


def _where(sample_id: Any) -> str:
    return f" (sample_id={sample_id})" if sample_id is not None else ""


def as_array(
    value: Any,
    name: str,
    *,
    dtype: Any,
    ndim: int | None = None,
    last: int | None = None,
    sample_id: Any = None,
    finite: bool = False,
) -> np.ndarray:
    """Convert ``value`` to an array and check its rank, trailing size and finiteness."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ContractError(
            f"Expected `{name}` convertible to {np.dtype(dtype).name}, got {type(value).__name__}: {e}"
            + _where(sample_id)
        ) from None
    if ndim is not None and arr.ndim != ndim:
        if ndim == 2 and arr.size == 0:
            arr = arr.reshape(0, last or 0)
        else:
            shape = "[N, 4]" if last == 4 else f"{ndim}-d"
            raise ContractError(
                f"Expected `{name}` of shape {shape}, got shape {list(arr.shape)}"
                + _where(sample_id)
            )
    if last is not None and arr.shape[-1] != last:
        raise ContractError(
            f"Expected `{name}` of shape [N, {last}], got [N, {arr.shape[-1]}]" + _where(sample_id)
        )
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise ContractError(f"`{name}` contains NaN or inf at index {bad}" + _where(sample_id))
    return arr


def _same_len(sample_id: Any, **arrays: Any) -> None:
    it = iter(arrays.values())
    n = len(next(it))
    if all(v is None or len(v) == n for v in it):  # fast path: called once per image
        return
    lens = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lens.values())) > 1:
        desc = ", ".join(f"`{k}` has {n}" for k, n in lens.items())
        raise ContractError(f"Expected equal lengths: {desc}" + _where(sample_id))


def _check_boxes(boxes: np.ndarray, name: str, sample_id: Any) -> None:
    if boxes.size and ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
        i = int(np.argmax((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])))
        raise ContractError(
            f"`{name}` must be xyxy with x2 >= x1 and y2 >= y1; box {i} is {boxes[i].tolist()}"
            + _where(sample_id)
        )


# ---------------------------------------------------------------------------------------
# Images and samples


@dataclass(frozen=True)
class ImageRef:
    """Where a sample's pixels are, decoded only when :meth:`load` is called.

    Attributes:
        path: image file, or None when ``data`` holds the encoded bytes.
        data: encoded image bytes (JPEG/PNG), e.g. from a Hugging Face dataset.
        width, height: size recorded by the annotation, when known (checked by
            ``bench data verify``).
    """

    path: str | None = None
    data: bytes | None = None
    width: int | None = None
    height: int | None = None

    def load(self) -> Any:
        """Decode to a ``uint8`` RGB tensor ``[3, H, W]`` (EXIF orientation applied)."""
        from visionbench.imageio import decode_image

        return decode_image(self)


@dataclass(frozen=True)
class Sample:
    """One sample: its stable id, its lazily decoded image, its ground truth.

    ``sample_id`` is the dataset's own id (COCO image id, ImageNet file stem, Cityscapes
    frame name, VG image id).
    """

    sample_id: int | str
    image: ImageRef
    target: Target
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Ground truth


@dataclass(frozen=True)
class ClassificationTarget:
    """``label``: class index in the dataset's label space; ``labels``: the set of valid
    labels (ImageNet-ReaL) or None; an empty tuple means "no valid label, drop the image".
    """

    label: int
    labels: tuple[int, ...] | None = None
    sample_id: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, (int, np.integer)) or isinstance(self.label, bool):
            raise ContractError(
                f"Expected `label` int, got {type(self.label).__name__}" + _where(self.sample_id)
            )


@dataclass(frozen=True, eq=False)
class DetectionTarget:
    """Detection / instance segmentation ground truth of one image.

    Attributes:
        boxes: [N, 4] float64 xyxy, pixels.
        labels: [N] int64 category ids of the dataset's label space.
        iscrowd: [N] bool.
        area: [N] float64, the annotation's own area (COCO: the mask area), pixels².
        ann_ids: [N] int64 annotation ids (> 0), or empty when the format has none.
        masks: N COCO RLE dicts, or None.
        keypoints: [N, K, 3] float64 (x, y, v), or None.
        neg_labels: federated datasets (LVIS): [P] int64 category ids verified absent
            from the image (``neg_category_ids``), or None.
        not_exhaustive_labels: federated datasets: [Q] int64 category ids whose
            instances are not all annotated (``not_exhaustive_category_ids``), or None.
    """

    boxes: np.ndarray
    labels: np.ndarray
    iscrowd: np.ndarray | None = None
    area: np.ndarray | None = None
    ann_ids: np.ndarray | None = None
    masks: list[dict[str, Any]] | None = None
    keypoints: np.ndarray | None = None
    sample_id: Any = None
    neg_labels: np.ndarray | None = None
    not_exhaustive_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        sid = self.sample_id
        boxes = as_array(
            self.boxes, "boxes", dtype=np.float64, ndim=2, last=4, sample_id=sid, finite=True
        )
        _check_boxes(boxes, "boxes", sid)
        n = len(boxes)
        labels = as_array(self.labels, "labels", dtype=np.int64, ndim=1, sample_id=sid)
        iscrowd = (
            np.zeros(n, bool)
            if self.iscrowd is None
            else as_array(self.iscrowd, "iscrowd", dtype=bool, ndim=1, sample_id=sid)
        )
        area = (
            (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            if self.area is None
            else as_array(self.area, "area", dtype=np.float64, ndim=1, sample_id=sid, finite=True)
        )
        ann_ids = (
            np.zeros(0, np.int64)
            if self.ann_ids is None
            else as_array(self.ann_ids, "ann_ids", dtype=np.int64, ndim=1, sample_id=sid)
        )
        _same_len(sid, boxes=boxes, labels=labels, iscrowd=iscrowd, area=area, masks=self.masks)
        if ann_ids.size:
            _same_len(sid, boxes=boxes, ann_ids=ann_ids)
        for k, v in (
            ("boxes", boxes),
            ("labels", labels),
            ("iscrowd", iscrowd),
            ("area", area),
            ("ann_ids", ann_ids),
        ):
            object.__setattr__(self, k, v)
        for k in ("neg_labels", "not_exhaustive_labels"):
            v = getattr(self, k)
            if v is not None:
                object.__setattr__(self, k, as_array(v, k, dtype=np.int64, ndim=1, sample_id=sid))

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True, eq=False)
class SegmentationTarget:
    """Semantic segmentation ground truth: ``mask`` [H, W] dataset label ids (uint8/int),
    ``instances`` [H, W] instance ids (Cityscapes ``labelId*1000+k``) or None.

    Either arrays, or file paths decoded on demand by the metrics adapter (``mask_path``,
    ``instances_path``) so the bulk ground truth decodes nothing.
    """

    mask: np.ndarray | None = None
    instances: np.ndarray | None = None
    mask_path: str | None = None
    instances_path: str | None = None
    sample_id: Any = None

    def __post_init__(self) -> None:
        if self.mask is None and self.mask_path is None:
            raise ContractError(
                "SegmentationTarget needs `mask` or `mask_path`" + _where(self.sample_id)
            )
        if self.mask is not None:
            m = np.asarray(self.mask)
            if m.ndim != 2 or m.dtype.kind not in "ui":
                raise ContractError(
                    f"Expected `mask` [H, W] integer label ids, got shape {list(m.shape)} dtype {m.dtype}"
                    + _where(self.sample_id)
                )
            if self.instances is not None and np.shape(self.instances) != m.shape:
                raise ContractError(
                    f"`instances` shape {list(np.shape(self.instances))} != `mask` shape {list(m.shape)}"
                    + _where(self.sample_id)
                )


@dataclass(frozen=True, eq=False)
class SceneGraphTarget:
    """Scene graph ground truth: ``boxes`` [N, 4] xyxy px, ``labels`` [N] object class ids,
    ``relations`` [R, 3] int (subject index, object index, predicate id), ``attributes``
    [N, A] int or None."""

    boxes: np.ndarray
    labels: np.ndarray
    relations: np.ndarray
    attributes: np.ndarray | None = None
    sample_id: Any = None

    def __post_init__(self) -> None:
        sid = self.sample_id
        boxes = as_array(
            self.boxes, "boxes", dtype=np.float64, ndim=2, last=4, sample_id=sid, finite=True
        )
        _check_boxes(boxes, "boxes", sid)
        labels = as_array(self.labels, "labels", dtype=np.int64, ndim=1, sample_id=sid)
        rels = as_array(self.relations, "relations", dtype=np.int64, ndim=2, last=3, sample_id=sid)
        _same_len(sid, boxes=boxes, labels=labels)
        if rels.size and (rels[:, :2].min() < 0 or rels[:, :2].max() >= len(boxes)):
            raise ContractError(
                f"`relations` subject/object indices must be in 0..{len(boxes) - 1}" + _where(sid)
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "relations", rels)


@dataclass(frozen=True)
class CaptionTarget:
    """Reference captions of one image (raw strings)."""

    captions: tuple[str, ...]
    sample_id: Any = None

    def __post_init__(self) -> None:
        caps = tuple(self.captions)
        if not caps or not all(isinstance(c, str) for c in caps):
            raise ContractError(
                "Expected `captions` a non-empty list of str" + _where(self.sample_id)
            )
        object.__setattr__(self, "captions", caps)


Target = (
    ClassificationTarget | DetectionTarget | SegmentationTarget | SceneGraphTarget | CaptionTarget
)


# ---------------------------------------------------------------------------------------
# Predictions


@dataclass(frozen=True, eq=False)
class ClassificationPrediction:
    """``scores`` [C] (logits or probabilities, in the model's label space order), or
    ``topk`` [k] class ids best first when only ids are known (e.g. a CSV of top-5)."""

    scores: np.ndarray | None = None
    topk: np.ndarray | None = None
    sample_id: Any = None

    def __post_init__(self) -> None:
        if (self.scores is None) == (self.topk is None):
            raise ContractError(
                "Expected exactly one of `scores` or `topk`" + _where(self.sample_id)
            )
        if self.scores is not None:
            object.__setattr__(
                self,
                "scores",
                as_array(
                    self.scores,
                    "scores",
                    dtype=np.float32,
                    ndim=1,
                    sample_id=self.sample_id,
                    finite=True,
                ),
            )
        else:
            object.__setattr__(
                self,
                "topk",
                as_array(self.topk, "topk", dtype=np.int64, ndim=1, sample_id=self.sample_id),
            )


@dataclass(frozen=True, eq=False)
class DetectionPrediction:
    """``boxes`` [N, 4] xyxy px (original image), ``labels`` [N] category ids of the
    dataset's label space, ``scores`` [N], ``masks`` N COCO RLE dicts or None,
    ``keypoints`` [N, 3k] (x, y, score) or None."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    masks: list[dict[str, Any]] | None = None
    sample_id: Any = None
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        sid = self.sample_id
        boxes = as_array(
            self.boxes, "boxes", dtype=np.float64, ndim=2, last=4, sample_id=sid, finite=True
        )
        _check_boxes(boxes, "boxes", sid)
        labels = as_array(self.labels, "labels", dtype=np.int64, ndim=1, sample_id=sid)
        scores = as_array(
            self.scores, "scores", dtype=np.float64, ndim=1, sample_id=sid, finite=True
        )
        _same_len(sid, boxes=boxes, labels=labels, scores=scores, masks=self.masks)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True, eq=False)
class SegmentationPrediction:
    """``mask`` [H, W] label ids of the dataset's label space, at the gt's resolution."""

    mask: np.ndarray
    sample_id: Any = None

    def __post_init__(self) -> None:
        m = np.asarray(self.mask)
        if m.ndim != 2 or m.dtype.kind not in "ui":
            raise ContractError(
                f"Expected `mask` [H, W] integer label ids, got shape {list(m.shape)} dtype {m.dtype}"
                + _where(self.sample_id)
            )
        object.__setattr__(self, "mask", m)


@dataclass(frozen=True, eq=False)
class SceneGraphPrediction:
    """``boxes`` [N, 4] xyxy px, ``labels`` [N], ``scores`` [N] object scores,
    ``rel_pairs`` [R, 2] (subject index, object index), ``rel_scores`` [R, P] predicate
    scores with column 0 the background."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    rel_pairs: np.ndarray
    rel_scores: np.ndarray
    sample_id: Any = None

    def __post_init__(self) -> None:
        sid = self.sample_id
        boxes = as_array(
            self.boxes, "boxes", dtype=np.float64, ndim=2, last=4, sample_id=sid, finite=True
        )
        labels = as_array(self.labels, "labels", dtype=np.int64, ndim=1, sample_id=sid)
        scores = as_array(
            self.scores, "scores", dtype=np.float64, ndim=1, sample_id=sid, finite=True
        )
        pairs = as_array(self.rel_pairs, "rel_pairs", dtype=np.int64, ndim=2, last=2, sample_id=sid)
        rs = as_array(
            self.rel_scores, "rel_scores", dtype=np.float64, ndim=2, sample_id=sid, finite=True
        )
        _same_len(sid, boxes=boxes, labels=labels, scores=scores)
        _same_len(sid, rel_pairs=pairs, rel_scores=rs)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= len(boxes)):
            raise ContractError(f"`rel_pairs` indices must be in 0..{len(boxes) - 1}" + _where(sid))
        for k, v in (
            ("boxes", boxes),
            ("labels", labels),
            ("scores", scores),
            ("rel_pairs", pairs),
            ("rel_scores", rs),
        ):
            object.__setattr__(self, k, v)


@dataclass(frozen=True)
class CaptionPrediction:
    """One generated caption (raw string)."""

    caption: str
    sample_id: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.caption, str):
            raise ContractError(
                f"Expected `caption` str, got {type(self.caption).__name__}"
                + _where(self.sample_id)
            )


Prediction = (
    ClassificationPrediction
    | DetectionPrediction
    | SegmentationPrediction
    | SceneGraphPrediction
    | CaptionPrediction
)


def path_str(p: str | Path | None) -> str | None:
    """``str(p)`` keeping None."""
    return None if p is None else str(p)
