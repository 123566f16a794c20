"""A run configuration's working folder: ``<results>/work/<key>/``.

``key`` is a hash of the run's configuration (model, weights, preprocessing, dataset,
split, root, samples, AMP, protocol and its options), so the same configuration finds
its own prediction cache again::

    <results>/work/<key>/
        config.json           the configuration the key hashes
        predictions/          the prediction cache (Parquet shards, engine/cache.py)
        run-r<rank>.log       each rank's log (appended to on resume)
        complete.json         written once the run record is: {"run_id": ...}
        submission.*          a split without ground truth: the official submission file

Predictions left by a killed run are continued with ``resume`` or discarded with
``fresh``; without either a run refuses to start over them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionbench.errors import RunError
from visionbench.paths import work_dir

__all__ = ["WorkDir", "config_key"]


def config_key(config: dict[str, Any]) -> str:
    """sha256 (first 16 hex) of the configuration as sorted JSON."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkDir:
    """The working folder of one run configuration."""

    path: Path

    @classmethod
    def of(cls, config: dict[str, Any], results: str | Path | None = None) -> WorkDir:
        """The folder of ``config`` under ``results`` (default :func:`visionbench.paths.work_dir`)."""
        return cls(work_dir(results) / config_key(config))

    @property
    def predictions(self) -> Path:
        """The prediction cache folder."""
        return self.path / "predictions"

    def prepare(self, config: dict[str, Any], *, resume: bool, fresh: bool) -> None:
        """Create the folder and write ``config.json``. Predictions of an unfinished run
        stop the run unless ``resume`` (keep them) or ``fresh`` (delete them); those of a
        finished run are deleted unless ``resume``."""
        pred_dir = self.predictions
        has_preds = pred_dir.is_dir() and any(pred_dir.glob("*.parquet"))
        complete = (self.path / "complete.json").exists()
        if has_preds and not resume and not complete:
            if not fresh:
                raise RunError(
                    f"a previous run of this configuration left predictions in {pred_dir}; "
                    "pass --resume to continue it or --fresh to discard them"
                )
        if has_preds and (fresh or (complete and not resume)):
            shutil.rmtree(pred_dir)
            (self.path / "complete.json").unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.json").write_text(json.dumps(config, indent=1, default=str))

    def mark_complete(self, run_id: str) -> None:
        """Record that the run ``run_id`` finished (its record is written)."""
        (self.path / "complete.json").write_text(json.dumps({"run_id": run_id}))

    def open_log(self, rank: int) -> logging.Logger:
        """Rank ``rank``'s log file ``run-r<rank>.log`` (appended to on resume)."""
        path = self.path / f"run-r{rank}.log"
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
