"""A run: model + dataset -> predictions -> metrics -> a run record.

``resolve -> check task and label space -> DataLoader (workers decode + preprocess) -> for
each batch not in the prediction cache: forward -> postprocess -> cache (Parquet shards,
flushed atomically) + metric update -> merge (ranks) -> compute -> record``.

Timing is split into data wait, preprocess (measured in the workers), forward,
postprocess and metric; the first ``warmup`` batches are excluded, and CUDA is
synchronised around the forward pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionbench.engine.cache import PredictionCache
from visionbench.engine.data import EvalItems, make_loader
from visionbench.engine.distributed import (
    barrier,
    broadcast_from_rank0,
    contiguous_shard,
    dist_info,
    gather_to_rank0,
)
from visionbench.engine.intervals import attach_intervals
from visionbench.engine.record_assembly import build_record
from visionbench.errors import ContractError, LabelSpaceError, RunError, RunInterrupted
from visionbench.label_spaces import LabelMap, label_map
from visionbench.paths import work_dir
from visionbench.protocols import Protocol, dataset_protocol
from visionbench.records import RunRecord, subset_fingerprint, write_record
from visionbench.registry import check_protocol
from visionbench.tasks import Batch, Dataset, Model
from visionbench.types import DetectionPrediction, SegmentationPrediction, Task

__all__ = ["RunOptions", "run", "select_device", "build_record"]


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
    command: list[str] = field(default_factory=lambda: list(sys.argv))
    metric_options: dict[str, Any] = field(default_factory=dict)
    scorer_options: dict[str, Any] = field(default_factory=dict)
    sg_mode: str | None = None
    #: skip samples whose data is bad (an image not the size its annotation says, an
    #: unreadable image) instead of stopping; they are counted and listed in the record
    lenient: bool = False
    on_batch: Callable[[int], None] | None = None  # test hook: called after each flushed batch


def select_device(spec: str = "auto", *, local_rank: int = 0) -> torch.device:
    """The torch device for ``spec``; a device this machine lacks is a :class:`RunError`."""
    if spec != "auto":
        return _checked_device(spec)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked_device(spec: str) -> torch.device:
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise RunError(
            f"--device {spec!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RunError(
                f"--device {spec}: no CUDA GPU is available on this machine (torch "
                f"{torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); use --device cpu"
            )
        n = torch.cuda.device_count()
        if device.index is not None and device.index >= n:
            raise RunError(f"--device {spec}: this machine has {n} CUDA device(s), 0..{n - 1}")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise RunError(
                f"--device {spec}: MPS is not available on this machine; use --device cpu"
            )
    return device


def run(
    model: Model, dataset: Dataset, options: RunOptions | None = None
) -> tuple[RunRecord, Path | None]:
    """Score ``model`` on ``dataset``; return the run record and its path (None off rank 0)."""
    opt = options or RunOptions()
    check_protocol(model, Model, what="the model given to run()", error=ContractError)
    check_protocol(dataset, Dataset, what="the dataset given to run()", error=ContractError)
    protocol = _protocol(dataset, opt)
    mapping = _check_compatible(model, dataset)
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
    key = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
    workdir = work_dir(opt.results) / key
    pred_dir = workdir / "predictions"
    if info.is_main:
        _prepare_workdir(workdir, pred_dir, config, opt)
    barrier(info)

    log = _open_log(workdir / f"run-r{info.rank}.log")
    log.info(
        "start model=%s dataset=%s split=%s samples=%d rank=%d/%d device=%s resume=%s",
        model.name,
        dataset.name,
        dataset.split,
        n_total,
        info.rank,
        info.world_size,
        device,
        opt.resume,
    )
    cache = PredictionCache(pred_dir, model.task, rank=info.rank)
    gt_objects = protocol.model_inputs().get("gt_objects")
    scorer = protocol.scorer()
    # a split without ground truth (COCO test-dev: image info only): predict, write the
    # submission file, and a record that says so instead of NaN metrics
    scoring = bool(getattr(dataset, "has_annotations", True))
    target_of = dict(zip(gt.sample_ids, gt.targets))
    mine_ids = {gt.sample_ids[i] for i in mine}
    done: set[Any] = set()
    if opt.resume:
        cached = [p for p in cache.load_all() if p.sample_id in mine_ids]
        if cached and scoring:
            scorer.update(cached, [target_of[p.sample_id] for p in cached])
            done = {p.sample_id for p in cached}
        log.info("resume: %d cached predictions re-scored", len(done))
    todo = [i for i in mine if gt.sample_ids[i] not in done]
    subset, dropped = _subset_of(dataset, gt, n_total)

    model_device = _place_model(model, device, opt)
    timings = _Timings(warmup=opt.warmup)
    workers = opt.workers if opt.workers is not None else min(4, torch.get_num_threads())
    loader = make_loader(
        EvalItems(dataset, todo, model.preprocess, gt_objects=gt_objects),
        batch_size=opt.batch_size,
        workers=workers if todo else 0,
        pin_memory=device.type == "cuda",
    )
    progress = _progress(
        opt.progress and info.is_main and sys.stderr.isatty(),
        len(todo),
        f"{model.name} on {dataset.name}",
    )
    lines = _ProgressLines(
        len(todo), f"{model.name} on {dataset.name}", log,
        stderr=opt.progress and info.is_main and not sys.stderr.isatty(),
        every_s=opt.progress_every_s,
    )  # fmt: skip
    t_start = time.perf_counter()
    t_wait = time.perf_counter()
    n_batches = 0
    n_predicted = 0
    skipped: list[dict[str, Any]] = []
    with progress as bar:
        task_id = bar.add_task("predict", total=len(todo)) if bar else None
        try:
            for images, metas, targets, failed in loader:
                t_got = time.perf_counter()
                n_skip = 0
                if failed and opt.lenient and all(f.get("skippable") for f in failed):
                    _skip_failed(failed, skipped, log)
                    n_skip, failed = len(failed), []
                if not metas:
                    if failed:
                        _stop_on_failed(failed, cache, pred_dir, log)
                    if bar:
                        bar.update(task_id, advance=n_skip)
                    lines.advance(n_skip)
                    t_wait = time.perf_counter()
                    continue
                preds, t_fwd, t_post = _predict(model, images, metas, model_device, opt)
                if mapping is not None:
                    preds = [_map_labels(p, mapping) for p in preds]
                t_m0 = time.perf_counter()
                if scoring:
                    scorer.update(list(preds), targets)
                cache.add(list(preds))
                n_predicted += len(preds)
                n_batches += 1
                if n_batches % opt.flush_every == 0:
                    cache.flush()
                    if opt.on_batch:
                        opt.on_batch(n_batches)
                t_metric = time.perf_counter() - t_m0
                timings.add(
                    len(metas),
                    t_got - t_wait,
                    sum(m["t_preprocess"] for m in metas),
                    t_fwd,
                    t_post,
                    t_metric,
                )
                if bar:
                    bar.update(task_id, advance=len(metas) + n_skip)
                lines.advance(len(metas) + n_skip)
                if failed:
                    _stop_on_failed(failed, cache, pred_dir, log)
                t_wait = time.perf_counter()
        except KeyboardInterrupt:  # Ctrl-C: keep what was computed, say where
            cache.flush()
            raise RunInterrupted(len(done) + n_predicted, str(pred_dir)) from None
        except BaseException:  # a bad sample, a model error: keep what was computed
            cache.flush()
            raise
    cache.flush()
    wall = time.perf_counter() - t_start
    lines.finish()
    log.info("predicted %d samples in %d batches, %.2f s", len(todo), n_batches, wall)

    states = gather_to_rank0(scorer.state_dict(), info)
    all_timings = gather_to_rank0(timings.as_dict(wall), info)
    all_skipped = gather_to_rank0(skipped, info)
    record: RunRecord | None = None
    path: Path | None = None
    if info.is_main:
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
            timings=_merge_timings(all_timings) | {"world_size": info.world_size, "batch_size": opt.batch_size},
            device=str(device), config=config, n=n_total, seed=opt.seed, command=opt.command,
            protocol=protocol, total=len(gt), subset=subset, dropped=dropped, tag=opt.tag,
        )  # fmt: skip
        record["config"]["log_dir"] = str(workdir)
        _mark_skipped(record, [f for part in all_skipped or [] for f in part])
        if result is None:
            record["submission"] = str(_write_submission(protocol, cache, workdir))
        else:
            attach_intervals(record, scorer.evaluator, root=opt.results)
        path = write_record(record, opt.results, arrays=None if result is None else result.arrays)
        log.info("record %s", path)
        _mark_complete(workdir, record["run_id"])
    record = broadcast_from_rank0(record, info)
    return record, path


# ---------------------------------------------------------------------------------------
# helpers


def _skip_failed(
    failed: list[dict[str, Any]], skipped: list[dict[str, Any]], log: logging.Logger
) -> None:
    """``--lenient``: leave out samples whose data is bad, with a warning each."""
    import warnings

    for f in failed:
        log.warning("sample %r skipped (--lenient): %s", f["sample_id"], f["error"])
        warnings.warn(f"sample {f['sample_id']!r} skipped (--lenient): {f['error']}", stacklevel=2)
        skipped.append({"sample_id": f["sample_id"], "error": f["error"]})


def _mark_skipped(record: RunRecord, skipped: list[dict[str, Any]]) -> None:
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


def _subset_of(dataset: Dataset, gt: Any, n: int) -> tuple[str | None, int]:
    """``(subset, dropped)``: the fingerprint of the evaluated sample ids when they are not
    the whole split (``--limit``, or samples / annotations dropped by ``--lenient``), else
    None; and how many problems the loader dropped."""
    dropped = sum(
        "dropped" in str(getattr(p, "message", "")) for p in getattr(dataset, "problems", [])
    )
    if n < len(gt) or dropped:
        return subset_fingerprint(list(gt.sample_ids[:n])), dropped
    return None, dropped


class _ProgressLines:
    """Progress as plain lines for batch jobs: every ``every_s`` seconds and at the end,
    ``<label>: done/total samples (pct), img/s, ETA``, on stderr (when ``stderr``) and in
    the run log (always)."""

    def __init__(
        self, total: int, label: str, log: logging.Logger, *, stderr: bool, every_s: float
    ) -> None:
        self.total, self.label, self.log, self.stderr, self.every_s = (
            total, label, log, stderr, every_s,
        )  # fmt: skip
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            self._emit(now)

    def finish(self) -> None:
        self._emit(time.perf_counter(), final=True)

    def _emit(self, now: float, *, final: bool = False) -> None:
        el = now - self.t0
        rate = self.done / el if el > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        if final:
            tail = f"done in {_hms(el)}"
        else:
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            tail = f"ETA {_hms(eta)}"
        line = (
            f"{self.label}: {self.done:,}/{self.total:,} samples ({pct:.0f}%), "
            f"{rate:,.1f} img/s, {tail}"
        )
        self.log.info("progress %s", line)
        if self.stderr:
            print(line, file=sys.stderr, flush=True)


def _hms(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _stop_on_failed(
    failed: list[dict[str, Any]], cache: PredictionCache, pred_dir: Path, log: logging.Logger
) -> None:
    """Save every prediction made so far, then stop with one clear error naming the sample."""
    cache.flush()
    f = failed[0]
    log.error("sample %r could not be loaded: %s", f["sample_id"], f["error"])
    more = f" (and {len(failed) - 1} more in the same batch)" if len(failed) > 1 else ""
    raise RunError(
        f"sample {f['sample_id']!r} could not be loaded: {f['error']}{more}. The predictions "
        f"made so far are saved in {pred_dir}; fix the data (`bench data verify` lists every "
        "problem) and rerun with --resume"
    )


def _open_log(path: Path) -> logging.Logger:
    """A per-run log file (appended to on resume)."""
    logger = logging.getLogger(f"visionbench.run.{path.parent.name}.{path.stem}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(
        isinstance(h, logging.FileHandler) and h.baseFilename == str(path.resolve())
        for h in logger.handlers
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def _check_compatible(model: Model, dataset: Dataset) -> LabelMap | None:
    """Same task, and the same label space or an explicit map (never a guessed one)."""
    if model.task != dataset.task:
        raise RunError(
            f"model {model.name!r} is for {model.task.value} but dataset {dataset.name!r} is "
            f"{dataset.task.value}"
        )
    if model.label_space.name == dataset.label_space.name:
        return None
    mappable = model.task in (Task.DETECTION, Task.SEMANTIC_SEGMENTATION)
    try:
        mapping = label_map(model.label_space.name, dataset.label_space.name) if mappable else None
    except LabelSpaceError:
        mapping = None
    if mapping is None:
        raise LabelSpaceError(
            f"model {model.name!r} predicts label space {model.label_space.name!r} but dataset "
            f"{dataset.name!r} is labelled in {dataset.label_space.name!r}; no mapping is guessed "
            "(an explicit map between the two spaces is needed)"
        )
    return mapping


def _map_labels(pred: Any, mapping: LabelMap) -> Any:
    """Map a detection's labels or a segmentation mask through an explicit label map."""
    if isinstance(pred, SegmentationPrediction):
        return replace(
            pred,
            mask=mapping.apply(pred.mask).astype(
                np.int32 if pred.mask.max(initial=0) > 255 else np.uint8
            ),
        )
    if isinstance(pred, DetectionPrediction):
        return replace(pred, labels=mapping.apply(pred.labels))
    return pred


def _write_submission(protocol: Protocol, cache: PredictionCache, workdir: Path) -> Path:
    """The official submission file of a split without ground truth, beside the cache."""
    fmt = protocol.export_formats[0]
    suffix = ".json" if fmt.endswith("json") else ".csv" if fmt.endswith("csv") else ""
    return protocol.write_predictions(cache.load_all(), workdir / f"submission{suffix}", format=fmt)


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


def _prepare_workdir(
    workdir: Path, pred_dir: Path, config: dict[str, Any], opt: RunOptions
) -> None:
    has_preds = pred_dir.is_dir() and any(pred_dir.glob("*.parquet"))
    complete = (workdir / "complete.json").exists()
    if has_preds and not opt.resume and not complete:
        if not opt.fresh:
            raise RunError(
                f"a previous run of this configuration left predictions in {pred_dir}; "
                "pass --resume to continue it or --fresh to discard them"
            )
    if has_preds and (opt.fresh or (complete and not opt.resume)):
        shutil.rmtree(pred_dir)
        (workdir / "complete.json").unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(json.dumps(config, indent=1, default=str))


def _mark_complete(workdir: Path, run_id: str) -> None:
    (workdir / "complete.json").write_text(json.dumps({"run_id": run_id}))


def _place_model(model: Model, device: torch.device, opt: RunOptions) -> torch.device:
    model.to(device, channels_last=opt.channels_last)
    return device


def _predict(
    model: Model, images: Any, metas: list[dict[str, Any]], device: torch.device, opt: RunOptions
) -> tuple[list[Any], float, float]:
    """Forward + postprocess, halving the batch on CUDA out-of-memory."""
    try:
        return _predict_once(model, images, metas, device, opt)
    except torch.cuda.OutOfMemoryError:
        if len(metas) == 1:
            raise RunError(
                f"out of GPU memory at batch size 1 on sample {metas[0]['sample_id']!r}"
            ) from None
        torch.cuda.empty_cache()
        h = len(metas) // 2
        a = _predict(model, images[:h], metas[:h], device, opt)
        b = _predict(model, images[h:], metas[h:], device, opt)
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _predict_once(
    model: Model, images: Any, metas: list[dict[str, Any]], device: torch.device, opt: RunOptions
) -> tuple[list[Any], float, float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    autocast = torch.autocast(device.type, enabled=opt.amp and device.type == "cuda")
    if isinstance(images, list):  # different sizes: one at a time
        out: list[Any] = []
        tf = tp = 0.0
        for x, m in zip(images, metas):
            p, a, b = _predict_once(model, x.unsqueeze(0), [m], device, opt)
            out += p
            tf += a
            tp += b
        return out, tf, tp
    x = images.to(device, non_blocking=True)
    if opt.channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    batch = Batch(x, metas)
    with torch.inference_mode(), autocast:
        sync()
        t0 = time.perf_counter()
        outputs = model.forward(x)
        sync()
        t1 = time.perf_counter()
        preds = list(model.postprocess(outputs, batch))
    t2 = time.perf_counter()
    if len(preds) != len(metas):
        raise RunError(
            f"model {model.name!r} returned {len(preds)} predictions for {len(metas)} samples"
        )
    return preds, t1 - t0, t2 - t1


class _Timings:
    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.rows: list[tuple[int, float, float, float, float, float]] = []

    def add(self, n: int, wait: float, pre: float, fwd: float, post: float, metric: float) -> None:
        self.rows.append((n, wait, pre, fwd, post, metric))

    def as_dict(self, wall: float) -> dict[str, Any]:
        """Timings of the loop. ``end_to_end_img_s``: samples / wall time of the whole
        loop (data loading included, every batch); ``throughput_img_s``: steady-state
        model throughput (samples / (data wait + forward + postprocess + metric) over the
        batches after the warm-up; None when every batch was warm-up)."""
        n_all = sum(r[0] for r in self.rows)
        rows = self.rows[self.warmup :] if len(self.rows) > self.warmup else []
        n = sum(r[0] for r in rows)
        tot = [sum(r[i] for r in rows) for i in range(1, 6)]
        steady = tot[0] + tot[2] + tot[3] + tot[4]
        return {
            "wall_s": wall,
            "samples": n_all,
            "end_to_end_img_s": (n_all / wall) if wall > 0 and n_all else None,
            "batches": len(self.rows),
            "warmup_batches": min(self.warmup, len(self.rows)),
            "timed_samples": n,
            "data_wait_s": tot[0],
            "preprocess_s_worker": tot[1],
            "forward_s": tot[2],
            "postprocess_s": tot[3],
            "metric_s": tot[4],
            "throughput_img_s": (n / steady) if steady > 0 else None,
            "forward_ms_per_img": (1000 * tot[2] / n) if n else None,
        }


def _merge_timings(per_rank: list[dict[str, Any]]) -> dict[str, Any]:
    if len(per_rank) == 1:
        return per_rank[0]
    out: dict[str, Any] = {"per_rank": per_rank, "wall_s": max(t["wall_s"] for t in per_rank)}
    out["samples"] = sum(t.get("samples") or 0 for t in per_rank)
    out["end_to_end_img_s"] = out["samples"] / out["wall_s"] if out["wall_s"] > 0 else None
    tp = [t["throughput_img_s"] for t in per_rank if t["throughput_img_s"]]
    out["throughput_img_s"] = sum(tp) if tp else None
    return out


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None


def _progress(show: bool, total: int, label: str) -> Any:
    if not show:
        return _NoBar()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} img/s" if task.speed else "- img/s")

    return Progress(
        # the label holds user strings: text, not markup, and no str.format fields
        TextColumn(label.replace("{", "{{").replace("}", "}}"), style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        _Speed(),
        TimeRemainingColumn(),
    )
