"""kill -9 a run midway, resume it, and get the numbers of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

DRIVER = textwrap.dedent(
    """
    import sys, time
    from visionbench.engine.run import RunOptions, run
    from visionbench.loaders.mini import imagenet_mini
    from visionbench.models.demo import build_demo_cnn

    results, resume, slow = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
    opts = RunOptions(results=results, workers=0, batch_size=4, flush_every=1, progress=False, resume=resume,
                      command=["driver"], on_batch=(lambda n: time.sleep(0.25)) if slow else None)
    record, path = run(build_demo_cnn(), imagenet_mini(), opts)
    print("RECORD", path)
    """
)


def _driver(tmp_path, results, resume, slow):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"))
    return subprocess.Popen(
        [sys.executable, str(script), str(results), "1" if resume else "0", "1" if slow else "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _metrics(path):
    import json

    return {k: v["value"] for k, v in json.loads(open(path).read())["metrics"].items()}


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_metrics(tmp_path):
    full = _driver(tmp_path, tmp_path / "full", resume=False, slow=False)
    out, err = full.communicate(timeout=600)
    assert full.returncode == 0, err
    full_path = out.split("RECORD", 1)[1].strip()

    victim = _driver(tmp_path, tmp_path / "killed", resume=False, slow=True)
    deadline = time.time() + 300
    shards = []
    while time.time() < deadline and len(shards) < 3:
        shards = list((tmp_path / "killed").glob("work/*/predictions/pred-r0-*.parquet"))
        time.sleep(0.05)
    assert len(shards) >= 3, "the run never flushed predictions"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not list((tmp_path / "killed").glob("records/*.json")), (
        "a killed run must not write a record"
    )
    n_cached = len(list((tmp_path / "killed").glob("work/*/predictions/pred-r0-*.parquet")))
    assert 3 <= n_cached < 25  # 100 samples / batch 4 = 25 batches: it died midway

    resumed = _driver(tmp_path, tmp_path / "killed", resume=True, slow=False)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert _metrics(out.split("RECORD", 1)[1].strip()) == _metrics(full_path)
