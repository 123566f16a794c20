"""Classification run records with real per-sample statistics (a samples file beside the
record, as ``bench run`` writes it), for the rank-group and paired-difference tests.

Each model's predictions are made from the labels with a chosen accuracy, so models can
be made clearly different (or identical) without running a network.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from _leaderboard_records import make_record

from visionbench.metrics import ClassificationEvaluator
from visionbench.metrics.bootstrap import bootstrap_intervals, sample_table
from visionbench.records import atomic_write_bytes, write_record

N, C = 300, 10


def labels() -> np.ndarray:
    return np.random.default_rng(123).integers(0, C, N)


def logits(accuracy: float, seed: int) -> np.ndarray:
    """``[N, C]`` scores whose argmax is the label for about ``accuracy`` of the samples."""
    rng = np.random.default_rng(seed)
    y = labels()
    s = rng.random((N, C))
    right = rng.random(N) < accuracy
    s[np.arange(N), y] += np.where(right, 1.0, 0.0)
    return s


def cls_run(root: Path, model: str, scores: np.ndarray, **kw: Any) -> dict[str, Any]:
    """Score ``scores`` against :func:`labels`; write the record (top1 / top5 with their
    intervals) and its samples file under ``root/records``; return the record."""
    ev = ClassificationEvaluator(C, topk=(1, 5))
    ev.update(predictions=scores, targets=labels())
    res = ev.compute()
    rec = make_record(model, "toy-cls", "classification",
                      {"top1": res["top1"], "top5": res["top5"]}, signature=res.signature,
                      label_space="toy", **kw)  # fmt: skip
    rec["dataset"]["num_samples"] = N
    rec["dataset"]["fingerprint"] = "toy0000000000000"
    rec["protocol"] = {"name": "imagenet", "headline": ["top1", "top5"]}
    cis = bootstrap_intervals(ev, B=200, seed=0, metrics=["top1", "top5"])
    for k in ("top1", "top5"):
        rec["metrics"][k]["unit"] = "percent"
        rec["metrics"][k]["ci"] = cis[k]
    buf = io.BytesIO()
    np.savez_compressed(buf, **sample_table(ev, metrics=["top1", "top5"]).to_arrays())
    folder = root / "records"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / f"{rec['run_id']}.samples.npz", buf.getvalue())
    rec["samples_file"] = f"{rec['run_id']}.samples.npz"
    write_record(rec, root)
    return rec
