"""A run: model + dataset -> predictions -> metrics -> a run record.

``check model, dataset, task and label space -> work directory (prediction cache, logs)
-> resume: re-score cached predictions -> the loop (DataLoader workers decode and
preprocess; forward -> postprocess -> metric update + prediction cache) -> merge the
ranks' metric states -> compute -> the run record``.

Each step lives in a file named for it: :mod:`~visionbench.engine.devices`,
:mod:`~visionbench.engine.label_mapping`, :mod:`~visionbench.engine.workdir`,
:mod:`~visionbench.engine.data` (the DataLoader), :mod:`~visionbench.engine.loop`,
:mod:`~visionbench.engine.timing`, :mod:`~visionbench.engine.progress`,
:mod:`~visionbench.engine.record_assembly`; the record's schema and writing are the
contract :mod:`visionbench.records`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionbench.engine.analysis import attach_analysis
from visionbench.engine.cache import PredictionCache
from visionbench.engine.data import EvalItems, make_loader
from visionbench.engine.devices import select_device
from visionbench.engine.distributed import (
    DistInfo,
    barrier,
    broadcast_from_rank0,
    contiguous_shard,
    dist_info,
    gather_to_rank0,
)
from visionbench.engine.intervals import attach_intervals
from visionbench.engine.label_mapping import check_compatible
from visionbench.engine.loop import LoopOutcome, LoopSettings, predict_batches
from visionbench.engine.progress import LoopProgress
from visionbench.engine.record_assembly import build_record, mark_skipped, subset_of
from visionbench.engine.timing import merge_timings
from visionbench.engine.workdir import WorkDir
from visionbench.errors import ContractError, RunError, RunInterrupted
from visionbench.protocols import Protocol, dataset_protocol
from visionbench.records import RunRecord, write_record
from visionbench.registry import check_protocol
from visionbench.tasks import Dataset, GroundTruth, Model

__all__ = ["RunOptions", "run"]


@dataclass
class RunOptions:
    """Options of a run (all keyword-only on the CLI).

    Attributes:
        batch_size: samples per forward pass (halved automatically on CUDA out-of-memory).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        workers: DataLoader workers (None: min(4, cpu count)).
        limit: score only the first N samples.
        results: results directory (default ``~/.cache/visionbench/results``).
        resume: continue a killed run of the same configuration from its cache.
        fresh: discard a previous run's cache of the same configuration.
        amp: autocast to fp16/bf16 on CUDA.
        channels_last: NHWC memory format.
        warmup: batches excluded from timings.
        flush_every: batches between prediction-cache flushes.
        seed: torch / numpy seed recorded in the run record.
        progress: show progress: a bar on a terminal; without one (SLURM, CI logs) a line
            every ``progress_every_s`` seconds and at the end, on stderr. The run log gets
            those lines either way.
        progress_every_s: seconds between progress lines without a terminal.
        tag: a label of the run (e.g. a checkpoint name); runs with different tags never
            share a leaderboard row.
        bootstrap: replicates of the confidence intervals (None: ``VISIONBENCH_BOOTSTRAP_B``
            or 1000; 0: none, the per-sample statistics are still stored).
        command: the command line recorded in the run record.
        metric_options: options of the dataset's protocol (``-M KEY=VALUE``; e.g.
            ``topk``, ``iou_type``, ``mode``), validated by the protocol.
        scorer_options: the former name of ``metric_options`` (merged into it).
        sg_mode: alias of the scene-graph protocol option ``mode``: ``predcls`` (the model
            gets ground-truth boxes and labels), ``sgcls`` (ground-truth boxes), ``sgdet``
            (nothing but pixels). None: the protocol's default.
    """

    batch_size: int = 32
    device: str = "auto"
    workers: int | None = None
    limit: int | None = None
    results: str | Path | None = None
    resume: bool = False
    fresh: bool = False
    amp: bool = False
    channels_last: bool = False
    warmup: int = 1
    flush_every: int = 4
    seed: int = 0
    progress: bool = True
    progress_every_s: float = 30.0
    tag: str | None = None
    bootstrap: int | None = None
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    metric_options: dict[str, Any] = field(default_factory=dict)
    scorer_options: dict[str, Any] = field(default_factory=dict)
    sg_mode: str | None = None
    #: skip samples whose data is bad (an image not the size its annotation says, an
    #: unreadable image) instead of stopping; they are counted and listed in the record
    lenient: bool = False
    on_batch: Callable[[int], None] | None = None  # test hook: called after each flushed batch


def run(
    model: Model, dataset: Dataset, options: RunOptions | None = None
) -> tuple[RunRecord, Path | None]:
    """Score ``model`` on ``dataset``; return the run record and its path (None off rank 0)."""
    opt = options or RunOptions()
    check_protocol(model, Model, what="the model given to run()", error=ContractError)
    check_protocol(dataset, Dataset, what="the dataset given to run()", error=ContractError)
    protocol = _protocol(dataset, opt)
    mapping = check_compatible(model, dataset)
    device = select_device(opt.device)
    info = dist_info(device_type=device.type)
    if opt.device == "auto" and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    torch.manual_seed(opt.seed)
    np.random.seed(opt.seed)

    gt = dataset.ground_truth()
    n_total = len(gt) if opt.limit is None else min(len(gt), opt.limit)
    mine = contiguous_shard(n_total, info.rank, info.world_size)
    config = _config(model, dataset, opt, n_total, protocol)
    work = WorkDir.of(config, opt.results)
    if info.is_main:
        work.prepare(config, resume=opt.resume, fresh=opt.fresh)
    barrier(info)
    log = work.open_log(info.rank)
    log.info(
        "start model=%s dataset=%s split=%s samples=%d rank=%d/%d device=%s resume=%s",
        model.name, dataset.name, dataset.split, n_total, info.rank, info.world_size, device,
        opt.resume,
    )  # fmt: skip

    cache = PredictionCache(work.predictions, model.task, rank=info.rank)
    scorer = protocol.scorer()
    # a split without ground truth (COCO test-dev: image info only): predict, write the
    # submission file, and a record that says so instead of NaN metrics
    scoring = bool(getattr(dataset, "has_annotations", True))
    done = (
        _rescore_cached(cache, scorer if scoring else None, gt, mine, log) if opt.resume else set()
    )
    todo = [i for i in mine if gt.sample_ids[i] not in done]
    subset, dropped = subset_of(dataset, gt, n_total)

    model.to(device, channels_last=opt.channels_last)
    workers = opt.workers if opt.workers is not None else min(4, torch.get_num_threads())
    loader = make_loader(
        EvalItems(
            dataset, todo, model.preprocess, gt_objects=protocol.model_inputs().get("gt_objects")
        ),
        batch_size=opt.batch_size,
        workers=workers if todo else 0,
        pin_memory=device.type == "cuda",
    )
    label = f"{model.name} on {dataset.name}"
    progress = LoopProgress(len(todo), label, log, show=opt.progress and info.is_main,
                            every_s=opt.progress_every_s)  # fmt: skip
    outcome = predict_batches(
        model, loader, device=device, settings=_loop_settings(opt), cache=cache,
        scorer=scorer if scoring else None, mapping=mapping, progress=progress, log=log,
        already_done=len(done),
    )  # fmt: skip
    log.info("predicted %d samples in %d batches, %.2f s", len(todo), outcome.batches, outcome.wall)

    try:
        record, path = _finish(model, dataset, gt, protocol, scorer, scoring, cache, work,
                               outcome, info=info, device=device, config=config, opt=opt,
                               n_total=n_total, subset=subset, dropped=dropped, log=log)  # fmt: skip
    except RunInterrupted:
        raise
    except KeyboardInterrupt:  # Ctrl-C while scoring / writing: every prediction is saved
        raise RunInterrupted(len(done) + outcome.predicted, str(cache.dir)) from None
    return broadcast_from_rank0(record, info), path


# ---------------------------------------------------------------------------------------
# the steps


def _protocol(dataset: Dataset, opt: RunOptions) -> Protocol:
    """The dataset's protocol with the run's metric options (``sg_mode`` is an alias of
    the option ``mode``)."""
    options = {**opt.scorer_options, **opt.metric_options}
    if opt.sg_mode is not None:
        if opt.sg_mode not in ("predcls", "sgcls", "sgdet"):
            raise RunError(f"sg_mode must be predcls, sgcls or sgdet, got {opt.sg_mode!r}")
        options.setdefault("mode", opt.sg_mode)
    return dataset_protocol(dataset, options)


def _config(
    model: Model, dataset: Dataset, opt: RunOptions, n: int, protocol: Protocol
) -> dict[str, Any]:
    """The run's configuration: what its work directory's key hashes."""
    d = model.describe()
    return {
        "model": d.get("name"),
        "weights": d.get("weights"),
        "preprocess": d.get("preprocess"),
        "dataset": dataset.name,
        "split": dataset.split,
        "root": str(dataset.root),
        "num_samples": n,
        "amp": opt.amp,
        "protocol": protocol.name,
        "metric_options": protocol.record_entry()["options"],
    }


def _rescore_cached(
    cache: PredictionCache, scorer: Any | None, gt: GroundTruth, mine: range, log: Any
) -> set[Any]:
    """``--resume``: score this rank's cached predictions again (``scorer`` None: a split
    without ground truth, whose cached predictions are made again); their sample ids."""
    target_of = dict(zip(gt.sample_ids, gt.targets))
    mine_ids = {gt.sample_ids[i] for i in mine}
    cached = [p for p in cache.load_all() if p.sample_id in mine_ids]
    done: set[Any] = set()
    if cached and scorer is not None:
        scorer.update(cached, [target_of[p.sample_id] for p in cached])
        done = {p.sample_id for p in cached}
    log.info("resume: %d cached predictions re-scored", len(done))
    return done


def _loop_settings(opt: RunOptions) -> LoopSettings:
    return LoopSettings(amp=opt.amp, channels_last=opt.channels_last, warmup=opt.warmup,
                        flush_every=opt.flush_every, lenient=opt.lenient, on_batch=opt.on_batch)  # fmt: skip


def _finish(
    model: Model,
    dataset: Dataset,
    gt: GroundTruth,
    protocol: Protocol,
    scorer: Any,
    scoring: bool,
    cache: PredictionCache,
    work: WorkDir,
    outcome: LoopOutcome,
    *,
    info: DistInfo,
    device: torch.device,
    config: dict[str, Any],
    opt: RunOptions,
    n_total: int,
    subset: str | None,
    dropped: int,
    log: Any,
) -> tuple[RunRecord | None, Path | None]:
    """Gather the ranks' metric states, timings and skips; on rank 0 merge, compute and
    write the run record (or, without ground truth, the submission file)."""
    states = gather_to_rank0(scorer.state_dict(), info)
    all_timings = gather_to_rank0(outcome.timings.as_dict(outcome.wall), info)
    all_skipped = gather_to_rank0(outcome.skipped, info)
    if not info.is_main:
        return None, None
    assert states is not None and all_timings is not None
    result = None
    if scoring:
        for s in states[1:]:
            other = protocol.scorer()
            other.load_state_dict(s)
            scorer.merge(other)
        result = scorer.compute()
    describe = model.describe()
    describe.setdefault("weights_id", model.weights_id())
    record = build_record(
        describe, dataset, gt, result,
        timings=merge_timings(all_timings) | {"world_size": info.world_size, "batch_size": opt.batch_size},
        device=str(device), config=config, n=n_total, seed=opt.seed, command=opt.command,
        protocol=protocol, total=len(gt), subset=subset, dropped=dropped, tag=opt.tag,
    )  # fmt: skip
    record["config"]["log_dir"] = str(work.path)
    mark_skipped(record, [f for part in all_skipped or [] for f in part])
    if result is None:
        record["submission"] = str(_write_submission(protocol, cache, work.path))
    else:
        attach_intervals(record, scorer.evaluator, root=opt.results, B=opt.bootstrap)
        attach_analysis(record, result, protocol, evaluator=scorer.evaluator)
    path = write_record(record, opt.results, arrays=None if result is None else result.arrays)
    log.info("record %s", path)
    work.mark_complete(record["run_id"])
    return record, path


def _write_submission(protocol: Protocol, cache: PredictionCache, workdir: Path) -> Path:
    """The official submission file of a split without ground truth, beside the cache."""
    fmt = protocol.export_formats[0]
    suffix = ".json" if fmt.endswith("json") else ".csv" if fmt.endswith("csv") else ""
    return protocol.write_predictions(cache.load_all(), workdir / f"submission{suffix}", format=fmt)
