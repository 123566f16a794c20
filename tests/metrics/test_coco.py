"""COCO evaluation: bit-identical to pycocotools on the full arrays, mergeable, strict on bad input."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metrics._coco_gen import CAT_IDS, pycocotools_eval, random_problem
from visionbench.metrics.detection.coco import CocoEvaluator, coco_evaluate
from visionbench.metrics.errors import MetricInputError

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "coco" / "annotations"
if not FIXTURES.exists():
    FIXTURES = Path("/work/shared/fixtures/coco/annotations")

ARRAYS = ("precision", "recall", "scores")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_identical(ref, res) -> None:
    for k in ARRAYS:
        a, b = ref.eval[k], res.arrays[k]
        assert a.shape == b.shape, k
        bad = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))))
        assert len(bad) == 0, (
            f"{k} differs at {bad[:5].tolist()}: {a[tuple(bad[0])]!r} vs {b[tuple(bad[0])]!r}"
        )
    assert np.array_equal(np.asarray(ref.stats), res.arrays["stats"]), (
        ref.stats,
        res.arrays["stats"],
    )


PARAM_CHOICES = [
    {},
    {"maxDets": [1, 2, 5]},
    {"maxDets": [1, 3, 10, 100]},
    {"useCats": 0},
    {"areaRng": [[0, 1e10], [0, 100], [100, 1024], [1024, 1e10]]},
    {"iouThrs": np.array([0.5, 0.6, 0.75])},
]


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n_img=st.integers(0, 8),
    crowd_p=st.sampled_from([0.0, 0.15, 0.5]),
    tied=st.booleans(),
    pi=st.integers(0, len(PARAM_CHOICES) - 1),
)
def test_bbox_identical_to_pycocotools(seed, n_img, crowd_p, tied, pi):
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=max(n_img, 1), crowd_p=crowd_p, tied_scores=tied)
    if not res:
        return  # pycocotools crashes on an empty result list (tested separately)
    kw = PARAM_CHOICES[pi]
    ref = pycocotools_eval(gt, res, "bbox", **kw)
    ours = coco_evaluate(gt, res, compat="pycocotools", **_our_params(kw))
    assert_identical(ref, ours)


def _our_params(kw: dict) -> dict:
    names = {
        "maxDets": "max_dets",
        "useCats": "use_cats",
        "areaRng": "area_rng",
        "iouThrs": "iou_thrs",
    }
    names |= {"catIds": "cat_ids", "imgIds": "img_ids", "recThrs": "rec_thrs"}
    return {names[k]: v for k, v in kw.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), with_bbox=st.booleans(), use_cats=st.booleans())
def test_segm_identical_to_pycocotools(seed, with_bbox, use_cats):
    """Polygons (one or two parts), uncompressed RLE crowds, compressed RLE results; results
    that also carry a bbox take loadRes' bbox branch (area = box area)."""
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=4, iou_type="segm", crowd_p=0.2)
    if not res:
        return
    if with_bbox:
        from pycocotools import mask as mask_utils

        for r in res:
            r["bbox"] = [float(v) for v in mask_utils.toBbox(r["segmentation"])]
    ref = pycocotools_eval(gt, res, "segm", useCats=int(use_cats))
    ours = coco_evaluate(gt, res, iou_type="segm", compat="pycocotools", use_cats=use_cats)
    assert_identical(ref, ours)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_keypoints_identical_to_pycocotools(seed):
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=4, iou_type="keypoints", crowd_p=0.1)
    if not res:
        return
    ref = pycocotools_eval(gt, res, "keypoints")
    ours = coco_evaluate(gt, res, iou_type="keypoints", compat="pycocotools")
    assert_identical(ref, ours)


def test_img_ids_and_cat_ids_subsets():
    rng = np.random.default_rng(7)
    gt, res = random_problem(rng, n_img=8)
    img_ids = [im["id"] for im in gt["images"]][::2] + [10**6]  # an id without annotations
    ref = pycocotools_eval(gt, res, imgIds=img_ids, catIds=[3, 90])
    ours = coco_evaluate(gt, res, compat="pycocotools", img_ids=img_ids, cat_ids=[3, 90])
    assert_identical(ref, ours)


def test_pooled_category_order_follows_cat_ids():
    """With useCats=0, pycocotools pools categories in catIds order: ties follow it."""
    rng = np.random.default_rng(11)
    gt, res = random_problem(rng, n_img=8, tied_scores=True)
    for r in res:
        r["score"] = 0.5
    ref = pycocotools_eval(gt, res, useCats=0, catIds=[90, 1, 7, 3])
    ours = coco_evaluate(gt, res, compat="pycocotools", use_cats=False, cat_ids=[90, 1, 7, 3])
    assert_identical(ref, ours)


def test_hand_computed_values():
    """One image, one class: two gts, three dts (TP at IoU 1, FP, TP at IoU 0.5 exactly)."""
    gt = {
        "images": [{"id": 1, "height": 100, "width": 100}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 10, 10],
                "area": 100,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [50, 50, 20, 10],
                "area": 200,
                "iscrowd": 0,
            },
        ],
    }
    res = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [80, 80, 5, 5], "score": 0.8},
        {"image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 5], "score": 0.7},
    ]
    r = coco_evaluate(gt, res)
    # IoU 0.5: ranks TP, FP, TP -> recall .5 at precision 1, recall 1 at precision 2/3.
    p50 = r.arrays["precision"][0, :, 0, 0, 2]
    # pycocotools' precision is tp / (tp + fp + eps): 1.0 becomes one ULP below 1.
    assert np.all(p50[:51] == 1 / (1 + np.spacing(1))) and np.all(p50[:51] < 1.0)
    assert np.allclose(p50[51:], 2 / 3, rtol=0, atol=1e-15)
    # IoU > 0.5: only the first dt matches -> recall 0.5, precision 1 up to recall .5.
    assert r.arrays["recall"][1:, 0, 0, 2].tolist() == [0.5] * 9
    ap = (101 * 2 / 3 + 51 / 3) / 101 / 10 + 9 * (51 / 101) / 10
    assert r["AP"] == pytest.approx(ap, abs=1e-12)
    assert r["AR1"] == pytest.approx(0.5) and r["AR100"] == pytest.approx(0.55)
    assert r.signature == "coco|bbox|iou=.50:.05:.95|area=all,s,m,l|maxdets=1,10,100|v0.1.0"


# -- the real excerpts ---------------------------------------------------------------
def _excerpt(name: str) -> dict:
    """The excerpt with `images` records added for the annotations' dangling image ids
    (the excerpts cut images and annotations independently; see fixtures/README.md). The
    added images are 1000x1000, which covers every polygon."""
    data = json.loads((FIXTURES / name).read_text())
    have = {im["id"] for im in data["images"]}
    for iid in sorted({a["image_id"] for a in data["annotations"]} - have):
        data["images"].append(
            {"id": iid, "height": 1000, "width": 1000, "file_name": f"{iid:012d}.jpg"}
        )
    return data


def _results_from(gt: dict, rng: np.random.Generator, segm: bool) -> list[dict]:
    from pycocotools import mask as mask_utils

    res = []
    size = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    for a in gt["annotations"]:
        for _ in range(int(rng.integers(0, 3))):
            x, y, w, h = a["bbox"]
            b = [
                x + rng.normal() * w * 0.1,
                y + rng.normal() * h * 0.1,
                w * rng.uniform(0.8, 1.2),
                h * rng.uniform(0.8, 1.2),
            ]
            r = {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "score": float(rng.random()),
            }
            if segm:
                # at the image's size: an RLE of another size is refused (visionbench) or
                # never matches (pycocotools' IoU -1)
                rle = mask_utils.frPyObjects(np.array([b]), *size[a["image_id"]])[0]
                rle["counts"] = rle["counts"].decode()
                r["segmentation"] = rle
            else:
                r["bbox"] = [float(v) for v in b]
            res.append(r)
    return res


@pytest.mark.parametrize(
    "name", ["instances_val2017_excerpt.json", "instances_val2014_excerpt.json"]
)
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_real_excerpts_identical(name, iou_type):
    gt = _excerpt(name)
    res = _results_from(gt, np.random.default_rng(0), segm=iou_type == "segm")
    ref = pycocotools_eval(gt, res, iou_type)
    ours = coco_evaluate(gt, res, iou_type=iou_type)
    assert_identical(ref, ours)


def test_real_excerpt_dangling_image_ids():
    path = FIXTURES / "instances_val2017_excerpt.json"
    raw = json.loads(path.read_text())
    with pytest.raises(MetricInputError, match=r"refer to image ids not in 'images'"):
        coco_evaluate(path, [])
    # compat: dropped like pycocotools (which only evaluates the listed images), with a warning
    res = [
        {"image_id": raw["images"][0]["id"], "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5}
    ]
    with pytest.warns(UserWarning, match="ignored, as in pycocotools"):
        ours = coco_evaluate(str(path), res, compat="pycocotools")
    assert_identical(pycocotools_eval(raw, res), ours)


def test_keypoints_excerpt_identical():
    gt = _excerpt("person_keypoints_val2017_excerpt.json")
    rng = np.random.default_rng(3)
    res = []
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"], dtype=float)
        kp[0::3] += rng.normal(size=17) * 3
        kp[1::3] += rng.normal(size=17) * 3
        res.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": kp.tolist(),
                "score": float(rng.random()),
            }
        )
    ref = pycocotools_eval(gt, res, "keypoints")
    assert_identical(ref, coco_evaluate(gt, res, iou_type="keypoints"))


# -- evaluator: arrays in, shards merged -------------------------------------------------
def _feed(ev: CocoEvaluator, gt: dict, res: list, image_ids) -> None:
    for iid in image_ids:
        g = [a for a in gt["annotations"] if a["image_id"] == iid]
        d = [r for r in res if r["image_id"] == iid]
        gb = np.array([a["bbox"] for a in g], dtype=float).reshape(-1, 4)
        db = np.array([r["bbox"] for r in d], dtype=float).reshape(-1, 4)
        ev.update(
            image_id=iid,
            gt_boxes=gb,
            gt_labels=[a["category_id"] for a in g],
            dt_boxes=db,
            dt_labels=[r["category_id"] for r in d],
            dt_scores=[r["score"] for r in d],
            gt_iscrowd=[a["iscrowd"] for a in g],
            gt_area=[a["area"] for a in g],
            gt_ann_ids=[a["id"] for a in g],
            box_format="xywh",
        )  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_shards=st.integers(1, 4))
def test_evaluator_shards_merge_identically(seed, n_shards, tmp_path_factory):
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=7)
    if not res:
        return
    ref = pycocotools_eval(gt, res)
    ids = [im["id"] for im in gt["images"]]
    shard_of = rng.integers(0, n_shards, len(ids))
    evs = [CocoEvaluator(CAT_IDS) for _ in range(n_shards)]
    for s, ev in enumerate(evs):
        _feed(ev, gt, res, [i for i, k in zip(ids, shard_of) if k == s][::-1])
    # round trip of one shard's state through np.savez
    path = tmp_path_factory.mktemp("state") / "s.npz"
    np.savez(path, **evs[-1].state_dict())
    loaded = CocoEvaluator(CAT_IDS)
    loaded.load_state_dict(dict(np.load(path)))
    evs[-1] = loaded
    for ev in evs[1:]:
        evs[0].merge(ev)
    assert_identical(ref, evs[0].compute())


def test_update_xyxy_equals_xywh():
    rng = np.random.default_rng(5)
    gt, res = random_problem(rng, n_img=5)
    a, b = CocoEvaluator(CAT_IDS), CocoEvaluator(CAT_IDS)
    _feed(a, gt, res, [im["id"] for im in gt["images"]])
    for iid in [im["id"] for im in gt["images"]]:
        g = [x for x in gt["annotations"] if x["image_id"] == iid]
        d = [r for r in res if r["image_id"] == iid]
        gb = np.array([x["bbox"] for x in g], dtype=float).reshape(-1, 4)
        db = np.array([r["bbox"] for r in d], dtype=float).reshape(-1, 4)
        gb[:, 2:] += gb[:, :2]
        db[:, 2:] += db[:, :2]  # integer coordinates: the round trip is exact
        b.update(
            image_id=iid,
            gt_boxes=gb,
            gt_labels=[x["category_id"] for x in g],
            dt_boxes=db,
            dt_labels=[r["category_id"] for r in d],
            dt_scores=[r["score"] for r in d],
            gt_iscrowd=[x["iscrowd"] for x in g],
            gt_area=[x["area"] for x in g],
        )  # fmt: skip
    ra, rb = a.compute(), b.compute()
    for k in ARRAYS:
        assert np.array_equal(ra.arrays[k], rb.arrays[k])


def test_evaluator_segm_binary_masks():
    """Masks given as binary arrays give the RLE results of the JSON path."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(2)
    gt, res = random_problem(rng, n_img=3, iou_type="segm", crowd_p=0.0)
    ref = pycocotools_eval(gt, res, "segm")
    ev = CocoEvaluator(CAT_IDS, iou_type="segm")
    for im in gt["images"]:
        iid, h, w = im["id"], im["height"], im["width"]
        g = [x for x in gt["annotations"] if x["image_id"] == iid]
        d = [r for r in res if r["image_id"] == iid]
        gm = (
            np.stack(
                [
                    mask_utils.decode(
                        mask_utils.merge(mask_utils.frPyObjects(x["segmentation"], h, w))
                    )
                    for x in g
                ]
            )
            if g
            else np.zeros((0, h, w), np.uint8)
        )
        dm = (
            np.stack([mask_utils.decode(r["segmentation"]) for r in d])
            if d
            else np.zeros((0, h, w), np.uint8)
        )
        ev.update(
            image_id=iid,
            gt_boxes=np.zeros((len(g), 4)),
            gt_labels=[x["category_id"] for x in g],
            dt_boxes=np.zeros((len(d), 4)),
            dt_labels=[r["category_id"] for r in d],
            dt_scores=[r["score"] for r in d],
            gt_area=[x["area"] for x in g],
            gt_masks=gm,
            dt_masks=dm,
        )  # fmt: skip
    assert_identical(ref, ev.compute())


# -- compat quirks and our own API ----------------------------------------------------
def test_stats0_maxdets_quirk():
    rng = np.random.default_rng(1)
    gt, res = random_problem(rng, n_img=6)
    ref = pycocotools_eval(gt, res, maxDets=[1, 10, 50])
    ours_c = coco_evaluate(gt, res, compat="pycocotools", max_dets=[1, 10, 50])
    assert_identical(ref, ours_c)
    assert ours_c.arrays["stats"][0] == -1
    ours = coco_evaluate(gt, res, max_dets=[1, 10, 50])
    assert ours["AP"] == pytest.approx(
        float(
            np.mean(ours.arrays["precision"][..., 0, 2][ours.arrays["precision"][..., 0, 2] > -1])
        )
    )
    assert "AR50" in ours.metrics
    with pytest.raises(MetricInputError, match="at least 3"):
        coco_evaluate(gt, res, compat="pycocotools", max_dets=[1, 100])
    two = coco_evaluate(gt, res, max_dets=[1, 100])
    assert two.arrays["stats"][0] == ours_c.arrays["stats"][0] or two["AP"] >= 0


def test_annotation_id_zero():
    rng = np.random.default_rng(4)
    gt, res = random_problem(rng, n_img=4, crowd_p=0.0)
    gt["annotations"][0]["id"] = 0
    with pytest.raises(MetricInputError, match="annotation id 0"):
        coco_evaluate(gt, res)
    with pytest.warns(UserWarning, match="sentinel"):
        ours = coco_evaluate(gt, res, compat="pycocotools")
    assert_identical(pycocotools_eval(gt, res), ours)


def test_empty_results_is_all_misses():
    rng = np.random.default_rng(4)
    gt, _ = random_problem(rng, n_img=4)
    with pytest.warns(UserWarning, match="empty results"):
        r = coco_evaluate(gt, [])
    p = r.arrays["precision"]
    assert set(np.unique(p)) <= {-1.0, 0.0} and (p == 0).any()


def test_dropped_result_category_warns():
    rng = np.random.default_rng(8)
    gt, res = random_problem(rng, n_img=4)
    res = res + [
        {"image_id": gt["images"][0]["id"], "category_id": 555, "bbox": [1, 1, 4, 4], "score": 0.99}
    ]
    with pytest.warns(UserWarning, match=r"not in the ground truth \(\[555\]\)"):
        ours = coco_evaluate(gt, res)
    assert_identical(pycocotools_eval(gt, res), ours)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coco_evaluate(gt, res, compat="pycocotools")


def _gt1() -> dict:
    return {
        "images": [{"id": 1, "height": 10, "width": 10}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 4, 4],
                "area": 16,
                "iscrowd": 0,
            }
        ],
    }


def _res1(**kw) -> list:
    r = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5}
    r.update(kw)
    return [r]


@pytest.mark.parametrize(
    ("mutate_gt", "res", "match"),
    [
        (
            None,
            _res1(bbox=[0, float("nan"), 4, 4]),
            r"results index 0: field 'bbox' must be finite",
        ),
        (None, _res1(bbox=[0, 0, float("inf"), 4]), r"field 'bbox' must be finite"),
        (
            None,
            _res1(bbox=[0, 0, -4, 4]),
            r"results index 0: field 'bbox' needs width and height >= 0",
        ),
        (None, _res1(score=float("nan")), r"field 'score' must be finite"),
        (None, _res1(image_id=2), r"results\[0\]: field 'image_id' = 2 is not an image"),
        (
            None,
            [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]}],
            r"results\[0\]: missing field 'score'",
        ),
        (None, _res1(bbox=[0, 0, 4]), r"must be \[x, y, w, h\]"),
        (
            lambda g: g["annotations"][0].pop("iscrowd"),
            _res1(),
            r"annotation id 5: missing field 'iscrowd'",
        ),
        (
            lambda g: g["annotations"][0].pop("area"),
            _res1(),
            r"annotation id 5: missing field 'area'",
        ),
        (
            lambda g: g["annotations"].append(dict(g["annotations"][0])),
            _res1(),
            r"duplicate annotation ids \[5\]",
        ),
        (
            lambda g: g["annotations"][0].update(bbox=[0, 0, float("nan"), 1]),
            _res1(),
            r"annotation id 5: field 'bbox'",
        ),
        (
            lambda g: g["annotations"][0].update(category_id=9),
            _res1(),
            r"category ids not in 'categories': \[9\]",
        ),
    ],
)
def test_bad_input_names_field_and_id(mutate_gt, res, match):
    gt = _gt1()
    if mutate_gt is not None:
        mutate_gt(gt)
    with pytest.raises(MetricInputError, match=match):
        coco_evaluate(gt, res)


def test_bad_update_input():
    ev = CocoEvaluator([1], iou_type="segm")
    m = np.zeros((1, 10, 10), np.uint8)
    with pytest.raises(
        MetricInputError, match=r"image id 3: gt_masks / dt_masks: masks of different sizes"
    ):
        ev.update(
            image_id=3,
            gt_boxes=[[0, 0, 1, 1]],
            gt_labels=[1],
            dt_boxes=[[0, 0, 1, 1]],
            dt_labels=[1],
            dt_scores=[0.5],
            gt_masks=m,
            dt_masks=np.zeros((1, 12, 10), np.uint8),
        )
    ev = CocoEvaluator([1])
    with pytest.raises(MetricInputError, match=r"image id 3: dt_scores: expected 1 values"):
        ev.update(
            image_id=3,
            gt_boxes=[[0, 0, 1, 1]],
            gt_labels=[1],
            dt_boxes=[[0, 0, 1, 1]],
            dt_labels=[1],
            dt_scores=[0.5, 0.4],
        )
    with pytest.raises(
        MetricInputError, match=r"image id 3: dt_boxes\[0\]: expected width and height >= 0"
    ):
        ev.update(
            image_id=3,
            gt_boxes=[[0, 0, 1, 1]],
            gt_labels=[1],
            dt_boxes=[[5, 0, 1, 1]],
            dt_labels=[1],
            dt_scores=[0.5],
        )
    ev.update(
        image_id=3,
        gt_boxes=[[0, 0, 1, 1]],
        gt_labels=[1],
        dt_boxes=[[0, 0, 1, 1]],
        dt_labels=[1],
        dt_scores=[0.5],
    )
    with pytest.raises(MetricInputError, match="already added"):
        ev.update(
            image_id=3,
            gt_boxes=[[0, 0, 1, 1]],
            gt_labels=[1],
            dt_boxes=[[0, 0, 1, 1]],
            dt_labels=[1],
            dt_scores=[0.5],
        )
    other = CocoEvaluator([1], max_dets=[1, 10, 20])
    with pytest.raises(MetricInputError, match="signature"):
        ev.merge(other)


def test_inputs_not_mutated_and_paths_accepted(tmp_path):
    rng = np.random.default_rng(9)
    gt, res = random_problem(rng, n_img=4)
    g0, r0 = copy.deepcopy(gt), copy.deepcopy(res)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    a = coco_evaluate(tmp_path / "gt.json", str(tmp_path / "res.json"))
    b = coco_evaluate(gt, res)
    assert gt == g0 and res == r0
    for k in ARRAYS:
        assert np.array_equal(a.arrays[k], b.arrays[k])


def test_tied_iou_goes_to_the_later_gt():
    """dt1 has IoU 1/3 with gts A and B (a tie): pycocotools gives it the later gt B, so dt2
    (IoU 1 with A only) still finds A. Taking A would leave dt2 a false positive."""
    gt = {
        "images": [{"id": 1, "height": 50, "width": 50}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [0, 0, 10, 10],
                "area": 100,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 0, 10, 10],
                "area": 100,
                "iscrowd": 0,
            },
        ],
    }
    res = [
        {"image_id": 1, "category_id": 1, "bbox": [5, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},
    ]
    thr = np.array([0.3, 0.5])
    ref = pycocotools_eval(gt, res, iouThrs=thr)
    ours = coco_evaluate(gt, res, compat="pycocotools", iou_thrs=thr)
    assert_identical(ref, ours)
    assert ours.arrays["recall"][0, 0, 0, 2] == 1.0  # both gts found at IoU 0.3


def test_one_pass_accumulate_equals_direct_port():
    """accumulate_ranked (true positives only) == accumulate_sorted (pycocotools' loops)."""
    from visionbench.metrics.detection import coco_kernels_numba as K
    from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results
    from visionbench.metrics.detection.coco_evaluation import match_tables
    from visionbench.metrics.detection.coco_params import CocoParams

    rng = np.random.default_rng(12)
    gt, res = random_problem(rng, n_img=30, max_dt=30, tied_scores=True)
    g = load_ground_truth(gt)
    p = CocoParams(max_dets=[1, 5, 10, 100])
    s = match_tables(g.anns, load_results(res, g), p, np.array(CAT_IDS), np.unique(g.image_ids))
    kd = np.searchsorted(CAT_IDS, s.dt_cat)
    o = K.segment_order_desc(np.arange(len(kd)), kd, s.dt_score)
    starts = np.searchsorted(kd[o], np.arange(4))
    ends = np.searchsorted(kd[o], np.arange(4), side="right")
    npig = np.zeros((4, 4), np.int64)
    np.add.at(npig, np.searchsorted(CAT_IDS, s.pair_cat), s.pair_npig)
    md = np.array(p.max_dets)
    a = K.accumulate_ranked(
        o, starts, ends, s.dt_score, s.dt_rank, s.dt_flags, npig, md, p.rec_thrs
    )
    b = K.accumulate_sorted(
        starts, ends, s.dt_score[o], s.dt_rank[o], s.dt_flags[o], npig, md, p.rec_thrs
    )
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_params_validation_and_signature():
    from visionbench.metrics.detection.coco_params import CocoParams

    with pytest.raises(MetricInputError, match="one label per area range"):
        CocoParams(area_rng=[[0, 1e10], [0, 100]])
    with pytest.raises(MetricInputError, match="iou_type"):
        CocoParams(iou_type="mask")
    p = CocoParams(
        area_rng=[[0, 1e10], [0, 100]], area_lbl=["all", "tiny"], max_dets=[100, 1], use_cats=False
    )
    assert p.max_dets == [1, 100]
    assert (
        p.signature("pycocotools")
        == "coco|bbox|iou=.50:.05:.95|area=all,tiny:0-10000000000,0-100|maxdets=1,100|cats=pooled|compat=pycocotools|v0.1.0"
    )
    assert (
        CocoParams(iou_type="keypoints").signature()
        == "coco|keypoints|iou=.50:.05:.95|area=all,m,l|maxdets=20|v0.1.0"
    )


@pytest.mark.parametrize("shape", [(0, 4, 10), (1, 1, 1), (7, 4, 10), (5, 3, 3), (9, 1, 6)])
def test_match_flags_round_trip_and_earlier_layout(shape):
    """state_dict packs the match flags 4 cells a byte; it reads back bit for bit, and a
    state written in the earlier layout (two np.packbits arrays) reads the same flags."""
    from visionbench.metrics.detection.coco_evaluation import (
        MatchState,
        state_from_dict,
        state_to_dict,
    )

    rng = np.random.default_rng(sum(shape))
    n, a, t = shape
    flags = rng.integers(0, 4, shape).astype(np.uint8)
    z = np.arange(n, dtype=np.int64)
    s = MatchState(z, z, z, rng.random(n), z, flags, z[:0], z[:0], np.zeros((0, a), np.int64))
    d = state_to_dict(s)
    assert d["dt_flags2"].shape == (n, (a * t + 3) // 4)
    np.testing.assert_array_equal(state_from_dict(d).dt_flags, flags)
    old = {k: v for k, v in d.items() if k != "dt_flags2"}
    old["dt_matched"] = np.packbits((flags & 1).astype(bool).reshape(n, a * t), axis=1)
    old["dt_ignored"] = np.packbits((flags & 2).astype(bool).reshape(n, a * t), axis=1)
    np.testing.assert_array_equal(state_from_dict(old).dt_flags, flags)
