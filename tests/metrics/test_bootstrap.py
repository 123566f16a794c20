"""Bootstrap replicates equal full evaluations of the resampled sets built explicitly.

For every task a replicate with draw counts ``w`` must equal, bit for bit, the evaluator
fed the resampled set: sample ``i`` ``w_i`` times (COCO: images duplicated under new ids in
the original order), on random cases with ties, crowds, empty images and missing classes.
"""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.bootstrap import (
    bootstrap_intervals,
    bootstrap_signature,
    percentile_interval,
    replicates,
    resample_weights,
    sample_table,
)
from visionbench.metrics.captioning.bleu import CaptionEvaluator
from visionbench.metrics.classification import ClassificationEvaluator
from visionbench.metrics.detection.coco import CocoEvaluator, coco_evaluate
from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.scene_graph import SceneGraphEvaluator
from visionbench.metrics.segmentation.cityscapes import CityscapesEvaluator
from visionbench.metrics.segmentation.semantic import SegmentationEvaluator

sys.path.insert(0, str(Path(__file__).parent))
from _coco_gen import random_problem  # noqa: E402
from test_cityscapes import _random_frame  # noqa: E402
from test_scene_graph import N_PRED, _random_image  # noqa: E402


def _same(a: float, b: float) -> bool:
    return a == b or (np.isnan(a) and np.isnan(b))


def _assert_replicates_equal(reps: dict[str, np.ndarray], j: int, ref: dict[str, float]) -> None:
    assert set(ref) <= set(reps), sorted(set(ref) - set(reps))
    for k, v in ref.items():
        assert _same(reps[k][j], v), (k, reps[k][j], v)


def _weights(rng: np.random.Generator, n: int, b: int = 4) -> np.ndarray:
    w = rng.multinomial(n, np.ones(n) / n, size=b).astype(np.int64)
    w[0] = 0
    w[0, rng.integers(n)] = 3  # one sample three times
    return w


# -- COCO ---------------------------------------------------------------------------
def _coco_duplicated(gt: dict, res: list, counts: dict[int, int]) -> tuple[dict, list]:
    """Images drawn ``counts[id]`` times, under new ids 1.. in the order of the old ids."""
    images, anns, out = [], [], []
    by_id = {im["id"]: im for im in gt["images"]}
    nid = aid = 1
    for i in sorted(counts):
        for _ in range(counts[i]):
            images.append({**by_id[i], "id": nid})
            for a in gt["annotations"]:
                if a["image_id"] == i:
                    anns.append({**copy.deepcopy(a), "image_id": nid, "id": aid})
                    aid += 1
            out += [{**copy.deepcopy(r), "image_id": nid} for r in res if r["image_id"] == i]
            nid += 1
    return {**gt, "images": images, "annotations": anns}, out


def _coco_evaluator(gt: dict, res: list, compat: str | None = None) -> CocoEvaluator:
    gtt = load_ground_truth(gt, iou_type="bbox", compat=compat is not None)
    dtt = load_results(res, gtt, iou_type="bbox", compat=compat is not None)
    ev = CocoEvaluator(gtt.cat_ids, compat=compat)
    ev.update_tables(gtt.anns, dtt, gtt.image_ids)
    return ev


@pytest.fixture(params=["c", "numba"])
def coco_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a COCO bootstrap test with the C kernel, then with the numba one."""
    from visionbench.metrics.detection import coco_bootstrap as CB

    if request.param == "c" and CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    if request.param == "numba":
        monkeypatch.setattr(CB, "NATIVE", None)
    return request.param


@pytest.mark.parametrize("seed", range(30))
def test_coco_replicate_equals_duplicated_evaluation(seed: int, coco_kernel: str) -> None:
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=int(rng.integers(3, 10)), tied_scores=seed % 2 == 0)
    if not res:
        pytest.skip("no detections drawn")
    compat = "pycocotools" if seed % 3 == 0 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = _coco_evaluator(gt, res, compat)
        table = sample_table(ev)
        ones = table.metrics(np.ones((1, len(table)), np.int64))
        _assert_replicates_equal(ones, 0, ev.compute().metrics)
        w = _weights(rng, len(table))
        reps = table.metrics(w)
        for j in range(len(w)):
            counts = {int(i): int(c) for i, c in zip(table.sample_ids, w[j]) if c}
            g2, r2 = _coco_duplicated(gt, res, counts)  # r2 may be empty: "no detections"
            _assert_replicates_equal(reps, j, coco_evaluate(g2, r2, compat=compat).metrics)


def test_coco_tied_scores_inside_an_image_replay_copy_by_copy(coco_kernel: str) -> None:
    # one image, one gt, a TP and an FP of the same score: drawn twice, pycocotools'
    # order is TP FP TP FP (not TP TP FP FP), which changes the precision envelope
    gt = {
        "images": [{"id": 5, "height": 50, "width": 50}, {"id": 9, "height": 50, "width": 50}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 9, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
        ],
    }  # fmt: skip
    res = [
        {"image_id": 5, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
        {"image_id": 5, "category_id": 1, "bbox": [30, 30, 10, 10], "score": 0.5},
    ]
    ev = _coco_evaluator(gt, res)
    table = sample_table(ev)
    reps = table.metrics(np.array([[2, 0], [2, 1], [1, 3]]))
    for j, counts in enumerate(({5: 2}, {5: 2, 9: 1}, {5: 1, 9: 3})):
        _assert_replicates_equal(reps, j, coco_evaluate(*_coco_duplicated(gt, res, counts)).metrics)


@pytest.mark.parametrize("seed", range(6))
def test_coco_c_kernel_equals_numba_kernel(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # larger sets than the duplicated-set tests can afford: several 32-lane passes (one
    # partial), draw counts up to 6 (tie groups replayed 6 times), classes missing from
    # some replicates (lanes with different defined categories), both summaries
    from visionbench.metrics.detection import coco_bootstrap as CB

    if CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    rng = np.random.default_rng(100 + seed)
    gt, res = random_problem(rng, n_img=int(rng.integers(15, 40)), tied_scores=True, max_dt=20)
    compat = "pycocotools" if seed % 2 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = _coco_evaluator(gt, res, compat)
        table = sample_table(ev)
        n = len(table)
        w = np.concatenate(
            [rng.multinomial(n, np.ones(n) / n, size=60), rng.integers(0, 7, size=(10, n))]
        ).astype(np.int64)
        w[3] = 0
        w[3, :2] = 1  # a replicate of two images: most classes undefined
        monkeypatch.setenv("VISIONBENCH_BOOTSTRAP_THREADS", "3")
        c = table.metrics(w)  # three 32-lane passes, one per thread
        monkeypatch.setenv("VISIONBENCH_BOOTSTRAP_THREADS", "1")
        c1 = table.metrics(w)
        monkeypatch.setattr(CB, "NATIVE", None)
        ref = CB.CocoSampleTable(table.state, table.params, table.cat_ids, compat=table.compat)
        nb = ref.metrics(w)
    assert set(c) == set(nb)
    for k in nb:
        assert np.array_equal(c[k], nb[k], equal_nan=True), (k, c[k], nb[k])
        assert np.array_equal(c[k], c1[k], equal_nan=True), k


@pytest.mark.parametrize(
    "kw",
    [
        {"use_cats": False},
        {"max_dets": [1, 5, 20], "rec_thrs": np.linspace(0, 1, 11)},
        {"use_cats": False, "iou_thrs": np.array([0.5, 0.75])},
    ],
)
def test_coco_c_kernel_other_params(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # pooled categories, other maxDets / recall / IoU thresholds: the C kernel equals
    # the numba one, all ones equal the evaluation, a replicate the duplicated set
    from visionbench.metrics.detection import coco_bootstrap as CB

    if CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    rng = np.random.default_rng(len(kw))
    gt, res = random_problem(rng, n_img=12, tied_scores=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gtt = load_ground_truth(gt, iou_type="bbox", compat=False)
        dtt = load_results(res, gtt, iou_type="bbox", compat=False)
        ev = CocoEvaluator(gtt.cat_ids, **kw)
        ev.update_tables(gtt.anns, dtt, gtt.image_ids)
        table = sample_table(ev)
        n = len(table)
        w = rng.multinomial(n, np.ones(n) / n, size=40)
        w[0] = 1
        c = table.metrics(w)
        _assert_replicates_equal(c, 0, ev.compute().metrics)
        counts = {int(i): int(x) for i, x in zip(table.sample_ids, w[1]) if x}
        g2, r2 = _coco_duplicated(gt, res, counts)
        if r2:
            _assert_replicates_equal(c, 1, coco_evaluate(g2, r2, **kw).metrics)
        monkeypatch.setattr(CB, "NATIVE", None)
        ref = CB.CocoSampleTable(table.state, table.params, table.cat_ids, compat=table.compat)
        nb = ref.metrics(w)
    for k in nb:
        assert np.array_equal(c[k], nb[k], equal_nan=True), k


def test_c_pairwise_sums_are_numpys() -> None:
    from visionbench.metrics.detection import coco_bootstrap as CB

    if CB.NATIVE is None:
        pytest.skip("the C extension _bootstrap_ext is not built")
    X, nb = CB.NATIVE, CB.NATIVE.NB
    rng = np.random.default_rng(1)
    for n in [*range(1, 300), 1000, 4095, 8192, 8193, 16385, 80800]:
        a = rng.random((n, nb)) * rng.choice([1.0, 1e-3, 1e6])
        out = np.empty(nb)
        X.pairwise_rows(a, n, out)
        col = np.ascontiguousarray(a[:, 3])
        assert X.pairwise_sum(col, n) / n == np.mean(col), n
        for b in range(nb):
            assert out[b] / n == np.mean(a[:, b]), (n, b)


def test_coco_intervals_identical_one_pass_or_merged_shards() -> None:
    rng = np.random.default_rng(7)
    gt, res = random_problem(rng, n_img=12)
    gtt = load_ground_truth(gt, iou_type="bbox", compat=False)
    dtt = load_results(res, gtt, iou_type="bbox", compat=False)
    one = CocoEvaluator(gtt.cat_ids)
    one.update_tables(gtt.anns, dtt, gtt.image_ids)
    ids = rng.permutation(np.unique(gtt.image_ids))
    a, b = CocoEvaluator(gtt.cat_ids), CocoEvaluator(gtt.cat_ids)
    a.update_tables(gtt.anns, dtt, ids[:5])
    b.update_tables(gtt.anns, dtt, ids[5:])
    b.merge(a)  # other order on purpose
    restored = CocoEvaluator(gtt.cat_ids)
    restored.load_state_dict(b.state_dict())
    ci1 = bootstrap_intervals(one, B=60, seed=3)
    assert ci1 == bootstrap_intervals(restored, B=60, seed=3)
    assert ci1 == bootstrap_intervals(one, B=60, seed=3)  # deterministic
    assert ci1 != bootstrap_intervals(one, B=60, seed=4)
    assert ci1["AP"]["low"] <= one.compute()["AP"] <= ci1["AP"]["high"] or np.isnan(
        ci1["AP"]["low"]
    )


# -- classification -----------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_classification_replicate_equals_resampled_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(5, 60)), int(rng.integers(2, 12))
    scores = rng.integers(0, 4, (n, c)).astype(np.float32)  # ties on purpose
    labels = rng.integers(0, c, n)
    real = [list(rng.choice(c, int(rng.integers(0, 3)), replace=False)) for _ in range(n)]
    ev = ClassificationEvaluator(
        c, topk=(1, min(3, c)), ties="pessimistic" if seed % 2 else "index"
    )
    ev.update(predictions=scores[: n // 2], targets=labels[: n // 2], real_labels=real[: n // 2])
    ev.update(predictions=scores[n // 2 :], targets=labels[n // 2 :], real_labels=real[n // 2 :])
    table = sample_table(ev)
    w = _weights(rng, n)
    reps = table.metrics(w)
    for j in range(len(w)):
        idx = np.repeat(np.arange(n), w[j])
        ref = ClassificationEvaluator(c, topk=ev.topk, ties=ev.ties)
        ref.update(
            predictions=scores[idx],
            targets=labels[idx],
            real_labels=[real[i] for i in idx],
        )
        _assert_replicates_equal(reps, j, ref.compute().metrics)


# -- semantic segmentation and Cityscapes -------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_segmentation_replicate_equals_resampled_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, n = 5, int(rng.integers(3, 9))
    gts = rng.integers(0, c, (n, 12, 16))
    gts[rng.random(gts.shape) < 0.1] = 255
    gts[0][gts[0] == 0] = 1  # some frames lack class 0
    preds = np.where(rng.random(gts.shape) < 0.3, rng.integers(0, c, gts.shape), gts)
    preds[preds == 255] = 0
    ev = SegmentationEvaluator(c)
    ev.update(targets=gts[:2], predictions=preds[:2])
    for g, p in zip(gts[2:], preds[2:]):
        ev.update(targets=g, predictions=p)
    restored = SegmentationEvaluator(c)
    restored.load_state_dict(ev.state_dict())
    w = _weights(rng, n)
    reps = sample_table(restored).metrics(w)
    for j in range(len(w)):
        ref = SegmentationEvaluator(c)
        idx = np.repeat(np.arange(n), w[j])
        ref.update(targets=gts[idx], predictions=preds[idx])
        _assert_replicates_equal(reps, j, ref.compute().metrics)


@pytest.mark.parametrize("seed", range(3))
def test_cityscapes_replicate_equals_resampled_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = [_random_frame(rng) for _ in range(int(rng.integers(3, 7)))]
    ev = CityscapesEvaluator()
    for gt, inst, pred in frames:
        ev.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
    restored = CityscapesEvaluator()
    restored.load_state_dict(ev.state_dict())
    w = _weights(rng, len(frames))
    reps = sample_table(restored).metrics(w)
    for j in range(len(w)):
        ref = CityscapesEvaluator()
        for i in np.repeat(np.arange(len(frames)), w[j]):
            gt, inst, pred = frames[i]
            ref.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
        _assert_replicates_equal(reps, j, ref.compute().metrics)


@pytest.mark.parametrize("seed", range(12))
def test_cityscapes_batched_replicates_equal_each_replicate_scored_alone(seed: int) -> None:
    """CityscapesTable.metrics (all replicates at once: one matrix product and the numba
    sums) against RowTable's one-replicate-at-a-time score(), bit for bit; the score() path
    is the one checked against full evaluations of the duplicated sets above."""
    from visionbench.metrics.sample_tables import RowTable

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 9))
    ev = CityscapesEvaluator()
    for i in range(n):
        gt, inst, pred = _random_frame(rng)
        if seed % 3 == 0 and i == 0:
            inst = None  # a frame without instanceIds: iIoU undefined where it is drawn
        ev.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
    table = sample_table(ev)
    w = rng.multinomial(n, np.ones(n) / n, size=40).astype(np.int64)
    w[0] = 0
    w[1] = 0
    w[1, 0] = 7
    if n > 1:
        w[2, 1:] = 0  # only frame 0, w[2, 0] times (maybe 0: an empty replicate)
    got = table.metrics(w)
    ref = RowTable.metrics(table, w)
    assert set(got) == set(ref)
    for k in ref:
        assert np.array_equal(got[k], ref[k], equal_nan=True), (k, got[k], ref[k])


# -- captions -----------------------------------------------------------------------
_WORDS = ["a", "the", "dog", "cat", "runs", "sits", "on", "mat", "red", "big", "small", "park"]


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(_WORDS, int(rng.integers(1, 9))))


def _resampled_caption_metrics(opts: dict, hyps: list, refs: list, w: np.ndarray) -> list[dict]:
    """Per row of ``w``: the metrics of a fresh evaluator fed caption i ``w_i`` times."""
    out = []
    for row in w:
        idx = np.repeat(np.arange(len(hyps)), row)
        ref = CaptionEvaluator(**opts)
        ref.update(predictions=[hyps[i] for i in idx], targets=[refs[i] for i in idx])
        out.append(dict(ref.compute().metrics))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_caption_replicate_equals_resampled_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 15))
    hyps = [_sentence(rng) for _ in range(n)]
    refs = [[_sentence(rng) for _ in range(int(rng.integers(1, 4)))] for _ in range(n)]
    opts = {
        "tokenize": "none",
        "smooth_method": ["exp", "floor", "add-k", "none"][seed % 4],
    }
    ev = CaptionEvaluator(**opts)
    ev.update(predictions=hyps, targets=refs)
    w = _weights(rng, n)
    reps = sample_table(ev).metrics(w)
    for j, full in enumerate(_resampled_caption_metrics(opts, hyps, refs, w)):
        # CIDEr-D: document frequencies and log N of the weighted reference corpus, summed
        # in another order than the reference's loops (equal to rounding)
        np.testing.assert_allclose(reps["cider_d"][j], full.pop("cider_d"), rtol=1e-13, atol=1e-15)
        _assert_replicates_equal(reps, j, full)  # BLEU, sacreBLEU, ROUGE-L: bit for bit


@pytest.mark.parametrize("seed", range(12))
def test_cider_d_replicate_equals_pycocoevalcap_on_the_duplicated_set(seed: int) -> None:
    """Against pycocoevalcap's own ``Cider`` on the resampled set under new image ids,
    with empty captions, repeated n-grams and n-grams only some copies' references hold."""
    cider = reference_module("pycocoevalcap.cider.cider")
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 25))
    hyps = [_sentence(rng) if rng.random() > 0.1 else "" for _ in range(n)]
    refs = [[_sentence(rng) for _ in range(int(rng.integers(1, 6)))] for _ in range(n)]
    ev = CaptionEvaluator(tokenize="none", coco=False, rouge_l=False, sacrebleu=False)
    ev.update(predictions=hyps, targets=refs)
    table = sample_table(ev)
    w = _weights(rng, n, b=6)
    reps = table.metrics(w)["cider_d"]
    for j in range(len(w)):
        idx = np.repeat(np.arange(n), w[j])
        gts = {k: refs[i] for k, i in enumerate(idx)}
        res = {k: [hyps[i]] for k, i in enumerate(idx)}
        expected, _ = cider.Cider().compute_score(gts, res)
        np.testing.assert_allclose(reps[j], expected, rtol=1e-13, atol=1e-15)


def test_caption_tables_take_stack_and_round_trip() -> None:
    """Pairing subsets, two runs stacked (their n-gram vocabularies merged) and the
    ``.npz`` round trip score as the evaluator of the same captions."""
    from visionbench.metrics.sample_tables import table_from_arrays

    rng = np.random.default_rng(7)
    n = 9
    refs = [[_sentence(rng) for _ in range(3)] for _ in range(n)]
    hyps_a = [_sentence(rng) for _ in range(n)]
    hyps_b = [_sentence(rng) + " zebra" for _ in range(n)]  # n-grams run A never saw
    opts = {"tokenize": "none"}
    tabs = []
    for hyps in (hyps_a, hyps_b):
        ev = CaptionEvaluator(**opts)
        ev.update(predictions=hyps, targets=refs)
        tabs.append(sample_table(ev))
    ta, tb = tabs
    # a randomisation draw: for each image, run A's caption or run B's
    pick = rng.integers(0, 2, n)
    w = np.concatenate([(pick == 0), (pick == 1)]).astype(np.int64)[None, :]
    got = ta.stacked(tb).metrics(w)
    # stacked order: A's chosen images then B's: compare with that order
    order = [i for i in range(n) if pick[i] == 0] + [i for i in range(n) if pick[i] == 1]
    ref = CaptionEvaluator(**opts)
    ref.update(
        predictions=[(hyps_a, hyps_b)[pick[i]][i] for i in order],
        targets=[refs[i] for i in order],
    )
    full = ref.compute().metrics
    np.testing.assert_allclose(got["cider_d"][0], full.pop("cider_d"), rtol=1e-13)
    _assert_replicates_equal(got, 0, full)
    sub = ta.take(np.array([4, 1, 1, 7]))
    back = table_from_arrays(sub.to_arrays())
    ref = CaptionEvaluator(**opts)
    ref.update(
        predictions=[hyps_a[i] for i in (4, 1, 1, 7)],
        targets=[refs[i] for i in (4, 1, 1, 7)],
    )
    full = ref.compute().metrics
    for t in (sub, back):
        m = t.metrics(np.ones((1, 4), np.int64))
        np.testing.assert_allclose(m["cider_d"][0], full["cider_d"], rtol=1e-13)
        assert m["rouge_l"][0] == full["rouge_l"] and m["bleu4"][0] == full["bleu4"]


def test_spice_replicate_is_the_mean_of_the_duplicated_set(monkeypatch) -> None:
    """SPICE is a mean of per-caption F-scores: the evaluator's own compute on the
    duplicated set (SPICE itself replaced by a deterministic per-caption score, as the
    CoreNLP 3.6.0 models are not shipped) equals the replicate, bit for bit, NaN included."""
    from visionbench.metrics.captioning import java_tools as java

    def fake_spice(hyps, refs):
        per = np.array([np.nan if h == "" else (len(h) * 7919 % 101) / 101 + len(r) / 1000
                        for h, r in zip(hyps, refs)])  # fmt: skip
        return float(np.mean(per)), per

    monkeypatch.setattr(java, "spice_missing", lambda: None)
    monkeypatch.setattr(java, "spice_scores", fake_spice)
    rng = np.random.default_rng(3)
    n = 11
    hyps = [_sentence(rng) for _ in range(n)]
    hyps[2] = ""  # SPICE gives no score: NaN, as the corpus mean is then
    refs = [[_sentence(rng) for _ in range(int(rng.integers(1, 4)))] for _ in range(n)]
    opts = {"tokenize": "none", "spice": True, "coco": False, "cider_d": False,
            "rouge_l": False, "sacrebleu": False}  # fmt: skip
    ev = CaptionEvaluator(**opts)
    ev.update(predictions=hyps, targets=refs)
    ev.compute()
    w = _weights(rng, n)
    reps = sample_table(ev).metrics(w)
    for j, full in enumerate(_resampled_caption_metrics(opts, hyps, refs, w)):
        _assert_replicates_equal(reps, j, full)


# -- scene graphs -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seed", "mode"), [(0, "sgdet"), (1, "predcls"), (2, "sgcls"), (3, "sgdet")]
)
def test_scene_graph_replicate_equals_resampled_evaluation(seed: int, mode: str) -> None:
    rng = np.random.default_rng(seed)
    images = [_random_image(rng, mode) for _ in range(int(rng.integers(3, 8)))]
    train = rng.integers(1, 5, (10, 3)) if seed % 2 else None
    opts = {"num_predicates": N_PRED, "mode": mode, "train_triplets": train}
    ev = SceneGraphEvaluator(**opts)
    for im in images:
        ev.update(**im)
    w = _weights(rng, len(images))
    reps = sample_table(ev).metrics(w)
    for j in range(len(w)):
        ref = SceneGraphEvaluator(**opts)
        for i in np.repeat(np.arange(len(images)), w[j]):
            ref.update(**images[i])
        _assert_replicates_equal(reps, j, ref.compute().metrics)


def test_pairwise_sum_is_numpys() -> None:
    from visionbench.metrics.detection.coco_bootstrap_kernels import _pairwise_sum

    rng = np.random.default_rng(0)
    sizes = [*range(1, 300), 1000, 4095, 8191, 8192, 8193, 16385, 80800, 323200]
    for n in sizes:
        a = rng.random(n) * rng.choice([1.0, 1e-3, 1e6])
        assert _pairwise_sum(a, 0, n) / n == np.mean(a), n


# -- the interval itself ------------------------------------------------------------
def test_percentile_interval_and_signature() -> None:
    v = np.arange(1001, dtype=float)
    assert percentile_interval(v, 0.95) == (25.0, 975.0)
    assert percentile_interval(np.array([np.nan, 1.0, 3.0]), 0.5) == (1.5, 2.5)
    assert np.isnan(percentile_interval(np.array([np.nan]))[0])
    assert bootstrap_signature(B=1000, seed=0) == "ci=percentile-bootstrap|B=1000|seed=0|level=0.95"
    with pytest.raises(MetricInputError, match="level"):
        percentile_interval(v, 1.5)


def test_resample_weights_are_sacrebleu_draws() -> None:
    n, b = 7, 120
    w = np.concatenate(list(resample_weights(n, b, 12345)))
    idx = np.random.default_rng(12345).choice(n, size=(b, n), replace=True)
    assert (w == np.stack([np.bincount(r, minlength=n) for r in idx])).all()


def test_classification_interval_matches_a_plain_numpy_bootstrap() -> None:
    rng = np.random.default_rng(0)
    n = 200
    labels = rng.integers(0, 4, n)
    scores = rng.random((n, 4))
    ev = ClassificationEvaluator(4, topk=(1,))
    ev.update(predictions=scores, targets=labels)
    correct = scores.argmax(1) == labels
    idx = np.random.default_rng(5).choice(n, size=(300, n), replace=True)
    ref = 100.0 * correct[idx].sum(1) / n
    ci = bootstrap_intervals(ev, B=300, seed=5, metrics=["top1"])["top1"]
    assert (ci["low"], ci["high"]) == tuple(np.percentile(ref, [2.5, 97.5]))
    assert ci["method"] == "percentile-bootstrap" and ci["B"] == 300 and ci["seed"] == 5
    assert np.array_equal(replicates(sample_table(ev), B=300, seed=5)["top1"], ref)


def test_basic_interval_matches_scipy_bootstrap() -> None:
    # the same draws as scipy.stats.bootstrap's (rng.integers(0, n, (B, n)) of one
    # default_rng), statistic top-1 accuracy = 100 x the mean of the correct flags
    from scipy import stats

    rng = np.random.default_rng(3)
    n, b = 150, 400
    labels = rng.integers(0, 3, n)
    scores = rng.random((n, 3))
    ev = ClassificationEvaluator(3, topk=(1,))
    ev.update(predictions=scores, targets=labels)
    correct = 100.0 * (scores.argmax(1) == labels)
    ours = bootstrap_intervals(ev, B=b, seed=11, metrics=["top1"], method="basic")["top1"]
    ref = stats.bootstrap(
        (correct,), np.mean, n_resamples=b, method="basic", confidence_level=0.95,
        rng=np.random.default_rng(11), vectorized=True,
    ).confidence_interval  # fmt: skip
    assert ours["method"] == "basic-bootstrap"
    np.testing.assert_allclose([ours["low"], ours["high"]], [ref.low, ref.high], rtol=1e-12)
    perc = bootstrap_intervals(ev, B=b, seed=11, metrics=["top1"])["top1"]
    t = ev.compute()["top1"]
    assert np.isclose(ours["low"], 2 * t - perc["high"]) and np.isclose(
        ours["high"], 2 * t - perc["low"]
    )
    assert bootstrap_signature(method="basic") == "ci=basic-bootstrap|B=1000|seed=0|level=0.95"
    with pytest.raises(MetricInputError, match="method"):
        bootstrap_intervals(ev, B=10, method="bca")


def test_coco_basic_interval_is_centred_on_the_estimate() -> None:
    rng = np.random.default_rng(21)
    gt, res = random_problem(rng, n_img=25, tied_scores=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = _coco_evaluator(gt, res)
        full = ev.compute().metrics
        perc = bootstrap_intervals(ev, B=80, seed=2)
        basic = bootstrap_intervals(ev, B=80, seed=2, method="basic")
    for k in ("AP", "AR100"):
        assert basic[k]["low"] == 2 * full[k] - perc[k]["high"]
        assert basic[k]["high"] == 2 * full[k] - perc[k]["low"]


def test_state_without_per_sample_statistics_is_a_clear_error() -> None:
    ev = ClassificationEvaluator(3)
    ev.update(predictions=np.eye(3), targets=np.arange(3))
    old = {k: v for k, v in ev.state_dict().items() if not k.startswith("sample_")}
    ev2 = ClassificationEvaluator(3)
    ev2.load_state_dict(old)
    assert ev2.compute()["top1"] == 100.0
    with pytest.raises(MetricInputError, match="per-sample"):
        sample_table(ev2)
