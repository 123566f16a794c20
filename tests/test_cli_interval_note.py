"""A bootstrap interval that lies wholly beside its estimate is said so, with the
replicates' bias, by ``bench eval`` (through the console script) and kept in the record
(``ci["mean"]``): COCO AP of a resampled image set is biased upward."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from visionbench.cli import _interval_note

BENCH = shutil.which("bench") or str(Path(sys.executable).parent / "bench")
ROOT = Path(__file__).resolve().parents[1]


def test_note_names_each_metric_outside_its_interval_with_the_sign_of_the_bias():
    ci = {"low": 0.30, "high": 0.40, "mean": 0.35}
    metrics = {
        "AP": {"value": 0.25, "ci": ci},  # below the interval: the replicates are higher
        "AP50": {"value": 0.45, "ci": ci},  # above it
        "AP75": {"value": 0.35, "ci": ci},  # inside: not named
        "AR1": {"value": 0.1},  # no interval
        "AR10": {"value": None, "ci": ci},
    }
    note = _interval_note(metrics)
    assert note.startswith("note: the bootstrap interval lies beside the estimate for ")
    assert "AP (+0.1000)" in note and "AP50 (-0.1000)" in note
    assert "AP75" not in note and "AR1" not in note and "AR10" not in note
    assert _interval_note({"AP": {"value": 0.35, "ci": ci}}) is None
    # a replicates' mean of 0 is a mean; a record without one (older) names the metric only
    zero = {"AP": {"value": 0.1, "ci": {"low": 0.0, "high": 0.05, "mean": 0.0}}}
    assert "AP (-0.1000)" in _interval_note(zero)
    old = {"AP": {"value": 0.25, "ci": {"low": 0.3, "high": 0.4}}}
    assert "estimate for AP (the replicates'" in _interval_note(old)


def test_bench_eval_says_when_the_interval_excludes_the_estimate(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import coco_eval
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    gt, res = tmp_path / "gt.json", tmp_path / "res.json"
    coco_eval.generate(gt, res, n_img=500, dts_per_img=20, iou_type="bbox")
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"))
    out = tmp_path / "results"
    p = subprocess.run([BENCH, "eval", "--gt", str(gt), "--predictions", str(res), "--results",
                        str(out), "--bootstrap", "200"], capture_output=True, text=True, env=env,
                       timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr
    (rec,) = (json.loads(f.read_text()) for f in (out / "records").glob("*.json"))
    ap = rec["metrics"]["AP"]
    ci = ap["ci"]
    # a full evaluation of each resampled set (exact, tests/metrics/test_bootstrap.py) is
    # higher than the full set's AP: the whole interval lies above it
    assert ap["value"] < ci["low"] < ci["mean"] < ci["high"]
    (note,) = [ln for ln in p.stdout.splitlines() if ln.startswith("note: ")]
    assert f"AP (+{ci['mean'] - ap['value']:.4f})" in note
    assert "Traceback" not in p.stderr

    # every leaderboard view marks the value and says why, once
    def view(*args):
        q = subprocess.run([BENCH, *args, "--results", str(out)], capture_output=True,
                           text=True, env={**env, "COLUMNS": "250"}, timeout=600)  # fmt: skip
        assert q.returncode == 0, q.stderr
        return q.stdout

    terminal = view("leaderboard")
    assert f"{ap['value']:.4f} [{ci['low']:.4f}, {ci['high']:.4f}] †" in terminal
    assert terminal.count("† the bootstrap interval lies beside the value") == 1
    md = view("leaderboard", "--format", "md")
    assert "] †" in md and "_† the bootstrap interval lies beside the value" in md
    html = tmp_path / "r.html"
    view("report", "-o", str(html))
    assert "] †" in html.read_text() and "the bootstrap interval lies beside the value" in (
        html.read_text()
    )


@pytest.mark.parametrize("value", [0.31, 0.4])
def test_no_note_inside_or_at_the_bounds(value):
    assert _interval_note({"AP": {"value": value, "ci": {"low": 0.31, "high": 0.4}}}) is None


def test_views_mark_only_values_beside_their_interval():
    from visionbench.leaderboard.views import _beside

    assert _beside(0.2, (0.3, 0.4)) and _beside(0.5, (0.3, 0.4))
    assert not _beside(0.3, (0.3, 0.4)) and not _beside(0.35, (0.3, 0.4))
    assert not _beside(float("nan"), (0.3, 0.4)) and not _beside(0.2, (float("nan"), 0.4))
