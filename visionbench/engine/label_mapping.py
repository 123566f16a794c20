"""Whether a model can be scored on a dataset: the same task, and the same label space or an
explicit map between the two (never a guessed one); and the map applied to predictions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from visionbench.errors import LabelSpaceError, RunError
from visionbench.label_spaces import LabelMap, label_map
from visionbench.tasks import Dataset, Model
from visionbench.types import DetectionPrediction, SegmentationPrediction, Task

__all__ = ["check_compatible", "map_labels"]


def check_compatible(model: Model, dataset: Dataset) -> LabelMap | None:
    """None when the model predicts in the dataset's label space, the explicit
    :class:`LabelMap` between the two spaces when one exists (detection and semantic
    segmentation), else a one-line :class:`RunError` / :class:`LabelSpaceError`."""
    if model.task != dataset.task:
        raise RunError(
            f"model {model.name!r} is for {model.task.value} but dataset {dataset.name!r} is "
            f"{dataset.task.value}"
        )
    if model.label_space.name == dataset.label_space.name:
        return None
    mappable = model.task in (Task.DETECTION, Task.SEMANTIC_SEGMENTATION)
    try:
        mapping = label_map(model.label_space.name, dataset.label_space.name) if mappable else None
    except LabelSpaceError:
        mapping = None
    if mapping is None:
        raise LabelSpaceError(
            f"model {model.name!r} predicts label space {model.label_space.name!r} but dataset "
            f"{dataset.name!r} is labelled in {dataset.label_space.name!r}; no mapping is guessed "
            "(an explicit map between the two spaces is needed)"
        )
    return mapping


def map_labels(pred: Any, mapping: LabelMap) -> Any:
    """A detection's labels or a segmentation mask through an explicit label map."""
    if isinstance(pred, SegmentationPrediction):
        return replace(
            pred,
            mask=mapping.apply(pred.mask).astype(
                np.int32 if pred.mask.max(initial=0) > 255 else np.uint8
            ),
        )
    if isinstance(pred, DetectionPrediction):
        return replace(pred, labels=mapping.apply(pred.labels))
    return pred
