"""The built-in demo scene-graph model: FREQ (Neural Motifs) statistics of vg-mini ``train``.

:mod:`visionbench.models.scene_graph_freq`'s FREQ baseline with statistics counted over the
42 training images of ``vg-mini`` (the first 70% of ``image_data.json``; see
:func:`visionbench.loaders.visual_genome.vg_mini`), meant to be scored on ``vg-mini``
``test`` in PredCls (ground-truth boxes and labels given; the model predicts predicates).
The statistics ship with the package (``models/weights/freq_vg_mini.npz``); they are made by
:func:`fit_demo_freq` (``python -m visionbench.models.demo_scene_graph --out PATH``).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from visionbench.errors import WeightsError
from visionbench.models.scene_graph_freq import (
    FreqAdapter,
    FreqStatistics,
    build_freq,
    compute_freq_statistics,
)

__all__ = ["build_demo_freq", "fit_demo_freq"]

_WEIGHTS = "freq_vg_mini.npz"


def build_demo_freq(weights: str | None = None) -> FreqAdapter:
    """FREQ with the shipped vg-mini statistics, or ``weights`` (a statistics ``.npz``)."""
    if weights is None:
        path = Path(str(resources.files("visionbench.models").joinpath("weights", _WEIGHTS)))
        if not path.is_file():
            raise WeightsError(
                f"demo-freq statistics not found: {path} (make them with "
                "`python -m visionbench.models.demo_scene_graph --out PATH`)"
            )
        weights = str(path)
    model = build_freq(weights)
    model.name = "demo-freq"
    return model


def fit_demo_freq(root: str | Path | None = None) -> FreqStatistics:
    """FREQ statistics (VG-150 classes, overlapping background pairs) of vg-mini ``train``."""
    from visionbench.loaders.visual_genome import vg_mini

    return compute_freq_statistics(vg_mini(root, "train").ground_truth().targets)


def main() -> None:
    ap = argparse.ArgumentParser(description="count the demo FREQ statistics on vg-mini train")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stats = fit_demo_freq()
    path = stats.save(args.out)
    print(f"wrote {path} ({int(stats.fg.sum())} training relations)")


if __name__ == "__main__":
    main()
