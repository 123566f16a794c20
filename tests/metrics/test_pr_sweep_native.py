"""The C pass of detection_threshold_sweep (``_coco_ext.threshold_sweep``) against its
numpy path, bit for bit; both are checked against best_f1 by test_pr_sweep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.metrics._coco_gen import CAT_IDS, random_problem
from visionbench.metrics import pr
from visionbench.metrics.detection.coco import CocoEvaluator
from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results

pytestmark = pytest.mark.skipif(
    pr._sweep_native() is None, reason="no C build with threshold_sweep"
)


def _both(ev, **kw):
    out = {}
    for native in (True, False):
        pr._USE_NATIVE_SWEEP = native
        try:
            out[native] = pr.detection_threshold_sweep(ev, **kw)
        finally:
            pr._USE_NATIVE_SWEEP = True
    return out[True], out[False]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k], equal_nan=True), k
        else:
            np.testing.assert_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("seed", range(40))
def test_c_kernel_is_bit_identical_to_numpy(seed):
    """The C pass against the numpy path, bit for bit, on random problems: ties of
    scores (coarse grids), classes with no ground truth or no detection, pooled classes,
    empty images, max_dets cuts."""
    rng = np.random.default_rng(1000 + seed)
    gt, res = random_problem(rng, n_img=int(rng.integers(1, 12)))
    if seed % 4 == 0:  # scores on a coarse grid: long runs of ties across classes
        for d in res:
            d["score"] = round(d["score"] * 4) / 4 + 0.01
    if seed % 7 == 0:
        res = res[: len(res) // 3]
    g = load_ground_truth(gt)
    ev = CocoEvaluator(CAT_IDS, use_cats=seed % 3 != 0)
    ev.update_tables(g.anns, load_results(res, g), g.image_ids)
    for kw in ({}, {"iou_threshold": 0.75}, {"max_dets": 3}, {"area": "small"}):
        c, n = _both(ev, **kw)
        _assert_same(c, n)


def test_c_kernel_without_detections_or_ground_truth():
    rng = np.random.default_rng(7)
    gt, res = random_problem(rng, n_img=4)
    g = load_ground_truth(gt)
    ev = CocoEvaluator(CAT_IDS)
    ev.update_tables(g.anns, load_results([], g), g.image_ids)  # no detections
    c, n = _both(ev)
    _assert_same(c, n)
    assert np.isnan(c["best_threshold"]) and c["best_f1"] == 0.0
