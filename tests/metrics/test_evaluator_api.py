"""One ``update`` convention for every evaluator: keyword arguments only, predictions
before targets; ``reset()`` everywhere; one merge precondition message."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from visionbench.metrics.captioning.evaluator import CaptionEvaluator
from visionbench.metrics.classification import ClassificationEvaluator
from visionbench.metrics.detection.coco import CocoEvaluator
from visionbench.metrics.detection.confusion import DetectionConfusion
from visionbench.metrics.detection.lvis import LvisEvaluator
from visionbench.metrics.detection.voc import VOCEvaluator
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.scene_graph import SceneGraphEvaluator
from visionbench.metrics.segmentation.cityscapes import CityscapesEvaluator
from visionbench.metrics.segmentation.semantic import SegmentationEvaluator

BOX = [[0.0, 0.0, 10.0, 10.0]]
SEG_GT = np.array([[0, 1], [1, 1]])
SEG_PRED = np.array([[0, 0], [1, 1]])
CS_GT = np.array([[7, 7, 26, 26]], np.uint8)
CS_PRED = np.array([[7, 26, 26, 26]], np.uint8)

# evaluator factory, keyword arguments of one update, the same as positional arguments in
# the old target-first order (where there was one)
CASES = {
    "classification": (
        lambda: ClassificationEvaluator(num_classes=3, topk=(1,)),
        {"predictions": np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]]), "targets": np.array([1, 2])},
    ),
    "caption": (
        lambda: CaptionEvaluator(tokenize="none"),
        {"predictions": ["a dog runs"], "targets": [["a dog is running", "the dog runs"]]},
    ),
    "segmentation": (
        lambda: SegmentationEvaluator(2),
        {"predictions": SEG_PRED, "targets": SEG_GT},
    ),
    "cityscapes": (
        lambda: CityscapesEvaluator(),
        {"pred_label_ids": CS_PRED, "gt_label_ids": CS_GT},
    ),
    "scene_graph": (
        lambda: SceneGraphEvaluator(num_predicates=2, mode="predcls"),
        {
            "rel_pairs": np.array([[0, 1]]),
            "rel_scores": np.array([[0.1, 0.8, 0.1]]),
            "gt_boxes": np.array([[0, 0, 9, 9], [20, 20, 39, 39]]),
            "gt_labels": np.array([1, 2]),
            "gt_relations": np.array([[0, 1, 1]]),
        },
    ),
    "coco": (
        lambda: CocoEvaluator([1]),
        {
            "image_id": 1,
            "dt_boxes": BOX,
            "dt_labels": [1],
            "dt_scores": [0.9],
            "gt_boxes": BOX,
            "gt_labels": [1],
        },
    ),  # fmt: skip
    "lvis": (
        lambda: LvisEvaluator([1], ["f"]),
        {
            "image_id": 1,
            "dt_boxes": BOX,
            "dt_labels": [1],
            "dt_scores": [0.9],
            "gt_boxes": BOX,
            "gt_labels": [1],
            "neg_category_ids": [],
            "not_exhaustive_category_ids": [],
        },
    ),  # fmt: skip
    "voc": (
        lambda: VOCEvaluator([1]),
        {"dt_boxes": BOX, "dt_labels": [1], "dt_scores": [0.9], "gt_boxes": BOX, "gt_labels": [1]},
    ),
    "confusion": (
        lambda: DetectionConfusion([1]),
        {"dt_boxes": BOX, "dt_labels": [1], "dt_scores": [0.9], "gt_boxes": BOX, "gt_labels": [1]},
    ),
}


def _is_target(name: str) -> bool:
    return name == "targets" or name.startswith("gt_")


def _is_prediction(name: str) -> bool:
    return name == "predictions" or name.startswith(("dt_", "pred_", "rel_"))


def _state(ev):
    if isinstance(ev, DetectionConfusion):
        return ev.matrix.copy()
    r = ev.compute()
    return {k: (np.nan if v != v else v) for k, v in r.metrics.items()}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_update_is_keyword_only_predictions_before_targets(kind: str) -> None:
    make, kwargs = CASES[kind]
    ev = make()
    params = [p for p in inspect.signature(ev.update).parameters.values()]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), params
    names = [p.name for p in params]
    preds = [i for i, n in enumerate(names) if _is_prediction(n)]
    targets = [i for i, n in enumerate(names) if _is_target(n)]
    assert preds and targets and max(preds) < min(targets), names
    with pytest.raises(TypeError):
        ev.update(*kwargs.values())  # positional: refused, whatever the order
    ev.update(**kwargs)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_reset_forgets_everything(kind: str) -> None:
    make, kwargs = CASES[kind]
    fresh = make()
    fresh.update(**kwargs)
    ev = make()
    ev.update(**kwargs)
    ev.update(**{**kwargs, "image_id": 2} if "image_id" in kwargs else kwargs)
    ev.reset()
    ev.update(**kwargs)  # (COCO / LVIS: image id 1 may be added again after reset)
    a, b = _state(ev), _state(fresh)
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])), k


def test_swapped_segmentation_maps_are_not_confused() -> None:
    """The keywords say which map is the ground truth: swapping them changes the numbers
    (the reason a positional call is refused)."""
    a, b = SegmentationEvaluator(2), SegmentationEvaluator(2)
    a.update(predictions=SEG_PRED, targets=SEG_GT)
    b.update(predictions=SEG_GT, targets=SEG_PRED)
    assert a.compute()["mean_class_acc"] != b.compute()["mean_class_acc"]


@pytest.mark.parametrize(
    ("make", "other", "match"),
    [
        (lambda: CaptionEvaluator(tokenize="none"), lambda: CaptionEvaluator(tokenize="none", coco=False),
         r"^merge: expected a CaptionEvaluator with config \{'tokenize': 'none'"),
        (lambda: SceneGraphEvaluator(num_predicates=2), lambda: SceneGraphEvaluator(num_predicates=3),
         r"^merge: expected a SceneGraphEvaluator with signature sgg\|"),
        (lambda: CocoEvaluator([1]), lambda: SegmentationEvaluator(2),
         r"^merge: expected a CocoEvaluator with signature 'coco\|.*', got 'seg\|"),
        (lambda: LvisEvaluator([1], ["f"]), lambda: CaptionEvaluator(tokenize="none"),
         r"^merge: expected an LvisEvaluator with signature '.*', got 'coco-caption"),
    ],
)  # fmt: skip
def test_merge_refuses_another_kind_in_one_line(make, other, match) -> None:
    with pytest.raises(MetricInputError, match=match):
        make().merge(other())
