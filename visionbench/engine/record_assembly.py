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
    """Versions of Python and the packages that change numbers (the installed
    distributions', as ``importlib.metadata.version`` gives them)."""
    out = {"python": platform.python_version()}
    out.update(dist_versions(_VERSIONED))
    return out


_VERSIONED = ("visionbench", "numpy", "torch", "torchvision", "pycocotools", "sacrebleu", "numba")


def dist_versions(names: tuple[str, ...]) -> dict[str, str]:
    """``importlib.metadata.version(name)`` of each installed ``name`` (the first
    ``.dist-info`` / ``.egg-info`` on ``sys.path``, its metadata's ``Version``), in name
    order, without importing ``importlib.metadata`` (with ``email``, ``zipfile`` and
    ``csv``: ~40 ms CPU of every run record). Equal to it for every installed
    distribution (``tests/engine/test_record_assembly.py``)."""
    import re

    norm = lambda n: re.sub(r"[-_.]+", "_", n).lower()  # noqa: E731 - PEP 503, as the finder
    want = {norm(n): n for n in names}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for f in sorted(listing, key=lambda f: not f.endswith(".dist-info")):  # as the finder
            stem, dot, ext = f.rpartition(".")
            if not dot or ext not in ("dist-info", "egg-info"):
                continue
            name = want.get(norm(stem.partition("-")[0]))
            if name is None or name in found:
                continue
            version = _metadata_version(Path(entry or ".") / f)
            if version is not None:
                found[name] = version
        if len(found) == len(want):
            break
    return {n: found[n] for n in names if n in found}


def _metadata_version(d: Path) -> str | None:
    """The ``Version:`` header of a distribution's metadata file (none: not a
    distribution, as ``importlib.metadata`` skips it)."""
    for fname in ("METADATA", "PKG-INFO"):
        try:
            with open(d / fname, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if not line.strip():
                        break  # the headers end at the first empty line
                    key, sep, value = line.partition(":")
                    if sep and key.strip().lower() == "version":
                        return value.strip()
        except OSError:
            continue
        return None
    return None


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
