"""Semantic segmentation metrics: hand cases, a per-pixel loop reference, torchmetrics parity."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.segmentation.semantic import (
    SegmentationEvaluator,
    miou,
    segmentation_confusion_matrix,
    segmentation_scores,
)


def _loop_reference(gt: np.ndarray, pred: np.ndarray, c: int, ignore: int) -> dict:
    """Independent per-pixel definition, in plain Python."""
    tp = [0] * c
    fp = [0] * c
    fn = [0] * c
    n = 0
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
        if g == ignore:
            continue
        n += 1
        if g == p:
            tp[g] += 1
        else:
            fn[g] += 1
            if p != ignore:
                fp[p] += 1
    iou = [tp[i] / (tp[i] + fp[i] + fn[i]) if tp[i] + fp[i] + fn[i] else None for i in range(c)]
    acc = [tp[i] / (tp[i] + fn[i]) if tp[i] + fn[i] else None for i in range(c)]
    valid_iou = [x for x in iou if x is not None]
    valid_acc = [x for x in acc if x is not None]
    fw = sum((tp[i] + fn[i]) / n * iou[i] for i in range(c) if tp[i] + fn[i])
    return {
        "iou": iou,
        "miou": sum(valid_iou) / len(valid_iou),
        "pixel_acc": sum(tp) / n,
        "mean_class_acc": sum(valid_acc) / len(valid_acc),
        "fwiou": fw,
    }


@pytest.mark.parametrize("seed", range(6))
def test_equals_loop_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 8))
    shape = (int(rng.integers(1, 4)), int(rng.integers(5, 30)), int(rng.integers(5, 30)))
    gt = rng.integers(0, c, shape)
    gt[rng.random(shape) < 0.1] = 255
    pred = np.where(rng.random(shape) < 0.5, gt, rng.integers(0, c, shape))
    pred[rng.random(shape) < 0.05] = 255  # "no prediction" on some pixels
    pred[pred == 255] = np.where(seed % 2, 255, 0)
    ref = _loop_reference(gt, pred, c, 255)
    ev = SegmentationEvaluator(c)
    ev.update(targets=gt, predictions=pred)
    res = ev.compute()
    got = [None if np.isnan(x) else x for x in res.arrays["iou"]]
    assert got == pytest.approx(ref["iou"], rel=1e-12)
    for key in ("miou", "pixel_acc", "mean_class_acc", "fwiou"):
        assert res.metrics[key] == pytest.approx(ref[key], rel=1e-12), key
    assert res.signature == f"seg|classes={c}|ignore=255|v0.1.0"


def test_hand_case() -> None:
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 2]])
    conf = segmentation_confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0]])
    s = segmentation_scores(conf)
    np.testing.assert_allclose(s["iou"], [1 / 3, 2 / 3, 1 / 2])
    assert s["pixel_acc"] == pytest.approx(4 / 6)
    assert s["mean_class_acc"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert s["fwiou"] == pytest.approx((2 * (1 / 3) + 2 * (2 / 3) + 2 * (1 / 2)) / 6)
    assert miou(gt, pred, 3) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    # a class absent from gt and predictions is NaN and left out of the means
    s4 = segmentation_scores(segmentation_confusion_matrix(gt, pred, 4))
    assert np.isnan(s4["iou"][3]) and s4["miou"] == pytest.approx(s["miou"])


def test_torchmetrics_parity() -> None:
    torch = reference_module("torch")
    tmc = reference_module("torchmetrics.functional.classification")
    rng = np.random.default_rng(42)
    c = 19
    gt = rng.integers(0, c, (2, 64, 96))
    gt[:, :8] = 255
    pred = np.where(
        rng.random(gt.shape) < 0.6, np.where(gt == 255, 0, gt), rng.integers(0, c, gt.shape)
    )
    res = SegmentationEvaluator(c)
    res.update(targets=gt, predictions=pred)
    out = res.compute()
    tg, tp = torch.from_numpy(gt), torch.from_numpy(pred)
    jac = tmc.multiclass_jaccard_index(tp, tg, c, average=None, ignore_index=255).numpy()
    np.testing.assert_allclose(out.arrays["iou"], jac, rtol=1e-6)
    acc = tmc.multiclass_accuracy(tp, tg, c, average="micro", ignore_index=255)
    assert out.metrics["pixel_acc"] == pytest.approx(float(acc), rel=1e-6)
    per = tmc.multiclass_accuracy(tp, tg, c, average=None, ignore_index=255).numpy()
    np.testing.assert_allclose(out.arrays["class_acc"], per, rtol=1e-6)


def test_merge_and_state_roundtrip() -> None:
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 5, (4, 20, 20))
    pred = rng.integers(0, 5, (4, 20, 20))
    whole = SegmentationEvaluator(5)
    whole.update(targets=gt, predictions=pred)
    a, b = SegmentationEvaluator(5), SegmentationEvaluator(5)
    a.update(targets=gt[:1], predictions=pred[:1])
    b.update(targets=gt[1:], predictions=pred[1:])
    c = SegmentationEvaluator(2)
    c.load_state_dict(b.state_dict())
    a.merge(c)
    np.testing.assert_array_equal(
        a.compute().arrays["confusion"], whole.compute().arrays["confusion"]
    )
    assert a.compute().metrics == whole.compute().metrics
    with pytest.raises(MetricInputError, match="merge"):
        a.merge(SegmentationEvaluator(5, ignore_index=None))


@pytest.mark.parametrize(
    ("gt", "pred", "match"),
    [
        (np.zeros((2, 2), int), np.zeros((2, 3), int), "pred: expected the shape"),
        (np.full((2, 2), 7), np.zeros((2, 2), int), r"gt: expected class ids in \[0, 3\)"),
        (np.zeros((2, 2), int), np.full((2, 2), 9), r"pred: expected class ids .* got 9"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "gt: expected integer"),
    ],
)
def test_errors(gt: np.ndarray, pred: np.ndarray, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        segmentation_confusion_matrix(gt, pred, 3)


def test_empty_is_nan() -> None:
    ev = SegmentationEvaluator(3)
    ev.update(targets=np.full((4, 4), 255), predictions=np.zeros((4, 4), int))
    assert all(np.isnan(v) for v in ev.compute().metrics.values())
