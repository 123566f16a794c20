"""bench compare: paired bootstrap / approximate randomisation, equal to sacreBLEU's tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from visionbench.errors import RunError
from visionbench.leaderboard.compare import _test_pair, compare_runs
from visionbench.metrics.bootstrap import sample_table
from visionbench.metrics.captioning.bleu import CaptionEvaluator

_WORDS = ["a", "the", "dog", "cat", "runs", "sits", "on", "mat", "red", "big", "park", "."]


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(_WORDS, int(rng.integers(2, 12))))


def _systems(seed: int, n: int):
    rng = np.random.default_rng(seed)
    refs = [[_sentence(rng), _sentence(rng)] for _ in range(n)]
    base = [r[0] if rng.random() < 0.3 else _sentence(rng) for r in refs]
    better = [r[1] if rng.random() < 0.45 else _sentence(rng) for r in refs]
    return refs, base, better


def _sacrebleu_p(refs, base, other, test: str, n_samples: int) -> float:
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    streams = [[r[j] for r in refs] for j in range(2)]
    pt = PairedTest(
        [("base", base), ("other", other)], {"BLEU": BLEU()}, streams,
        test_type=test, n_samples=n_samples,
    )  # fmt: skip
    _, scores = pt()
    return scores["BLEU"][1].p_value


@pytest.mark.parametrize(("seed", "n"), [(0, 30), (1, 120), (2, 7)])
def test_bleu_p_values_equal_sacrebleu(seed: int, n: int, monkeypatch) -> None:
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)  # sacreBLEU's default: 12345
    refs, base, other = _systems(seed, n)
    tables = []
    for hyps in (base, other):
        ev = CaptionEvaluator(coco=False, cider_d=False, rouge_l=False)
        ev.update(predictions=hyps, targets=refs)
        tables.append(sample_table(ev))
    rows = _test_pair(
        {"run_id": "a"}, {"run_id": "b"}, tables[0], tables[1], ["sacrebleu"],
        B=300, trials=500, seed=12345, level=0.95,
    )  # fmt: skip
    assert rows[0]["p_bootstrap"] == _sacrebleu_p(refs, base, other, "bs", 300)
    assert rows[0]["p_randomization"] == _sacrebleu_p(refs, base, other, "ar", 500)


def test_identical_runs_are_not_different() -> None:
    refs, base, _ = _systems(3, 40)
    ev = CaptionEvaluator(cider_d=False, rouge_l=False)
    ev.update(predictions=base, targets=refs)
    t = sample_table(ev)
    rows = _test_pair(
        {"run_id": "a"}, {"run_id": "a2"}, t, t, ["bleu4", "sacrebleu"],
        B=200, trials=200, seed=1, level=0.95,
    )  # fmt: skip
    for r in rows:
        assert r["difference"] == 0 and r["ci_low"] == r["ci_high"] == 0
        # sacreBLEU's counting would give 1 / (n + 1) here ("significant"); we give 1
        assert r["p_randomization"] == 1.0 and r["p_bootstrap"] == 1.0


def test_refusals_are_one_line() -> None:
    a = {"run_id": "a", "dataset": {"name": "x", "fingerprint": "f1"}, "metrics": {}}
    b = {"run_id": "b", "dataset": {"name": "x", "fingerprint": "f2"}, "metrics": {}}
    with pytest.raises(RunError, match="different ground truth"):
        compare_runs([a, b])
    b["dataset"]["fingerprint"] = "f1"
    a["metrics"] = {"AP": {"signature": "coco|bbox|v1"}}
    b["metrics"] = {"AP": {"signature": "coco|segm|v1"}}
    with pytest.raises(RunError, match="different protocols"):
        compare_runs([a, b])
    with pytest.raises(RunError, match="at least two"):
        compare_runs([a])


def _caption_record(tmp_path: Path, run_id: str, hyps, refs) -> dict:
    from visionbench.records import atomic_write_bytes

    ev = CaptionEvaluator(coco=False, cider_d=False, rouge_l=False)
    ev.update(predictions=hyps, targets=refs)
    res = ev.compute()
    folder = tmp_path / "records"
    folder.mkdir(exist_ok=True)
    buf = __import__("io").BytesIO()
    np.savez_compressed(buf, **sample_table(ev).to_arrays())
    atomic_write_bytes(folder / f"{run_id}.samples.npz", buf.getvalue())
    return {
        "run_id": run_id, "dataset": {"name": "caps", "fingerprint": "f"},
        "metrics": {"sacrebleu": {"value": res["sacrebleu"], "signature": res.signature,
                                  "higher_is_better": True}},
        "samples_file": f"{run_id}.samples.npz", "_dir": str(folder),
    }  # fmt: skip


def test_rank_groups(tmp_path: Path) -> None:
    from visionbench.leaderboard.compare import rank_groups

    refs, base, better = _systems(4, 150)
    recs = [
        _caption_record(tmp_path, "base", base, refs),
        _caption_record(tmp_path, "base-again", base, refs),
        _caption_record(tmp_path, "better", better, refs),
    ]
    rows = rank_groups(recs, "sacrebleu", trials=300, B=100)
    assert [r["run_id"] for r in rows] == ["better", "base", "base-again"]
    assert [r["group"] for r in rows] == [1, 2, 2]  # identical runs share a group
    assert rows[0]["p_vs_above"] is None and rows[1]["p_vs_above"] < 0.05


# -- through the installed console script -------------------------------------------
def _bench(*args: str, env: dict) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("bench")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_bench_compare_two_bench_eval_coco_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
    from test_offline import _results_from_gt

    from visionbench.registry import datasets

    ds = datasets.get("coco-mini")(root=None, split="val2017")
    ann = ds.ground_truth().files["annotations"]
    env = {**os.environ, "VISIONBENCH_BOOTSTRAP_B": "200"}
    records = []
    for seed in (0, 1):
        p = tmp_path / f"dets{seed}.json"
        p.write_text(json.dumps(_results_from_gt(ann, seed)))
        r = _bench("eval", "--dataset", "coco-mini", "--predictions", str(p),
                   "--results", str(tmp_path / "res"), "--name", f"m{seed}", env=env)  # fmt: skip
        assert r.returncode == 0, r.stderr
        records.append(next(Path(tmp_path / "res" / "records").glob(f"*-m{seed}-*.json")))
    recs = [json.loads(p.read_text()) for p in records]
    for rec in recs:  # the record carries intervals and its per-sample statistics
        ci = rec["metrics"]["AP"]["ci"]
        assert ci["method"] == "percentile-bootstrap" and ci["B"] == 200 and ci["level"] == 0.95
        assert ci["low"] <= ci["high"]
        assert (records[0].parent / rec["samples_file"]).exists()
    r = _bench("compare", str(records[0]), str(records[1]), "--metric", "AP", "--metric",
               "AR100", "--B", "100", "--trials", "50", "--json", env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["metric"] for x in rows] == ["AP", "AR100"]
    for x in rows:
        m = x["metric"]
        assert x["baseline_value"] == recs[0]["metrics"][m]["value"]
        assert x["value"] == recs[1]["metrics"][m]["value"]
        assert 0 < x["p_bootstrap"] <= 1 and 0 < x["p_randomization"] <= 1
        assert x["ci_low"] <= x["difference"] or x["ci_high"] >= x["difference"]
    # a run on another dataset: refused in one line, exit code 2
    bad = tmp_path / "other.json"
    other = json.loads(records[1].read_text())
    other["dataset"]["fingerprint"] = "0" * 16
    other["run_id"] = "other"
    bad.write_text(json.dumps(other))
    r = _bench("compare", str(records[0]), str(bad), env=env)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "different ground truth" in r.stderr
