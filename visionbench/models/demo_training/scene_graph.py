"""The demo FREQ model's statistics (``models/weights/freq_vg_mini.npz``): predicate counts
per (subject, object) class pair of ``vg-mini`` train."""

from __future__ import annotations

from pathlib import Path

from visionbench.models.scene_graph_freq import FreqStatistics, compute_freq_statistics

__all__ = ["fit_demo_freq", "write"]


def fit_demo_freq(root: str | Path | None = None) -> FreqStatistics:
    """FREQ statistics (VG-150 classes, overlapping background pairs) of vg-mini ``train``."""
    from visionbench.loaders.visual_genome import vg_mini

    return compute_freq_statistics(vg_mini(root, "train").ground_truth().targets)


def write(out: str | Path, *, epochs: int | None = None) -> str:
    """Count the statistics and save them to ``out`` (nothing is trained: ``epochs`` is
    ignored); the report line."""
    stats = fit_demo_freq()
    path = stats.save(out)
    return f"wrote {path} ({int(stats.fg.sum())} training relations)"
