"""The built-in demo segmenter: a tiny fully-convolutional net trained on ``cityscapes-mini``.

It predicts the 19 Cityscapes trainIds (label space ``cityscapes19``; the engine maps them
to the dataset's labelIds through the explicit ``cityscapes19 -> cityscapes34`` label map)
at the original image resolution. It was trained only on the 40 drawn street scenes of
cityscapes-mini train, so it is a demo of the pipeline, not a Cityscapes model. Weights
ship with the package (``models/weights/demo_segnet_cityscapes_mini.pt``); they are made by
:mod:`visionbench.models.demo_training.segmentation`
(``python -m visionbench.models.demo_training demo-segnet --out PATH``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from visionbench.label_spaces import get_label_space
from visionbench.models.demo import DEMO_RANDOM_NOTE
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import SegmentationAdapter
from visionbench.models.weights import load_weights, shipped_weights

__all__ = ["DemoSegNet", "build_demo_segnet", "DEMO_SEG_PREPROCESS", "NUM_CLASSES"]

#: Full resolution (no resize): logits are upsampled to the input, which is the original.
DEMO_SEG_PREPROCESS = Preprocess(mode="none")
NUM_CLASSES = 19
_WEIGHTS = "demo_segnet_cityscapes_mini.pt"


def _cbr(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class DemoSegNet(nn.Module):
    """Encoder to stride 8 (16, 32, 64 channels) with dilated context convs (2, 4), fused
    with the stride-4 features, and a 1x1 classifier: [B, 3, H, W] -> logits
    [B, 19, H/4, W/4] (the adapter upsamples them to the input size)."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.s4 = nn.Sequential(_cbr(3, 16, 2), _cbr(16, 32, 2))  # H/4
        self.s8 = _cbr(32, 64, 2)  # H/8
        self.context = nn.Sequential(_cbr(64, 64, dilation=2), _cbr(64, 64, dilation=4))
        self.reduce = nn.Conv2d(64, 32, 1)
        self.fuse = _cbr(64, 32)
        self.classifier = nn.Conv2d(32, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s4 = self.s4(x)
        deep = self.reduce(self.context(self.s8(s4)))
        up = F.interpolate(deep, size=s4.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(self.fuse(torch.cat([up, s4], dim=1)))


def build_demo_segnet(weights: str | None = None) -> SegmentationAdapter:
    """The demo segmenter with its shipped weights (or ``weights``: a state dict, or
    ``"random"``)."""
    spec = shipped_weights(
        "demo-segnet",
        weights,
        _WEIGHTS,
        maker="python -m visionbench.models.demo_training demo-segnet --out PATH",
    )
    module = DemoSegNet()
    info = load_weights(module, spec, random_info={"note": DEMO_RANDOM_NOTE})
    return SegmentationAdapter(
        "demo-segnet",
        get_label_space("cityscapes19"),
        module,
        DEMO_SEG_PREPROCESS,
        weights=info,
    )
