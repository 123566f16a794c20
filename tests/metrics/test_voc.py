"""visionbench.metrics.detection.voc against a faithful port of the reference ``voc_eval``
(``tests/voc_reference.py``: py-faster-rcnn / detectron2), on the same data in memory."""

from __future__ import annotations

import numpy as np
import pytest

from tests.voc_reference import ref_voc_ap
from tests.voc_reference import ref_voc_eval_in_memory as ref_voc_eval
from visionbench.metrics.detection.voc import (
    VOCEvaluator,
    devkit_boxes,
    voc_ap,
    voc_box_iou,
    voc_match_image,
)
from visionbench.metrics.errors import MetricInputError

# ---------------------------------------------------------------------------------------
# Random problems in both representations

CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle")


def random_problem(rng: np.random.Generator, n_images: int, *, n_classes: int = len(CLASSES),
                   integer_dets: bool = False, p_difficult: float = 0.2):  # fmt: skip
    """recs (parse_rec form), detection lines per class (results-file form) and the same
    per image as arrays (class ids 1..C) for the evaluator."""
    classes = CLASSES[:n_classes]
    recs, lines, images = {}, {c: [] for c in classes}, []
    for i in range(n_images):
        name = f"{2007 + i % 3}_{i:06d}"
        w, h = (int(v) for v in rng.integers(50, 400, 2))
        objs, gt_boxes, gt_labels, gt_diff = [], [], [], []
        for _ in range(int(rng.integers(0, 6))):
            c = int(rng.integers(n_classes))
            x0, y0 = int(rng.integers(1, w - 5)), int(rng.integers(1, h - 5))
            x1, y1 = int(rng.integers(x0, w + 1)), int(rng.integers(y0, h + 1))
            diff = int(rng.random() < p_difficult)
            objs.append({"name": classes[c], "difficult": diff, "bbox": [x0, y0, x1, y1]})
            gt_boxes.append([x0, y0, x1, y1])
            gt_labels.append(c + 1)
            gt_diff.append(bool(diff))
        dt_boxes, dt_labels, dt_scores = [], [], []
        for _ in range(int(rng.integers(0, 9))):
            if gt_boxes and rng.random() < 0.7:  # near a gt (maybe of another class)
                k = int(rng.integers(len(gt_boxes)))
                b = np.asarray(gt_boxes[k], float)
                size = np.array([b[2] - b[0] + 1, b[3] - b[1] + 1] * 2)
                b = b + rng.normal(0, 0.15, 4) * size
                c = gt_labels[k] - 1 if rng.random() < 0.8 else int(rng.integers(n_classes))
            else:
                x0, y0 = rng.uniform(0, w - 2), rng.uniform(0, h - 2)
                b = np.array([x0, y0, rng.uniform(x0, w), rng.uniform(y0, h)])
                c = int(rng.integers(n_classes))
            b = (np.round(b) if integer_dets else np.round(b, 1)).tolist()
            b[2], b[3] = max(b[2], b[0]), max(b[3], b[1])
            s = float(rng.random())
            dt_boxes.append(b)
            dt_labels.append(c + 1)
            dt_scores.append(s)
            lines[classes[c]].append(f"{name} {s!r} {b[0]!r} {b[1]!r} {b[2]!r} {b[3]!r}")
        recs[name] = objs
        images.append((name, dt_boxes, dt_labels, dt_scores, gt_boxes, gt_labels, gt_diff))
    return recs, lines, images


def feed(ev: VOCEvaluator, images) -> VOCEvaluator:
    for name, db, dl, ds, gb, gl, gd in images:
        ev.update(
            dt_boxes=db,
            dt_labels=dl,
            dt_scores=ds,
            gt_boxes=gb,
            gt_labels=gl,
            gt_difficult=gd,
            image_id=name,
        )
    return ev


def check_against_port(recs, lines, images, *, ap_method: str, iou: float = 0.5,
                       n_classes: int = len(CLASSES), sort_kind=None) -> VOCEvaluator:  # fmt: skip
    classes = CLASSES[:n_classes]
    ev = feed(
        VOCEvaluator(range(1, n_classes + 1), iou_threshold=iou, ap_method=ap_method,
                     class_names=classes),
        images,
    )  # fmt: skip
    res = ev.compute()
    curves = ev.curves()
    names = list(recs)
    aps = []
    for k, cls in enumerate(classes):
        rec, prec, ap = ref_voc_eval(recs, names, lines[cls], cls, iou, ap_method == "11point",
                                     sort_kind=sort_kind)  # fmt: skip
        npos = sum(
            1 for objs in recs.values() for o in objs if o["name"] == cls and not o["difficult"]
        )
        np.testing.assert_array_equal(curves[k + 1]["precision"], prec)
        if npos == 0:  # the port divides by zero; we say NaN and leave the class out of mAP
            assert np.isnan(res.metrics[f"AP_{cls}"])
            continue
        np.testing.assert_array_equal(curves[k + 1]["recall"], rec)
        assert res.metrics[f"AP_{cls}"] == ap, (cls, res.metrics[f"AP_{cls}"], ap)
        aps.append(ap)
    if aps:
        assert res.metrics["mAP"] == pytest.approx(np.mean(aps), abs=0, rel=1e-15)
    else:
        assert np.isnan(res.metrics["mAP"])
    return ev


# ---------------------------------------------------------------------------------------
# Equality with the port


@pytest.mark.parametrize("ap_method", ["11point", "allpoint"])
@pytest.mark.parametrize("seed", range(40))
def test_random_problems_equal_the_port(seed: int, ap_method: str) -> None:
    rng = np.random.default_rng(seed)
    recs, lines, images = random_problem(rng, int(rng.integers(1, 30)))
    check_against_port(recs, lines, images, ap_method=ap_method)


@pytest.mark.parametrize("ap_method", ["11point", "allpoint"])
@pytest.mark.parametrize("seed", range(10))
def test_integer_boxes_hit_the_threshold_exactly(seed: int, ap_method: str) -> None:
    """Integer detections make IoU == 0.5 happen; the strict ``>`` must agree."""
    rng = np.random.default_rng(100 + seed)
    recs, lines, images = random_problem(rng, 25, integer_dets=True)
    check_against_port(recs, lines, images, ap_method=ap_method)


@pytest.mark.parametrize("iou", [0.3, 0.7, 0.75])
def test_other_thresholds_equal_the_port(iou: float) -> None:
    rng = np.random.default_rng(7)
    recs, lines, images = random_problem(rng, 40)
    check_against_port(recs, lines, images, ap_method="allpoint", iou=iou)


def test_all_difficult_and_empty_classes() -> None:
    rng = np.random.default_rng(3)
    recs, lines, images = random_problem(rng, 20, p_difficult=1.0)  # npos 0 everywhere
    ev = check_against_port(recs, lines, images, ap_method="11point")
    assert np.isnan(ev.compute().metrics["mAP"])
    rng = np.random.default_rng(4)
    recs, lines, images = random_problem(rng, 15, n_classes=2)  # classes 3..5 never appear
    ev = VOCEvaluator(range(1, 6), ap_method="allpoint", class_names=CLASSES)
    res = feed(ev, images).compute()
    assert np.isnan(res.arrays["ap_per_category"][2:]).all()
    assert not np.isnan(res.arrays["ap_per_category"][:2]).any()
    check_against_port(recs, lines, images, ap_method="allpoint", n_classes=2)


def test_ties_follow_the_devkit_stable_sort() -> None:
    """Scores rounded to 3 decimals (as detectron2 writes them) tie often: we rank ties in
    input order, as the devkit's MATLAB sort and a stable argsort of the port do."""
    rng = np.random.default_rng(11)
    recs, lines, images = random_problem(rng, 30)
    images = [
        (n, db, dl, [round(s, 1) for s in ds], gb, gl, gd) for n, db, dl, ds, gb, gl, gd in images
    ]
    lines = {c: [] for c in CLASSES}
    for name, db, dl, ds, *_ in images:
        for b, c, s in zip(db, dl, ds):
            lines[CLASSES[c - 1]].append(f"{name} {s!r} {b[0]!r} {b[1]!r} {b[2]!r} {b[3]!r}")
    check_against_port(recs, lines, images, ap_method="allpoint", sort_kind="stable")


def test_shards_merge_and_state_round_trip() -> None:
    rng = np.random.default_rng(5)
    recs, lines, images = random_problem(rng, 30)
    whole = check_against_port(recs, lines, images, ap_method="11point")
    a, b = (VOCEvaluator(range(1, 6), ap_method="11point", class_names=CLASSES) for _ in range(2))
    feed(a, images[:13])
    feed(b, images[13:])
    a.merge(b)
    restored = VOCEvaluator([1], ap_method="allpoint")
    restored.load_state_dict(a.state_dict())
    for ev in (a, restored):
        r, w = ev.compute(), whole.compute()
        assert r.signature == w.signature
        np.testing.assert_array_equal(r.arrays["ap_per_category"], w.arrays["ap_per_category"])
        assert r.metrics == pytest.approx(w.metrics, nan_ok=True, abs=0)
    a.reset()
    assert np.isnan(a.compute().metrics["mAP"]) and a.num_images == 0


# ---------------------------------------------------------------------------------------
# Known values


def test_hand_computed_example() -> None:
    """3 gts (one difficult); detections ranked TP, difficult hit, FP (duplicate), TP."""
    gt = [[1, 1, 10, 10], [21, 21, 30, 30], [41, 41, 50, 50]]
    diff = [False, True, False]
    dt = [[1, 1, 10, 10], [21, 21, 30, 30], [1, 1, 10, 9], [41, 41, 50, 50]]
    scores = [0.9, 0.8, 0.7, 0.6]
    ev = VOCEvaluator([1], ap_method="allpoint")
    ev.update(
        dt_boxes=dt,
        dt_labels=[1] * 4,
        dt_scores=scores,
        gt_boxes=gt,
        gt_labels=[1] * 3,
        gt_difficult=diff,
    )
    c = ev.curves()[1]
    np.testing.assert_array_equal(c["recall"], [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(c["precision"], [1.0, 1.0, 0.5, 2 / 3])
    # all-point: 0.5 * 1 + 0.5 * 2/3
    assert ev.compute().metrics["mAP"] == pytest.approx(0.5 + 1 / 3, abs=1e-15)
    ev11 = VOCEvaluator([1], ap_method="11point")
    ev11.update(
        dt_boxes=dt,
        dt_labels=[1] * 4,
        dt_scores=scores,
        gt_boxes=gt,
        gt_labels=[1] * 3,
        gt_difficult=diff,
    )
    assert ev11.compute().metrics["mAP"] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11, abs=1e-15)


def test_plus_one_iou_and_strict_threshold() -> None:
    # 10x10 pixels vs 10x5 pixels inside: IoU exactly 0.5 -> not a match
    assert voc_box_iou([[1, 1, 10, 5]], [[1, 1, 10, 10]])[0, 0] == 0.5
    tp, fp = voc_match_image([[1, 1, 10, 5]], [1.0], [[1, 1, 10, 10]], [False])
    assert not tp[0] and fp[0]
    tp, fp = voc_match_image([[1, 1, 10, 5]], [1.0], [[1, 1, 10, 10]], [False], iou_threshold=0.49)
    assert tp[0] and not fp[0]
    # touching boxes share a pixel column under +1
    assert voc_box_iou([[1, 1, 10, 10]], [[10, 1, 19, 10]])[0, 0] == pytest.approx(10 / 190)
    np.testing.assert_array_equal(devkit_boxes([[0, 0, 10, 10]]), [[1, 1, 10, 10]])


def test_best_gt_taken_is_a_false_positive() -> None:
    """The devkit does not fall back to the second-best gt when the best one is taken."""
    gt = [[1, 1, 10, 10], [3, 1, 12, 10]]
    dt = [[1, 1, 10, 10], [2, 1, 11, 10]]  # the second overlaps gt 0 (0.82) more than gt 1 (0.82-)
    tp, fp = voc_match_image(dt, [0.9, 0.8], gt, [False, False])
    ious = voc_box_iou(dt, gt)
    assert ious[1, 0] >= ious[1, 1] > 0.5
    assert tp.tolist() == [True, False] and fp.tolist() == [False, True]


def test_voc_ap_equals_port_on_random_curves() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 30))
        rec = np.sort(rng.random(n))
        prec = rng.random(n)
        for use07 in (True, False):
            method = "11point" if use07 else "allpoint"
            assert voc_ap(rec, prec, method=method) == ref_voc_ap(rec, prec, use07)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dt_boxes": [[0, 0, 1]], "dt_labels": [1], "dt_scores": [1.0]}, r"dt_boxes: expected shape \[N, 4\]"),
        ({"dt_labels": [9]}, "class id 9 is not one of"),
        ({"dt_scores": [float("nan")]}, "finite"),
        ({"gt_difficult": [True, False]}, "as many gt_labels and gt_difficult"),
    ],
)  # fmt: skip
def test_bad_input_is_named(kwargs, match) -> None:
    args = {"dt_boxes": [[0, 0, 5, 5]], "dt_labels": [1], "dt_scores": [0.5],
            "gt_boxes": [[0, 0, 5, 5]], "gt_labels": [1], "gt_difficult": [False]}  # fmt: skip
    args.update(kwargs)
    ev = VOCEvaluator([1, 2])
    with pytest.raises(MetricInputError, match=match) as e:
        ev.update(**args, image_id="2007_000042")
    assert "2007_000042" in str(e.value)
    with pytest.raises(MetricInputError, match="ap_method"):
        VOCEvaluator([1], ap_method="voc07")
    with pytest.raises(MetricInputError, match="merge"):
        VOCEvaluator([1]).merge(VOCEvaluator([1], ap_method="11point"))


def test_use_difficult_counts_them_and_says_so() -> None:
    rng = np.random.default_rng(21)
    recs, lines, images = random_problem(rng, 25, p_difficult=0.5)
    counted = feed(VOCEvaluator(range(1, 6), use_difficult=True, class_names=CLASSES), images)
    # the port's own switch: "treat all difficult as GT"
    plain = {n: [{**o, "difficult": 0} for o in objs] for n, objs in recs.items()}
    for cls in CLASSES:
        _, _, ap = ref_voc_eval(plain, list(plain), lines[cls], cls)
        assert counted.compute().metrics[f"AP_{cls}"] == ap
    assert "|difficult=counted|" in counted.signature
    assert "|difficult=ignored|" in VOCEvaluator([1]).signature
    restored = VOCEvaluator([1])
    restored.load_state_dict(counted.state_dict())
    assert restored.signature == counted.signature
