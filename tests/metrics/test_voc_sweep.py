"""VOC's per-image F1 and best-F1 threshold (``voc_threshold_sweep``, the score the record's
``analysis.worst`` ranks VOC images by) against a brute force written here: the devkit's
matching loop (``voc_eval``'s, per class over the split in score order) gives each
detection's TP / FP / difficult-hit flag, then every distinct score is tried as the
threshold with exact fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tests.metrics.test_voc import CLASSES, feed, random_problem
from visionbench.metrics.detection.voc import VOCEvaluator, voc_threshold_sweep
from visionbench.metrics.errors import MetricInputError


def devkit_flags(images, iou: float = 0.5):
    """(image index, class, score, flag) per detection by ``voc_eval``'s loop (stable
    order on tied scores, as the devkit), flag 1 tp, -1 fp, 0 hit of a difficult object;
    and the non-difficult objects per image and class."""
    dets = [(i, c, s, b) for i, im in enumerate(images) for b, c, s in zip(im[1], im[2], im[3])]
    out = []
    for c in sorted({d[1] for d in dets}):
        mine = sorted((d for d in dets if d[1] == c), key=lambda d: -d[2])  # sorted() is stable
        taken: set[tuple[int, int]] = set()
        for i, _, s, b in mine:
            _, _, _, _, gb, gl, gd = images[i]
            best, jbest = -math.inf, -1
            for j, (g, lab) in enumerate(zip(gb, gl)):
                if lab != c:
                    continue
                iw = max(min(g[2], b[2]) - max(g[0], b[0]) + 1.0, 0.0)
                ih = max(min(g[3], b[3]) - max(g[1], b[1]) + 1.0, 0.0)
                inter = iw * ih
                uni = (
                    (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0)
                    + (g[2] - g[0] + 1.0) * (g[3] - g[1] + 1.0)
                    - inter
                )
                if inter / uni > best:  # the first maximum, as np.argmax
                    best, jbest = inter / uni, j
            if best > iou:
                if gd[jbest]:
                    flag = 0
                elif (i, jbest) not in taken:
                    taken.add((i, jbest))
                    flag = 1
                else:
                    flag = -1
            else:
                flag = -1
            out.append((i, c, s, flag))
    npos = {(i, c): sum(1 for lab, d in zip(im[5], im[6]) if lab == c and not d)
            for i, im in enumerate(images) for c in set(im[5])}  # fmt: skip
    return out, npos


def brute_best(dets, n_gt):
    """(best F1, its threshold): every distinct score of the counted detections of ``dets``
    (image, class, score, flag; difficult hits are not detections to the devkit, nor to
    COCO's ignored ones) tried, ``score >= t`` kept, F1 = 2 tp / (tp + fp + n_gt) exactly;
    the highest threshold among the best. (None, nan) without a detection or a ground
    truth."""
    scores = sorted({d[2] for d in dets if d[3] != 0}, reverse=True)
    if not scores or n_gt == 0:
        return None, float("nan")
    best, thr = None, float("nan")
    for t in scores:  # descending: a later threshold wins only with a strictly higher F1
        tp = sum(1 for d in dets if d[2] >= t and d[3] == 1)
        fp = sum(1 for d in dets if d[2] >= t and d[3] == -1)
        f1 = Fraction(2 * tp, tp + fp + n_gt)
        if best is None or f1 > best:
            best, thr = f1, t
    return best, thr


def brute_image_f1(dets, npos, n_images, thr):
    out = []
    for i in range(n_images):
        tp = sum(1 for d in dets if d[0] == i and d[2] >= thr and d[3] == 1)
        fp = sum(1 for d in dets if d[0] == i and d[2] >= thr and d[3] == -1)
        gt = sum(v for (j, _), v in npos.items() if j == i)
        out.append(float(Fraction(2 * tp, tp + fp + gt)) if tp + fp + gt else float("nan"))
    return out


def check(images, n_classes=len(CLASSES), iou=0.5):
    ev = feed(VOCEvaluator(range(1, n_classes + 1), iou_threshold=iou), images)
    got = ev.threshold_sweep()
    dets, npos = devkit_flags(images, iou)
    n_gt = sum(npos.values())
    best, thr = brute_best(dets, n_gt)
    if best is None:
        assert np.isnan(got["best_threshold"])
    else:
        assert got["best_threshold"] == thr
        assert got["best_f1"] == float(best)
    assert got["image_ids"] == [im[0] for im in images]
    ref = brute_image_f1(dets, npos, len(images), thr)
    np.testing.assert_array_equal(got["image_f1"], ref)
    for c, row in zip(range(1, n_classes + 1), got["per_class"]):
        mine = [d for d in dets if d[1] == c]
        cb, ct = brute_best(mine, sum(v for (_, k), v in npos.items() if k == c))
        assert row["category_id"] == c
        if cb is None:
            assert np.isnan(row["best_threshold"])
        else:
            assert (row["best_f1"], row["best_threshold"]) == (float(cb), ct), c
    return got


def test_hand_built_case_with_difficult_objects() -> None:
    """Two classes (1 cat, 2 dog), three images; every number worked out by hand.

    img a: gt cat [1,1,10,10], gt dog [20,20,40,40] difficult; dets cat 0.9 on the cat
      (TP), cat 0.6 on it again (FP: taken), dog 0.8 on the difficult dog (neither), dog
      0.3 far away (FP).
    img b: gt cat [1,1,20,20]; dets cat 0.7 on it (TP), dog 0.95 on it (FP: no dog).
    img c: only a difficult dog [5,5,15,15]; det dog 0.85 on it (neither): no object to
      find, no detection counted: F1 undefined.

    Counted detections, descending: 0.95 FP, 0.9 TP, 0.7 TP, 0.6 FP, 0.3 FP; npos = 2.
    F1 = 2 tp / (tp + fp + 2): 0.95 -> 0, 0.9 -> 2/4, 0.7 -> 4/5, 0.6 -> 4/6, 0.3 -> 4/7.
    Best 0.8 at 0.7 (precision 2/3, recall 1). At 0.7: a keeps the TP 0.9 (and the
    difficult hit 0.8, not counted): 2/(1+0+1) = 1; b keeps TP 0.7, FP 0.95: 2/(1+1+1).
    Per class: cat 0.9 TP, 0.7 TP, 0.6 FP, npos 2 -> best 1.0 at 0.7; dog: only FPs and
    no non-difficult dog -> F1 0, threshold undefined.
    """
    images = [
        ("a", [[1, 1, 10, 10], [1, 1, 10, 10], [20, 20, 40, 40], [60, 60, 70, 70]], [1, 1, 2, 2],
         [0.9, 0.6, 0.8, 0.3], [[1, 1, 10, 10], [20, 20, 40, 40]], [1, 2], [False, True]),
        ("b", [[1, 1, 20, 20], [1, 1, 20, 20]], [1, 2], [0.7, 0.95], [[1, 1, 20, 20]], [1], [False]),
        ("c", [[5, 5, 15, 15]], [2], [0.85], [[5, 5, 15, 15]], [2], [True]),
    ]  # fmt: skip
    got = check(images, n_classes=2)
    assert got["best_f1"] == pytest.approx(0.8, abs=1e-15)
    assert got["best_threshold"] == 0.7
    assert (got["precision"], got["recall"]) == (pytest.approx(2 / 3), 1.0)
    np.testing.assert_allclose(got["image_f1"][:2], [1.0, 2 / 3], rtol=0, atol=1e-15)
    assert np.isnan(got["image_f1"][2])
    cat, dog = got["per_class"]
    assert (cat["best_f1"], cat["best_threshold"], cat["num_gt"]) == (1.0, 0.7, 2)
    assert dog["best_f1"] == 0.0 and np.isnan(dog["best_threshold"]) and dog["num_gt"] == 0


@pytest.mark.parametrize("seed", range(30))
def test_random_problems_equal_the_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    _, _, images = random_problem(rng, int(rng.integers(1, 25)), p_difficult=0.3)
    check(images)


@pytest.mark.parametrize("seed", range(10))
def test_tied_scores_and_integer_boxes(seed: int) -> None:
    """Scores from a few values (ties: the highest best threshold), boxes on whole
    pixels (IoU exactly at the threshold)."""
    rng = np.random.default_rng(100 + seed)
    _, _, images = random_problem(rng, 15, integer_dets=True, p_difficult=0.3)
    images = [(n, db, dl, [float(rng.choice([0.2, 0.5, 0.5, 0.9])) for _ in ds], gb, gl, gd)
              for n, db, dl, ds, gb, gl, gd in images]  # fmt: skip
    check(images)


def test_other_iou_threshold() -> None:
    _, _, images = random_problem(np.random.default_rng(7), 20)
    check(images, iou=0.3)


def test_no_detections_and_no_ground_truth() -> None:
    ev = VOCEvaluator([1, 2])
    ev.update(dt_boxes=[], dt_labels=[], dt_scores=[], gt_boxes=[[1, 1, 5, 5]], gt_labels=[1],
              image_id="000005")  # fmt: skip
    ev.update(dt_boxes=[], dt_labels=[], dt_scores=[], gt_boxes=[], gt_labels=[], image_id="000007")
    got = ev.threshold_sweep()
    assert np.isnan(got["best_threshold"]) and got["best_f1"] == 0.0
    assert got["image_ids"] == ["000005", "000007"]
    assert got["image_f1"][0] == 0.0 and np.isnan(got["image_f1"][1])


def test_shards_and_state_round_trip_give_the_same_sweep() -> None:
    _, _, images = random_problem(np.random.default_rng(3), 20)
    whole = feed(VOCEvaluator(range(1, 6)), images).threshold_sweep()
    a, b = feed(VOCEvaluator(range(1, 6)), images[:8]), feed(VOCEvaluator(range(1, 6)), images[8:])
    a.merge(b)
    back = VOCEvaluator(range(1, 6))
    back.load_state_dict(a.state_dict())
    for ev in (a, back):
        got = ev.threshold_sweep()
        assert got["best_threshold"] == whole["best_threshold"]
        assert got["image_ids"] == whole["image_ids"]
        np.testing.assert_array_equal(got["image_f1"], whole["image_f1"])


def test_bad_arrays_are_named() -> None:
    with pytest.raises(MetricInputError, match="offsets"):
        voc_threshold_sweep([0, 2], np.zeros((1, 3)), np.zeros((1, 2), np.int64))
    with pytest.raises(MetricInputError, match="flags"):
        voc_threshold_sweep([0, 1], [[0, 0.5, 2]], np.zeros((1, 2), np.int64))
    old = VOCEvaluator([1])
    state = old.state_dict()
    del state["img_npos"]
    old.load_state_dict(state)
    assert not old.has_per_image_statistics
    with pytest.raises(MetricInputError, match="no per-image statistics"):
        old.threshold_sweep()
