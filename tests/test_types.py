from __future__ import annotations

import numpy as np
import pytest

from visionbench.errors import ContractError
from visionbench.label_spaces import get_label_space
from visionbench.tasks import GroundTruth
from visionbench.types import (
    CaptionTarget,
    ClassificationPrediction,
    ClassificationTarget,
    DetectionPrediction,
    DetectionTarget,
    SceneGraphPrediction,
    SceneGraphTarget,
    SegmentationPrediction,
    Task,
)


def test_detection_target_defaults_and_dtypes():
    t = DetectionTarget(boxes=[[0, 0, 10, 20]], labels=[3])
    assert t.boxes.dtype == np.float64 and t.labels.dtype == np.int64
    assert t.area.tolist() == [200.0] and t.iscrowd.tolist() == [False]
    empty = DetectionTarget(boxes=np.zeros((0,)), labels=[])
    assert empty.boxes.shape == (0, 4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"boxes": [[0, 0, 1, 1, 1]], "labels": [1]},
            r"Expected `boxes` of shape \[N, 4\], got \[N, 5\]",
        ),
        (
            {"boxes": [[0, 0, np.nan, 1]], "labels": [1]},
            r"`boxes` contains NaN or inf at index \[0, 2\]",
        ),
        ({"boxes": [[5, 0, 1, 1]], "labels": [1]}, "x2 >= x1"),
        ({"boxes": [[0, 0, 1, 1]], "labels": [1, 2]}, "`boxes` has 1, `labels` has 2"),
        ({"boxes": [0, 0, 1, 1], "labels": [1]}, r"shape \[N, 4\], got shape \[4\]"),
    ],
)
def test_detection_target_rejects_bad_input(kwargs, match):
    with pytest.raises(ContractError, match=match):
        DetectionTarget(**kwargs, sample_id=42)


def test_errors_name_the_sample():
    with pytest.raises(ContractError, match=r"sample_id=397133"):
        DetectionPrediction(boxes=[[0, 0, 1, 1]], labels=[1], scores=[np.inf], sample_id=397133)


def test_classification_contracts():
    assert ClassificationTarget(3).label == 3
    with pytest.raises(ContractError, match="Expected `label` int, got str"):
        ClassificationTarget("3")
    with pytest.raises(ContractError, match="exactly one of"):
        ClassificationPrediction()
    assert ClassificationPrediction(topk=[5, 1]).topk.tolist() == [5, 1]


def test_segmentation_and_scene_graph_and_caption_contracts():
    with pytest.raises(ContractError, match=r"\[H, W\] integer label ids"):
        SegmentationPrediction(mask=np.zeros((2, 2), np.float32))
    with pytest.raises(ContractError, match="subject/object indices must be in 0..1"):
        SceneGraphTarget(boxes=[[0, 0, 1, 1], [1, 1, 2, 2]], labels=[1, 2], relations=[[0, 2, 5]])
    with pytest.raises(ContractError, match="`rel_pairs` has 1, `rel_scores` has 2"):
        SceneGraphPrediction(
            boxes=[[0, 0, 1, 1]],
            labels=[1],
            scores=[1.0],
            rel_pairs=[[0, 0]],
            rel_scores=np.ones((2, 51)),
        )
    with pytest.raises(ContractError, match="non-empty list of str"):
        CaptionTarget(captions=[])


def test_ground_truth_checks_target_type_and_fingerprints_content():
    space = get_label_space("imagenet1k")
    gt = GroundTruth(
        Task.CLASSIFICATION, space, ["a", "b"], [ClassificationTarget(1), ClassificationTarget(2)]
    )
    same = GroundTruth(
        Task.CLASSIFICATION, space, ["a", "b"], [ClassificationTarget(1), ClassificationTarget(2)]
    )
    other = GroundTruth(
        Task.CLASSIFICATION, space, ["a", "b"], [ClassificationTarget(1), ClassificationTarget(3)]
    )
    assert gt.fingerprint() == same.fingerprint() != other.fingerprint()
    with pytest.raises(
        ContractError, match="Expected ClassificationTarget for task classification"
    ):
        GroundTruth(Task.CLASSIFICATION, space, ["a"], [CaptionTarget(["x"])])
