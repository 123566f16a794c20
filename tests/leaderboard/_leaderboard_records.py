"""Run records made by hand for the leaderboard tests (no model is run).

The numbers are chosen so that ranks, best values and sort orders are known in advance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from visionbench.records import SCHEMA_VERSION, write_record

CLS_SIG = "cls|topk=1,5|ties=index|v0.1.0"
CLS_SIG_OTHER = "cls|topk=1,5|ties=random|v0.1.0"
COCO_SIG = "coco|bbox|iou=.50:.05:.95|area=all,s,m,l|maxdets=1,10,100|v0.1.0"
XSS = "<script>alert(1)</script>"

_counter = iter(range(10**6))


def make_record(
    model: str,
    dataset: str,
    task: str,
    metrics: dict[str, float | None],
    *,
    signature: str,
    higher_is_better: bool = True,
    split: str | None = "val",
    params: int | None = 1_000_000,
    gflops: float | None = 1.0,
    latency_ms: float | None = 10.0,
    throughput: float | None = 100.0,
    preprocess: dict[str, Any] | None = None,
    label_space: str = "imagenet1k",
    date: str | None = None,
) -> dict[str, Any]:
    """A schema-shaped run record; ``date`` defaults to a strictly increasing stamp."""
    n = next(_counter)
    date = date or f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}+00:00"
    profile = {"latency_ms": latency_ms} if latency_ms is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": f"run{n:05d}-{abs(hash(model)) % 10**6}-{dataset}",
        "status": "complete",
        "task": task,
        "model": {
            "name": model,
            "task": task,
            "label_space": label_space,
            "params": params,
            "gflops": gflops,
            "preprocess": preprocess or {},
            "profile": profile,
        },
        "dataset": {"name": dataset, "split": split, "num_samples": 10, "label_space": label_space},
        "metrics": {
            k: {"value": v, "signature": signature, "higher_is_better": higher_is_better}
            for k, v in metrics.items()
        },
        "timings": {"throughput_img_s": throughput},
        "hardware": {"device": "cpu"},
        "command": ["bench", "run", "--model", model],
        "date": date,
    }


#: classification on imagenet-mini: (model, top1, top5, gflops, latency_ms, throughput)
CLS_ROWS = [
    ("alpha", 70.0, 90.0, 1.0, 5.0, 300.0),
    ("beta", 90.0, 99.0, 4.0, 20.0, 50.0),
    ("gamma", 80.0, 95.0, 2.0, 30.0, 80.0),
    (XSS, 60.0, 85.0, 0.5, 2.0, 900.0),
]


def confusion(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 3, size=(n, n))
    cm[np.arange(n), np.arange(n)] += 20
    return cm


def coco_arrays() -> dict[str, np.ndarray]:
    """COCO-shaped arrays: 3 categories (ids 1, 2, 3 = person, bicycle, car); category 3
    has no ground truth (-1). At IoU .50 the class-mean precision is 0.75 up to recall
    0.5 and 0.25 after."""
    T, R, K, A, M = 10, 101, 3, 4, 3
    rec = np.linspace(0, 1, R)
    prec = np.zeros((T, R, K, A, M))
    prec[:, :, 0] = np.where(rec <= 0.5, 1.0, 0.0)[None, :, None, None]
    prec[:, :, 1] = 0.5
    prec[:, :, 2] = -1.0
    return {
        "precision": prec,
        "rec_thrs": rec,
        "iou_thrs": np.linspace(0.5, 0.95, T),
        "category_ids": np.array([1, 2, 3]),
        "ap_per_category": np.array([0.5, 0.5, np.nan]),
    }


def write_results(root: Path) -> list[dict[str, Any]]:
    """Classification (4 models, with confusion arrays) and detection (2 models, with
    COCO arrays) records under ``root/records``; returns them in writing order."""
    out = []
    for i, (m, t1, t5, gf, lat, thr) in enumerate(CLS_ROWS):
        rec = make_record(m, "imagenet-mini", "classification", {"top1": t1, "top5": t5},
                          signature=CLS_SIG, gflops=gf, latency_ms=lat, throughput=thr,
                          preprocess={"mode": "resize_crop", "resize": 256, "crop": 224,
                                      "interpolation": "bilinear"})  # fmt: skip
        write_record(rec, root, arrays={"confusion": confusion(6, i)})
        out.append(rec)
    for m, ap in (("det-a", 0.3), ("det-b", 0.4)):
        rec = make_record(m, "coco-mini", "detection", {"AP": ap, "AP50": ap + 0.2},
                          signature=COCO_SIG, label_space="coco91", gflops=None,
                          latency_ms=None)  # fmt: skip
        write_record(rec, root, arrays=coco_arrays())
        out.append(rec)
    return out
