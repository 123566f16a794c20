"""Deterministic mini datasets in the official on-disk formats.

Six generators write small, learnable datasets laid out exactly like the real ones
(see ``REFERENCE.md``): class follows from shape and colour, relationships from geometry,
captions and region descriptions from templates that describe what is drawn.

Example::

    from visionbench import synth
    root = synth.ensure("imagenet-mini")      # cached under paths.synth_dir()
    synth.generate("coco-mini", "/tmp/coco")  # anywhere, seeded, byte-reproducible

A generation writes into a temporary directory beside its target and renames it into
place, so a killed generation leaves nothing half-made and two processes racing on the
cache agree on one copy.
"""

from __future__ import annotations

import difflib
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from visionbench import paths
from visionbench.errors import RegistryError, RunError

__all__ = ["SYNTH_NAMES", "SYNTH_VERSION", "generate", "ensure", "cached_path"]

#: Names of the synthetic datasets, in the order ``bench list`` shows them.
SYNTH_NAMES = (
    "coco-mini",
    "imagenet-mini",
    "cityscapes-mini",
    "vg-mini",
    "voc-mini",
    "ade20k-mini",
)

#: Bumped whenever any generator's output changes; part of the cache directory name.
SYNTH_VERSION = 1

_WRITERS = {
    "coco-mini": "visionbench.synth.coco:write_coco_mini",
    "imagenet-mini": "visionbench.synth.imagenet:write_imagenet_mini",
    "cityscapes-mini": "visionbench.synth.cityscapes:write_cityscapes_mini",
    "vg-mini": "visionbench.synth.visual_genome:write_vg_mini",
    "voc-mini": "visionbench.synth.voc:write_voc_mini",
    "ade20k-mini": "visionbench.synth.ade20k:write_ade20k_mini",
}


def generate(name: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write the synthetic dataset ``name`` into ``out_dir``.

    The output is a pure function of ``(name, seed)``: two calls write byte-identical files.

    Args:
        name: one of :data:`SYNTH_NAMES`.
        out_dir: the dataset root to create. It must not exist, or be an empty directory.
        seed: random seed.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        RegistryError: ``name`` is not a synthetic dataset.
        RunError: ``out_dir`` exists and is not an empty directory (nothing is overwritten).
    """
    writer = _writer(name)
    out = Path(out_dir).expanduser()
    if out.exists() and not _is_empty_dir(out):
        raise RunError(
            f"cannot write synthetic dataset {name!r} to {out}: it exists and is not an "
            "empty directory (remove it or choose another --out)"
        )
    if not _write_atomically(writer, out, seed):
        raise RunError(f"{out} was created by another process while {name!r} was being written")
    return out


def ensure(name: str) -> Path:
    """The cached copy of ``name`` (seed 0), generated on first use.

    Lives in :func:`cached_path` (``$VISIONBENCH_HOME/synth/<name>-v<SYNTH_VERSION>``). Safe when several processes
    call it at once: each writes a private temporary copy, the first rename wins, the
    others discard theirs and use the winner's.

    Raises:
        RegistryError: ``name`` is not a synthetic dataset.
    """
    writer = _writer(name)
    out = cached_path(name)
    if out.is_dir() and not _is_empty_dir(out):
        return out
    _remove_stale_temps(out)
    _write_atomically(writer, out, 0)
    return out


def cached_path(name: str) -> Path:
    """Where :func:`ensure` keeps ``name``: ``paths.synth_dir()/<name>-v<SYNTH_VERSION>``."""
    return paths.synth_dir() / f"{name}-v{SYNTH_VERSION}"


def _writer(name: str) -> Callable[[Path, int], None]:
    try:
        target = _WRITERS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), SYNTH_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RegistryError(
            f"unknown synthetic dataset {name!r}; {hint}available: {', '.join(SYNTH_NAMES)}"
        ) from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _remove_stale_temps(out: Path, max_age_s: float = 3600.0) -> None:
    """Remove temp dirs of ``out`` left by killed generations (older than ``max_age_s``)."""
    if not out.parent.is_dir():
        return
    now = time.time()
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass  # removed meanwhile by another process


def _write_atomically(writer: Callable[[Path, int], None], out: Path, seed: int) -> bool:
    """Write into a temp dir beside ``out`` and rename it to ``out``.

    Returns:
        True if our copy was renamed into place, False if ``out`` appeared (non-empty)
        meanwhile, in which case our copy is discarded.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        writer(tmp, seed)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
        try:
            os.rename(tmp, out)  # atomic; succeeds onto a missing or empty directory
        except OSError:
            if out.is_dir() and not _is_empty_dir(out):
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
