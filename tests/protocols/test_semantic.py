"""The semantic protocol: confusion-matrix scores with ``ignore_index`` and
``reduce_zero_label`` equal a per-pixel reference loop; scene-graph ids need not be ints."""

from __future__ import annotations

import numpy as np
import pytest

from visionbench.label_spaces import LabelSpace
from visionbench.protocols import get_protocol
from visionbench.types import SegmentationPrediction, SegmentationTarget


def _reference(gts, preds, c, ignore, reduce_zero):
    """Per pixel: mmseg's reduce_zero_label on the gt, then count (gt, pred) pairs."""
    conf = np.zeros((c, c), np.int64)
    for g, p in zip(gts, preds):
        for gv, pv in zip(g.ravel().tolist(), p.ravel().tolist()):
            if reduce_zero:
                gv = ignore if gv in (0, ignore) else gv - 1
            if gv == ignore or not (0 <= pv < c):
                continue
            conf[gv, pv] += 1
    tp = np.diag(conf).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (conf.sum(0) + conf.sum(1) - tp)
    present = conf.sum(1) > 0
    return np.nanmean(np.where(present, iou, np.nan)), tp.sum() / conf.sum()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("reduce_zero", [False, True])
def test_semantic_scores_equal_a_per_pixel_loop(seed, reduce_zero):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 7))
    space = LabelSpace("toy", tuple(f"c{i}" for i in range(c)))
    top = c + 1 if reduce_zero else c  # gt ids 0..c with label 0 = "other"
    gts, preds = [], []
    for _ in range(int(rng.integers(1, 4))):
        h, w = (int(v) for v in rng.integers(3, 12, 2))
        g = rng.integers(0, top, (h, w)).astype(np.uint8)
        g[rng.random((h, w)) < 0.1] = 255
        p = rng.integers(0, c, (h, w)).astype(np.uint8)
        gts.append(g)
        preds.append(p)
    proto = get_protocol("semantic", space, {"reduce_zero_label": reduce_zero})
    res = proto.score(
        [SegmentationPrediction(mask=p, sample_id=i) for i, p in enumerate(preds)],
        [SegmentationTarget(mask=g, sample_id=i) for i, g in enumerate(gts)],
    )
    miou, acc = _reference(gts, preds, c, 255, reduce_zero)
    assert res.metrics["miou"] == pytest.approx(miou, abs=1e-12)
    assert res.metrics["pixel_acc"] == pytest.approx(acc, abs=1e-12)
    assert proto.metric_metadata(res)["miou"] == {"higher_is_better": True, "unit": "fraction"}


def test_scene_graph_string_image_ids():
    from visionbench.label_spaces import get_label_space
    from visionbench.types import SceneGraphPrediction, SceneGraphTarget

    proto = get_protocol(
        "scene-graph", get_label_space("vg150"), {"num_predicates": 3, "mode": "predcls"}
    )
    boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20]], float)
    t = SceneGraphTarget(boxes, np.array([1, 2]), np.array([[0, 1, 2]]), sample_id="img-a")
    p = SceneGraphPrediction(boxes, np.array([1, 2]), np.array([1.0, 1.0]), np.array([[0, 1]]),
                             np.array([[0.1, 0.2, 0.6, 0.1]]), sample_id="img-a")  # fmt: skip
    res = proto.score([p], [t])
    assert res.metrics["R@20"] == 1.0 and proto.num_predicates == 3
