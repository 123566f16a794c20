"""LVIS evaluation: identical to lvis 0.5.3's LVISEval on the full arrays, mergeable, strict."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics._coco_gen import CAT_IDS, random_problem
from visionbench.metrics.detection.lvis import LvisEvaluator, lvis_evaluate
from visionbench.metrics.detection.lvis_ground_truth import load_lvis_ground_truth
from visionbench.metrics.errors import MetricInputError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf"]


def lvis_problem(
    rng: np.random.Generator, *, iou_type: str = "bbox", n_img: int = 6, **kw: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A COCO random problem turned into LVIS: federated lists, frequencies, ignore flags.

    Keeps ``iscrowd`` on some annotations (LVISEval must ignore it), adds results of a
    category missing from the file (they count in the per-image cut, then are dropped).
    """
    gt, res = random_problem(rng, n_img=n_img, iou_type=iou_type, **kw)
    for c in gt["categories"]:
        c["frequency"] = str(rng.choice(["r", "c", "f"]))
    if rng.random() < 0.3:  # a category without any annotation
        gt["categories"].append({"id": 55, "name": "cat55", "frequency": "r"})
    for im in gt["images"]:
        pool = CAT_IDS + [55, 77]
        im["neg_category_ids"] = [int(c) for c in pool if rng.random() < 0.35]
        im["not_exhaustive_category_ids"] = [int(c) for c in pool if rng.random() < 0.3]
    for a in gt["annotations"]:
        if rng.random() < 0.1:
            a["ignore"] = 1
        if rng.random() < 0.5:
            del a["iscrowd"]
    if gt["images"] and iou_type == "bbox":
        for _ in range(int(rng.integers(0, 4))):
            im = gt["images"][int(rng.integers(len(gt["images"])))]
            res.append(
                {"image_id": im["id"], "category_id": 77, "score": 0.95, "bbox": [1, 1, 5, 5]}
            )
    order = rng.permutation(len(res))
    return gt, [res[i] for i in order]


def lvis_reference(gt: dict[str, Any], res: list[dict[str, Any]], iou_type: str, max_dets: int):
    """LVISEval(...).run() on deep copies (lvis edits its inputs)."""
    if not hasattr(np, "float"):
        np.float = float  # lvis 0.5.3 calls np.float, removed in numpy 1.24
    from lvis import LVIS, LVISEval, LVISResults

    logging.getLogger("lvis").setLevel(logging.ERROR)
    g = LVIS.__new__(LVIS)
    g.logger = logging.getLogger("lvis")
    g.dataset = copy.deepcopy(gt)
    g._create_index()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = LVISResults(g, copy.deepcopy(res), max_dets=max_dets)
        ev = LVISEval(g, d, iou_type)
        ev.run()
    return ev


def assert_identical(ref, res) -> None:
    for k in ("precision", "recall"):
        a, b = ref.eval[k], res.arrays[k]
        assert a.shape == b.shape, (k, a.shape, b.shape)
        bad = np.argwhere(a != b)
        assert len(bad) == 0, (
            f"{k} differs at {bad[:5].tolist()}: {a[tuple(bad[0])]!r} vs {b[tuple(bad[0])]!r}"
        )
    want = np.array(list(ref.results.values()), dtype=np.float64)
    if ref.params.max_dets == res.arrays["max_dets"]:  # lvis names AR@300 whatever the cut
        assert list(ref.results) == list(res.metrics)
    assert np.array_equal(want, res.arrays["stats"]), (want, res.arrays["stats"])


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n_img=st.integers(1, 8),
    max_dets=st.sampled_from([300, 3, 7]),
)
def test_bbox_identical_to_lvis_api(seed, n_img, max_dets):
    rng = np.random.default_rng(seed)
    gt, res = lvis_problem(rng, n_img=n_img)
    if not res:
        return
    ref = lvis_reference(gt, res, "bbox", max_dets)
    ours = lvis_evaluate(gt, res, iou_type="bbox", max_dets=max_dets)
    assert_identical(ref, ours)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_img=st.integers(1, 5), with_bbox=st.booleans())
def test_segm_identical_to_lvis_api(seed, n_img, with_bbox):
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    gt, res = lvis_problem(rng, n_img=n_img, iou_type="segm", crowd_p=0.0)
    if not res:
        return
    if with_bbox:  # the bbox branch of LVISResults: area = w * h of the given box
        for r in res:
            r["bbox"] = [float(v) for v in mask_utils.toBbox(r["segmentation"])]
    ref = lvis_reference(gt, res, "segm", 300)
    ours = lvis_evaluate(gt, res, iou_type="segm")
    assert_identical(ref, ours)


def test_larger_problem_with_300_cut():
    """Images with more than 300 results (the official cut), many categories."""
    rng = np.random.default_rng(7)
    gt, res = lvis_problem(rng, n_img=12, max_gt=30, max_dt=400, h=120, w=160)
    n_per = {}
    for r in res:
        n_per[r["image_id"]] = n_per.get(r["image_id"], 0) + 1
    assert max(n_per.values()) > 300
    ref = lvis_reference(gt, res, "bbox", 300)
    ours = lvis_evaluate(gt, res)
    assert_identical(ref, ours)
    assert set(ours.metrics) >= {"APr", "APc", "APf", "AR@300"}


def test_federated_rules_by_hand():
    """One image, values known by hand: neg list, not-exhaustive list, unlisted category."""
    gt = {
        "images": [
            {
                "id": 1,
                "height": 100,
                "width": 100,
                "neg_category_ids": [2],
                "not_exhaustive_category_ids": [1],
            }
        ],
        "categories": [
            {"id": 1, "name": "a", "frequency": "f"},
            {"id": 2, "name": "b", "frequency": "r"},
            {"id": 3, "name": "c", "frequency": "c"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}
        ],
    }
    res = [
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "score": 0.9},  # FP, but nel
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},  # TP
        {"image_id": 1, "category_id": 2, "bbox": [0, 0, 10, 10], "score": 0.7},  # neg: FP
        {"image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10], "score": 0.9},  # unknown: dropped
    ]
    r = lvis_evaluate(gt, res)
    # category 1: the unmatched result is ignored -> precision 1 at every recall: AP 1
    assert r.arrays["ap_per_category"][0] == pytest.approx(1.0)
    # category 2: no gt -> undefined; category 3: nothing -> undefined
    assert np.isnan(r.arrays["ap_per_category"][1:]).all()
    assert r["AP"] == pytest.approx(1.0) and r["APf"] == pytest.approx(1.0)
    assert np.isnan(r["APr"]) and np.isnan(r["APc"])
    assert_identical(lvis_reference(gt, res, "bbox", 300), r)


@pytest.mark.parametrize("n_shards", [1, 2, 3])
def test_evaluator_shards_merge_exactly(n_shards):
    rng = np.random.default_rng(11)
    gt, res = lvis_problem(rng, n_img=9)
    want = lvis_evaluate(gt, res)
    g = load_lvis_ground_truth(gt)
    freq = {c["id"]: c["frequency"] for c in gt["categories"]}
    cats = [c["id"] for c in gt["categories"]]
    evs = [LvisEvaluator(cats, freq) for _ in range(n_shards)]
    for n, im in enumerate(gt["images"]):
        iid = im["id"]
        anns = [a for a in gt["annotations"] if a["image_id"] == iid]
        dts = [r for r in res if r["image_id"] == iid]
        evs[n % n_shards].update(
            image_id=iid,
            gt_boxes=[a["bbox"] for a in anns],
            gt_labels=[a["category_id"] for a in anns],
            dt_boxes=[r["bbox"] for r in dts],
            dt_labels=[r["category_id"] for r in dts],
            dt_scores=[r["score"] for r in dts],
            box_format="xywh",
            gt_area=[a["area"] for a in anns],
            gt_ann_ids=[a["id"] for a in anns],
            gt_ignore=[a.get("ignore", 0) for a in anns],
            neg_category_ids=im["neg_category_ids"],
            not_exhaustive_category_ids=im["not_exhaustive_category_ids"],
        )
    ev = evs[0]
    for other in evs[1:]:
        ev.merge(other)
    state = ev.state_dict()
    ev2 = LvisEvaluator(cats, freq)
    ev2.load_state_dict(state)
    for got in (ev.compute(), ev2.compute()):
        for k in ("precision", "recall", "stats"):
            assert np.array_equal(got.arrays[k], want.arrays[k]), k
    assert g.table.cat_ids.tolist() == cats


def test_bad_input_names_file_field_and_id(tmp_path):
    gt = {
        "images": [{"id": 1, "height": 4, "width": 4, "neg_category_ids": []}],
        "categories": [{"id": 1, "name": "a", "frequency": "f"}],
        "annotations": [],
    }
    p = tmp_path / "lvis_v1_val.json"
    p.write_text(json.dumps(gt))
    with pytest.raises(
        MetricInputError, match=r"lvis_v1_val.json: image id 1: field 'not_exhaustive"
    ):
        lvis_evaluate(str(p), [])
    gt["images"][0]["not_exhaustive_category_ids"] = []
    gt["categories"][0]["frequency"] = "x"
    with pytest.raises(MetricInputError, match=r"category id 1: field 'frequency'"):
        lvis_evaluate(gt, [])
    gt["categories"][0]["frequency"] = "f"
    gt["annotations"] = [
        {"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1}
    ]
    with pytest.raises(MetricInputError, match=r"annotation id 0"):
        lvis_evaluate(gt, [])
    gt["annotations"][0]["id"] = 5
    del gt["annotations"][0]["area"]
    with pytest.raises(MetricInputError, match=r"annotation id 5: missing field 'area'"):
        lvis_evaluate(gt, [])
    gt["annotations"][0]["area"] = 1.0
    with pytest.raises(MetricInputError, match=r"results\[0\]: field 'image_id' = 9"):
        lvis_evaluate(gt, [{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    with pytest.warns(UserWarning, match="empty results"):
        r = lvis_evaluate(gt, [])
    assert r["AP"] == 0.0
