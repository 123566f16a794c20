"""Every model of this package on two samples of the matching built-in mini dataset (the
official on-disk formats, generated offline): loader -> model preprocessing -> predict ->
the dataset's label space, as the engine does it. VOC-21 weights are refused on Cityscapes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from visionbench import registry
from visionbench.errors import LabelSpaceError, WeightsError
from visionbench.label_spaces import label_map
from visionbench.models.catalog import MODELS
from visionbench.models.resolve import build_model
from visionbench.models.scene_graph_freq import compute_freq_statistics
from visionbench.tasks import Batch
from visionbench.types import Task

MINI = {
    "classification": "imagenet-mini",
    "detection": "coco-mini",
    "semantic_segmentation": "cityscapes-mini",
    "scene_graph": "vg-mini",
}
MINE = [
    n
    for n, (target, _) in MODELS.items()
    if target.split(":")[0].rsplit(".", 1)[1]
    in ("torchvision_zoo", "deeplabv3plus", "mobile_former", "scene_graph_freq")
]
SLOW = {
    "vit_b_16",
    "maxvit_t",
    "deeplabv3plus_resnet101",
    "ssdlite320_mobilenet_v3_large",
    "mobile_former_508m",
    "mobile_former_294m",
    "mobile_former_214m",
    "mobile_former_151m",
    "deeplabv3plus_resnet50",
}


@cache
def _dataset(name: str):  # noqa: ANN202
    entry = registry.datasets.entry(name)
    return registry.datasets.get(name)(None, entry.info.get("split", "val"))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(MINE)]
)
def test_model_on_matching_mini_dataset(name: str, tmp_path: Path) -> None:
    task = MODELS[name][1]["task"]
    ds = _dataset(MINI[task])
    weights = None
    if task == "scene_graph":  # FREQ: statistics from the mini dataset's own ground truth
        gt = ds.ground_truth()
        stats = compute_freq_statistics(gt.targets)
        weights = str(stats.save(tmp_path / "stats.npz"))
    try:
        adapter = build_model(name, weights=weights)
    except WeightsError:
        adapter = build_model(name, weights="random")

    if adapter.label_space.name != ds.label_space.name:
        try:
            to_dataset = label_map(adapter.label_space.name, ds.label_space.name)
        except LabelSpaceError:
            assert adapter.label_space.name == "voc21"  # refused, never guessed
            return
    else:
        to_dataset = None

    samples = [ds[0], ds[1]]
    xs, metas = [], []
    for s in samples:
        x, meta = adapter.preprocess(s.image.load())
        meta["sample_id"] = s.sample_id
        if adapter.task is Task.SCENE_GRAPH:  # PredCls
            meta.update(boxes=s.target.boxes, labels=s.target.labels)
        xs.append(x)
        metas.append(meta)
    if adapter.preprocess_config.mode == "none" and xs[0].shape != xs[1].shape:
        batches = [Batch(x[None], [m]) for x, m in zip(xs, metas)]
    else:
        batches = [Batch(torch.stack(xs), metas)]
    preds = [p for b in batches for p in adapter.predict(b)]

    for s, p in zip(samples, preds):
        assert p.sample_id == s.sample_id
        h, w = s.image.load().shape[-2:]
        if adapter.task is Task.SEMANTIC_SEGMENTATION:
            mask = to_dataset.apply(p.mask) if to_dataset else p.mask
            assert mask.shape == (h, w)
            ds.label_space.check_ids(mask)
        elif adapter.task is Task.DETECTION:
            ds.label_space.check_ids(p.labels)
            if len(p):
                assert (p.boxes[:, [0, 2]] <= w).all() and (p.boxes[:, [1, 3]] <= h).all()
        elif adapter.task is Task.CLASSIFICATION:
            assert p.scores.shape == (1000,)
        else:
            n = len(s.target.labels)
            expected = n * (n - 1) if name == "freq" else None
            if expected is not None:
                assert len(p.rel_pairs) == expected
            assert np.isfinite(p.rel_scores).all()
