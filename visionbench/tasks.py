"""Tasks and the seams between layers: the Dataset and Model protocols, bulk ground truth.

A task ties a ground-truth type, a prediction type and a metric suite (DESIGN.md). The
engine checks that a model and a dataset share a task and a label space (or that an
explicit map exists) before it runs anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace
from visionbench.types import (
    CaptionPrediction,
    CaptionTarget,
    ClassificationPrediction,
    ClassificationTarget,
    DetectionPrediction,
    DetectionTarget,
    Prediction,
    Sample,
    SceneGraphPrediction,
    SceneGraphTarget,
    SegmentationPrediction,
    SegmentationTarget,
    Target,
    Task,
)

__all__ = ["Task", "TaskSpec", "TASKS", "GroundTruth", "Dataset", "Model", "Batch", "parse_task"]


@dataclass(frozen=True)
class TaskSpec:
    """What a task's ground truth and predictions are, and its usual headline metric (the
    dataset's protocol names the headline a run record shows: :mod:`visionbench.protocols`)."""

    task: Task
    target_type: type
    prediction_type: type
    headline: str
    description: str


TASKS: dict[Task, TaskSpec] = {
    Task.CLASSIFICATION: TaskSpec(
        Task.CLASSIFICATION,
        ClassificationTarget,
        ClassificationPrediction,
        "top1",
        "label per image; top-1/top-5, per-class, P/R/F1, confusion",
    ),
    Task.DETECTION: TaskSpec(
        Task.DETECTION,
        DetectionTarget,
        DetectionPrediction,
        "AP",
        "boxes (and masks) per image; COCO AP/AR",
    ),
    Task.SEMANTIC_SEGMENTATION: TaskSpec(
        Task.SEMANTIC_SEGMENTATION,
        SegmentationTarget,
        SegmentationPrediction,
        "miou",
        "label id per pixel; IoU/mIoU, iIoU (Cityscapes), pixel accuracy",
    ),
    Task.SCENE_GRAPH: TaskSpec(
        Task.SCENE_GRAPH,
        SceneGraphTarget,
        SceneGraphPrediction,
        "R@50",
        "objects and relations; R@K, ngR@K, mR@K",
    ),
    Task.CAPTIONING: TaskSpec(
        Task.CAPTIONING,
        CaptionTarget,
        CaptionPrediction,
        "bleu4",
        "a caption per image; COCO-caption BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE; sacreBLEU",
    ),
}


def parse_task(value: str | Task) -> Task:
    """``Task`` from its name, with an error listing the tasks."""
    try:
        return Task(value)
    except ValueError:
        raise ContractError(
            f"unknown task {value!r}; tasks: {', '.join(t.value for t in Task)}"
        ) from None


@dataclass
class GroundTruth:
    """A dataset's ground truth in bulk, decoded without touching a pixel.

    Attributes:
        task, label_space: as the dataset's.
        sample_ids: ids in dataset order.
        targets: one target per sample id.
        files: the source files it came from, by role (``{"annotations": path}``), so
            metrics that read official files (pycocotools JSON) can use them.
    """

    task: Task
    label_space: LabelSpace
    sample_ids: list[Any]
    targets: list[Target]
    files: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.sample_ids) != len(self.targets):
            raise ContractError(
                f"ground truth has {len(self.sample_ids)} sample ids but {len(self.targets)} targets"
            )
        expected = TASKS[self.task].target_type
        for sid, t in zip(self.sample_ids, self.targets):
            if not isinstance(t, expected):
                raise ContractError(
                    f"Expected {expected.__name__} for task {self.task.value}, got "
                    f"{type(t).__name__} (sample_id={sid})"
                )
            break

    def __len__(self) -> int:
        return len(self.sample_ids)

    def fingerprint(self) -> str:
        """sha256 (first 16 hex) over the sample ids and the targets' content."""
        h = hashlib.sha256()
        h.update(f"{self.task.value}|{self.label_space.name}|{len(self)}".encode())
        for sid, t in zip(self.sample_ids, self.targets):
            h.update(repr(sid).encode())
            for name in sorted(vars(t)):
                v = getattr(t, name)
                if name == "sample_id":
                    continue
                if isinstance(v, np.ndarray):
                    h.update(np.ascontiguousarray(v).tobytes())
                else:
                    h.update(repr(v).encode())
        return h.hexdigest()[:16]


@runtime_checkable
class Dataset(Protocol):
    """A dataset in its official on-disk format (loaders/)."""

    name: str
    task: Task
    label_space: LabelSpace
    split: str
    root: str

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Sample: ...

    def ground_truth(self) -> GroundTruth: ...


@dataclass
class Batch:
    """What the engine hands a model: preprocessed pixels and per-sample metadata.

    Attributes:
        images: float tensor [B, 3, H, W] on the model's device.
        metas: per sample, at least ``sample_id`` and ``orig_size`` (h, w), plus what the
            preprocessing needs to map outputs back (``scale``, ``pad``).
    """

    images: Any
    metas: list[dict[str, Any]]


@runtime_checkable
class Model(Protocol):
    """A model adapter (models/): everything the engine asks of a model, and nothing more.

    :class:`visionbench.models.adapter.ModelAdapter` implements all of it around an
    ``nn.Module`` (subclasses write ``postprocess``); any other object with these members
    works too. The engine calls, in order: :meth:`to` once, :meth:`preprocess` per sample
    (in DataLoader workers), :meth:`forward` then :meth:`postprocess` per batch (timed
    apart, under ``torch.inference_mode``), then :meth:`describe` and :meth:`weights_id`
    for the run record. :meth:`predict` is the two steps in one, for callers outside the
    engine. Registry entries and the engine check objects against this protocol
    (:func:`visionbench.registry.check_protocol`).

    Attributes:
        name: registry name (``"yolov3"``, ``"tv:resnet50"``, ``"mypkg.mod:build"``).
        task: the task its predictions are for.
        label_space: the label space of its outputs.
        profile_info: what ``bench run --profile`` measured (GFLOPs, latency), else None;
            :meth:`describe` reports it.
    """

    name: str
    task: Task
    label_space: LabelSpace
    profile_info: dict[str, Any] | None

    def preprocess(self, image: Any) -> tuple[Any, dict[str, Any]]:
        """uint8 [3, H, W] -> (float tensor [3, h, w], meta for postprocessing)."""
        ...

    def forward(self, images: Any) -> Any:
        """The network on a batch of preprocessed images [B, 3, h, w] on the model's
        device; returns raw outputs for :meth:`postprocess`."""
        ...

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        """Raw outputs -> one contract prediction per sample, in original-image pixels."""
        ...

    def predict(self, batch: Batch) -> Sequence[Prediction]:
        """``postprocess(forward(batch.images), batch)``."""
        ...

    def to(self, device: Any, *, channels_last: bool = False) -> Model:
        """Move the model to a torch device (optionally NHWC memory format); returns self."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run record says about the model: ``name``, ``task``, ``label_space``,
        ``params``, ``gflops``, ``preprocess``, ``weights`` (path / name / sha256),
        ``profile``."""
        ...

    def weights_id(self) -> str | None:
        """The weights identity of the run record (``model.weights_id``): the weights
        file's sha256, ``"random"``, an enum name, or a hash of the parameters; None
        when unknown."""
        ...
