"""Protocol options from the command line, through the installed ``bench`` script:
``-D`` / ``-M`` typed and validated, ``bench describe``, ``--iou-type segm`` equal to
pycocotools, ``--gt FILE.json``, and ``bench eval`` never importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = str(Path(sys.executable).with_name("bench"))


def bench(args, home, check=True):
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200")
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"bench {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def home():
    """The session's VISIONBENCH_HOME (tests/conftest.py), shared with the subprocesses so
    the mini datasets are generated once."""
    return os.environ["VISIONBENCH_HOME"]


@pytest.fixture(scope="module")
def coco_mini_ann(home):
    from visionbench.registry import datasets

    return datasets.get("coco-mini")(root=None, split="val2017").annotation_file


def _latest_record(home):
    recs = sorted((Path(home) / "results" / "records").glob("*.json"), key=os.path.getmtime)
    return json.loads(recs[-1].read_text())


def test_segm_from_the_cli_equals_pycocotools(tmp_path, home, coco_mini_ann):
    from tests.protocols.test_coco_protocol import STATS, pycocotools_stats, segm_results

    results = segm_results(coco_mini_ann, 3)
    path = tmp_path / "segm.json"
    path.write_text(json.dumps(results))
    ref = pycocotools_stats(coco_mini_ann, results, "segm")
    for args in (["--dataset", "coco-mini", "--iou-type", "segm"],
                 ["--dataset", "coco-mini", "-M", "iou_type=segm"],
                 ["--gt", coco_mini_ann, "-M", "iou_type=segm"]):  # fmt: skip
        bench(["eval", "--predictions", str(path), *args], home)
        rec = _latest_record(home)
        got = np.array([-1.0 if rec["metrics"][n]["value"] is None else rec["metrics"][n]["value"]
                        for n in STATS])  # fmt: skip
        assert np.array_equal(got, ref), (args, got.tolist(), ref.tolist())
        assert rec["protocol"]["options"]["iou_type"] == "segm"
        assert rec["protocol"]["headline"][0] == "AP"
        assert all(m["unit"] == "fraction" for m in rec["metrics"].values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-M", "iou_tpe=segm"],
         "error: metric option of 'coco': unknown key 'iou_tpe'; did you mean 'iou_type'? valid: "
         "compat, iou_type, tide"),
        (["-D", "mask=true"],
         "error: dataset option of 'coco-mini': unknown key 'mask'; did you mean 'masks'? valid: masks"),
        (["-D", "masks=maybe"],
         "error: dataset option of 'coco-mini' masks='maybe': expected bool (true/false, yes/no, 1/0)"),
        (["-M", "iou_type=sgem"],
         "error: metric option of 'coco' iou_type='sgem': expected one of bbox, segm, keypoints; "
         "did you mean 'segm'?"),
        (["--iou-type", "segm", "-M", "iou_type=bbox"],
         "error: --iou-type segm contradicts --metric-option iou_type=bbox"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_errors(tmp_path, home, coco_mini_ann, args, message):
    p = tmp_path / "x.json"
    p.write_text("[]")
    out = bench(
        ["eval", "--dataset", "coco-mini", "--predictions", str(p), *args], home, check=False
    )
    assert out.returncode == 2 and out.stderr.strip() == message, out.stderr


def test_describe_lists_dataset_and_protocol_options(home):
    out = bench(["describe", "cityscapes"], home).stdout
    assert "-D label_space (str, default 'cityscapes34', one of cityscapes34|cityscapes19)" in out
    assert "protocol cityscapes:" in out and "-M check_train_ids (bool, default True)" in out
    assert (
        "-M iou_type (str, default 'bbox'"
        in bench(["list", "datasets", "coco-keypoints"], home).stdout
    )
    assert (
        "(this dataset sets -M iou_type=keypoints)"
        in bench(["describe", "coco-keypoints"], home).stdout
    )


def test_dataset_option_reaches_the_loader(tmp_path, home):
    """-D label_space=cityscapes19: trainIds, scored by the confusion-matrix protocol."""
    import shutil

    from PIL import Image

    from visionbench.loaders.cityscapes import labelids_to_trainids
    from visionbench.loaders.mini import cityscapes_mini
    from visionbench.metrics.segmentation.label_png import read_label_png

    root = tmp_path / "cs"
    shutil.copytree(cityscapes_mini().root, root)
    gt = cityscapes_mini(root).ground_truth()
    res = tmp_path / "res"
    res.mkdir()
    for sid, t in zip(gt.sample_ids, gt.targets):
        train = labelids_to_trainids(read_label_png(t.mask_path)).astype(np.uint8)
        Image.fromarray(train).save(res / f"{sid}.png")  # a perfect prediction
        Image.fromarray(train).save(t.mask_path.replace("_labelIds", "_labelTrainIds"))
    results = tmp_path / "results"
    bench(["eval", "--dataset", "cityscapes-mini", "-D", "label_space=cityscapes19", "--data-root",
           str(root), "--predictions", str(res), "--results", str(results)], home)  # fmt: skip
    rec = json.loads(next((results / "records").glob("*.json")).read_text())
    assert rec["protocol"]["name"] == "semantic" and rec["dataset"]["label_space"] == "cityscapes19"
    assert rec["protocol"]["options"] == {
        "ignore_index": 255,
        "reduce_zero_label": False,
        "prediction_labels": "reduced",
    }
    assert rec["metrics"]["miou"]["value"] == 1.0 and rec["metrics"]["pixel_acc"]["value"] == 1.0


def test_bench_eval_imports_no_torch(tmp_path, home, coco_mini_ann):
    from tests.protocols.test_coco_protocol import segm_results

    path = tmp_path / "dets.json"
    path.write_text(json.dumps(segm_results(coco_mini_ann, 1)))
    code = (
        "import sys\n"
        "from visionbench.cli import main\n"
        "main(sys.argv[1:])\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'torchvision')))\n"
        "assert not bad, bad[:5]\n"
        "print('no torch')\n"
    )
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200")
    for args in (["--dataset", "coco-mini", "--iou-type", "segm"], ["--gt", coco_mini_ann]):
        p = subprocess.run([sys.executable, "-c", code, "eval", "--predictions", str(path), *args],
                           capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
        assert p.returncode == 0 and "no torch" in p.stdout, p.stderr


def test_run_takes_metric_and_model_options(tmp_path, home):
    out = bench(["run", "--model", "demo-cnn", "--dataset", "imagenet-mini", "--model-option",
                 "foo=1"], home, check=False)  # fmt: skip
    assert out.returncode == 2
    assert (
        out.stderr.strip() == "error: model option of 'demo-cnn': unknown key 'foo' valid: (none)"
    )
    results = tmp_path / "results"
    bench(["run", "--model", "demo-cnn", "--dataset", "imagenet-mini", "-M", "topk=1,3",
           "--workers", "0", "--results", str(results), "-q"], home)  # fmt: skip
    rec = json.loads(next((results / "records").glob("*.json")).read_text())
    assert rec["protocol"]["options"]["topk"] == [1, 3]
    assert rec["protocol"]["headline"] == ["top1", "top3"]
    assert "top3" in rec["metrics"] and "top5" not in rec["metrics"]
    assert rec["metrics"]["top1"]["unit"] == "percent"


def test_eval_tag_and_bootstrap_options(tmp_path, home, coco_mini_ann):
    """``bench eval --tag`` labels the record (its own leaderboard row); ``--bootstrap N``
    sets the replicates recorded in every interval; ``--bootstrap 0`` gives no interval
    but keeps the per-sample statistics for ``bench compare``; a negative count is a
    one-line usage error."""
    from tests.protocols.test_coco_protocol import segm_results

    path = tmp_path / "dt.json"
    path.write_text(json.dumps(segm_results(coco_mini_ann, 5)))
    results = tmp_path / "results"
    base = ["eval", "--gt", coco_mini_ann, "-M", "iou_type=segm", "--predictions", str(path),
            "--results", str(results)]  # fmt: skip
    bench([*base, "--tag", "ckpt-7", "--bootstrap", "50"], home)
    rec = json.loads(next((results / "records").glob("*.json")).read_text())
    assert rec["tag"] == "ckpt-7"
    cis = [m["ci"] for m in rec["metrics"].values() if "ci" in m]
    assert cis and all(c["B"] == 50 for c in cis)
    assert (results / "records" / rec["samples_file"]).is_file()
    board = bench(["leaderboard", "--results", str(results)], home).stdout
    assert "ckpt-7" in board
    results0 = tmp_path / "results0"
    bench([*base[:-1], str(results0), "--bootstrap", "0", "--name", "nob"], home)
    rec0 = json.loads(next((results0 / "records").glob("*.json")).read_text())
    assert not any("ci" in m for m in rec0["metrics"].values())
    assert (results0 / "records" / rec0["samples_file"]).is_file()
    assert {k: m["value"] for k, m in rec0["metrics"].items()} == {
        k: m["value"] for k, m in rec["metrics"].items()
    }
    p = bench([*base, "--bootstrap", "-1"], home, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "--bootstrap" in p.stderr
