"""Confidence intervals and per-sample statistics for a run record.

:func:`attach_intervals` is called once at record assembly (``bench run`` and
``bench eval``): it bootstraps the evaluator's per-sample statistics (no re-inference) and
writes ``record["metrics"][name]["ci"] = {"low", "high", "level", "method", "B", "seed"}``
for every headline metric (``record["protocol"]["headline"]``; without a protocol, every
metric the evaluator's sample table scores), and stores the per-sample statistics beside
the record (``<run_id>.samples.npz``, named by ``record["samples_file"]``) so that
``bench compare`` can run paired tests later without the predictions.

The number of replicates is ``bench run / bench eval --bootstrap N`` (the ``B`` argument),
else ``VISIONBENCH_BOOTSTRAP_B``, else 1000. ``B = 0`` computes no intervals but still
stores the per-sample statistics (``bench compare`` needs them; ``store_samples=False``
skips that too). A failure here never fails the run: the record is written without
intervals and a warning names the reason.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from typing import Any

import numpy as np

from visionbench.engine.records import RunRecord, atomic_write_bytes, results_dir

__all__ = ["attach_intervals", "load_sample_table", "bootstrap_replicates_setting"]

log = logging.getLogger("visionbench")


def bootstrap_replicates_setting(B: int | None = None) -> int:
    """``B`` when given, else ``VISIONBENCH_BOOTSTRAP_B`` (default 1000, 0 = off)."""
    if B is not None:
        if B < 0:
            raise ValueError(f"bootstrap replicates must be >= 0, got {B}")
        return int(B)
    raw = os.environ.get("VISIONBENCH_BOOTSTRAP_B", "1000").strip()
    try:
        b = int(raw)
    except ValueError:
        warnings.warn(
            f"VISIONBENCH_BOOTSTRAP_B={raw!r} is not an integer; using 1000", stacklevel=2
        )
        return 1000
    return max(b, 0)


def attach_intervals(
    record: RunRecord,
    evaluator: Any,
    *,
    root: Any = None,
    seed: int = 0,
    level: float = 0.95,
    B: int | None = None,
    store_samples: bool = True,
) -> None:
    """Add ``ci`` to the record's headline metrics and write its per-sample statistics."""
    B = bootstrap_replicates_setting(B)
    if B == 0 and not store_samples:
        return
    from visionbench.metrics.bootstrap import bootstrap_intervals, sample_table
    from visionbench.metrics.errors import MetricInputError

    metrics = record["metrics"]
    headline = (record.get("protocol") or {}).get("headline")
    wanted = [m for m in (headline or list(metrics)) if m in metrics]
    try:
        table = sample_table(evaluator, metrics=wanted if headline else None)
    except MetricInputError as e:
        warnings.warn(f"no confidence intervals for this run: {e}", stacklevel=2)
        return
    try:
        cis = bootstrap_intervals(table, B=B, seed=seed, level=level, metrics=wanted) if B else {}
    except MetricInputError as e:
        warnings.warn(f"no confidence intervals for this run: {e}", stacklevel=2)
        cis = {}
    for name, ci in cis.items():
        if metrics[name].get("value") is None or not np.isfinite(ci["low"]):
            continue
        metrics[name]["ci"] = ci
    _write_samples(record, table, root)


def _write_samples(record: RunRecord, table: Any, root: Any) -> None:
    folder = results_dir(root) / "records"
    name = f"{record['run_id']}.samples.npz"
    atomic_write_bytes(folder / name, _stored_npz(_narrowed(table.to_arrays())))
    record["samples_file"] = name


_NARROWED = "__narrowed_int64__"


def _narrowed(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """int64 arrays stored in the smallest integer type holding their values (listed under
    ``__narrowed_int64__`` and widened back on load): the 500k-detection COCO state is
    27 MB as int64 and ~12 MB narrowed, so it can be stored without deflating it."""
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
    return out


def _stored_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz``: deflating ~12 MB costs ~0.1 s CPU per ``bench eval``."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for key, value in arrays.items():
            with z.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
    return buf.getvalue()


def load_sample_table(record: RunRecord, root: Any = None) -> Any:
    """The per-sample statistics stored with ``record`` as a sample table, or None."""
    from visionbench.metrics.sample_tables import table_from_arrays

    name = record.get("samples_file")
    if not name:
        return None
    path = results_dir(root) / "records" / name
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    for k in arrays.pop(_NARROWED, np.array([], dtype=str)).tolist():
        arrays[k] = arrays[k].astype(np.int64)
    return table_from_arrays(arrays)
