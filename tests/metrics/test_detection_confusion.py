"""Detection confusion matrix against a brute-force greedy matcher written here."""

from __future__ import annotations

import numpy as np
import pytest

from visionbench.metrics.detection.confusion import DetectionConfusion


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    i = w * h
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return i / u if u > 0 else 0.0


def _reference(gb, gl, db, dl, ds, classes, iou_thr, score_thr):
    c = len(classes)
    m = np.zeros((c + 1, c + 1), int)
    dets = [i for i in range(len(db)) if ds[i] >= score_thr]
    pairs = [(_iou(gb[g], db[d]), g, d) for g in range(len(gb)) for d in dets]
    pairs = sorted((p for p in pairs if p[0] >= iou_thr), key=lambda p: (-p[0], p[1], p[2]))
    used_g, used_d = set(), set()
    for _, g, d in pairs:
        if g in used_g or d in used_d:
            continue
        used_g.add(g)
        used_d.add(d)
        m[classes.index(gl[g]), classes.index(dl[d])] += 1
    for g in range(len(gb)):
        if g not in used_g:
            m[classes.index(gl[g]), c] += 1
    for d in dets:
        if d not in used_d:
            m[c, classes.index(dl[d])] += 1
    return m


@pytest.mark.parametrize("seed", range(20))
def test_confusion_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = [1, 5, 9]
    cm = DetectionConfusion(classes, iou_threshold=0.5, score_threshold=0.3)
    ref = np.zeros((4, 4), int)
    for _ in range(4):
        n_g, n_d = int(rng.integers(0, 6)), int(rng.integers(0, 8))
        xy = rng.integers(0, 20, (n_g, 2))
        gb = np.concatenate([xy, xy + rng.integers(2, 10, (n_g, 2))], 1).astype(float)
        src = rng.integers(0, max(n_g, 1), n_d)
        base = gb[src] if n_g else np.zeros((n_d, 4))
        db = base + rng.integers(-2, 3, (n_d, 4))
        db[:, 2:] = np.maximum(db[:, 2:], db[:, :2] + 1)
        gl = list(rng.choice(classes, n_g))
        dl = list(rng.choice(classes, n_d))
        ds = list(np.round(rng.random(n_d), 1))
        cm.update(gt_boxes=gb, gt_labels=gl, dt_boxes=db, dt_labels=dl, dt_scores=ds)
        ref += _reference(gb, gl, db, dl, ds, classes, 0.5, 0.3)
    assert np.array_equal(cm.matrix, ref)


def test_hand_case() -> None:
    cm = DetectionConfusion([1, 2])
    gt = [[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    dt = [[0, 0, 10, 10], [20, 20, 30, 31], [80, 80, 90, 90], [0, 0, 10, 10]]
    cm.update(
        gt_boxes=gt,
        gt_labels=[1, 1, 2],
        dt_boxes=dt,
        dt_labels=[1, 2, 2, 1],
        dt_scores=[0.9, 0.8, 0.7, 0.1],
    )
    # tp class 1; gt 1 predicted 2; gt 2 missed; a false alarm of class 2; 0.1 dropped
    assert cm.matrix.tolist() == [[1, 1, 0], [0, 0, 1], [0, 1, 0]]
