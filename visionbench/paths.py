"""Every directory visionbench reads or writes by default, in one place.

All of them live under one home, ``$VISIONBENCH_HOME`` (default ``~/.cache/visionbench``;
an empty value counts as unset), and are resolved when called, so a test or a job that
sets the variable moves everything at once::

    $VISIONBENCH_HOME/
        results/            run records (results/records/), reports, prediction caches
            records/        one JSON file per run (+ .arrays.npz, .samples.npz)
            work/<key>/     a run configuration's prediction cache (predictions/), logs
        arrow/              the Arrow cache of parsed annotation files
        weights/            downloaded and named weight files
        synth/              the generated mini datasets (synth/<name>-v<version>/)
        config.toml         optional: ``[data]`` dataset roots

Two directories can be moved on their own: ``$VISIONBENCH_RESULTS`` (the results
directory) and ``$VISIONBENCH_WEIGHTS`` (the weights directory). An explicit argument
(``--results DIR``, ``cache_dir=``) wins over both.

The metrics core cannot import this module (it imports nothing of the package): SPICE's
files, ``$VISIONBENCH_HOME/spice``, are resolved in
:func:`visionbench.metrics.coco_caption_java.spice_home` the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "home",
    "results_dir",
    "records_dir",
    "work_dir",
    "cache_dir",
    "weights_dir",
    "synth_dir",
    "config_files",
]


def home() -> Path:
    """``$VISIONBENCH_HOME``, else ``~/.cache/visionbench``."""
    env = os.environ.get("VISIONBENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "visionbench"


def results_dir(path: str | Path | None = None) -> Path:
    """``path`` (``--results DIR``), else ``$VISIONBENCH_RESULTS``, else ``home()/results``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("VISIONBENCH_RESULTS")
    return Path(env).expanduser() if env else home() / "results"


def records_dir(results: str | Path | None = None) -> Path:
    """The run records: ``results_dir(results)/records``."""
    return results_dir(results) / "records"


def work_dir(results: str | Path | None = None) -> Path:
    """Runs' working folders: ``results_dir(results)/work``; ``work/<key>/predictions`` is
    the prediction cache of one run configuration (``key``: a hash of the configuration)."""
    return results_dir(results) / "work"


def cache_dir() -> Path:
    """The Arrow cache of parsed annotation files: ``home()/arrow``."""
    return home() / "arrow"


def weights_dir() -> Path:
    """Weight files: ``$VISIONBENCH_WEIGHTS``, else ``home()/weights``."""
    env = os.environ.get("VISIONBENCH_WEIGHTS")
    return Path(env).expanduser() if env else home() / "weights"


def synth_dir() -> Path:
    """The generated mini datasets: ``home()/synth``."""
    return home() / "synth"


def config_files() -> list[Path]:
    """The config files consulted, in order: ``$VISIONBENCH_HOME/config.toml`` (only when
    the variable is set), then ``$XDG_CONFIG_HOME/visionbench/config.toml`` (default
    ``~/.config/visionbench/config.toml``)."""
    out = []
    if os.environ.get("VISIONBENCH_HOME"):
        out.append(home() / "config.toml")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    out.append(
        (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "visionbench" / "config.toml"
    )
    return out
