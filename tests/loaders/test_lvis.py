"""LVIS loader and `bench eval --dataset lvis`: the numbers equal lvis-api's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.metrics.test_lvis import lvis_problem, lvis_reference
from visionbench.errors import AnnotationError
from visionbench.loaders.lvis import LVISDetection
from visionbench.registry import datasets


def _write(tmp_path: Path, seed: int = 3, n_img: int = 8):
    rng = np.random.default_rng(seed)
    gt, res = lvis_problem(rng, n_img=n_img)
    for a in gt["annotations"]:
        a.pop("ignore", None)  # the dataset path refuses ignore flags (see test below)
    for n, im in enumerate(gt["images"]):
        folder = "train2017" if n % 2 else "val2017"
        im["coco_url"] = f"http://images.cocodataset.org/{folder}/{im['id']:012d}.jpg"
    res = [r for r in res if r["category_id"] != 77]  # unknown category: see offline reader
    (tmp_path / "annotations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "annotations" / "lvis_v1_val.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    return gt, res


def test_loader_targets_and_paths(tmp_path):
    gt, _ = _write(tmp_path)
    ds = datasets.get("lvis")(root=str(tmp_path))
    assert ds.name == "lvis" and len(ds) == len(gt["images"])
    assert ds.image_ids == sorted(im["id"] for im in gt["images"])
    im = min(gt["images"], key=lambda im: im["id"])
    s = ds[0]
    folder = im["coco_url"].split("/")[-2]
    assert s.image.path == str(tmp_path / folder / f"{im['id']:012d}.jpg")
    t = s.target
    assert t.neg_labels.tolist() == im["neg_category_ids"]
    assert t.not_exhaustive_labels.tolist() == im["not_exhaustive_category_ids"]
    anns = [a for a in gt["annotations"] if a["image_id"] == im["id"]]
    assert t.ann_ids.tolist() == [a["id"] for a in anns]
    for a, b in zip(anns, t.boxes):
        x, y, w, h = a["bbox"]
        assert b.tolist() == [x, y, x + w, y + h]
    freq = {c["id"]: c["frequency"] for c in gt["categories"]}
    assert ds.frequency == [freq[i] for i in ds.label_space.ids]


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda g: g["images"][0].pop("neg_category_ids"), "images.neg_category_ids"),
        (lambda g: g["categories"][0].update(frequency="x"), "categories.frequency"),
        (lambda g: g["annotations"][0].update(id=0), "annotations.id"),
        (lambda g: g["annotations"][0].update(category_id=999), "annotations.category_id"),
        (lambda g: g["annotations"][0].pop("area"), "annotations.area"),
        (lambda g: g["annotations"][0].update(ignore=1), "annotations.ignore"),
    ],
)
def test_loader_errors_name_file_field_id(tmp_path, edit, field):
    gt, _ = _write(tmp_path)
    if not gt["annotations"]:
        pytest.skip("no annotations drawn")
    edit(gt)
    p = tmp_path / "annotations" / "lvis_v1_val.json"
    p.write_text(json.dumps(gt))
    with pytest.raises(AnnotationError) as e:
        LVISDetection(p)
    assert f"field={field}" in str(e.value) and str(p) in str(e.value)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bench_eval_lvis_equals_lvis_api(tmp_path, seed):
    gt, res = _write(tmp_path, seed=seed)
    ref = lvis_reference(gt, res, "bbox", 300)
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    cmd = ["bench", "eval", "--dataset", "lvis", "--data-root", str(tmp_path)]
    cmd += ["--predictions", str(tmp_path / "res.json"), "--results", str(tmp_path / "out")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "lvis|bbox|" in p.stdout
    rec = json.loads(next((tmp_path / "out" / "records").glob("*.json")).read_text())
    for name, want in ref.results.items():
        got = rec["metrics"][name]["value"]
        if want == -1:
            assert got is None or np.isnan(got), name
        else:
            assert got == want, name


def test_bench_eval_lvis_missing_file_is_one_line(tmp_path):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"))
    cmd = [sys.executable, "-m", "visionbench", "eval", "--dataset", "lvis"]
    cmd += ["--data-root", str(tmp_path), "--predictions", str(tmp_path / "x.json")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "lvis_v1_val.json" in p.stderr


def test_bench_eval_lvis_segm_equals_lvis_api(tmp_path):
    """-M iou_type=segm (the dataset then gives masks): the numbers of LVISEval segm."""
    rng = np.random.default_rng(9)
    gt, res = lvis_problem(rng, n_img=6, iou_type="segm", crowd_p=0.0)
    for a in gt["annotations"]:
        a.pop("ignore", None)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "lvis_v1_val.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    ref = lvis_reference(gt, res, "segm", 300)
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    cmd = [
        "bench",
        "eval",
        "--dataset",
        "lvis",
        "--data-root",
        str(tmp_path),
        "-M",
        "iou_type=segm",
    ]
    cmd += ["--predictions", str(tmp_path / "res.json"), "--results", str(tmp_path / "out")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "lvis|segm|" in p.stdout
    rec = json.loads(next((tmp_path / "out" / "records").glob("*.json")).read_text())
    assert rec["protocol"]["name"] == "lvis"
    for name, want in ref.results.items():
        got = rec["metrics"][name]["value"]
        assert (got is None or np.isnan(got)) if want == -1 else got == want, name
