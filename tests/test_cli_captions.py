"""``bench eval`` on captions through the installed console script: every COCO-caption metric
this machine can compute, equal to pycocoevalcap; without Java, the Python tokenizer and a
signature that says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from visionbench.metrics.captioning import java_tools as java

BENCH = shutil.which("bench")
pytestmark = pytest.mark.skipif(BENCH is None, reason="the bench console script is not installed")


def _bench(args, home, env_extra=None):
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS="250", **(env_extra or {}))
    return subprocess.run(
        [BENCH, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def caption_predictions(tmp_path_factory):
    from visionbench.loaders.mini import coco_mini_captions
    from visionbench.synth import generate

    root = tmp_path_factory.mktemp("data") / "coco-mini"
    generate("coco-mini", root)
    gt = coco_mini_captions(root).ground_truth()
    rows = [
        {"image_id": int(sid), "caption": t.captions[0] if i % 3 else "a red car (small) :)"}
        for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets))
    ]
    path = root.parent / "captions_results.json"
    path.write_text(json.dumps(rows))
    return root, path, rows, gt


def _record(home: Path) -> dict:
    (path,) = sorted((home / "results" / "records").glob("*.json"))
    return json.loads(path.read_text())


@pytest.mark.skipif(java.meteor_missing() is not None, reason="no Java runtime")
@pytest.mark.slow
def test_bench_eval_captions_reports_every_available_metric(tmp_path, caption_predictions):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    root, preds, rows, gt = caption_predictions
    p = _bench(
        ["eval", "--dataset", "coco-mini-captions", "--data-root", str(root), "--predictions", str(preds)],
        tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    for name in ("bleu4", "meteor", "rouge_l", "cider_d", "sacrebleu"):
        assert name in p.stdout
    assert "tok=ptb-java" in p.stdout
    rec = _record(tmp_path)
    # pycocoevalcap's own pipeline on the same captions
    tok = PTBTokenizer()
    gts = tok.tokenize(
        {int(s): [{"caption": c} for c in t.captions] for s, t in zip(gt.sample_ids, gt.targets)}
    )
    res = tok.tokenize({r["image_id"]: [{"caption": r["caption"]}] for r in rows})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    expected = {
        "bleu4": bleu[3],
        "meteor": Meteor().compute_score(gts, res)[0],
        "rouge_l": Rouge().compute_score(gts, res)[0],
        "cider_d": Cider().compute_score(gts, res)[0],
    }
    for name, value in expected.items():
        assert rec["metrics"][name]["value"] == value, name
    assert rec["metrics"]["cider_d"]["value"] > 1.0  # two thirds of the captions are references
    assert "spice" not in rec["metrics"] or java.spice_missing() is None


def test_bench_eval_captions_without_java(tmp_path, caption_predictions):
    root, preds, _, _ = caption_predictions
    env = {"PATH": str(Path(BENCH).parent), "JAVA_HOME": ""}
    p = _bench(
        ["eval", "--dataset", "coco-mini-captions", "--data-root", str(root), "--predictions", str(preds)],
        tmp_path, env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    rec = _record(tmp_path)
    assert {"bleu4", "rouge_l", "cider_d", "sacrebleu"} <= set(rec["metrics"])
    assert "meteor" not in rec["metrics"] and "spice" not in rec["metrics"]
    assert "tok=ptb-py" in rec["metrics"]["cider_d"]["signature"]

    from visionbench.metrics.captioning.evaluator import CaptionEvaluator

    ev = CaptionEvaluator(tokenize="ptb-py")
    ev.update(
        predictions=[r["caption"] for r in json.loads(preds.read_text())],
        targets=[list(t.captions) for t in _gt(root)],
    )
    assert rec["metrics"]["cider_d"]["value"] == ev.compute()["cider_d"]


def _gt(root):
    from visionbench.loaders.mini import coco_mini_captions

    return coco_mini_captions(root).ground_truth().targets
