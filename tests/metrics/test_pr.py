"""Precision / recall: hand-computed values, AP methods, and parity with pycocotools' cells."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics._coco_gen import CAT_IDS, pycocotools_eval, random_problem
from visionbench.metrics.detection.coco import CocoEvaluator
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.pr import (
    average_precision,
    best_f1,
    class_pr_curves,
    pr_curve,
    prf_at_threshold,
)

# ranked: TP, FP, TP, FP with 3 ground truths
SCORES = [0.7, 0.9, 0.6, 0.8]
IS_TP = [1, 1, 0, 0]


def test_pr_curve_hand_values():
    c = pr_curve(SCORES, IS_TP, 3)
    assert c.thresholds.tolist() == [0.9, 0.8, 0.7, 0.6]
    assert c.tp.tolist() == [1, 1, 2, 2] and c.fp.tolist() == [0, 1, 1, 2]
    assert np.allclose(c.precision, [1, 1 / 2, 2 / 3, 1 / 2])
    assert np.allclose(c.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])


@pytest.mark.parametrize(
    ("method", "expected"), [("all", 5 / 9), ("voc11", 6 / 11), ("coco101", 56 / 101)]
)
def test_average_precision_hand_values(method, expected):
    assert pr_curve(SCORES, IS_TP, 3).average_precision(method) == pytest.approx(
        expected, abs=1e-15
    )


def test_ties_keep_input_order():
    c = pr_curve([0.5, 0.5], [0, 1], 1)
    assert c.precision.tolist() == [0.0, 0.5]


def test_prf_and_best_f1_hand_values():
    r = prf_at_threshold(SCORES, IS_TP, 3, 0.75)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 2)
    assert (
        r["precision"] == 0.5
        and r["recall"] == pytest.approx(1 / 3)
        and r["f1"] == pytest.approx(0.4)
    )
    b = best_f1(SCORES, IS_TP, 3)
    assert (
        b["threshold"] == 0.7
        and b["f1"] == pytest.approx(2 / 3)
        and (b["tp"], b["fp"], b["fn"]) == (2, 1, 1)
    )
    # tied scores are one operating point: both detections at 0.5 enter together
    b = best_f1([0.5, 0.5, 0.4], [1, 0, 1], 2)
    assert b["threshold"] == 0.4 and b["f1"] == pytest.approx(4 / 5)


def test_edge_cases():
    assert np.isnan(prf_at_threshold([0.5], [0], 0, 0.1)["recall"])
    r = prf_at_threshold([0.5], [0], 2, 0.9)
    assert np.isnan(r["precision"]) and r["f1"] == 0.0 and r["fn"] == 2
    assert average_precision([], []) == 0.0
    assert np.isnan(pr_curve([0.3], [0], 0).average_precision())
    assert np.isnan(best_f1([], [], 3)["threshold"])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0.1, 0.2], [1], 1), "equal lengths"),
        (([np.nan], [1], 1), "finite"),
        (([0.1, 0.2], [1, 1], 1), "num_gt: expected >= number of true positives"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(MetricInputError, match=match):
        pr_curve(*args)


def test_bad_method():
    with pytest.raises(MetricInputError, match="method"):
        average_precision([1.0], [1.0], method="voc12")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), thr=st.sampled_from([0.5, 0.75]))
def test_class_curves_match_pycocotools_cells(seed, thr):
    """101-point AP of each class curve = pycocotools' precision cells (up to the
    np.spacing(1) pycocotools adds to tp + fp)."""
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=6)
    if not res:
        return
    ref = pycocotools_eval(gt, res)
    t = int(np.flatnonzero(np.isclose(ref.params.iouThrs, thr))[0])
    ev = CocoEvaluator(CAT_IDS)
    from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results

    g = load_ground_truth(gt)
    ev.update_tables(g.anns, load_results(res, g), g.image_ids)
    curves = class_pr_curves(ev, iou_threshold=thr)
    for k, c in enumerate(CAT_IDS):
        cells = ref.eval["precision"][t, :, k, 0, -1]
        if cells[0] == -1:
            assert np.isnan(curves[c].average_precision()) or curves[c].num_gt == 0
            continue
        assert curves[c].average_precision("coco101") == pytest.approx(
            float(np.mean(cells)), abs=1e-12
        )
        assert curves[c].recall[-1:].tolist() in ([], [ref.eval["recall"][t, k, 0, -1]])
