"""Which torch device a run uses, refused with one line when this machine lacks it."""

from __future__ import annotations

import torch

from visionbench.errors import RunError

__all__ = ["select_device"]


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
