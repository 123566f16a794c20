"""record["analysis"] (engine/analysis.py): every field against an independent computation
(pycocotools' per-image matches, torchmetrics' calibration error, confusion counts and
per-frame IoU by hand, tidecv-checked TIDE), and ``bench eval`` through the console script."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from visionbench.engine.analysis import attach_analysis, build_analysis
from visionbench.engine.offline import evaluate_predictions
from visionbench.label_spaces import LabelSpace
from visionbench.records import record_schema
from visionbench.registry import datasets
from visionbench.types import (
    ClassificationPrediction,
    ClassificationTarget,
    SegmentationPrediction,
    SegmentationTarget,
)

BENCH = str(Path(sys.executable).with_name("bench"))


@pytest.fixture(scope="module")
def coco_mini():
    return datasets.get("coco-mini")(root=None, split="val2017")


def _noisy_results(ann_file, seed):
    from tests.engine.test_offline import _results_from_gt

    return _results_from_gt(ann_file, seed)


def _validate(record):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(record, record_schema())


def _pycocotools_image_f1(ann_file, results, thr):
    """Per-image F1 at IoU 0.5 (area all, 100 dets) from pycocotools' evaluateImg."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
    tp, fp, ngt = {}, {}, {}
    for e in ev.evalImgs:
        if e is None or e["aRng"] != [0, 1e10] or e["maxDet"] != 100:
            continue
        i = e["image_id"]
        keep = ~np.asarray(e["dtIgnore"][0], bool) & (np.asarray(e["dtScores"]) >= thr)
        m = np.asarray(e["dtMatches"][0]) > 0
        tp[i] = tp.get(i, 0) + int((m & keep).sum())
        fp[i] = fp.get(i, 0) + int((~m & keep).sum())
        ngt[i] = ngt.get(i, 0) + int((~np.asarray(e["gtIgnore"], bool)).sum())
    out = {}
    for i in sorted(gt.getImgIds()):
        den = tp.get(i, 0) + fp.get(i, 0) + ngt.get(i, 0)
        out[i] = 2 * tp.get(i, 0) / den if den else float("nan")
    return out


def test_coco_record_analysis_equals_independent_computations(tmp_path, coco_mini):
    from visionbench.metrics.detection.tide import tide_errors
    from visionbench.metrics.pr import best_f1, class_pr_curves

    results = _noisy_results(coco_mini.annotation_file, 1)
    p = tmp_path / "res.json"
    p.write_text(json.dumps(results))
    record, _ = evaluate_predictions(
        coco_mini, p, results=tmp_path, command=["t"], metric_options={"tide": "true"}
    )
    _validate(record)
    a = record["analysis"]
    assert set(a) == {"worst", "threshold_sweep", "tide"}

    # threshold sweep: best_f1 over class_pr_curves' matches (another code path)
    from visionbench.metrics.detection.coco import coco_evaluate

    ev = coco_evaluate(coco_mini.annotation_file, results).evaluator
    curves = class_pr_curves(ev, iou_threshold=0.5)
    names = dict(zip(coco_mini.label_space.ids, coco_mini.label_space.names))
    rows = {r["class"]: r for r in a["threshold_sweep"]["per_class"]}
    for cid, c in curves.items():
        ref = best_f1(c.thresholds, np.diff(np.r_[0, c.tp]) > 0, c.num_gt)
        got = rows[names[cid]]
        for key, rk in (("best_f1", "f1"), ("best_threshold", "threshold")):
            if np.isnan(ref[rk]):
                assert got[key] is None
            else:
                assert got[key] == ref[rk], (cid, key)
    pooled_s = np.concatenate([c.thresholds for c in curves.values()])
    pooled_t = np.concatenate([np.diff(np.r_[0, c.tp]) > 0 for c in curves.values()])
    ref = best_f1(pooled_s, pooled_t, sum(c.num_gt for c in curves.values()))
    assert a["threshold_sweep"]["best_f1"] == pytest.approx(ref["f1"], abs=1e-15)
    thr = a["threshold_sweep"]["best_threshold"]
    assert thr == ref["threshold"]

    # worst: the 10 lowest per-image F1 at that threshold, from pycocotools' evalImgs
    f1 = _pycocotools_image_f1(coco_mini.annotation_file, results, thr)
    ids = [i for i in sorted(f1) if np.isfinite(f1[i])]
    order = sorted(range(len(ids)), key=lambda j: (f1[ids[j]], j))[:10]
    w = a["worst"]
    assert (w["by"], w["direction"], w["k"]) == ("F1@0.5", "higher", 10)
    assert [s["id"] for s in w["samples"]] == [ids[j] for j in order]
    for s in w["samples"]:
        assert s["score"] == pytest.approx(f1[s["id"]], abs=1e-12)

    # TIDE: the record's numbers are tide_errors' on the same files (tidecv-checked there)
    gt = json.loads(Path(coco_mini.annotation_file).read_text())
    anns = gt["annotations"]
    ref = tide_errors(
        [x["image_id"] for x in anns], [x["category_id"] for x in anns], [x["bbox"] for x in anns],
        [r["image_id"] for r in results], [r["category_id"] for r in results],
        [r["bbox"] for r in results], [r["score"] for r in results],
        gt_iscrowd=[x.get("iscrowd", 0) for x in anns], image_ids=[im["id"] for im in gt["images"]],
    )  # fmt: skip
    assert a["tide"]["dAP"] == pytest.approx(ref["dAP"], abs=1e-15)
    assert a["tide"]["special"] == pytest.approx(ref["special"], abs=1e-15)
    assert a["tide"]["ap"] == pytest.approx(record["metrics"]["AP50"]["value"], abs=0.02)


def test_coco_without_tide_option_has_no_tide(tmp_path, coco_mini):
    p = tmp_path / "res.json"
    p.write_text(json.dumps(_noisy_results(coco_mini.annotation_file, 2)))
    record, _ = evaluate_predictions(coco_mini, p, results=tmp_path, command=["t"])
    assert "tide" not in record["analysis"] and "threshold_sweep" in record["analysis"]


def _classification(seed, n=300, c=7, batch=64):
    from visionbench.protocols.imagenet import ImageNetProtocol

    rng = np.random.default_rng(seed)
    space = LabelSpace("toy7", tuple(f"c{i}" for i in range(c)))
    proto = ImageNetProtocol(space, {"topk": "1,5"})
    labels = rng.integers(0, c, n)
    logits = rng.normal(0, 1.5, (n, c)) + 2.0 * np.eye(c)[labels] * rng.random((n, 1))
    ids = [f"img{i:04d}" for i in range(n)]
    scorer = proto.scorer()
    for s in range(0, n, batch):  # batches, as the engine feeds them
        scorer.update(
            [ClassificationPrediction(scores=logits[i].astype(np.float32), sample_id=ids[i])
             for i in range(s, min(n, s + batch))],
            [ClassificationTarget(label=int(labels[i]), sample_id=ids[i])
             for i in range(s, min(n, s + batch))],
        )  # fmt: skip
    return proto, scorer.compute(), logits.astype(np.float32), labels, ids, space


def test_classification_calibration_pairs_and_worst(tmp_path):
    torch = pytest.importorskip("torch")
    from torchmetrics.classification import MulticlassCalibrationError

    proto, result, logits, labels, ids, space = _classification(0)
    a = build_analysis(result, proto)
    assert set(a) == {"worst", "confused_pairs", "calibration"}
    c = len(space)
    for norm, key in (("l1", "ece"), ("max", "mce")):
        m = MulticlassCalibrationError(num_classes=c, n_bins=15, norm=norm)
        m.update(torch.from_numpy(logits), torch.from_numpy(labels))
        assert a["calibration"][key] == pytest.approx(float(m.compute()), abs=1e-6)
    assert a["calibration"]["n_bins"] == 15 and sum(a["calibration"]["bins"]["count"]) == 300
    e = np.exp(logits.astype(np.float64) - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    conf, top1 = prob.max(1), prob.argmax(1)
    b = np.minimum((conf * 15).astype(int), 14)
    for j in range(15):  # reliability bins by hand (float32 edges aside, none is on an edge)
        sel = b == j
        assert a["calibration"]["bins"]["count"][j] == int(sel.sum())
        if sel.any():
            assert a["calibration"]["bins"]["accuracy"][j] == pytest.approx(
                (top1[sel] == labels[sel]).mean(), abs=1e-6)  # fmt: skip
    # confused pairs: off-diagonal counts of the top-1 confusion, by hand
    counts = {}
    for t, p_ in zip(labels, top1):
        if t != p_:
            counts[(t, p_)] = counts.get((t, p_), 0) + 1
    ref = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    got = a["confused_pairs"]
    assert [(r["true"], r["pred"], r["count"]) for r in got] == [
        (f"c{t}", f"c{p_}", n) for (t, p_), n in ref
    ]
    assert got[0]["fraction"] == pytest.approx(ref[0][1] / (labels == ref[0][0][0]).sum())
    # worst: lowest true-class probability, with the samples' own ids
    true_p = prob[np.arange(len(labels)), labels]
    order = np.argsort(true_p, kind="stable")[:10]
    w = a["worst"]
    assert (w["by"], w["direction"]) == ("true_class_prob", "higher")
    assert [s["id"] for s in w["samples"]] == [ids[i] for i in order]
    assert [s["score"] for s in w["samples"]] == pytest.approx(true_p[order], abs=1e-6)


def test_classification_state_roundtrip_and_merge_keep_probabilities():
    proto, result, *_ = _classification(1, n=100)
    ev = result.evaluator
    other = proto.build_evaluator()
    other.load_state_dict(ev.state_dict())
    a, b = ev.probabilities(), other.probabilities()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    proto2, r2, *_ = _classification(2, n=50)
    n1 = len(a["confidence"])
    ev.merge(r2.evaluator)
    assert len(ev.probabilities()["confidence"]) == n1 + 50


def test_segmentation_per_frame_miou_and_pairs():
    from visionbench.protocols.semantic import SemanticProtocol

    rng = np.random.default_rng(3)
    c, n = 4, 12
    space = LabelSpace("toy4", tuple(f"k{i}" for i in range(c)))
    proto = SemanticProtocol(space, {})
    gts = [rng.integers(0, c, (16, 20)) for _ in range(n)]
    preds = [np.where(rng.random(g.shape) < 0.6 + 0.03 * i, g, rng.integers(0, c, g.shape))
             for i, g in enumerate(gts)]  # fmt: skip
    for g in gts[:3]:
        g[:2] = 255  # ignored pixels
    ids = [f"frame{i}" for i in range(n)]
    scorer = proto.scorer()
    scorer.update([SegmentationPrediction(mask=p.astype(np.uint8), sample_id=s) for p, s in zip(preds, ids)],
                  [SegmentationTarget(mask=g.astype(np.uint8), sample_id=s) for g, s in zip(gts, ids)])  # fmt: skip
    a = build_analysis(scorer.compute(), proto)
    assert set(a) == {"worst", "confused_pairs", "per_sample"}
    miou = []
    conf = np.zeros((c, c), np.int64)
    for g, p in zip(gts, preds):
        m = g != 255
        f = np.zeros((c, c), np.int64)
        np.add.at(f, (g[m], p[m]), 1)
        conf += f
        inter = np.diag(f)
        union = f.sum(0) + f.sum(1) - inter
        miou.append(np.mean(inter[union > 0] / union[union > 0]))
    miou = np.array(miou)
    order = np.argsort(miou, kind="stable")[:10]
    assert [s["id"] for s in a["worst"]["samples"]] == [ids[i] for i in order]
    assert [s["score"] for s in a["worst"]["samples"]] == pytest.approx(miou[order], abs=1e-12)
    q = a["per_sample"]["quantiles"]
    assert [q[k] for k in ("p05", "p25", "p50", "p75", "p95")] == pytest.approx(
        np.percentile(miou, [5, 25, 50, 75, 95]), abs=1e-12)  # fmt: skip
    assert a["per_sample"]["histogram"]["counts"] == np.histogram(miou, 10, (0, 1))[0].tolist()
    off = conf.copy()
    np.fill_diagonal(off, 0)
    t, p_ = np.unravel_index(np.argmax(off), off.shape)
    assert (a["confused_pairs"][0]["true"], a["confused_pairs"][0]["pred"]) == (f"k{t}", f"k{p_}")
    assert a["confused_pairs"][0]["count"] == off.max()
    assert a["confused_pairs"][0]["fraction"] == pytest.approx(off.max() / conf[t].sum())


def test_a_failing_analysis_never_fails_the_run():
    proto, result, *_ = _classification(4, n=40)

    class Broken(type(proto)):
        def per_sample_scores(self, result):
            raise RuntimeError("boom")

    broken = Broken(proto.label_space, {})
    record = {}
    with pytest.warns(UserWarning, match="'worst' left out: RuntimeError: boom"):
        attach_analysis(record, result, broken)
    assert "worst" not in record["analysis"] and "calibration" in record["analysis"]
    record = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attach_analysis(record, object(), proto)  # not a result at all
    assert "analysis" not in record and caught
    record = {}
    os.environ["VISIONBENCH_ANALYSIS"] = "0"
    try:
        attach_analysis(record, result, proto)
    finally:
        del os.environ["VISIONBENCH_ANALYSIS"]
    assert record == {}


def test_bench_eval_console_script_writes_the_analysis(tmp_path, coco_mini):
    results = _noisy_results(coco_mini.annotation_file, 5)
    p = tmp_path / "res.json"
    p.write_text(json.dumps(results))
    home = tmp_path / "home"
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200", VISIONBENCH_BOOTSTRAP_B="50")
    out = subprocess.run(
        [BENCH, "eval", "--gt", coco_mini.annotation_file, "--predictions", str(p), "-M", "tide=true"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec_file = next((home / "results" / "records").glob("*.json"))
    record = json.loads(rec_file.read_text())
    _validate(record)
    a = record["analysis"]
    assert a["worst"]["by"] == "F1@0.5" and len(a["worst"]["samples"]) == 10
    assert set(a["tide"]["dAP"]) == {"Cls", "Loc", "Both", "Dupe", "Bkg", "Miss"}
    assert 0 < a["threshold_sweep"]["best_f1"] <= 1
    bad = subprocess.run(
        [BENCH, "eval", "--gt", coco_mini.annotation_file, "--predictions", str(p),
         "-M", "tide=true", "-M", "iou_type=segm"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "tide=true needs iou_type=bbox" in (bad.stderr + bad.stdout)


def test_bench_eval_topk_csv_cityscapes_and_captions(tmp_path):
    """The other tasks through evaluate_predictions: the worst samples are the ones made
    wrong on purpose, under the samples' own ids."""
    import shutil

    ds = datasets.get("imagenet-mini")(root=None, split="val")
    gt = ds.ground_truth()
    rows = ["sample_id,top1,top2"]
    wrong = []
    for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets)):
        first = t.label if i % 4 else (t.label + 1) % 1000
        if not i % 4:
            wrong.append(sid)
        rows.append(f"{sid},{first},{t.label}")
    p = tmp_path / "preds.csv"
    p.write_text("\n".join(rows) + "\n")
    record, _ = evaluate_predictions(ds, p, results=tmp_path, metric_options={"topk": (1, 2)},
                                     command=["t"])  # fmt: skip
    _validate(record)
    a = record["analysis"]
    assert "calibration" not in a  # ids only: no probabilities
    assert a["worst"]["by"] == "top1_correct"
    assert [s["id"] for s in a["worst"]["samples"]] == wrong[:10]
    assert all(s["score"] == 0.0 for s in a["worst"]["samples"])
    assert sum(r["count"] for r in a["confused_pairs"]) == min(len(wrong), 10) or len(
        a["confused_pairs"]) == 10  # fmt: skip

    ds = datasets.get("cityscapes-mini")(root=None, split="val")
    gt = ds.ground_truth()
    out = tmp_path / "cs"
    out.mkdir()
    for sid, t in zip(gt.sample_ids, gt.targets):
        shutil.copy(t.mask_path, out / f"{sid}_pred.png")
    bad = gt.sample_ids[1]
    shutil.copy(gt.targets[0].mask_path, out / f"{bad}_pred.png")  # another frame's labels
    record, _ = evaluate_predictions(ds, out, results=tmp_path, command=["t"])
    _validate(record)
    a = record["analysis"]
    assert a["worst"]["samples"][0]["id"] == bad and a["worst"]["samples"][0]["score"] < 1
    assert all(s["score"] == pytest.approx(1.0) for s in a["worst"]["samples"][1:])
    assert a["per_sample"]["quantiles"]["p50"] == pytest.approx(1.0)
    assert a["confused_pairs"] and a["confused_pairs"][0]["count"] > 0

    ds = datasets.get("coco-mini-captions")(root=None, split="val2017")
    gt = ds.ground_truth()
    rows = [{"image_id": sid, "caption": t.captions[0] if i % 3 else "zebra zebra zebra"}
            for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets))]  # fmt: skip
    p = tmp_path / "caps.json"
    p.write_text(json.dumps(rows))
    record, _ = evaluate_predictions(ds, p, results=tmp_path, command=["t"],
                                     metric_options={"meteor": "false", "spice": "false"})  # fmt: skip
    _validate(record)
    w = record["analysis"]["worst"]
    assert w["by"] == "cider_d"
    nonsense = {r["image_id"] for r in rows if r["caption"] == "zebra zebra zebra"}
    assert {s["id"] for s in w["samples"][: min(10, len(nonsense))]} <= nonsense


def test_engine_run_scene_graph_worst_images_equal_per_image_evaluations(tmp_path):
    """``bench run`` (engine.run) writes the analysis; each listed image's R@100 equals a
    SceneGraphEvaluator fed that image alone."""
    from visionbench.engine.run import RunOptions, run
    from visionbench.metrics.scene_graph import SceneGraphEvaluator
    from visionbench.models.scene_graph_freq import (
        FreqPredictor,
        build_freq,
        compute_freq_statistics,
    )

    vg = datasets.get("vg-mini")(root=None, split="all")
    gt = vg.ground_truth()
    stats = compute_freq_statistics(gt.targets[: len(gt) // 2])
    stats.save(tmp_path / "freq.npz")
    record, _ = run(
        build_freq(str(tmp_path / "freq.npz")), vg,
        RunOptions(results=tmp_path, workers=0, batch_size=4, progress=False, sg_mode="predcls",
                   command=["t"]),
    )  # fmt: skip
    _validate(record)
    w = record["analysis"]["worst"]
    assert w["by"] == "R@100" and w["direction"] == "higher"
    predictor = FreqPredictor(stats, overlap=False)
    per_image = {}
    for sid, t in zip(gt.sample_ids, gt.targets):
        if len(t.relations) == 0:
            continue
        ev = SceneGraphEvaluator(num_predicates=50, mode="predcls")
        p = predictor.predict_graph(t.boxes, t.labels, sample_id=sid)
        ev.update(pred_boxes=p.boxes, pred_labels=p.labels, pred_scores=p.scores,
                  rel_pairs=p.rel_pairs, rel_scores=p.rel_scores, gt_boxes=t.boxes,
                  gt_labels=t.labels, gt_relations=t.relations)  # fmt: skip
        per_image[sid] = ev.compute().metrics["R@100"]
    ref = sorted(per_image, key=lambda s: (per_image[s], list(gt.sample_ids).index(s)))[:10]
    assert [s["id"] for s in w["samples"]] == ref
    assert [s["score"] for s in w["samples"]] == pytest.approx([per_image[s] for s in ref])
