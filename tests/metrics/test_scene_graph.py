"""Scene-graph recall: hand-computed cases, invariants, and equality with a faithful port of
Scene-Graph-Benchmark's ``sgg_eval.py`` (SGRecall, SGNoGraphConstraintRecall, SGMeanRecall,
SGZeroShotRecall, ``_triplet``, ``_compute_pred_matches``; box IoU as ``boxlist_iou``)."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.scene_graph import (
    SceneGraphEvaluator,
    match_triplets,
    relation_triplets,
    scene_graph_recall,
)

torch = reference_module("torch")

# ------------------------------------------------------------------ the reference, ported


def ref_intersect_2d(x1, x2):
    return (x1[..., None] == x2.T[None, ...]).all(1)


def ref_argsort_desc(scores):
    return np.column_stack(np.unravel_index(np.argsort(-scores.ravel()), scores.shape))


def ref_bbox_overlaps(boxes1, boxes2):  # maskrcnn_benchmark boxlist_iou on float32 BoxLists
    b1 = torch.as_tensor(np.asarray(boxes1), dtype=torch.float32)
    b2 = torch.as_tensor(np.asarray(boxes2), dtype=torch.float32)
    area1 = (b1[:, 2] - b1[:, 0] + 1) * (b1[:, 3] - b1[:, 1] + 1)
    area2 = (b2[:, 2] - b2[:, 0] + 1) * (b2[:, 3] - b2[:, 1] + 1)
    lt = torch.max(b1[:, None, :2], b2[:, :2])
    rb = torch.min(b1[:, None, 2:], b2[:, 2:])
    wh = (rb - lt + 1).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return (inter / (area1[:, None] + area2 - inter)).numpy()


def ref_triplet(relations, classes, boxes):
    sub_id, ob_id, pred_label = relations[:, 0], relations[:, 1], relations[:, 2]
    triplets = np.column_stack((classes[sub_id], pred_label, classes[ob_id]))
    return triplets, np.column_stack((boxes[sub_id], boxes[ob_id]))


def ref_compute_pred_matches(gt_triplets, pred_triplets, gt_boxes, pred_boxes, iou_thres, phrdet):
    keeps = ref_intersect_2d(gt_triplets, pred_triplets)
    gt_has_match = keeps.any(1)
    pred_to_gt = [[] for _ in range(pred_boxes.shape[0])]
    for gt_ind, gt_box, keep_inds in zip(
        np.where(gt_has_match)[0], gt_boxes[gt_has_match], keeps[gt_has_match], strict=True
    ):
        boxes = pred_boxes[keep_inds]
        if phrdet:
            gu = gt_box.reshape((2, 4))
            gu = np.concatenate((gu.min(0)[:2], gu.max(0)[2:]), 0)
            bu = boxes.reshape((-1, 2, 4))
            bu = np.concatenate((bu.min(1)[:, :2], bu.max(1)[:, 2:]), 1)
            inds = ref_bbox_overlaps(gu[None], bu)[0] >= iou_thres
        else:
            sub_iou = ref_bbox_overlaps(gt_box[None, :4], boxes[:, :4])[0]
            obj_iou = ref_bbox_overlaps(gt_box[None, 4:], boxes[:, 4:])[0]
            inds = (sub_iou >= iou_thres) & (obj_iou >= iou_thres)
        for i in np.where(keep_inds)[0][inds]:
            pred_to_gt[i].append(int(gt_ind))
    return pred_to_gt


def ref_evaluate(images, mode, num_rel, zeroshot_triplets, ks=(20, 50, 100)):
    """vg_eval.evaluate_relation_of_one_image over all images, then the summaries."""
    rec = {k: [] for k in ks}
    ng = {k: [] for k in ks}
    zs = {k: [] for k in ks}
    collect = {k: [[] for _ in range(num_rel)] for k in ks}
    for im in images:
        gt_rels = np.asarray(im["gt_relations"]).reshape(-1, 3)
        if len(gt_rels) == 0:
            continue
        gt_boxes = np.asarray(im["gt_boxes"], np.float32).reshape(-1, 4)
        gt_classes = np.asarray(im["gt_labels"])
        pred_rel_inds = np.asarray(im["rel_pairs"]).reshape(-1, 2)
        rel_scores = np.asarray(im["rel_scores"])
        gt_trip = np.column_stack(
            (gt_classes[gt_rels[:, 0]], gt_classes[gt_rels[:, 1]], gt_rels[:, 2])
        )
        zeroshot_idx = np.where(ref_intersect_2d(gt_trip, zeroshot_triplets).sum(-1) > 0)[
            0
        ].tolist()
        if mode == "predcls":
            pred_boxes, pred_classes = gt_boxes, gt_classes
            obj_scores = np.ones(gt_classes.shape[0])
        else:
            pred_boxes = np.asarray(im["pred_boxes"], np.float32).reshape(-1, 4)
            pred_classes = np.asarray(im["pred_labels"])
            obj_scores = np.asarray(im["pred_scores"])
        if pred_rel_inds.shape[0] == 0:
            continue
        # SGRecall
        pred_rels = np.column_stack((pred_rel_inds, 1 + rel_scores[:, 1:].argmax(1)))
        gt_triplets, gt_triplet_boxes = ref_triplet(gt_rels, gt_classes, gt_boxes)
        pred_triplets, pred_triplet_boxes = ref_triplet(pred_rels, pred_classes, pred_boxes)
        pred_to_gt = ref_compute_pred_matches(
            gt_triplets, pred_triplets, gt_triplet_boxes, pred_triplet_boxes, 0.5, mode == "phrdet"
        )
        for k in ks:
            match = reduce(np.union1d, pred_to_gt[:k])
            rec[k].append(float(len(match)) / float(gt_rels.shape[0]))
        # SGNoGraphConstraintRecall
        obj_scores_per_rel = obj_scores[pred_rel_inds].prod(1)
        overall = obj_scores_per_rel[:, None] * rel_scores[:, 1:]
        inds = ref_argsort_desc(overall)[:100]
        ng_rels = np.column_stack((pred_rel_inds[inds[:, 0]], inds[:, 1] + 1))
        ng_triplets, ng_triplet_boxes = ref_triplet(ng_rels, pred_classes, pred_boxes)
        ng_to_gt = ref_compute_pred_matches(
            gt_triplets, ng_triplets, gt_triplet_boxes, ng_triplet_boxes, 0.5, mode == "phrdet"
        )
        for k in ks:
            match = reduce(np.union1d, ng_to_gt[:k])
            ng[k].append(float(len(match)) / float(gt_rels.shape[0]))
        # SGMeanRecall.collect_mean_recall_items
        for k in ks:
            match = reduce(np.union1d, pred_to_gt[:k])
            hit, count = [0] * num_rel, [0] * num_rel
            for idx in range(gt_rels.shape[0]):
                count[int(gt_rels[idx, 2])] += 1
                count[0] += 1
            for idx in range(len(match)):
                hit[int(gt_rels[int(match[idx]), 2])] += 1
                hit[0] += 1
            for n in range(num_rel):
                if count[n] > 0:
                    collect[k][n].append(float(hit[n] / count[n]))
        # SGZeroShotRecall
        for k in ks:
            match = reduce(np.union1d, pred_to_gt[:k])
            if len(zeroshot_idx) > 0:
                ml = match.tolist() if not isinstance(match, list | tuple) else match
                zm = len(zeroshot_idx) + len(ml) - len(set(zeroshot_idx + ml))
                zs[k].append(float(zm) / float(len(zeroshot_idx)))
    out = {}
    for k in ks:
        out[f"R@{k}"] = float(np.mean(rec[k]))
        out[f"ngR@{k}"] = float(np.mean(ng[k]))
        sum_recall = 0
        for idx in range(num_rel - 1):
            c = collect[k][idx + 1]
            sum_recall += 0.0 if len(c) == 0 else np.mean(c)
        out[f"mR@{k}"] = float(sum_recall / float(num_rel - 1))
        out[f"zsR@{k}"] = float(np.mean(zs[k])) if zs[k] else float("nan")
    return out


# ------------------------------------------------------------------ random problems

N_PRED = 6  # predicates without background
N_CLS = 4


def _random_image(rng, mode, *, n_gt_max=7, empty_rels=False):
    n_gt = int(rng.integers(2, n_gt_max + 1))
    xy = rng.integers(0, 60, size=(n_gt, 2))
    wh = rng.integers(3, 40, size=(n_gt, 2))
    gt_boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    gt_labels = rng.integers(1, N_CLS + 1, size=n_gt)
    n_rel = 0 if empty_rels else int(rng.integers(1, 8))
    gt_rel = np.column_stack(
        [
            rng.integers(0, n_gt, n_rel),
            rng.integers(0, n_gt, n_rel),
            rng.integers(1, N_PRED + 1, n_rel),
        ]
    ).reshape(-1, 3)
    if mode in ("sgdet", "phrdet"):
        jitter = rng.integers(-4, 5, size=gt_boxes.shape).astype(np.float32)
        extra = int(rng.integers(0, 4))
        exy = rng.integers(0, 60, size=(extra, 2))
        ewh = rng.integers(3, 40, size=(extra, 2))
        pred_boxes = np.concatenate(
            [gt_boxes + jitter, np.concatenate([exy, exy + ewh], 1).astype(np.float32)]
        )
        perm = rng.permutation(len(pred_boxes))
        to_gt = np.where(perm < n_gt, perm, -1)  # predicted object -> gt object it copies
        pred_boxes = pred_boxes[perm]
        pred_labels = np.concatenate([gt_labels, rng.integers(1, N_CLS + 1, extra)])[perm]
    else:
        pred_boxes = gt_boxes.copy()
        pred_labels = gt_labels.copy()
        to_gt = np.arange(n_gt)
    noise = rng.random(len(pred_labels)) < 0.2
    pred_labels = np.where(noise, rng.integers(1, N_CLS + 1, len(pred_labels)), pred_labels)
    pred_scores = rng.random(len(pred_labels)).astype(np.float32)
    m = len(pred_boxes)
    pairs = np.array([(i, j) for i in range(m) for j in range(m) if i != j])
    pairs = pairs[rng.random(len(pairs)) < 0.7].reshape(-1, 2)
    rel_scores = rng.random((len(pairs), N_PRED + 1)).astype(np.float32)
    for s, o, p in gt_rel:  # an informative model: often scores the true predicate high
        rows = np.nonzero((to_gt[pairs[:, 0]] == s) & (to_gt[pairs[:, 1]] == o))[0]
        if rows.size and rng.random() < 0.6:
            rel_scores[rows, p] += np.float32(rng.random() * 2)
    return {
        "gt_boxes": gt_boxes,
        "gt_labels": gt_labels,
        "gt_relations": gt_rel,
        "pred_boxes": pred_boxes,
        "pred_labels": pred_labels,
        "pred_scores": pred_scores if mode != "predcls" else None,
        "rel_pairs": pairs,
        "rel_scores": rel_scores,
    }


def _sorted_for_reference(im, mode):
    """The reference trusts the input order; give it rows sorted by the triple score."""
    pairs, rel = im["rel_pairs"], im["rel_scores"]
    scores = np.ones(len(im["gt_labels"])) if mode == "predcls" else im["pred_scores"]
    key = rel[:, 1:].max(1) * scores[pairs[:, 0]] * scores[pairs[:, 1]]
    order = np.argsort(-key, kind="stable")
    return {**im, "rel_pairs": pairs[order], "rel_scores": rel[order]}


def _train_triplets(rng):
    all_t = np.array(
        [
            (s, o, p)
            for s in range(1, N_CLS + 1)
            for o in range(1, N_CLS + 1)
            for p in range(1, N_PRED + 1)
        ]
    )
    return all_t[rng.random(len(all_t)) < 0.7]


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet", "phrdet"])
@pytest.mark.parametrize("seed", range(4))
def test_equals_reference_port(mode, seed):
    rng = np.random.default_rng(seed * 10 + len(mode))
    images = [_random_image(rng, mode, empty_rels=(i % 9 == 8)) for i in range(25)]
    train = _train_triplets(rng)
    keys = {tuple(t) for t in train.tolist()}
    zeroshot = np.array(
        [
            (s, o, p)
            for s in range(1, N_CLS + 1)
            for o in range(1, N_CLS + 1)
            for p in range(1, N_PRED + 1)
            if (s, o, p) not in keys
        ]
    )
    ks = (1, 5, 20, 50, 100)
    expected = ref_evaluate(
        [_sorted_for_reference(im, mode) for im in images], mode, N_PRED + 1, zeroshot, ks
    )
    # ours gets the rows shuffled: it sorts by the triple score itself
    shuffled = []
    for im in images:
        perm = rng.permutation(len(im["rel_pairs"]))
        shuffled.append(
            {**im, "rel_pairs": im["rel_pairs"][perm], "rel_scores": im["rel_scores"][perm]}
        )
    got = scene_graph_recall(
        shuffled,
        num_predicates=N_PRED,
        mode=mode,
        ks=ks,
        train_triplets=train,
        skip_images_without_predictions=True,  # the reference skips images with no pairs
    )
    for name, value in expected.items():
        if np.isnan(value):
            assert np.isnan(got[name]), name
        else:
            assert got[name] == value, (name, got[name], value)  # bit for bit


# ------------------------------------------------------------------ hand-computed


def _hand_image():
    boxes = np.array([[0, 0, 9, 9], [20, 20, 29, 29], [40, 40, 49, 49]], np.float32)
    return {
        "gt_boxes": boxes,
        "gt_labels": np.array([1, 2, 3]),
        "gt_relations": np.array([[0, 1, 1], [1, 2, 2]]),
        "rel_pairs": np.array([[0, 1], [1, 2], [2, 0]]),
        "rel_scores": np.array(
            [[0, 0.9, 0.05, 0.05], [0, 0.1, 0.3, 0.6], [0, 0.2, 0.7, 0.1]], np.float32
        ),
    }


def test_hand_computed_predcls():
    # graph constrained ranking: (0,1,p1) .9 hit, (2,0,p2) .7, (1,2,p3) .6 -> gt1 never hit
    # no constraint ranking: .9 (0,1,p1) hit, .7 (2,0,p2), .6 (1,2,p3), .3 (1,2,p2) hit at rank 3
    ev = SceneGraphEvaluator(
        num_predicates=3, mode="predcls", ks=(1, 3, 4), train_triplets=np.array([[1, 2, 1]])
    )
    ev.update(**_hand_image())
    r = ev.compute()
    assert [r["R@1"], r["R@3"], r["R@4"]] == [0.5, 0.5, 0.5]
    assert [r["ngR@1"], r["ngR@3"], r["ngR@4"]] == [0.5, 0.5, 1.0]
    assert r["mR@4"] == pytest.approx(1 / 3)  # p1: 1, p2: 0, p3 absent: 0
    np.testing.assert_array_equal(r.arrays["mR@4_per_predicate"], [1.0, 0.0, 0.0])
    assert r["zsR@4"] == 0.0  # gt1 (2, 3, p2) is the only zero-shot relation, never hit


def test_hand_computed_zero_shot_hit():
    ev = SceneGraphEvaluator(
        num_predicates=3, mode="predcls", ks=(1,), train_triplets=np.array([[2, 3, 2]])
    )
    ev.update(**_hand_image())
    assert ev.compute()["zsR@1"] == 1.0  # now gt0 is the zero-shot one, hit at rank 0


@pytest.mark.parametrize(
    ("pred_subject_box", "hit"),
    [
        ([0, 0, 9, 4], True),  # +1 convention: 50 / 100 = 0.5 exactly, inclusive
        ([0, 0, 9, 3], False),  # 40 / 100
        ([0, 0, 9, 9], True),
        ([5, 0, 14, 9], False),  # 50 / 150
    ],
)
def test_sgdet_iou_plus_one_threshold(pred_subject_box, hit):
    gt = np.array([[0, 0, 9, 9], [50, 50, 59, 59]], np.float32)
    ev = SceneGraphEvaluator(num_predicates=1, mode="sgdet", ks=(1,))
    ev.update(
        gt_boxes=gt,
        gt_labels=[1, 2],
        gt_relations=[[0, 1, 1]],
        pred_boxes=np.array([pred_subject_box, [50, 50, 59, 59]], np.float32),
        pred_labels=[1, 2],
        pred_scores=[0.9, 0.8],
        rel_pairs=[[0, 1]],
        rel_scores=[[0.1, 0.9]],
    )
    assert ev.compute()["R@1"] == (1.0 if hit else 0.0)


def test_phrdet_uses_union_boxes():
    image = {
        "gt_boxes": np.array([[0, 0, 9, 9], [90, 90, 99, 99]], np.float32),
        "gt_labels": [1, 2],
        "gt_relations": [[0, 1, 1]],
        "pred_boxes": np.array([[0, 0, 4, 4], [95, 95, 99, 99]], np.float32),
        "pred_labels": [1, 2],
        "pred_scores": [0.9, 0.9],
        "rel_pairs": [[0, 1]],
        "rel_scores": [[0.0, 1.0]],
    }
    sgdet = scene_graph_recall([image], num_predicates=1, mode="sgdet", ks=(1,))
    phrdet = scene_graph_recall([image], num_predicates=1, mode="phrdet", ks=(1,))
    assert (sgdet["R@1"], phrdet["R@1"]) == (0.0, 1.0)


def test_images_without_gt_relations_are_skipped_and_empty_predictions_count_zero():
    hand = _hand_image()
    no_rel = {**hand, "gt_relations": np.zeros((0, 3), int)}
    no_pred = {**hand, "rel_pairs": np.zeros((0, 2), int), "rel_scores": np.zeros((0, 4))}
    base = scene_graph_recall([hand], num_predicates=3, mode="predcls", ks=(1,))
    assert (
        scene_graph_recall([hand, no_rel], num_predicates=3, mode="predcls", ks=(1,)).metrics
        == base.metrics
    )
    with_empty = scene_graph_recall([hand, no_pred], num_predicates=3, mode="predcls", ks=(1,))
    assert with_empty["R@1"] == 0.25  # (0.5 + 0) / 2
    skipped = scene_graph_recall(
        [hand, no_pred],
        num_predicates=3,
        mode="predcls",
        ks=(1,),
        skip_images_without_predictions=True,
    )
    assert skipped["R@1"] == 0.5
    assert "skip_empty_pred=yes" in skipped.signature


def test_triplets_and_match_functions():
    rels = np.array([[0, 1, 3]])
    labels = np.array([7, 8])
    boxes = np.array([[0, 0, 9, 9], [10, 10, 19, 19]], np.float32)
    trip, tboxes = relation_triplets(rels, labels, boxes)
    assert trip.tolist() == [[7, 3, 8]]
    assert tboxes.tolist() == [[0, 0, 9, 9, 10, 10, 19, 19]]
    other = np.array([[7, 3, 8], [7, 2, 8]])
    hits = match_triplets(trip, other, tboxes, np.repeat(tboxes, 2, 0))
    assert hits.tolist() == [[True], [False]]


# ------------------------------------------------------------------ invariants


def _perfect(image):
    rels = image["gt_relations"]
    scores = np.zeros((len(rels), N_PRED + 1), np.float32)
    scores[np.arange(len(rels)), rels[:, 2]] = 1.0
    return {
        **image,
        "pred_boxes": image["gt_boxes"],
        "pred_labels": image["gt_labels"],
        "pred_scores": np.ones(len(image["gt_labels"])),
        "rel_pairs": rels[:, :2],
        "rel_scores": scores,
    }


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet", "phrdet"])
def test_perfect_predictions_score_one(mode):
    rng = np.random.default_rng(5)
    images = []
    for _ in range(10):
        im = _random_image(rng, mode)
        _, first = np.unique(im["gt_relations"][:, :2], axis=0, return_index=True)
        im["gt_relations"] = im["gt_relations"][np.sort(first)]  # one predicate per pair
        images.append(_perfect(im))
    r = scene_graph_recall(images, num_predicates=N_PRED, mode=mode)
    for k in (20, 50, 100):
        assert r[f"R@{k}"] == 1.0 and r[f"ngR@{k}"] == 1.0
        present = np.isin(
            np.arange(1, N_PRED + 1), np.concatenate([i["gt_relations"][:, 2] for i in images])
        )
        np.testing.assert_array_equal(r.arrays[f"mR@{k}_per_predicate"], present.astype(float))


@pytest.mark.parametrize("mode", ["sgcls", "sgdet"])
def test_recall_non_decreasing_in_k(mode):
    rng = np.random.default_rng(11)
    images = [_random_image(rng, mode, n_gt_max=9) for _ in range(20)]
    ks = (1, 2, 3, 5, 10, 20, 50, 100)
    r = scene_graph_recall(
        images, num_predicates=N_PRED, mode=mode, ks=ks, train_triplets=_train_triplets(rng)
    )
    for prefix in ("R", "ngR", "mR", "zsR"):
        values = [r[f"{prefix}@{k}"] for k in ks]
        assert values == sorted(values), prefix
    assert r["R@1"] < r["R@100"]  # the problem is not degenerate


@pytest.mark.parametrize("mode", ["predcls", "sgcls", "sgdet", "phrdet"])
def test_invariant_to_permuting_boxes_and_rows(mode):
    rng = np.random.default_rng(21)
    images = [_random_image(rng, mode) for _ in range(12)]
    permuted = []
    for im in images:
        g = rng.permutation(len(im["gt_labels"]))
        g_inv = np.argsort(g)
        rels = im["gt_relations"].copy()
        rels[:, :2] = g_inv[rels[:, :2]]
        new = {**im, "gt_boxes": im["gt_boxes"][g], "gt_labels": im["gt_labels"][g]}
        new["gt_relations"] = rels[rng.permutation(len(rels))]
        if mode in ("sgdet", "phrdet"):
            p = rng.permutation(len(im["pred_labels"]))
            p_inv = np.argsort(p)
            new.update(
                pred_boxes=im["pred_boxes"][p],
                pred_labels=im["pred_labels"][p],
                pred_scores=im["pred_scores"][p],
            )
            pairs = p_inv[im["rel_pairs"]]
        else:  # predicted objects are the gt objects
            new.update(pred_boxes=im["pred_boxes"][g], pred_labels=im["pred_labels"][g])
            if im["pred_scores"] is not None:
                new["pred_scores"] = im["pred_scores"][g]
            pairs = g_inv[im["rel_pairs"]]
        r = rng.permutation(len(pairs))
        new.update(rel_pairs=pairs[r], rel_scores=im["rel_scores"][r])
        permuted.append(new)
    a = scene_graph_recall(images, num_predicates=N_PRED, mode=mode)
    b = scene_graph_recall(permuted, num_predicates=N_PRED, mode=mode)
    assert a.metrics == b.metrics


def test_merge_and_state_dict_equal_one_pass():
    rng = np.random.default_rng(3)
    images = [_random_image(rng, "sgdet") for _ in range(15)]
    train = _train_triplets(rng)
    whole = scene_graph_recall(images, num_predicates=N_PRED, train_triplets=train)
    a = SceneGraphEvaluator(num_predicates=N_PRED, train_triplets=train)
    b = SceneGraphEvaluator(num_predicates=N_PRED, train_triplets=train)
    for im in images[:6]:
        a.update(**im)
    for im in images[6:]:
        b.update(**im)
    a.merge(b)
    restored = SceneGraphEvaluator(num_predicates=N_PRED, train_triplets=train)
    restored.load_state_dict(a.state_dict())
    for ev in (a, restored):
        got = ev.compute()
        assert got.metrics == whole.metrics
        assert got.signature == whole.signature
    with pytest.raises(MetricInputError, match="signature"):
        a.merge(SceneGraphEvaluator(num_predicates=N_PRED, mode="sgcls"))


# ------------------------------------------------------------------ input errors


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"gt_boxes": np.zeros((3, 5))}, r"gt_boxes: expected \[N, 4\]"),
        ({"gt_relations": [[0, 1, 4]]}, r"predicate must be in 1..3"),
        ({"gt_relations": [[0, 5, 1]]}, r"gt_relations: object indices must be in 0..2"),
        ({"rel_pairs": [[0, 3]], "rel_scores": [[0, 1, 0, 0]]}, r"rel_pairs: object indices"),
        ({"rel_scores": np.zeros((3, 3))}, r"rel_scores: expected \[3, 4\]"),
        ({"rel_scores": np.full((3, 4), np.nan)}, r"rel_scores: expected finite"),
    ],
)
def test_input_errors(change, match):
    ev = SceneGraphEvaluator(num_predicates=3, mode="predcls")
    with pytest.raises(MetricInputError, match=match):
        ev.update(**{**_hand_image(), **change})


def test_sgdet_requires_predicted_objects():
    ev = SceneGraphEvaluator(num_predicates=3, mode="sgdet")
    with pytest.raises(MetricInputError, match="pred_boxes .image 7.: required in mode 'sgdet'"):
        ev.update(**_hand_image(), image_id=7)
    with pytest.raises(MetricInputError, match="mode: expected one of"):
        SceneGraphEvaluator(num_predicates=3, mode="detection")


@pytest.mark.parametrize("seed", range(20))
def test_top_stable_equals_full_stable_argsort(seed):
    from visionbench.metrics.scene_graph import _top_stable

    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 500))
    values = rng.integers(0, 4, size).astype(float) if seed % 2 else rng.random(size)  # ties
    n = int(rng.integers(1, 150))
    np.testing.assert_array_equal(_top_stable(values, n), np.argsort(-values, kind="stable")[:n])
