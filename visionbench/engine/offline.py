"""``bench eval``: score predictions made elsewhere into an ordinary run record.

The dataset's protocol reads the file (``Protocol.evaluate_file``: COCO results JSON
through the columnar reader, Cityscapes folders through the threaded file evaluator,
top-k CSV/JSON, caption JSON, scene-graph JSON; see each file of
:mod:`visionbench.protocols`). Imports no torch: no model runs here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from visionbench.engine.analysis import attach_analysis
from visionbench.engine.intervals import attach_intervals
from visionbench.engine.record_assembly import build_record, dropped_count
from visionbench.protocols import Protocol, dataset_protocol
from visionbench.records import RunRecord, write_record
from visionbench.tasks import Dataset

__all__ = ["evaluate_predictions"]


def evaluate_predictions(
    dataset: Dataset,
    predictions: str | Path,
    *,
    name: str | None = None,
    results: str | Path | None = None,
    metric_options: dict[str, Any] | None = None,
    scorer_options: dict[str, Any] | None = None,
    protocol: Protocol | None = None,
    command: list[str] | None = None,
    tag: str | None = None,
    bootstrap: int | None = None,
) -> tuple[RunRecord, Path]:
    """Score a predictions file / folder against ``dataset``'s ground truth; write a record.

    Args:
        dataset: the dataset (or any object with ``name``, ``split``, ``task``,
            ``label_space``, ``ground_truth()``; a ``fingerprint()`` and ``__len__``
            spare building the ground truth for the record).
        predictions: the file or folder in the protocol's format.
        metric_options: the protocol's options (``-M KEY=VALUE``); ``scorer_options`` is
            the former name.
        protocol: a protocol to use instead of the dataset's.
        tag: the record's ``tag`` (its own leaderboard row).
        bootstrap: replicates of the confidence intervals (None: ``VISIONBENCH_BOOTSTRAP_B``
            or 1000; 0: none, the per-sample statistics are still stored).

    The record's weights identity (``model.weights_id``) is the sha256 of the predictions
    (the file, or every file of the folder by relative path): two different prediction
    files never share a leaderboard row.
    """
    t0 = time.perf_counter()
    opts = {**(scorer_options or {}), **(metric_options or {})}
    proto = protocol or dataset_protocol(dataset, opts)
    source = _OnceGroundTruth(dataset)
    result = proto.evaluate_file(predictions, source)
    wall = time.perf_counter() - t0
    fp = getattr(dataset, "fingerprint", None)
    if callable(fp):
        fingerprint, n, gt = fp(), len(dataset), None
    else:
        gt = source.ground_truth()
        fingerprint, n = gt.fingerprint(), len(gt)
    model_info = {
        "name": name or Path(predictions).stem,
        "task": dataset.task.value,
        "label_space": dataset.label_space.name,
        "params": None,
        "weights": {"predictions": str(Path(predictions).resolve())},
        "weights_id": _predictions_sha256(Path(predictions)),
    }
    record = build_record(
        model_info, dataset, gt, result,
        timings={"wall_s": wall, "throughput_img_s": None, "source": "bench eval"},
        device="none", config={"predictions": str(predictions), "protocol": proto.name},
        n=n, seed=0, command=command if command is not None else list(sys.argv),
        protocol=proto, fingerprint=fingerprint,
        subset=_subset(dataset, source), dropped=dropped_count(dataset), tag=tag,
    )  # fmt: skip
    if result.evaluator is not None:
        attach_intervals(record, result.evaluator, root=results, B=bootstrap)
        attach_analysis(record, result, proto)
    path = write_record(record, results, arrays=result.arrays)
    return record, path


def _predictions_sha256(p: Path) -> str:
    """sha256 of a predictions file, or of a folder's files (relative path + content)."""
    import hashlib

    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _subset(dataset: Any, source: Any) -> str | None:
    """Every sample is scored; only samples / annotations dropped by ``--lenient`` make
    the evaluated set a subset of the split."""
    if not dropped_count(dataset):
        return None
    from visionbench.records import subset_fingerprint

    return subset_fingerprint(list(source.ground_truth().sample_ids))


class _OnceGroundTruth:
    """The dataset, with ``ground_truth()`` built at most once."""

    def __init__(self, dataset: Any) -> None:
        self._dataset = dataset
        self._gt: Any = None

    def ground_truth(self) -> Any:
        if self._gt is None:
            self._gt = self._dataset.ground_truth()
        return self._gt

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dataset, name)

    def __len__(self) -> int:
        return len(self._dataset)
