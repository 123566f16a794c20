"""The loop of a run: for each batch from the DataLoader, forward then postprocess (timed
apart, CUDA synchronised, the batch halved on out-of-memory), map labels, update the
metric, append to the prediction cache (flushed every few batches), advance the progress.

A sample that cannot be loaded stops the loop with one clear error after saving every
prediction made so far; with ``lenient`` it is skipped, warned about and counted. Ctrl-C
saves too and raises :class:`~visionbench.errors.RunInterrupted`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from visionbench.engine.cache import PredictionCache
from visionbench.engine.label_mapping import map_labels
from visionbench.engine.progress import LoopProgress
from visionbench.engine.timing import LoopTimings
from visionbench.errors import RunError, RunInterrupted
from visionbench.label_spaces import LabelMap
from visionbench.tasks import Batch, Model

__all__ = ["LoopSettings", "LoopOutcome", "predict_batches"]


@dataclass(frozen=True)
class LoopSettings:
    """What the loop needs of the run's options."""

    amp: bool = False
    channels_last: bool = False
    warmup: int = 1
    flush_every: int = 4
    lenient: bool = False
    on_batch: Callable[[int], None] | None = None


@dataclass
class LoopOutcome:
    """What the loop did: its timings, wall time, batches, predictions and skipped samples."""

    timings: LoopTimings
    wall: float = 0.0
    batches: int = 0
    predicted: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)


def predict_batches(
    model: Model,
    loader: Iterable[Any],
    *,
    device: torch.device,
    settings: LoopSettings,
    cache: PredictionCache,
    scorer: Any | None,
    mapping: LabelMap | None,
    progress: LoopProgress,
    log: logging.Logger,
    already_done: int = 0,
) -> LoopOutcome:
    """Run the loop over ``loader``'s ``(images, metas, targets, failed)`` batches.

    Args:
        scorer: the protocol's scorer, updated with each batch; None for a split without
            ground truth (predictions are only cached).
        already_done: predictions re-scored from the cache on resume (for the interrupt
            message's count).
    """
    out = LoopOutcome(LoopTimings(warmup=settings.warmup))
    t_start = time.perf_counter()
    t_wait = time.perf_counter()
    with progress:
        try:
            for images, metas, targets, failed in loader:
                t_got = time.perf_counter()
                n_skip = 0
                if failed and settings.lenient and all(f.get("skippable") for f in failed):
                    _skip_failed(failed, out.skipped, log)
                    n_skip, failed = len(failed), []
                if not metas:
                    if failed:
                        _stop_on_failed(failed, cache, log)
                    progress.advance(n_skip)
                    t_wait = time.perf_counter()
                    continue
                preds, t_fwd, t_post = _predict(model, images, metas, device, settings)
                if mapping is not None:
                    preds = [map_labels(p, mapping) for p in preds]
                t_m0 = time.perf_counter()
                if scorer is not None:
                    scorer.update(list(preds), targets)
                cache.add(list(preds))
                out.predicted += len(preds)
                out.batches += 1
                if out.batches % settings.flush_every == 0:
                    cache.flush()
                    if settings.on_batch:
                        settings.on_batch(out.batches)
                t_metric = time.perf_counter() - t_m0
                out.timings.add(
                    len(metas),
                    t_got - t_wait,
                    sum(m["t_preprocess"] for m in metas),
                    t_fwd,
                    t_post,
                    t_metric,
                )
                progress.advance(len(metas) + n_skip)
                if failed:
                    _stop_on_failed(failed, cache, log)
                t_wait = time.perf_counter()
        except KeyboardInterrupt:  # Ctrl-C: keep what was computed, say where
            cache.flush()
            raise RunInterrupted(already_done + out.predicted, str(cache.dir)) from None
        except BaseException:  # a bad sample, a model error: keep what was computed
            cache.flush()
            raise
    cache.flush()
    out.wall = time.perf_counter() - t_start
    progress.finish()
    return out


# ---------------------------------------------------------------------------------------
# one batch through the model


def _predict(
    model: Model, images: Any, metas: list[dict[str, Any]], device: torch.device, s: LoopSettings
) -> tuple[list[Any], float, float]:
    """Forward + postprocess, halving the batch on CUDA out-of-memory."""
    try:
        return _predict_once(model, images, metas, device, s)
    except torch.cuda.OutOfMemoryError:
        if len(metas) == 1:
            raise RunError(
                f"out of GPU memory at batch size 1 on sample {metas[0]['sample_id']!r}"
            ) from None
        torch.cuda.empty_cache()
        h = len(metas) // 2
        a = _predict(model, images[:h], metas[:h], device, s)
        b = _predict(model, images[h:], metas[h:], device, s)
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _predict_once(
    model: Model, images: Any, metas: list[dict[str, Any]], device: torch.device, s: LoopSettings
) -> tuple[list[Any], float, float]:
    """``(predictions, forward seconds, postprocess seconds)`` of one batch."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    autocast = torch.autocast(device.type, enabled=s.amp and device.type == "cuda")
    if isinstance(images, list):  # different sizes: one at a time
        out: list[Any] = []
        tf = tp = 0.0
        for x, m in zip(images, metas):
            p, a, b = _predict_once(model, x.unsqueeze(0), [m], device, s)
            out += p
            tf += a
            tp += b
        return out, tf, tp
    x = images.to(device, non_blocking=True)
    if s.channels_last and x.ndim == 4:
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


# ---------------------------------------------------------------------------------------
# samples that could not be loaded


def _skip_failed(
    failed: list[dict[str, Any]], skipped: list[dict[str, Any]], log: logging.Logger
) -> None:
    """``lenient``: leave out samples whose data is bad, with a warning each."""
    for f in failed:
        log.warning("sample %r skipped (--lenient): %s", f["sample_id"], f["error"])
        warnings.warn(f"sample {f['sample_id']!r} skipped (--lenient): {f['error']}", stacklevel=2)
        skipped.append({"sample_id": f["sample_id"], "error": f["error"]})


def _stop_on_failed(
    failed: list[dict[str, Any]], cache: PredictionCache, log: logging.Logger
) -> None:
    """Save every prediction made so far, then stop with one clear error naming the sample."""
    cache.flush()
    f = failed[0]
    log.error("sample %r could not be loaded: %s", f["sample_id"], f["error"])
    more = f" (and {len(failed) - 1} more in the same batch)" if len(failed) > 1 else ""
    pred_dir: Path = cache.dir
    raise RunError(
        f"sample {f['sample_id']!r} could not be loaded: {f['error']}{more}. The predictions "
        f"made so far are saved in {pred_dir}; fix the data (`bench data verify` lists every "
        "problem) and rerun with --resume"
    )
