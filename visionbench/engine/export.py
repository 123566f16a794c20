"""``bench export RUN_ID``: a run's cached predictions in an official submission format.

The run record names its protocol and options (``record["protocol"]``); the protocol
writes the format (COCO results JSON, Cityscapes labelIds PNGs, top-k CSV, caption JSON,
scene-graph JSON, ...). Imports no torch: the predictions come from the Parquet cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionbench.engine.cache import PredictionCache
from visionbench.errors import RunError
from visionbench.paths import records_dir
from visionbench.types import Task

__all__ = ["export_run", "find_record", "record_protocol"]


def find_record(run_id: str, results: str | Path | None = None) -> dict[str, Any]:
    """The record of ``run_id`` (a unique prefix is enough)."""
    folder = records_dir(results)
    exact = folder / f"{run_id}.json"
    hits = [exact] if exact.is_file() else sorted(folder.glob(f"{run_id}*.json"))
    if len(hits) != 1:
        what = "no run record" if not hits else f"{len(hits)} run records"
        raise RunError(f"{what} matching {run_id!r} in {folder} (bench leaderboard lists runs)")
    return json.loads(hits[0].read_text())


def record_protocol(record: dict[str, Any]) -> Any:
    """The protocol a record was scored with, rebuilt from its name and options."""
    from visionbench.label_spaces import get_label_space
    from visionbench.protocols import get_protocol
    from visionbench.protocols.catalog import DEFAULT_BY_TASK

    entry = record.get("protocol") or {}
    name = entry.get("name") or DEFAULT_BY_TASK[record["task"]]
    space = get_label_space(record["dataset"]["label_space"])
    # what a protocol may ask of its dataset when writing (VOC's file names carry the split)
    ds = _RecordDataset(record["dataset"].get("name"), record["dataset"].get("split"))
    return get_protocol(name, space, entry.get("options") or {}, dataset=ds)


class _RecordDataset:
    """The dataset as its record describes it: name and split, no ground truth."""

    def __init__(self, name: str | None, split: str | None) -> None:
        self.name, self.split = name, split


def export_run(
    run_id: str,
    output: str | Path,
    *,
    format: str | None = None,
    results: str | Path | None = None,
) -> Path:
    """Write the cached predictions of ``run_id`` to ``output`` in ``format`` (default:
    the protocol's first submission format); return what was written."""
    record = find_record(run_id, results)
    workdir = (record.get("config") or {}).get("log_dir")
    pred_dir = Path(workdir) / "predictions" if workdir else None
    if pred_dir is None or not any(pred_dir.glob("*.parquet")):
        raise RunError(
            f"run {record['run_id']} has no prediction cache (bench eval runs keep none; "
            f"looked in {pred_dir})"
        )
    protocol = record_protocol(record)
    if format is not None and format not in protocol.export_formats:
        raise RunError(
            f"protocol {protocol.name!r} exports {', '.join(protocol.export_formats)}, not {format!r}"
        )
    preds = PredictionCache(pred_dir, Task(record["task"])).load_all()
    n = record["dataset"].get("num_samples")
    if n is not None and len(preds) != n:
        raise RunError(
            f"run {record['run_id']}: the cache holds {len(preds)} predictions for {n} samples"
        )
    return protocol.write_predictions(preds, output, format=format)
