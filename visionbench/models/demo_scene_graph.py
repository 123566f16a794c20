"""The built-in demo scene-graph model: FREQ (Neural Motifs) statistics of vg-mini ``train``.

:mod:`visionbench.models.scene_graph_freq`'s FREQ baseline with statistics counted over the
42 training images of ``vg-mini`` (the first 70% of ``image_data.json``; see
:func:`visionbench.loaders.visual_genome.vg_mini`), meant to be scored on ``vg-mini``
``test`` in PredCls (ground-truth boxes and labels given; the model predicts predicates).
The statistics ship with the package (``models/weights/freq_vg_mini.npz``); they are made by
:mod:`visionbench.models.demo_training.scene_graph`
(``python -m visionbench.models.demo_training demo-freq --out PATH``).
"""

from __future__ import annotations

from visionbench.models.scene_graph_freq import FreqAdapter, build_freq
from visionbench.models.weights import shipped_weights

__all__ = ["build_demo_freq"]

_WEIGHTS = "freq_vg_mini.npz"


def build_demo_freq(weights: str | None = None) -> FreqAdapter:
    """FREQ with the shipped vg-mini statistics, or ``weights`` (a statistics ``.npz``, or
    ``"random"``)."""
    spec = shipped_weights(
        "demo-freq",
        weights,
        _WEIGHTS,
        maker="python -m visionbench.models.demo_training demo-freq --out PATH",
    )
    model = build_freq(spec)
    model.name = "demo-freq"
    return model
