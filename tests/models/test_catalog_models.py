"""Generated from the model catalog: every registered model builds (random init where its
default weights are not available offline) and one forward pass on a small synthetic image
gives predictions of its task's contract, in its label space, at the original image size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionbench import registry
from visionbench.errors import WeightsError
from visionbench.models.adapter import ModelAdapter
from visionbench.models.catalog import MODELS
from visionbench.models.resolve import build_model
from visionbench.tasks import TASKS, Batch
from visionbench.types import Task

#: forward passes that take seconds on a 2-core CPU (big inputs or random-init NMS)
SLOW = {
    "vit_b_16",
    "maxvit_t",
    "yolov3",
    "deeplabv3plus_resnet101",
    "ssdlite320_mobilenet_v3_large",
    "mobile_former_508m",
    "mobile_former_294m",
    "mobile_former_214m",
}


def _params(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def _build(name: str) -> ModelAdapter:
    try:
        return build_model(name)
    except WeightsError:  # default weights not available offline: random init
        return build_model(name, weights="random")


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("name", _params(sorted(MODELS)))
def test_registered_model_builds_and_predicts(name: str) -> None:
    torch.manual_seed(0)
    adapter = _build(name)
    info = MODELS[name][1]
    assert adapter.task.value == info["task"]
    assert adapter.label_space.name == info["label_space"]
    assert isinstance(adapter.describe()["params"], int)

    sizes = [(60, 80), (50, 70)]
    xs, metas = [], []
    for i, (h, w) in enumerate(sizes if adapter.preprocess_config.mode != "none" else sizes[:1]):
        x, meta = adapter.preprocess(_image(h, w, i))
        meta["sample_id"] = f"s{i}"
        if adapter.task is Task.SCENE_GRAPH:  # PredCls: ground-truth objects in the meta
            meta.update(
                boxes=np.array([[0, 0, 30, 30], [10, 10, 40, 50], [45, 0, 60, 20.0]]),
                labels=np.array([1, 2, 3]),
            )
        xs.append(x)
        metas.append(meta)
    preds = adapter.predict(Batch(torch.stack(xs), metas))

    assert len(preds) == len(metas)
    for p, meta in zip(preds, metas):
        assert isinstance(p, TASKS[adapter.task].prediction_type)
        assert p.sample_id == meta["sample_id"]
        h, w = meta["orig_size"]
        if adapter.task is Task.CLASSIFICATION:
            assert p.scores.shape == (len(adapter.label_space),)
        elif adapter.task is Task.SEMANTIC_SEGMENTATION:
            assert p.mask.shape == (h, w)
            adapter.label_space.check_ids(p.mask)
        elif adapter.task is Task.DETECTION:
            adapter.label_space.check_ids(p.labels)
            if len(p):
                assert p.boxes.min() >= 0 and (p.boxes[:, [0, 2]] <= w).all()
                assert (p.boxes[:, [1, 3]] <= h).all()
        elif adapter.task is Task.SCENE_GRAPH:
            # 3 objects: 6 ordered pairs; only boxes 0 and 1 intersect (2 pairs)
            assert p.rel_pairs.shape == ((2, 2) if adapter.predictor.overlap else (6, 2))
            assert p.rel_scores.shape[1] == 51


def test_catalog_entries_resolve_lazily() -> None:
    for entry in registry.models:
        if entry.origin == "builtin":
            assert entry.name in MODELS and ":" in entry.target
            assert callable(registry.models.get(entry.name))
