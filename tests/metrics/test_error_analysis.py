"""Most-confused pairs, worst samples, per-frame mIoU: against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from visionbench.metrics.bootstrap import sample_table
from visionbench.metrics.error_analysis import most_confused_pairs, per_frame_miou, worst_samples
from visionbench.metrics.segmentation.semantic import SegmentationEvaluator


@pytest.mark.parametrize("seed", range(5))
def test_most_confused_pairs_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 9))
    conf = rng.integers(0, 5, (c, c + seed % 2))
    got = most_confused_pairs(conf, k=6)
    cells = sorted(
        ((-int(conf[t, p]), t, p) for t in range(c) for p in range(c) if t != p and conf[t, p]),
    )[:6]
    assert [(r["true"], r["predicted"], r["count"]) for r in got] == [
        (t, p, -n) for n, t, p in cells
    ]
    for r in got:
        assert r["share"] == r["count"] / conf[r["true"]].sum()


def test_most_confused_pairs_names() -> None:
    conf = np.array([[5, 2, 0], [7, 1, 0], [0, 0, 3]])
    assert most_confused_pairs(conf, k=5, names=["a", "b", "c"]) == [
        {"true": "b", "predicted": "a", "count": 7, "share": 7 / 8},
        {"true": "a", "predicted": "b", "count": 2, "share": 2 / 7},
    ]


def test_worst_samples() -> None:
    rows = worst_samples([0.5, np.nan, 0.1, 0.5, 0.9], ["a", "b", "c", "d", "e"], k=4)
    assert [r["sample_id"] for r in rows] == ["c", "a", "d", "e"]


def test_per_frame_miou_equals_one_frame_evaluations() -> None:
    rng = np.random.default_rng(0)
    gts = rng.integers(0, 4, (5, 8, 8))
    preds = np.where(rng.random(gts.shape) < 0.3, rng.integers(0, 4, gts.shape), gts)
    ev = SegmentationEvaluator(4)
    ev.update(targets=gts, predictions=preds)
    ref = []
    for g, p in zip(gts, preds):
        one = SegmentationEvaluator(4)
        one.update(targets=g, predictions=p)
        ref.append(one.compute()["miou"])
    assert np.array_equal(per_frame_miou(sample_table(ev)), np.array(ref))
