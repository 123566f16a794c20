"""TIDE (visionbench.metrics.detection.tide) against tidecv 1.0.1 through tidecv's own API.

tidecv averages over classes that have a detection but no ground truth (dbolya/tide#28);
``tidecv_compat=True`` reproduces that and must equal tidecv on every case; the default
(corrected) must equal tidecv whenever every detected class has a ground truth, and equal
tidecv with its class mean restricted to the classes with a ground truth otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.detection.tide import MAIN_ERRORS, tide_errors
from visionbench.metrics.errors import MetricInputError

tidecv = reference_module("tidecv")


def _case(seed, *, n_img=25, n_cls=5, phantom=False, crowd=False, max_gt=6, round_to=None):
    """Random images: gts, and detections that are good / poorly localised / wrongly
    classified / duplicated copies of them, plus background boxes."""
    rng = np.random.default_rng(seed)
    G, D = [], []
    for im in range(1, n_img + 1):
        boxes = []
        for _ in range(rng.integers(0, max_gt + 1)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(10, 150, 2)
            c = int(rng.integers(1, n_cls + 1))
            G.append((im, c, [x, y, w, h], bool(crowd and rng.random() < 0.1)))
            boxes.append((c, [x, y, w, h]))
        if rng.random() < 0.1:
            continue  # an image without detections
        for c, b in boxes:
            for _ in range(rng.integers(0, 4)):
                kind = rng.random()
                jit, cc = (
                    (0.05, c) if kind < 0.4 else (0.35, c) if kind < 0.6
                    else (0.05, int(rng.integers(1, n_cls + 1))) if kind < 0.8
                    else (0.4, int(rng.integers(1, n_cls + 1)))
                )  # fmt: skip
                bb = [b[0] + rng.normal(0, jit * b[2]), b[1] + rng.normal(0, jit * b[3]),
                      b[2] * np.exp(rng.normal(0, jit)), b[3] * np.exp(rng.normal(0, jit))]  # fmt: skip
                D.append((im, cc, bb, float(rng.uniform(0, 1))))
        for _ in range(rng.integers(0, 5)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(5, 100, 2)
            cc = int(rng.integers(1, n_cls + 1 + (2 if phantom else 0)))
            D.append((im, cc, [x, y, w, h], float(rng.uniform(0, 1))))
    if round_to is not None:  # tied scores
        D = [(a, b, c, round(s, round_to)) for a, b, c, s in D]
    return G, D, list(range(1, n_img + 1))


def _ours(G, D, imgs, **kw):
    return tide_errors(
        np.array([g[0] for g in G], np.int64), np.array([g[1] for g in G], np.int64),
        np.array([g[2] for g in G], float).reshape(-1, 4),
        np.array([d[0] for d in D], np.int64), np.array([d[1] for d in D], np.int64),
        np.array([d[2] for d in D], float).reshape(-1, 4), np.array([d[3] for d in D], float),
        gt_iscrowd=np.array([g[3] for g in G], bool), image_ids=imgs, **kw,
    )  # fmt: skip


def _tidecv(G, D, imgs, *, max_dets=100, mean_over=None):
    """tidecv's numbers (0-100) through its API; ``mean_over``: restrict its class mean."""
    from tidecv import TIDE, Data
    from tidecv.ap import ClassedAPDataObject

    gt, pr = Data("gt", max_dets=max_dets), Data("pr")
    for i in imgs:
        gt.add_image(i, str(i))
    for im, c, b, cr in G:
        if cr:
            gt.add_ignore_region(im, c, box=list(b))
        else:
            gt.add_ground_truth(im, c, box=list(b))
    for im, c, b, s in D:
        pr.add_detection(im, c, s, box=list(b))
    orig = ClassedAPDataObject.get_mAP
    if mean_over is not None:

        def restricted(self):
            aps = [x.get_ap() for k, x in self.objs.items() if not x.is_empty() and k in mean_over]
            return sum(aps) / len(aps)

        ClassedAPDataObject.get_mAP = restricted
    try:
        t = TIDE()
        run = t.evaluate(gt, pr, mode=TIDE.BOX, name="r")
        main, special = t.get_main_errors()["r"], t.get_special_errors()["r"]
    finally:
        ClassedAPDataObject.get_mAP = orig
    counts = {e.short_name: n for e, n in run.count_errors().items()}
    return {"ap": run.ap, "dAP": main, "special": special, "counts": counts}


def _assert_equal(ours, ref):
    assert ours["ap"] * 100 == pytest.approx(ref["ap"], abs=1e-9)
    for k in MAIN_ERRORS:
        assert ours["dAP"][k] * 100 == pytest.approx(ref["dAP"][k], abs=1e-9), k
    for k in ("FalsePos", "FalseNeg"):
        assert ours["special"][k] * 100 == pytest.approx(ref["special"][k], abs=1e-9), k
    assert ours["counts"] == ref["counts"]


@pytest.mark.parametrize("seed", range(12))
def test_equals_tidecv_on_random_crowd_free_cases(seed):
    G, D, imgs = _case(seed)
    ref = _tidecv(G, D, imgs)
    _assert_equal(_ours(G, D, imgs), ref)  # every detected class has a gt here ...
    _assert_equal(_ours(G, D, imgs, tidecv_compat=True), ref)
    assert any(v > 0 for v in ref["dAP"].values())


@pytest.mark.parametrize("seed", range(6))
def test_ties_max_dets_and_crowd_regions_as_tidecv(seed):
    G, D, imgs = _case(100 + seed, crowd=True, round_to=1, n_img=15)
    md = 3 if seed % 2 else 100  # tidecv cuts per image over all classes
    _assert_equal(_ours(G, D, imgs, max_dets=md), _tidecv(G, D, imgs, max_dets=md))


def test_classes_without_ground_truth_tidecv_bug_corrected():
    """dbolya/tide#28: tidecv counts a class that is detected but absent from the ground
    truth as AP 0. Ours leaves it out (pycocotools' rule); tidecv's own numbers with its
    mean restricted to the gt classes are the reference, and compat mode is tidecv."""
    shown = []
    for seed in range(6):
        G, D, imgs = _case(200 + seed, phantom=True)
        gt_classes = {g[1] for g in G if not g[3]}
        assert {d[1] for d in D} - gt_classes  # the case triggers the bug
        ref_bug = _tidecv(G, D, imgs)
        ref_fixed = _tidecv(G, D, imgs, mean_over=gt_classes)
        _assert_equal(_ours(G, D, imgs, tidecv_compat=True), ref_bug)
        ours = _ours(G, D, imgs)
        _assert_equal(ours, ref_fixed)
        assert ours["definition"] == "corrected"
        shown.append(
            (ref_bug["ap"], ours["ap"] * 100, ref_bug["dAP"]["Bkg"], ours["dAP"]["Bkg"] * 100)
        )
        assert ours["ap"] * 100 > ref_bug["ap"] + 1  # the phantom classes pulled tidecv down
    print("\n tidecv AP | ours AP | tidecv dAP Bkg | ours dAP Bkg")
    for row in shown:
        print(" {:8.3f} | {:7.3f} | {:14.3f} | {:12.3f}".format(*row))


def test_hand_made_errors_known_values():
    # image 1: gt A (class 1); a class-2 detection on it (Cls), IoU 1
    # image 2: gt B (class 1); a class-1 detection at IoU 0.4 (Loc) and a background box
    # image 3: gt C (class 1), no detection (Miss)
    G = [(1, 1, [0, 0, 10, 10], False), (2, 1, [0, 0, 10, 10], False),
         (3, 1, [0, 0, 10, 10], False)]  # fmt: skip
    D = [(1, 2, [0, 0, 10, 10], 0.9), (2, 1, [0, 0, 10, 4], 0.8),
         (2, 1, [100, 100, 10, 10], 0.7)]  # fmt: skip
    r = _ours(G, D, [1, 2, 3])
    assert r["counts"] == {"Cls": 1, "Loc": 1, "Both": 0, "Dupe": 0, "Bkg": 1, "Miss": 1}
    assert r["ap"] == 0.0  # class 1: no TP; class 2 has no gt (left out)
    # Cls fixed: class 1 gets a TP at rank 1 of 3 detections, recall 1/3: AP = 34/101
    assert r["dAP"]["Cls"] == pytest.approx(34 / 101)
    assert r["dAP"]["Loc"] == pytest.approx(34 / 101)  # same shape: TP first of its class
    assert r["dAP"]["Bkg"] == 0.0 and r["dAP"]["Miss"] == 0.0
    # FalseNeg: the 3 unmatched gts removed -> class 1 has no gt and FPs: AP 0
    assert r["special"]["FalseNeg"] == 0.0
    _assert_equal(r, _tidecv(G, D, [1, 2, 3], mean_over={1}))


def test_bad_input_is_one_line_error():
    with pytest.raises(MetricInputError, match="dt_bbox"):
        tide_errors([1], [1], [[0, 0, 1, 1]], [1], [1], [[0, 0, 1]], [0.5])
    with pytest.raises(MetricInputError, match="finite scores"):
        tide_errors([1], [1], [[0, 0, 1, 1]], [1], [1], [[0, 0, 1, 1]], [np.nan])
    with pytest.raises(MetricInputError, match="thresholds"):
        tide_errors([1], [1], [[0, 0, 1, 1]], [1], [1], [[0, 0, 1, 1]], [0.5], pos_threshold=0)
