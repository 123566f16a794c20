"""The CLI end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest


def _bench(args, home, check=True):
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="200")
    p = subprocess.run(
        [sys.executable, "-m", "visionbench", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check and p.returncode != 0:
        raise AssertionError(f"bench {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.mark.slow
def test_demo_run_then_leaderboard(tmp_path):
    out = _bench(["run", "--workers", "0"], tmp_path)
    assert f"report: {tmp_path / 'results' / 'report.html'}" in out.stdout
    assert (tmp_path / "results" / "report.html").is_file()
    for name in ("imagenet-mini", "coco-mini", "cityscapes-mini", "vg-mini"):  # said what and where
        assert f"data: generating {name} into {tmp_path / 'synth'}" in out.stderr
    records = sorted((tmp_path / "results" / "records").glob("*.json"))
    recs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text()) for p in records}
    assert {(m, r["dataset"]["name"]) for m, r in recs.items()} == {
        ("demo-cnn", "imagenet-mini"),
        ("demo-detector", "coco-mini"),
        ("demo-segnet", "cityscapes-mini"),
        ("demo-freq", "vg-mini"),
        ("demo-captioner", "coco-mini-captions"),
    }
    rec = recs["demo-cnn"]
    assert rec["command"][:2] == ["bench", "run"]
    table = _bench(["leaderboard"], tmp_path).stdout
    assert "demo-cnn" in table and "imagenet-mini" in table
    rows = list(
        csv.DictReader(io.StringIO(_bench(["leaderboard", "--format", "csv"], tmp_path).stdout))
    )
    top1 = [r for r in rows if r["metric"] == "top1"]
    assert len(top1) == 1 and float(top1[0]["value"]) == rec["metrics"]["top1"]["value"]


def test_user_errors_are_one_line_with_exit_code_2(tmp_path):
    p = _bench(["run", "--model", "demo-cnn"], tmp_path, check=False)
    assert (
        p.returncode == 2
        and p.stderr.strip()
        == "error: pass both --model and --dataset (or neither, for the built-in demo)"
    )
    p = _bench(["run", "--model", "demo-cn", "--dataset", "imagenet-mini"], tmp_path, check=False)
    assert p.returncode == 2
    assert p.stderr.strip().startswith("error: unknown model 'demo-cn'; did you mean 'demo-cnn'")
    assert "Traceback" not in p.stderr
    p = _bench(
        [
            "run",
            "--model",
            "demo-cnn",
            "--dataset",
            "imagenet",
            "--data-root",
            str(tmp_path / "nope"),
        ],
        tmp_path,
        check=False,
    )
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr
    p = _bench(
        ["--debug", "run", "--model", "demo-cn", "--dataset", "imagenet-mini"],
        tmp_path,
        check=False,
    )
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_list_and_synth(tmp_path):
    assert "demo-cnn" in _bench(["list", "models"], tmp_path).stdout
    assert "imagenet-mini" in _bench(["list", "datasets"], tmp_path).stdout
    _bench(["data", "synth", "imagenet-mini", "--out", str(tmp_path / "inet")], tmp_path)
    assert (tmp_path / "inet" / "val").is_dir()
    p = _bench(["data", "synth", "nope-mini", "--out", str(tmp_path / "x")], tmp_path, check=False)
    assert p.returncode == 2 and "nope-mini" in p.stderr


def test_data_verify_reports_every_problem(tmp_path):
    root = tmp_path / "coco"
    _bench(["data", "synth", "coco-mini", "--out", str(root)], tmp_path)
    images = sorted((root / "val2017").glob("*.jpg"))
    images[0].unlink()
    images[1].write_bytes(b"not a jpeg")
    p = _bench(
        ["data", "verify", "coco", "--data-root", str(root), "--split", "val2017"],
        tmp_path,
        check=False,
    )
    assert p.returncode == 1, p.stderr
    assert "2 problems" in p.stdout
    assert "missing" in p.stdout and "unreadable" in p.stdout
    assert images[0].stem.lstrip("0") in p.stdout and images[1].stem.lstrip("0") in p.stdout
