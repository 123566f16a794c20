"""Classification metrics: equality with timm and torchmetrics, hand cases for ties and ReaL."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.classification import (
    ClassificationEvaluator,
    classification_confusion_matrix,
    per_class_accuracy,
    precision_recall_f1,
    real_accuracy,
    topk_accuracy,
)
from visionbench.metrics.errors import MetricInputError

torch = reference_module("torch")
tm = reference_module("torchmetrics.functional.classification")
timm_metrics = reference_module("timm.utils.metrics")


def _random_case(seed: int, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, c)).astype(np.float32)
    labels = rng.integers(0, c, n)
    # make the model better than chance so top-1 is not tiny
    scores[np.arange(n), labels] += rng.uniform(0, 2.5, n).astype(np.float32)
    return scores, labels


CASES = [
    (seed, n, c)
    for seed, (n, c) in enumerate([(50, 3), (200, 10), (333, 17), (1000, 100), (64, 1000)])
]


@pytest.mark.parametrize(("seed", "n", "c"), CASES)
def test_topk_equals_timm_and_torchmetrics(seed: int, n: int, c: int) -> None:
    scores, labels = _random_case(seed, n, c)
    ks = (1, 5) if c >= 5 else (1, 2)
    ours = topk_accuracy(scores, labels, topk=ks)
    ref = timm_metrics.accuracy(torch.from_numpy(scores), torch.from_numpy(labels), topk=ks)
    for k, r in zip(ks, ref):
        # timm computes in float32: compare the numbers of correct samples exactly
        assert round(ours[k] * n / 100) == round(float(r) * n / 100)
        assert ours[k] == pytest.approx(float(r), rel=1e-6)
        t = tm.multiclass_accuracy(
            torch.from_numpy(scores), torch.from_numpy(labels), c, top_k=k, average="micro"
        )
        assert ours[k] == pytest.approx(100 * float(t), abs=1e-4)
    # ids input gives the same numbers as scores
    ids = np.argsort(-scores, axis=1, kind="stable")[:, : max(ks)]
    assert topk_accuracy(ids, labels, topk=ks) == ours


@pytest.mark.parametrize(("seed", "n", "c"), CASES[:4])
def test_prf_confusion_equal_torchmetrics(seed: int, n: int, c: int) -> None:
    scores, labels = _random_case(seed, n, c)
    if c > 5:  # leave some classes absent from gt and predictions
        keep = labels % 4 != 1
        scores, labels = scores[keep], labels[keep]
    ts, tl = torch.from_numpy(scores), torch.from_numpy(labels)
    ev = ClassificationEvaluator(c, topk=(1,))
    ev.update(predictions=scores, targets=labels)
    res = ev.compute()
    conf = tm.multiclass_confusion_matrix(ts, tl, c).numpy()
    np.testing.assert_array_equal(res.arrays["confusion"], conf)
    for name, fn in [
        ("precision", tm.multiclass_precision),
        ("recall", tm.multiclass_recall),
        ("f1", tm.multiclass_f1_score),
    ]:
        per = fn(ts, tl, c, average=None).numpy().astype(np.float64) * 100
        np.testing.assert_allclose(res.arrays[name], per, atol=1e-4)
        for avg in ("macro", "micro"):
            ref = 100 * float(fn(ts, tl, c, average=avg))
            assert res.metrics[f"{name}_{avg}"] == pytest.approx(ref, abs=1e-4)
    ref_macc = 100 * float(tm.multiclass_accuracy(ts, tl, c, average="macro"))
    assert res.metrics["acc_macro"] == pytest.approx(ref_macc, abs=1e-4)
    per_acc = tm.multiclass_accuracy(ts, tl, c, average=None).numpy() * 100
    ours = res.arrays["per_class_accuracy"]
    present = res.arrays["support"] > 0
    np.testing.assert_allclose(ours[present], per_acc[present], atol=1e-4)
    assert np.isnan(ours[~present]).all()


def test_ties_hand_cases() -> None:
    # row 0: target 2 ties with class 0 for the top score; row 1: target 0 ties class 3
    scores = np.array([[1.0, 0.0, 1.0, 0.5], [0.7, 0.9, 0.1, 0.7]])
    labels = np.array([2, 0])
    # index rule: row0 order 0,2,3,1 -> target rank 1; row1 order 1,0,3,2 -> rank 1
    assert topk_accuracy(scores, labels, topk=(1, 2), ties="index") == {1: 0.0, 2: 100.0}
    # optimistic: row0 rank 0, row1 rank 1
    assert topk_accuracy(scores, labels, topk=(1, 2), ties="optimistic") == {1: 50.0, 2: 100.0}
    # pessimistic: row0 rank 1, row1 rank 2
    assert topk_accuracy(scores, labels, topk=(1, 2), ties="pessimistic") == {1: 0.0, 2: 50.0}
    # all-equal scores: index rule puts class 0 first
    flat = np.zeros((3, 4))
    assert topk_accuracy(flat, np.array([0, 1, 3]), topk=(1, 2)) == {
        1: pytest.approx(100 / 3),
        2: pytest.approx(200 / 3),
    }
    assert topk_accuracy(flat, np.array([0, 1, 3]), topk=(4,), ties="pessimistic") == {4: 100.0}
    assert topk_accuracy(flat, np.array([0, 1, 3]), topk=(3,), ties="pessimistic") == {3: 0.0}


def test_index_ties_equal_torch_argmax() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 3, (500, 6)).astype(np.float32)  # many ties
    labels = rng.integers(0, 6, 500)
    ours = topk_accuracy(scores, labels, topk=(1,))[1]
    ref = 100 * float((torch.from_numpy(scores).argmax(1).numpy() == labels).mean())
    assert ours == pytest.approx(ref)
    # the index rule equals a stable descending sort for every k
    order = np.argsort(-scores, axis=1, kind="stable")
    for k in (1, 2, 3, 6):
        ref_k = 100 * float((order[:, :k] == labels[:, None]).any(1).mean())
        assert topk_accuracy(scores, labels, topk=(k,))[k] == pytest.approx(ref_k)


def test_real_hand_case() -> None:
    scores = np.array(
        [
            [0.1, 0.5, 0.3, 0.05, 0.05],  # top1 = 1; top2 = {1, 2}
            [0.6, 0.1, 0.1, 0.1, 0.1],  # top1 = 0
            [0.2, 0.2, 0.2, 0.3, 0.1],  # top1 = 3; dropped (empty set)
            [0.0, 0.1, 0.2, 0.3, 0.4],  # top1 = 4; top2 = {4, 3}
        ]
    )
    real = [[2, 1], [3], [], [3]]
    assert real_accuracy(scores, real, topk=(1, 2)) == {
        1: pytest.approx(100 / 3),
        2: pytest.approx(200 / 3),
    }
    ev = ClassificationEvaluator(5, topk=(1, 2))
    ev.update(predictions=scores, targets=np.array([1, 3, 0, 3]), real_labels=real)
    m = ev.compute().metrics
    assert m["top1"] == 25.0 and m["top2"] == 75.0  # rows 0 | 0, 2, 3
    assert m["real_top1"] == pytest.approx(100 / 3) and m["real_top2"] == pytest.approx(200 / 3)
    assert "real=yes" in ev.signature


def test_real_equals_timm(tmp_path) -> None:
    from timm.data.real_labels import RealLabelsImagenet

    rng = np.random.default_rng(3)
    n, c = 300, 20
    scores, _ = _random_case(11, n, c)
    real = [sorted(rng.choice(c, rng.integers(0, 4), replace=False).tolist()) for _ in range(n)]
    path = tmp_path / "real.json"
    path.write_text(json.dumps(real))
    files = [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)]
    ref = RealLabelsImagenet(files, real_json=str(path), topk=(1, 5))
    for start in range(0, n, 64):
        ref.add_result(torch.from_numpy(scores[start : start + 64]))
    ours = real_accuracy(scores, real, topk=(1, 5))
    assert ours[1] == pytest.approx(ref.get_accuracy(1), abs=1e-9)
    assert ours[5] == pytest.approx(ref.get_accuracy(5), abs=1e-9)


def test_evaluator_merge_and_state_roundtrip() -> None:
    scores, labels = _random_case(5, 400, 12)
    real = [[int(x)] if i % 5 else [] for i, x in enumerate(labels)]
    whole = ClassificationEvaluator(12)
    whole.update(predictions=scores, targets=labels, real_labels=real)
    parts = [ClassificationEvaluator(12) for _ in range(3)]
    bounds = [0, 100, 250, 400]
    for ev, a, b in zip(parts, bounds, bounds[1:]):
        ev.update(predictions=scores[a:b], targets=labels[a:b], real_labels=real[a:b])
    parts[0].merge(parts[1])
    restored = ClassificationEvaluator(3, topk=(1,))
    restored.load_state_dict(parts[2].state_dict())
    parts[0].merge(restored)
    a, b = whole.compute(), parts[0].compute()
    assert a.metrics == b.metrics and a.signature == b.signature
    np.testing.assert_array_equal(a.arrays["confusion"], b.arrays["confusion"])
    assert a.signature == "cls|topk=1,5|ties=index|real=yes|v0.1.0"


def test_functional_helpers_hand_values() -> None:
    conf = classification_confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 4)
    np.testing.assert_array_equal(conf, [[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(per_class_accuracy(conf), [50.0, 50.0, 100.0, np.nan])
    prf = precision_recall_f1(conf)
    np.testing.assert_allclose(prf["precision"], [50.0, 100.0, 50.0, 0.0])
    assert prf["precision_macro"] == pytest.approx(200 / 3)  # class 3 absent everywhere
    assert prf["f1_micro"] == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("preds", "labels", "match"),
    [
        (np.zeros((3, 4)), np.array([0, 1]), "labels: expected shape"),
        (np.zeros(4), np.array([0]), "preds: expected"),
        (np.array([[0.0, np.nan]]), np.array([0]), "NaN score in row 0"),
        (np.zeros((2, 4)), np.array([0, 4]), r"labels: expected class indices in \[0, 4\)"),
        (np.zeros((2, 1), np.int64), np.array([0, 1]), "cannot give top-5"),
        (np.zeros((2, 4)), np.array([0.0, 1.0]), "expected integer class indices"),
    ],
)
def test_errors(preds: np.ndarray, labels: np.ndarray, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        topk_accuracy(preds, labels, topk=(1, 5))


def test_evaluator_errors() -> None:
    ev = ClassificationEvaluator(4)
    with pytest.raises(MetricInputError, match=r"scores of shape \[N, 4\]"):
        ev.update(predictions=np.zeros((2, 5)), targets=np.array([0, 1]))
    ev.update(predictions=np.zeros((2, 4)), targets=np.array([0, 1]))
    with pytest.raises(MetricInputError, match="real_labels: given for some"):
        ev.update(predictions=np.zeros((1, 4)), targets=np.array([0]), real_labels=[[0]])
    with pytest.raises(MetricInputError, match="ties"):
        ClassificationEvaluator(4, ties="random")
    assert np.isnan(ClassificationEvaluator(4).compute().metrics["top1"])
