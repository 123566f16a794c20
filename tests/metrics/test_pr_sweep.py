"""detection_threshold_sweep (one pass) against best_f1 of each class_pr_curves curve and
of the pooled detections, and per-image F1 by hand, on random COCO problems with ties."""

from __future__ import annotations

import numpy as np
import pytest

from tests.metrics._coco_gen import CAT_IDS, random_problem
from visionbench.metrics.detection.coco import CocoEvaluator
from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results
from visionbench.metrics.pr import best_f1, class_pr_curves, detection_threshold_sweep


def _ev(seed, use_cats=True):
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=8)
    g = load_ground_truth(gt)
    ev = CocoEvaluator(CAT_IDS, use_cats=use_cats)
    ev.update_tables(g.anns, load_results(res, g), g.image_ids)
    return ev


@pytest.fixture(params=["c", "numpy"], autouse=True)
def sweep_path(request, monkeypatch):
    """Every test here runs on both paths of the sweep (the C kernel and numpy)."""
    from visionbench.metrics import pr

    if request.param == "c" and pr._sweep_native() is None:
        pytest.skip("no C build with threshold_sweep")
    monkeypatch.setattr(pr, "_USE_NATIVE_SWEEP", request.param == "c")
    return request.param


def _tp_flags(c):
    return np.diff(np.r_[0, c.tp]) > 0


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("use_cats", [True, False])
@pytest.mark.parametrize("thr", [0.5, 0.75])
def test_sweep_equals_best_f1_per_class_and_pooled(seed, use_cats, thr):
    ev = _ev(seed, use_cats)
    sweep = detection_threshold_sweep(ev, iou_threshold=thr)
    curves = class_pr_curves(ev, iou_threshold=thr)
    assert [r["category_id"] for r in sweep["per_class"]] == list(curves)
    for row, c in zip(sweep["per_class"], curves.values()):
        ref = best_f1(c.thresholds, _tp_flags(c), c.num_gt)
        np.testing.assert_equal(
            [row["best_f1"], row["best_threshold"], row["precision"], row["recall"]],
            [ref["f1"], ref["threshold"], ref["precision"], ref["recall"]],
        )
        assert row["num_gt"] == c.num_gt
    s = np.concatenate([c.thresholds for c in curves.values()])
    t = np.concatenate([_tp_flags(c) for c in curves.values()])
    ref = best_f1(s, t, sum(c.num_gt for c in curves.values()))
    np.testing.assert_equal(
        [sweep["best_f1"], sweep["best_threshold"]], [ref["f1"], ref["threshold"]]
    )
    # per image: tp / fp of the kept detections at the threshold, gts that count
    st = ev._state()
    a, ti = 0, int(np.flatnonzero(np.isclose(ev.params.iou_thrs, thr))[0])
    for img, f1 in zip(sweep["image_ids"], sweep["image_f1"]):
        sel = (st.dt_image_id == img) & (st.dt_rank < 100) & ~st.dt_ignored[:, a, ti]
        keep = sel & (st.dt_score >= sweep["best_threshold"])
        tp = int((st.dt_matched[:, a, ti] & keep).sum())
        fp = int((~st.dt_matched[:, a, ti] & keep).sum())
        g = int(st.pair_npig[st.pair_image_id == img, a].sum())
        if tp + fp + g == 0:
            assert np.isnan(f1)
        else:
            assert f1 == pytest.approx(2 * tp / (tp + fp + g), abs=1e-15)


@pytest.mark.parametrize("seed", range(8))
def test_sweep_on_an_lvis_evaluator_equals_its_class_curves(seed):
    from tests.metrics.test_lvis import lvis_problem
    from visionbench.metrics.detection.coco_columns import load_results
    from visionbench.metrics.detection.lvis import LvisEvaluator
    from visionbench.metrics.detection.lvis_ground_truth import load_lvis_ground_truth

    gt, res = lvis_problem(np.random.default_rng(seed), n_img=6)
    if not res:
        return
    g = load_lvis_ground_truth(gt, iou_type="bbox")  # as lvis_evaluate builds its evaluator
    ev = LvisEvaluator(g.table.cat_ids, g.frequency, iou_type="bbox")
    ev._add(g.table.anns, g.ignore, load_results(res, g.table, iou_type="bbox"),
            np.unique(g.table.image_ids), (g.neg_image_id, g.neg_cat_id),
            (g.nel_image_id, g.nel_cat_id), image_size=None)  # fmt: skip
    sweep = detection_threshold_sweep(ev, iou_threshold=0.5)
    curves = class_pr_curves(ev, iou_threshold=0.5)
    for row, c in zip(sweep["per_class"], curves.values()):
        ref = best_f1(c.thresholds, _tp_flags(c), c.num_gt)
        np.testing.assert_equal(
            [row["best_f1"], row["best_threshold"]], [ref["f1"], ref["threshold"]]
        )
