"""visionbench/tasks.py: the task table, parse_task, bulk ground truth (its checks and its
fingerprint, recomputed here from its definition) and the runtime-checkable seams."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from visionbench import types as T
from visionbench.errors import ContractError
from visionbench.label_spaces import get_label_space
from visionbench.tasks import TASKS, Batch, Dataset, GroundTruth, Model, parse_task


def test_every_task_has_a_spec_naming_its_own_types():
    assert set(TASKS) == set(T.Task)
    expected = {
        T.Task.CLASSIFICATION: (T.ClassificationTarget, T.ClassificationPrediction, "top1"),
        T.Task.DETECTION: (T.DetectionTarget, T.DetectionPrediction, "AP"),
        T.Task.SEMANTIC_SEGMENTATION: (T.SegmentationTarget, T.SegmentationPrediction, "miou"),
        T.Task.SCENE_GRAPH: (T.SceneGraphTarget, T.SceneGraphPrediction, "R@50"),
        T.Task.CAPTIONING: (T.CaptionTarget, T.CaptionPrediction, "bleu4"),
    }
    for task, spec in TASKS.items():
        assert spec.task is task
        assert (spec.target_type, spec.prediction_type, spec.headline) == expected[task]


@pytest.mark.parametrize("value", ["classification", "scene_graph", T.Task.DETECTION])
def test_parse_task_accepts_names_and_members(value):
    assert parse_task(value) is T.Task(value)


def test_parse_task_lists_the_tasks_on_a_typo():
    with pytest.raises(ContractError) as e:
        parse_task("detecton")
    assert str(e.value) == (
        "unknown task 'detecton'; tasks: classification, detection, semantic_segmentation, "
        "scene_graph, captioning"
    )


def _cls_gt(labels, ids=None, space="imagenet1k"):
    ids = list(range(len(labels))) if ids is None else ids
    return GroundTruth(
        T.Task.CLASSIFICATION,
        get_label_space(space),
        ids,
        [T.ClassificationTarget(label=int(y), sample_id=i) for i, y in zip(ids, labels)],
    )


def test_ground_truth_refuses_mismatched_lengths_and_wrong_target_types():
    space = get_label_space("imagenet1k")
    with pytest.raises(ContractError, match="ground truth has 2 sample ids but 1 targets"):
        GroundTruth(T.Task.CLASSIFICATION, space, [1, 2], [T.ClassificationTarget(label=0)])
    with pytest.raises(ContractError) as e:
        GroundTruth(T.Task.CLASSIFICATION, space, ["img7"], [T.CaptionTarget(captions=("a",))])
    assert str(e.value) == (
        "Expected ClassificationTarget for task classification, got CaptionTarget (sample_id=img7)"
    )
    gt = _cls_gt([3, 1, 4])
    assert len(gt) == 3 and gt.files == {}


def _fingerprint_by_definition(gt: GroundTruth) -> str:
    """The fingerprint as its docstring defines it: sha256 over the task, space and size,
    then per sample its id and every target field (sorted by name, sample_id excluded),
    arrays as raw bytes and anything else as repr."""
    h = hashlib.sha256(f"{gt.task.value}|{gt.label_space.name}|{len(gt)}".encode())
    for sid, t in zip(gt.sample_ids, gt.targets):
        h.update(repr(sid).encode())
        for name in sorted(vars(t)):
            if name == "sample_id":
                continue
            v = getattr(t, name)
            h.update(
                np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode()
            )
    return h.hexdigest()[:16]


def test_fingerprint_matches_its_definition_for_random_detection_ground_truth():
    rng = np.random.default_rng(17)
    targets, ids = [], []
    for _ in range(12):
        n = int(rng.integers(0, 6))  # some images without boxes
        xy = rng.uniform(0, 100, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(1, 50, (n, 2))], axis=1)
        ids.append(int(rng.integers(1, 10**6)))
        targets.append(
            T.DetectionTarget(boxes=boxes, labels=rng.integers(1, 91, n), sample_id=ids[-1])
        )
    gt = GroundTruth(T.Task.DETECTION, get_label_space("coco91"), ids, targets)
    fp = gt.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    assert fp == _fingerprint_by_definition(gt)


def test_fingerprint_sees_content_order_and_space_but_not_target_sample_ids():
    base = _cls_gt([3, 1, 4]).fingerprint()
    assert _cls_gt([3, 1, 4]).fingerprint() == base  # a pure function of the content
    assert _cls_gt([3, 1, 5]).fingerprint() != base  # one label changed
    assert _cls_gt([1, 3, 4], ids=[1, 0, 2]).fingerprint() != base  # order matters
    assert _cls_gt([3, 1, 4], ids=["0", "1", "2"]).fingerprint() != base  # ids by repr
    assert _cls_gt([3, 1, 4], space="voc20").fingerprint() != base  # the label space too
    gt = _cls_gt([3, 1, 4])
    relabelled = GroundTruth(
        gt.task,
        gt.label_space,
        gt.sample_ids,
        [T.ClassificationTarget(label=t.label, sample_id="elsewhere") for t in gt.targets],
    )
    assert relabelled.fingerprint() == base  # the target's own sample_id field is skipped


def test_the_seams_are_runtime_checkable():
    from visionbench.loaders.mini import imagenet_mini
    from visionbench.models.demo import build_demo_cnn

    assert isinstance(build_demo_cnn(), Model)
    assert isinstance(imagenet_mini(), Dataset)
    assert not isinstance(object(), Model) and not isinstance([1], Dataset)
    b = Batch(images=np.zeros((2, 3, 4, 4)), metas=[{"sample_id": 1}, {"sample_id": 2}])
    assert len(b.metas) == 2
