"""Pascal VOC and ADE20K end to end through the installed ``bench`` console script:
``bench data synth``, ``bench eval`` on the official prediction formats, ``bench run`` with
a COCO detector scored on VOC through the coco91 -> voc20 map."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.loaders.mini import ade20k_mini, voc_mini
from visionbench.protocols import dataset_protocol
from visionbench.types import DetectionPrediction, SegmentationPrediction

BENCH = shutil.which("bench")
pytestmark = pytest.mark.skipif(BENCH is None, reason="the bench console script is not installed")


def bench(args: list[str], home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200")
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"bench {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def record(home: Path, results: Path, model: str) -> dict:
    paths = sorted((results / "records").glob(f"*-{model}-*.json"))
    assert paths, f"no record of {model} under {results}"
    return json.loads(paths[-1].read_text())


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    home = tmp_path_factory.mktemp("home")
    out = {"home": home}
    for name in ("voc-mini", "ade20k-mini"):
        root = home / name
        p = bench(["data", "synth", name, "--out", str(root)], home)
        assert f"wrote {name} to {root}" in p.stdout
        out[name] = root
    return out


def _voc_predictions(ds, seed: int) -> list[DetectionPrediction]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(len(ds)):
        s = ds[i]
        t = s.target
        n_rand = int(rng.integers(0, 4))
        w, h = s.image.width, s.image.height
        x0, y0 = rng.uniform(0, w, n_rand), rng.uniform(0, h, n_rand)
        rand = np.stack([x0, y0, rng.uniform(x0, w), rng.uniform(y0, h)], axis=1)
        boxes = np.concatenate([t.boxes + rng.normal(0, 3, t.boxes.shape), rand])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        labels = np.concatenate([t.labels, rng.integers(1, 21, n_rand)])
        out.append(DetectionPrediction(boxes=boxes, labels=labels, scores=rng.random(len(boxes)),
                                       sample_id=s.sample_id))  # fmt: skip
    return out


def test_bench_eval_voc_results_files(data, tmp_path: Path) -> None:
    home, root = data["home"], data["voc-mini"]
    for year, split, rule in ((2007, "test", "11point"), (2012, "val", "allpoint")):
        ds = voc_mini(root, split, year=year)
        protocol = dataset_protocol(ds)
        folder = protocol.write_predictions(_voc_predictions(ds, year), tmp_path / f"comp4-{year}")
        expected = protocol.evaluate_file(folder, ds)
        results = tmp_path / f"results-{year}"
        args = ["eval", "--dataset", "voc-mini", "--data-root", str(root), "--split", split,
                "-D", f"year={year}", "--predictions", str(folder), "--results", str(results)]  # fmt: skip
        p = bench(args, home)
        assert f"signature: voc|iou>0.5|ap={rule}|box=+1px|difficult=ignored" in p.stdout
        rec = record(home, results, f"comp4-{year}")
        assert rec["protocol"]["name"] == "voc" and rec["protocol"]["headline"] == ["mAP"]
        assert rec["protocol"]["options"]["ap_method"] == rule
        assert rec["metrics"]["mAP"]["value"] == expected.metrics["mAP"]
        assert rec["metrics"]["mAP"]["unit"] == "fraction"
        ci = rec["metrics"]["mAP"]["ci"]  # image bootstrap of the per-image VOC state
        assert ci["B"] == 1000 and ci["low"] <= ci["high"] and ci["method"]
        assert (results / "records" / rec["samples_file"]).is_file()
        for name, v in expected.metrics.items():
            got = rec["metrics"][name]["value"]
            assert (got is None and np.isnan(v)) or got == v, name
        assert 0.05 < expected.metrics["mAP"] < 0.95
        other = "allpoint" if rule == "11point" else "11point"
        p = bench([*args, "--name", "other-rule", "-M", f"ap_method={other}"], home)
        assert f"ap={other}" in p.stdout
        again = dataset_protocol(ds, {"ap_method": other}).evaluate_file(folder, ds)
        assert (
            record(home, results, "other-rule")["metrics"]["mAP"]["value"] == again.metrics["mAP"]
        )


def test_bench_eval_voc_record_lists_the_worst_images(data, tmp_path: Path) -> None:
    """Issue 13: a VOC record carries the k worst images by F1@0.5 under their VOC ids and
    the best-F1 threshold sweep, equal to the brute force of tests/metrics/test_voc_sweep
    (voc_eval's matching loop, every threshold tried) on the same detections; the HTML
    report draws both."""
    from tests.metrics.test_voc_sweep import brute_best, brute_image_f1, devkit_flags

    home, root = data["home"], data["voc-mini"]
    ds = voc_mini(root, "test", year=2007)
    preds = _voc_predictions(ds, 11)
    folder = dataset_protocol(ds).write_predictions(preds, tmp_path / "comp4")
    results = tmp_path / "results"
    bench(["eval", "--dataset", "voc-mini", "--data-root", str(root), "--split", "test",
           "-D", "year=2007", "--predictions", str(folder), "--results", str(results)], home)  # fmt: skip
    rec = record(home, results, "comp4")
    jsonschema = pytest.importorskip("jsonschema")
    from visionbench.records import record_schema

    jsonschema.validate(rec, record_schema())
    a = rec["analysis"]
    assert set(a) == {"worst", "threshold_sweep"}

    # the brute force, on the devkit boxes by hand ((x1 + 1, y1 + 1, x2, y2), written and
    # read back with full precision)
    gt = ds.ground_truth()
    by_id = {p.sample_id: p for p in preds}
    dev = lambda b: [[x1 + 1.0, y1 + 1.0, x2, y2] for x1, y1, x2, y2 in np.asarray(b).tolist()]  # noqa: E731
    images = [(sid, dev(by_id[sid].boxes), by_id[sid].labels.tolist(), by_id[sid].scores.tolist(),
               dev(t.boxes), t.labels.tolist(), t.difficult.tolist())
              for sid, t in zip(gt.sample_ids, gt.targets)]  # fmt: skip
    dets, npos = devkit_flags(images)
    assert any(d[3] == 0 for d in dets)  # some detections hit difficult objects
    best, thr = brute_best(dets, sum(npos.values()))
    sweep = a["threshold_sweep"]
    assert sweep["best_threshold"] == thr and sweep["best_f1"] == float(best)
    assert sweep["iou_threshold"] == 0.5 and len(sweep["per_class"]) == 20
    f1 = brute_image_f1(dets, npos, len(images), thr)
    ranked = sorted((j for j in range(len(f1)) if np.isfinite(f1[j])), key=lambda j: (f1[j], j))
    w = a["worst"]
    assert (w["by"], w["direction"], w["k"]) == ("F1@0.5", "higher", 10)
    assert [s["id"] for s in w["samples"]] == [gt.sample_ids[j] for j in ranked[:10]]
    assert [s["score"] for s in w["samples"]] == [f1[j] for j in ranked[:10]]
    assert all(isinstance(s["id"], str) and len(s["id"]) == 6 and s["id"].isdigit()
               for s in w["samples"])  # fmt: skip
    assert w["samples"][0]["score"] < w["samples"][-1]["score"]

    html = tmp_path / "report.html"
    bench(["leaderboard", "-f", "html", "--results", str(results), "-o", str(html)], home)
    text = html.read_text()
    worst = re.search(r"<table class='an worst'>.*?</table>", text, re.S).group(0)
    assert re.findall(r"<td class='id'>([^<]*)</td>", worst) == [s["id"] for s in w["samples"]]
    assert "<table class='an thresholds'>" in text and "aeroplane" in text


def test_bench_eval_voc_and_ade20k_import_no_torch(data, tmp_path: Path) -> None:
    home = data["home"]
    voc = voc_mini(data["voc-mini"])
    comp4 = dataset_protocol(voc).write_predictions(_voc_predictions(voc, 0), tmp_path / "comp4")
    ade = ade20k_mini(data["ade20k-mini"])
    pngs = dataset_protocol(ade).write_predictions(
        [
            SegmentationPrediction(mask=ade[i].target.mask, sample_id=ade[i].sample_id)
            for i in range(len(ade))
        ],
        tmp_path / "pngs",
    )
    code = (
        "import sys\n"
        "from visionbench.cli import main\n"
        "main(sys.argv[1:])\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'torchvision')))\n"
        "assert not bad, bad[:5]\n"
        "print('no torch')\n"
    )
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200")
    for name, pred in (("voc-mini", comp4), ("ade20k-mini", pngs)):
        args = ["eval", "--dataset", name, "--data-root", str(data[name]), "--predictions", str(pred),
                "--results", str(tmp_path / "r")]  # fmt: skip
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           env=env, timeout=600)  # fmt: skip
        assert p.returncode == 0 and "no torch" in p.stdout, p.stderr


def test_bench_eval_voc_errors_are_one_line(data, tmp_path: Path) -> None:
    home, root = data["home"], data["voc-mini"]
    d = tmp_path / "bad"
    d.mkdir()
    (d / "comp4_det_test_cat.txt").write_text("000033 0.5 1 1 20 20\nnot-an-id 0.5 1 1 20 20\n")
    base = [
        "eval",
        "--dataset",
        "voc-mini",
        "--data-root",
        str(root),
        "--results",
        str(tmp_path / "r"),
    ]
    p = bench([*base, "--predictions", str(d)], home, check=False)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "line 2: image 'not-an-id' is not in the evaluated split" in p.stderr
    assert "comp4_det_test_cat.txt" in p.stderr and "Traceback" not in p.stderr
    p = bench([*base, "--predictions", str(d), "-M", "ap_metod=11point"], home, check=False)
    assert p.returncode == 2 and "did you mean 'ap_method'?" in p.stderr
    p = bench([*base, "--predictions", str(d), "-D", "year=2010"], home, check=False)
    assert p.returncode == 2 and "2007, 2012" in p.stderr


def test_bench_eval_ade20k_prediction_pngs(data, tmp_path: Path) -> None:
    home, root = data["home"], data["ade20k-mini"]
    ds = ade20k_mini(root)
    rng = np.random.default_rng(0)
    preds = []
    for i in range(len(ds)):
        g = ds[i].target.mask.astype(np.int64)
        pred = np.where(g > 0, g - 1, 0)
        noise = rng.random(g.shape) < 0.2
        pred[noise] = rng.integers(0, 150, int(noise.sum()))
        preds.append(SegmentationPrediction(mask=pred.astype(np.uint8), sample_id=ds[i].sample_id))
    protocol = dataset_protocol(ds)
    folder = protocol.write_predictions(preds, tmp_path / "ade-preds")
    expected = protocol.score(preds, [ds[i].target for i in range(len(ds))])
    results = tmp_path / "results"
    bench(["eval", "--dataset", "ade20k-mini", "--data-root", str(root), "--predictions", str(folder),
           "--results", str(results)], home)  # fmt: skip
    rec = record(home, results, "ade-preds")
    assert rec["protocol"]["name"] == "semantic"
    assert rec["protocol"]["options"]["reduce_zero_label"] is True
    for m in ("miou", "pixel_acc", "mean_class_acc", "fwiou"):
        assert rec["metrics"][m]["value"] == expected.metrics[m], m
    hotcoco = reference_module("hotcoco.semantic")
    ev = hotcoco.SemanticEval(150, reduce_zero_label=True)
    ev.update_folders(
        str(root / "ADEChallengeData2016" / "annotations" / "validation"), str(folder)
    )
    assert rec["metrics"]["miou"]["value"] == pytest.approx(ev.results()["mIoU"], rel=1e-12)
    assert rec["metrics"]["pixel_acc"]["value"] == pytest.approx(ev.results()["aAcc"], rel=1e-12)


def test_ade20k_submission_pngs_hold_dataset_ids(data, tmp_path: Path) -> None:
    """The ADE20K challenge's PNGs hold 1..150 (class c written c + 1): written by the
    protocol's ``png-dataset-ids`` format, read by ``-M prediction_labels=dataset`` with the
    same numbers; a 0 in such a file is a one-line error naming the file."""
    home, root = data["home"], data["ade20k-mini"]
    ds = ade20k_mini(root)
    rng = np.random.default_rng(1)
    preds = [
        SegmentationPrediction(
            mask=rng.integers(0, 150, ds[i].target.mask.shape).astype(np.uint8),
            sample_id=ds[i].sample_id,
        )
        for i in range(len(ds))
    ]
    protocol = dataset_protocol(ds)
    expected = protocol.score(preds, [ds[i].target for i in range(len(ds))])
    folder = protocol.write_predictions(preds, tmp_path / "submission", format="png-dataset-ids")
    from PIL import Image

    for p in preds:
        written = np.asarray(Image.open(folder / f"{p.sample_id}.png"))
        assert np.array_equal(written.astype(np.int64), p.mask.astype(np.int64) + 1)
    results = tmp_path / "results"
    base = ["eval", "--dataset", "ade20k-mini", "--data-root", str(root),
            "--predictions", str(folder), "--results", str(results)]  # fmt: skip
    bench([*base, "-M", "prediction_labels=dataset"], home)
    rec = record(home, results, "submission")
    for m in ("miou", "pixel_acc", "mean_class_acc", "fwiou"):
        assert rec["metrics"][m]["value"] == expected.metrics[m], m
    # read as model classes instead, 150 is out of range: a one-line error, no record
    p = bench([*base, "--name", "as-reduced"], home, check=False)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "150" in p.stderr, p.stderr
    assert not list((results / "records").glob("*-as-reduced-*.json"))
    bad = folder / f"{preds[0].sample_id}.png"
    arr = np.asarray(Image.open(bad)).copy()
    arr[0, 0] = 0
    Image.fromarray(arr).save(bad)
    p = bench([*base, "-M", "prediction_labels=dataset", "--name", "bad"], home, check=False)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "label 0" in err[0], p.stderr


@pytest.mark.slow
def test_bench_run_coco_detector_on_voc(data, tmp_path: Path) -> None:
    """demo-detector predicts coco91 ids (trained on coco-mini, where person, car and dog
    are drawn as voc-mini draws them); the engine maps them to voc20 and the VOC protocol
    scores them: the three shared classes are found, the rest score 0."""
    home, root = data["home"], data["voc-mini"]
    results = tmp_path / "results"
    bench(["run", "--model", "demo-detector", "--dataset", "voc-mini", "--data-root", str(root),
           "--workers", "0", "--results", str(results)], home)  # fmt: skip
    rec = record(home, results, "demo-detector")
    assert rec["protocol"]["name"] == "voc" and rec["dataset"]["label_space"] == "voc20"
    m = {k: v["value"] for k, v in rec["metrics"].items()}
    assert m["AP_person"] > 0.5 and m["AP_car"] > 0.5
    assert all(m[f"AP_{c}"] == 0 for c in ("aeroplane", "cow", "sofa", "tvmonitor"))
    aps = [v for k, v in m.items() if k.startswith("AP_")]
    assert len(aps) == 20 and m["mAP"] == pytest.approx(np.mean(aps), rel=1e-12)
    worst = rec["analysis"]["worst"]["samples"]  # bench run: the engine's scorer's evaluator
    assert worst and {s["id"] for s in worst} <= set(voc_mini(root).ground_truth().sample_ids)
    # bench export writes the devkit results files; bench eval on them gives the same numbers
    out = tmp_path / "comp4"
    bench(["export", rec["run_id"], "-o", str(out), "--results", str(results)], home)
    split = rec["dataset"]["split"]
    assert split
    from visionbench.label_spaces import get_label_space

    names = get_label_space("voc20").names
    assert sorted(f.name for f in out.glob("comp4_det_*_*.txt")) == sorted(
        f"comp4_det_{split}_{c}.txt" for c in names
    )
    bench(["eval", "--dataset", "voc-mini", "--data-root", str(root), "--predictions", str(out),
           "--name", "exported", "--results", str(results)], home)  # fmt: skip
    again = record(home, results, "exported")
    assert {k: v["value"] for k, v in again["metrics"].items()} == m
    assert again["metrics"]["mAP"]["signature"] == rec["metrics"]["mAP"]["signature"]


def test_dataset_ids_option_needs_reduce_zero_label(data, tmp_path: Path) -> None:
    """prediction_labels=dataset without reduce_zero_label would change nothing silently:
    a one-line usage error instead; the png-dataset-ids export is refused the same way."""
    home, root = data["home"], data["ade20k-mini"]
    p = bench(["eval", "--dataset", "ade20k-mini", "--data-root", str(root), "--predictions",
               str(tmp_path), "-M", "reduce_zero_label=false", "-M", "prediction_labels=dataset"],
              home, check=False)  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [
        "error: metric option prediction_labels=dataset needs reduce_zero_label=true (without "
        "it the dataset's ids are the model's classes)"
    ], p.stderr
    ds = ade20k_mini(root)
    proto = dataset_protocol(ds, {"reduce_zero_label": False})
    pred = SegmentationPrediction(mask=np.zeros((2, 2), np.uint8), sample_id="x")
    with pytest.raises(Exception, match="png-dataset-ids is for reduce_zero_label"):
        proto.write_predictions([pred], tmp_path / "out", format="png-dataset-ids")
