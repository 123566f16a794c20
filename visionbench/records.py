"""The run record: the contract between the engine (which writes records) and the
leaderboard (which reads them). One JSON file per run, written atomically, never edited.

The schema is :class:`RunRecord` (a ``TypedDict``) and ``run_record.schema.json`` beside
this file (JSON Schema, draft 2020-12; :func:`record_schema`). Arrays behind the numbers
(PR curves, confusion matrices, per-class values) go into ``<run_id>.arrays.npz`` beside
the record, per-sample statistics for paired tests into ``<run_id>.samples.npz``.

A contract: imports numpy and the standard library only (no torch, no metrics, no
pandas), so ``bench leaderboard`` and ``bench eval`` can read and write records cheaply.
The engine assembles records (:mod:`visionbench.engine.record_assembly`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from visionbench.errors import RunError
from visionbench.paths import records_dir
from visionbench.types import RANDOM_WEIGHTS

__all__ = [
    "SCHEMA_VERSION",
    "RunRecord",
    "MetricEntry",
    "ModelInfo",
    "DatasetInfo",
    "ProtocolInfo",
    "RANDOM_WEIGHTS",
    "record_schema",
    "new_run_id",
    "weights_identity",
    "subset_fingerprint",
    "atomic_write_bytes",
    "write_record",
    "read_records",
    "write_samples",
    "read_samples",
]

SCHEMA_VERSION = 1


class MetricEntry(TypedDict, total=False):
    value: float | None  # None for NaN (JSON has no NaN)
    signature: str
    higher_is_better: bool
    unit: (
        str  # "percent" | "fraction" | "count" | "seconds" | "score" | "unbounded" (the protocol's)
    )
    ci: dict[str, Any]  # {"low", "high", "level", "method", "B", "seed"} (optional)


class ProtocolInfo(TypedDict, total=False):
    name: str
    headline: list[str]  # metric names in display order
    options: dict[str, Any]
    draws: dict[str, Any]  # what the report can draw (per_class, confusion, pr_curves)


class ModelInfo(TypedDict, total=False):
    name: str
    task: str
    label_space: str
    params: int
    gflops: float | None
    weights: dict[str, Any]
    weights_id: str  # sha256 of the weights file, "random", or the torchvision enum name
    preprocess: dict[str, Any]
    profile: dict[str, Any]


class DatasetInfo(TypedDict, total=False):
    name: str
    split: str
    root: str
    num_samples: int  # samples evaluated
    total_samples: int  # samples of the split (before --limit)
    subset: str | None  # None = every sample of the split, else a fingerprint of the ids
    label_space: str
    fingerprint: str


class RunRecord(TypedDict, total=False):
    schema_version: int
    run_id: str
    status: str  # "complete"
    task: str
    model: ModelInfo
    dataset: DatasetInfo
    metrics: dict[str, MetricEntry]
    arrays_file: str | None
    samples_file: str | None  # per-sample statistics for paired tests (engine/intervals.py)
    timings: dict[str, Any]
    hardware: dict[str, Any]
    software: dict[str, str]
    seed: int
    git_commit: str | None
    command: list[str]
    date: str
    config: dict[str, Any]
    tag: str | None
    protocol: ProtocolInfo
    no_ground_truth: bool
    submission: str
    analysis: dict[str, Any]  # error analysis (engine/analysis.py), every key optional


def weights_identity(weights: dict[str, Any] | None) -> str | None:
    """The weights identity of a record's ``model.weights`` description.

    ``"random"`` for a random init (``source: random-init`` or ``name: random``), else the
    file's sha256, else the torchvision enum name (``name``), else None (unknown).
    """
    w = weights or {}
    if w.get("source") == "random-init" or str(w.get("name", "")).lower() == RANDOM_WEIGHTS:
        return RANDOM_WEIGHTS
    if w.get("sha256"):
        return str(w["sha256"])
    if w.get("name"):
        return str(w["name"])
    return None


def subset_fingerprint(sample_ids: list[Any]) -> str:
    """sha256 (first 16 hex) of the evaluated sample ids, in order: two runs on the same
    subset share it, any other subset differs."""
    import hashlib

    h = hashlib.sha256()
    for sid in sample_ids:
        h.update(repr(sid).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def record_schema() -> dict[str, Any]:
    """The JSON Schema of a run record."""
    text = resources.files("visionbench").joinpath("run_record.schema.json").read_text()
    return json.loads(text)


def new_run_id(model: str, dataset: str) -> str:
    """``20261124-033412-<model>-<dataset>-<6 hex>``: sortable, unique across processes."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = lambda s: "".join(c if c.isalnum() or c in "-_." else "_" for c in s)  # noqa: E731
    return f"{stamp}-{safe(model)}-{safe(dataset)}-{os.urandom(3).hex()}"  # = secrets.token_hex


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: Path, write: Any) -> None:
    """``write(f)`` into a temporary file in the same folder, fsync, then rename over
    ``path``: a reader sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; records are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_record(
    record: RunRecord, root: str | Path | None = None, arrays: dict[str, np.ndarray] | None = None
) -> Path:
    """Write ``record`` (and its arrays) under ``<root>/records/``; never overwrites.

    NaN and infinities anywhere in the record (Python or numpy floats) are written as
    ``null``: JSON has no NaN."""
    folder = records_dir(root)
    path = folder / f"{record['run_id']}.json"
    if path.exists():
        raise RunError(f"run record {path} exists already; records are never overwritten")
    if arrays:
        write_npz(folder / f"{record['run_id']}.arrays.npz", arrays)
        record["arrays_file"] = f"{record['run_id']}.arrays.npz"
    data = json.dumps(
        _finite(record), indent=1, sort_keys=False, default=_json_default, allow_nan=False
    )
    atomic_write_bytes(path, data.encode())
    return path


def write_npz(path: Path, arrays: dict[str, Any]) -> None:
    """``arrays`` as an ``.npz`` at ``path`` (atomically), as ``np.savez`` writes it: stored,
    not deflated (deflating COCO's precision / scores arrays, 2 x 7.8 MB, took 0.10 s CPU of
    each ``bench eval``, 15 % of the library's evaluation, to save 12 MB of disk).

    Written into the file directly, each contiguous array from its own memory (``np.savez``
    copies each through a buffer and ``tobytes``; with an in-memory zip first, four copies
    of 29 MB per COCO record)."""
    import zipfile

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            for name, value in arrays.items():
                a = np.asanyarray(value)
                with z.open(f"{name}.npy", "w", force_zip64=True) as out:
                    simple = a.dtype.names is None and not a.dtype.hasobject
                    if not simple or not a.flags.c_contiguous or type(a) is not np.ndarray:
                        np.lib.format.write_array(out, a, allow_pickle=False)
                        continue
                    np.lib.format.write_array_header_1_0(
                        out, np.lib.format.header_data_from_array_1_0(a)
                    )
                    if a.size:
                        out.write(a.reshape(-1).view(np.uint8))

    atomic_write(path, write)


def read_records(root: str | Path | None = None) -> list[RunRecord]:
    """All complete run records under ``<root>/records``, oldest first. Unreadable files
    are skipped with a warning on stderr naming them."""
    if root is not None:
        given = Path(root).expanduser()
        if not given.exists():
            raise RunError(f"results directory {given} does not exist (--results)")
        if not given.is_dir():
            raise RunError(f"results directory {given} is a file, not a directory (--results)")
    folder = records_dir(root)
    out: list[RunRecord] = []
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError, RecursionError) as e:
            print(f"warning: skipping unreadable run record {p}: {e}", file=sys.stderr)
            continue
        if not isinstance(rec, dict):
            print(f"warning: skipping {p}: not a run record (a JSON object)", file=sys.stderr)
            continue
        if rec.get("schema_version") != SCHEMA_VERSION:
            print(
                f"warning: skipping {p}: schema_version {rec.get('schema_version')} "
                f"(this visionbench reads {SCHEMA_VERSION})",
                file=sys.stderr,
            )
            continue
        out.append(rec)
    return out


def _finite(o: Any) -> Any:
    """``o`` with every non-finite float (``float`` and its subclass ``np.float64``, which
    ``json`` encodes itself, bypassing ``default``) replaced by None."""
    if isinstance(o, float):
        return o if o == o and o not in (_INF, -_INF) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


_INF = float("inf")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_samples(
    record: RunRecord, arrays: dict[str, np.ndarray], root: str | Path | None = None
) -> None:
    """Store a run's per-sample statistics beside its record (``<run_id>.samples.npz``,
    named by ``record["samples_file"]``), before :func:`write_record` writes the record.

    int64 arrays are stored in the smallest integer type holding their values (listed
    under ``__narrowed_int64__``, widened back by :func:`read_samples`) and the file is not
    deflated: the 500k-detection COCO match state is 27 MB as int64, 13 MB narrowed, and
    ``savez_compressed`` cost ~0.35 s CPU of each ``bench eval`` (now ~0.05 s)."""
    out: dict[str, np.ndarray] = {}
    narrowed = []
    for k, v in arrays.items():
        v = np.asarray(v)
        if v.dtype == np.int64 and v.size:
            lo, hi = int(v.min()), int(v.max())
            for dt in (np.int8, np.int16, np.int32):
                info = np.iinfo(dt)
                if info.min <= lo and hi <= info.max:
                    v = v.astype(dt)
                    narrowed.append(k)
                    break
        out[k] = v
    out[_NARROWED] = np.array(narrowed, dtype=str)
    name = f"{record['run_id']}.samples.npz"
    write_npz(records_dir(root) / name, out)
    record["samples_file"] = name


_NARROWED = "__narrowed_int64__"


def read_samples(record: RunRecord, root: str | Path | None = None) -> dict[str, np.ndarray] | None:
    """The per-sample statistics stored with ``record`` (arrays by name, as given to
    :func:`write_samples`), or None when the record has none or the file is gone."""
    name = record.get("samples_file")
    if not name:
        return None
    path = records_dir(root) / name
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    for k in arrays.pop(_NARROWED, np.array([], dtype=str)).tolist():
        arrays[k] = arrays[k].astype(np.int64)
    return arrays
