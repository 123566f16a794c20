"""Record assembly: a complete run record from a model's description, a dataset, a metric
result and the environment (hardware, software versions, git commit, date).

``bench run`` (:mod:`visionbench.engine.run`) and ``bench eval``
(:mod:`visionbench.engine.offline`) both build their records here; the record's schema,
reading and writing are the contract :mod:`visionbench.records`. Imports no torch: the
GPU names are read only when torch is already loaded (a model ran).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.records import (
    SCHEMA_VERSION,
    RunRecord,
    new_run_id,
    subset_fingerprint,
    weights_identity,
)

__all__ = [
    "build_record",
    "mark_skipped",
    "subset_of",
    "dropped_count",
    "software_versions",
    "hardware_info",
    "git_commit",
]


def build_record(
    model_info: dict[str, Any],
    dataset: Any,
    gt: Any,
    result: Any,
    *,
    timings: dict[str, Any],
    device: str,
    config: dict[str, Any],
    n: int,
    seed: int,
    command: list[str],
    protocol: Any = None,
    fingerprint: str | None = None,
    total: int | None = None,
    subset: str | None = None,
    dropped: int = 0,
    tag: str | None = None,
) -> RunRecord:
    """A complete run record from a model description, a dataset and a metric result.

    Run identity (what keeps leaderboard rows apart): ``model.weights_id`` (from
    ``model_info``, else :func:`weights_identity` of its ``weights``),
    ``dataset.num_samples`` (``n``) of ``dataset.total_samples`` (``total``, default
    ``n``), ``dataset.subset`` (None = every sample, else :func:`subset_fingerprint` of
    the evaluated ids), ``dataset.dropped`` (samples / annotations dropped by
    ``--lenient``) and ``tag``.

    ``protocol`` adds ``record["protocol"]`` (name, headline, options, what the report
    draws) and each metric's ``unit`` / ``higher_is_better`` as the protocol declares them;
    ``result=None`` is a split without ground truth (no metrics, ``no_ground_truth``).
    """
    metrics: dict[str, Any] = {}
    if result is not None:
        hib = result.higher_is_better
        meta = protocol.metric_metadata(result) if protocol is not None else {}
        for k, v in result.metrics.items():
            entry: dict[str, Any] = {
                "value": (None if v is None or not np.isfinite(v) else float(v)),
                "signature": result.signature,
                "higher_is_better": bool(hib.get(k, True)),
            }
            entry.update(meta.get(k, {}))
            metrics[k] = entry
    rec = RunRecord(
        schema_version=SCHEMA_VERSION,
        run_id=new_run_id(model_info["name"], dataset.name),
        status="complete",
        task=dataset.task.value,
        model={
            "name": model_info["name"],
            "task": model_info.get("task", dataset.task.value),
            "label_space": model_info.get("label_space", dataset.label_space.name),
            "params": model_info.get("params"),
            "gflops": model_info.get("gflops"),
            "weights": model_info.get("weights") or {},
            "weights_id": model_info.get("weights_id", weights_identity(model_info.get("weights"))),
            "preprocess": model_info.get("preprocess"),
            "profile": model_info.get("profile"),
        },
        dataset={
            "name": dataset.name,
            "split": dataset.split,
            "root": str(getattr(dataset, "root", "") or ""),
            "num_samples": n,
            "total_samples": n if total is None else total,
            "subset": subset,
            **({"dropped": dropped} if dropped else {}),
            "label_space": dataset.label_space.name,
            "fingerprint": fingerprint if fingerprint is not None else gt.fingerprint(),
        },
        metrics=metrics,
        arrays_file=None,
        timings=timings,
        hardware=hardware_info(device),
        software=software_versions(),
        seed=seed,
        git_commit=git_commit(),
        command=list(command),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        config=config,
        tag=tag,
    )
    if protocol is not None:
        rec["protocol"] = protocol.record_entry(result)
    if result is None:
        rec["no_ground_truth"] = True
    return rec


def mark_skipped(record: RunRecord, skipped: list[dict[str, Any]]) -> None:
    """Samples left out by ``--lenient``: counted and listed in the record; ``num_samples``
    is then the number scored."""
    if not skipped:
        return
    ds = record["dataset"]
    ds["num_samples"] = max(0, int(ds["num_samples"]) - len(skipped))
    ds["skipped"] = {  # type: ignore[typeddict-unknown-key]
        "count": len(skipped),
        "sample_ids": [f["sample_id"] for f in skipped[:1000]],
        "first_error": skipped[0]["error"],
    }


def subset_of(dataset: Any, gt: Any, n: int) -> tuple[str | None, int]:
    """``(subset, dropped)``: the fingerprint of the evaluated sample ids when they are not
    the whole split (``--limit``, or samples / annotations dropped by ``--lenient``), else
    None; and how many problems the loader dropped."""
    dropped = dropped_count(dataset)
    if n < len(gt) or dropped:
        return subset_fingerprint(list(gt.sample_ids[:n])), dropped
    return None, dropped


def dropped_count(dataset: Any) -> int:
    """How many problems a ``--lenient`` loader resolved by dropping samples or
    annotations (its ``problems`` whose message says "dropped"; 0 without ``problems``)."""
    return sum(
        "dropped" in str(getattr(p, "message", "")) for p in getattr(dataset, "problems", [])
    )


def software_versions() -> dict[str, str]:
    """Versions of Python and the packages that change numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in (
        "visionbench",
        "numpy",
        "torch",
        "torchvision",
        "pycocotools",
        "sacrebleu",
        "numba",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def hardware_info(device: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "device": device,
    }
    torch = sys.modules.get("torch")  # only when a model ran: `bench eval` imports no torch
    try:
        if torch is not None and torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
    except Exception:  # pragma: no cover - torch missing or broken CUDA
        pass
    return info


def git_commit() -> str | None:
    """The commit of the visionbench checkout, when it is one (else None)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
