"""The benchmarks run in CI on small problems: each exits non-zero when our numbers differ
from the reference implementation's, and prints its ratios (the full-size numbers are in
benchmarks/README.md; timings are not asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(args, tmp_path):
    p = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=1200, cwd=tmp_path
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


@pytest.mark.slow
def test_coco_eval_small_equals_pycocotools(tmp_path):
    """bbox, segm, keypoints and the Objects365-shaped problem at CI size: every array of
    visionbench's result equals pycocotools' (the benchmark exits 1 otherwise)."""
    out = _run(
        [
            str(BENCH / "coco_eval.py"),
            "--quick",
            "--repeat",
            "1",
            "--one-mode",
            "--peers",
            "hotcoco,visionbench,visionbench-arrays",
            "--cache",
            str(tmp_path / "cache"),
        ],
        tmp_path,
    )
    rows = [line for line in out.splitlines() if line.startswith("| visionbench")]
    assert len(rows) == 8, out  # 4 problems x (JSON, arrays)
    assert all(row.rstrip().endswith("| all arrays |") for row in rows), rows


@pytest.mark.slow
def test_cityscapes_eval_small_equals_cityscapesscripts(tmp_path):
    out = _run(
        [
            str(BENCH / "cityscapes_eval.py"),
            "--frames",
            "4",
            "--repeats",
            "1",
            "--data-dir",
            str(tmp_path / "cs"),
        ],
        tmp_path,
    )
    assert "identical" in out and "ratio" in out.lower()


@pytest.mark.slow
def test_demo_first_run_benchmark_runs_and_checks_its_outputs(tmp_path):
    # timing is not asserted (budget huge); the script's own checks of the five records,
    # the report and the printed leaderboard are
    out = _run([str(BENCH / "demo_first_run.py"), "--repeats", "1", "--budget", "100000"], tmp_path)
    assert "PASS" in out and "| cpu (user+sys) |" in out


@pytest.mark.slow
def test_voc_eval_small_equals_the_reference_port(tmp_path):
    out = _run(
        [str(BENCH / "voc_eval.py"), "--images", "60", "--dets", "10", "--data-dir", str(tmp_path)],
        tmp_path,
    )
    assert "all 20 class APs identical: yes" in out and "CPU ratio" in out


@pytest.mark.slow
def test_caption_bootstrap_small_reproduces_the_evaluation(tmp_path):
    """All-ones weights give the CIDEr-D evaluation (the benchmark exits 1 otherwise)."""
    out = _run([str(BENCH / "caption_bootstrap.py"), "--small", "--B", "64", "--repeat", "1"],
               tmp_path)  # fmt: skip
    assert "| B = 64 replicates |" in out, out
