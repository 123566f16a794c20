"""torchrun with 2 processes on gloo (CPU) gives the numbers of a single process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _free_port() -> int:
    """A port nobody listens on now (a fixed one collides with a parallel test run)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "records").glob("*.json"))]


@pytest.mark.slow
def test_two_process_torchrun_equals_single_process(tmp_path):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    args = [
        "run",
        "--model",
        "demo-cnn",
        "--dataset",
        "imagenet-mini",
        "--workers",
        "0",
        "--quiet",
        "--batch-size",
        "16",
    ]
    single = subprocess.run(
        [sys.executable, "-m", "visionbench", *args, "--results", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr
    dist = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            str(_free_port()),
            "-m",
            "visionbench",
            *args,
            "--results",
            str(tmp_path / "two"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert dist.returncode == 0, dist.stderr[-3000:]
    (one,), (two,) = (
        _records(tmp_path / "one"),
        _records(tmp_path / "two"),
    )  # exactly one record each
    assert two["timings"]["world_size"] == 2
    assert {k: v["value"] for k, v in two["metrics"].items()} == {
        k: v["value"] for k, v in one["metrics"].items()
    }
    assert two["dataset"]["fingerprint"] == one["dataset"]["fingerprint"]
    shards = sorted(p.name for p in (tmp_path / "two" / "work").glob("*/predictions/*.parquet"))
    assert shards == ["pred-r0-000000.parquet", "pred-r1-000000.parquet"]
