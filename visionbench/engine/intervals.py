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

import logging
import os
import warnings
from typing import Any

import numpy as np

from visionbench.records import RunRecord, read_samples, write_samples

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
    write_samples(record, table.to_arrays(), root)


def load_sample_table(record: RunRecord, root: Any = None) -> Any:
    """The per-sample statistics stored with ``record`` as a sample table, or None."""
    from visionbench.metrics.sample_tables import table_from_arrays

    arrays = read_samples(record, root)
    return None if arrays is None else table_from_arrays(arrays)
