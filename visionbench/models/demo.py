"""The built-in demo classifier: a 4-block CNN trained on ``imagenet-mini``.

It predicts the 1000 ImageNet classes (label space ``imagenet1k``) but was trained only
on the 10 classes imagenet-mini draws, so it is a demo of the pipeline, not an ImageNet
model. Weights ship with the package (``models/weights/demo_cnn_imagenet_mini.pt``); they
are made by :mod:`visionbench.models.demo_training.cnn`
(``python -m visionbench.models.demo_training demo-cnn --out PATH``).
"""

from __future__ import annotations

import torch
from torch import nn

from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ClassifierAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.weights import load_weights, shipped_weights

__all__ = ["DemoCNN", "build_demo_cnn", "DEMO_PREPROCESS", "DEMO_RANDOM_NOTE"]

DEMO_PREPROCESS = Preprocess(mode="resize_crop", resize=72, crop=64, interpolation="bilinear")
_WEIGHTS = "demo_cnn_imagenet_mini.pt"
#: The run record's note on a demo model built with ``--weights random``.
DEMO_RANDOM_NOTE = "demo model without its trained weights"


class DemoCNN(nn.Module):
    """conv-bn-relu x4 (16, 32, 64, 128 channels, stride 2) -> global average pool -> linear."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in (16, 32, 64, 128):
            layers += [
                nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def build_demo_cnn(weights: str | None = None) -> ClassifierAdapter:
    """The demo classifier with its shipped weights, ``weights`` (a state dict: path, cache
    name or URL), or ``"random"`` (random init)."""
    spec = shipped_weights(
        "demo-cnn",
        weights,
        _WEIGHTS,
        maker="python -m visionbench.models.demo_training demo-cnn --out PATH",
    )
    module = DemoCNN()
    info = load_weights(module, spec, random_info={"note": DEMO_RANDOM_NOTE})
    return ClassifierAdapter(
        "demo-cnn", get_label_space("imagenet1k"), module, DEMO_PREPROCESS, weights=info
    )
