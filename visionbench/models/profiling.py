"""Model cost: parameters, FLOPs, latency, throughput and peak memory.

Conventions (stated in every profile so numbers are never compared across conventions):

* ``gflops``: ``torch.utils.flop_counter.FlopCounterMode`` at batch 1, which counts
  2 FLOPs per multiply-add of convolutions, matmuls and linear layers (elementwise ops,
  normalisation and activations are not counted); ``gmacs = gflops / 2`` is the
  multiply-add count that torchvision's ``_ops`` ("GFLOPS") and most papers' "MAdds" report.
  Darknet's "BFLOPs" count 2 per multiply-add, like ``gflops``.
* ``latency_ms``: median wall time of one forward pass at batch 1, after ``warmup`` passes,
  with device synchronisation around each timed pass (CUDA); also p90 and mean.
* ``throughput_ips``: images per second at ``batch_size`` (batch / median time per batch).
* ``peak_memory_mb``: CUDA ``max_memory_allocated`` during the batch-N passes (reset
  before), or on CPU the process's peak resident set size (``ru_maxrss``; process-wide and
  never reset, so an upper bound).
"""

from __future__ import annotations

import platform
import resource
import statistics
import sys
import time
from typing import Any

import torch

from visionbench.models.adapter import ModelAdapter

__all__ = ["profile_model", "count_flops", "default_input_size"]


def default_input_size(adapter: ModelAdapter) -> tuple[int, int]:
    """(h, w) the adapter's preprocessing produces (224 when it keeps the image size)."""
    p = adapter.preprocess_config
    if p.mode == "resize_crop":
        return p.crop, p.crop
    if p.mode in ("letterbox", "resize"):
        return (p.size, p.size) if isinstance(p.size, int) else tuple(p.size)  # type: ignore[return-value]
    return 224, 224


def count_flops(module: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add) of ``module(x)`` with ``FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        try:
            with torch.no_grad():
                module(x)
        except AssertionError:
            # module_tracker cannot hook views of parameters made under no_grad; count with
            # autograd on (same FLOPs, forward only)
            module(x)
    return int(counter.get_total_flops())


def profile_model(
    adapter: ModelAdapter,
    *,
    batch_size: int = 8,
    input_size: int | tuple[int, int] | None = None,
    device: str | torch.device = "cpu",
    warmup: int = 3,
    iters: int = 10,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Profile ``adapter.forward`` on random inputs.

    Args:
        adapter: the model (moved to ``device``).
        batch_size: batch of the throughput measurement (latency is always batch 1).
        input_size: (h, w) or a square size; default :func:`default_input_size`.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        warmup: untimed passes before each measurement.
        iters: timed passes per measurement (median reported).
        channels_last: run in channels-last memory format.

    Returns:
        A JSON-able dict: ``model``, ``params``, ``gflops``, ``gmacs``, ``input_size``,
        ``batch_size``, ``latency_ms`` (median), ``latency_ms_p90``, ``latency_ms_mean``,
        ``throughput_ips``, ``peak_memory_mb``, ``memory_kind``, ``device``, ``device_name``,
        ``warmup``, ``iters``, ``flops_convention``, ``torch``.
    """
    if iters < 1 or warmup < 0 or batch_size < 1:
        raise ValueError(
            f"need iters >= 1, warmup >= 0, batch_size >= 1; got {iters}, {warmup}, {batch_size}"
        )
    dev = torch.device(device)
    h, w = (
        (input_size, input_size)
        if isinstance(input_size, int)
        else (input_size or default_input_size(adapter))
    )
    adapter.to(dev, channels_last=channels_last)
    module = adapter.module.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def make(n: int) -> torch.Tensor:
        return torch.randn(n, 3, h, w, device=dev).contiguous(memory_format=fmt)

    flops = count_flops(module, make(1))
    lat = _time(adapter, make(1), dev, warmup, iters)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    thr = _time(adapter, make(batch_size), dev, warmup, iters)
    if dev.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(dev) / 2**20, "cuda_max_memory_allocated"
        device_name = torch.cuda.get_device_name(dev)
    else:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = (
            rss / 2**20 if sys.platform == "darwin" else rss / 1024
        )  # bytes on macOS, KiB on Linux
        kind, device_name = "cpu_peak_rss_process", platform.processor() or platform.machine()
    med_b = statistics.median(thr)
    return {
        "model": adapter.name,
        "params": adapter.num_params(),
        "gflops": flops / 1e9,
        "gmacs": flops / 2e9,
        "flops_convention": "torch.utils.flop_counter, 2 FLOPs per multiply-add, batch 1",
        "input_size": [h, w],
        "batch_size": batch_size,
        "latency_ms": statistics.median(lat) * 1e3,
        "latency_ms_p90": _quantile(lat, 0.9) * 1e3,
        "latency_ms_mean": statistics.fmean(lat) * 1e3,
        "throughput_ips": batch_size / med_b,
        "peak_memory_mb": peak,
        "memory_kind": kind,
        "device": str(dev),
        "device_name": device_name,
        "channels_last": channels_last,
        "warmup": warmup,
        "iters": iters,
        "torch": torch.__version__,
    }


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@torch.inference_mode()
def _time(
    adapter: ModelAdapter, x: torch.Tensor, dev: torch.device, warmup: int, iters: int
) -> list[float]:
    for _ in range(warmup):
        adapter.forward(x)
    _sync(dev)
    times = []
    for _ in range(iters):
        _sync(dev)
        t0 = time.perf_counter()
        adapter.forward(x)
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return times


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]
