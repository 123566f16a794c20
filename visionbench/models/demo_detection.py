"""The built-in demo detector: a tiny CenterNet-style detector trained on ``coco-mini``.

One output scale (stride 8 of a 192x192 letterbox) fed by a small FPN: per class a centre
heatmap, per cell a box size (log, in stride units) and a sub-cell centre offset. Decoding
keeps 3x3 heatmap peaks, the ``topk`` best over all classes, then per-class NMS
(:func:`torchvision.ops.batched_nms`). It predicts COCO category ids (label space
``coco91``) but only the 8 categories coco-mini draws (person, car, stop sign, dog,
umbrella, kite, apple, clock) and was trained only on the 160 images of coco-mini
train2017, so it is a demo of the pipeline, not a COCO model. Weights ship with the package
(``models/weights/demo_detector_coco_mini.pt``); they are made by
:mod:`visionbench.models.demo_training.detection`
(``python -m visionbench.models.demo_training demo-detector --out PATH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

from visionbench.label_spaces import get_label_space
from visionbench.models.demo import DEMO_RANDOM_NOTE
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter
from visionbench.models.weights import load_weights, shipped_weights
from visionbench.tasks import Batch
from visionbench.types import Prediction

__all__ = [
    "DemoDetNet",
    "DemoDetectorAdapter",
    "build_demo_detector",
    "DEMO_DET_PREPROCESS",
    "CATEGORY_IDS",
]

INPUT = 192
STRIDE = 8
#: COCO category id of each output channel (the categories coco-mini draws).
CATEGORY_IDS = (1, 3, 13, 18, 28, 38, 53, 85)
DEMO_DET_PREPROCESS = Preprocess(mode="letterbox", size=INPUT, interpolation="bilinear")
_WEIGHTS = "demo_detector_coco_mini.pt"
_PRIOR = -2.19  # heatmap bias: sigmoid = 0.1 (CenterNet)


def _cbr(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class DemoDetNet(nn.Module):
    """Backbone to stride 32 (16, 32, 48, 96, 128 channels), top-down FPN to stride 8.

    ``forward``: [B, 3, 192, 192] -> [B, C + 4, 24, 24]: C heatmap logits, then
    ``log(w / 8), log(h / 8)`` and the centre offset ``(dx, dy)`` in cells.
    """

    def __init__(self, num_classes: int = len(CATEGORY_IDS)) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.s8 = nn.Sequential(_cbr(3, 16, 2), _cbr(16, 32, 2), _cbr(32, 48, 2))
        self.s16 = _cbr(48, 96, 2)
        self.s32 = nn.Sequential(_cbr(96, 128, 2), _cbr(128, 128))
        self.lat32 = nn.Conv2d(128, 48, 1)
        self.lat16 = nn.Conv2d(96, 48, 1)
        self.lat8 = nn.Conv2d(48, 48, 1)
        self.smooth = _cbr(48, 48)
        self.heat = nn.Conv2d(48, num_classes, 1)
        self.box = nn.Conv2d(48, 4, 1)
        nn.init.constant_(self.heat.bias, _PRIOR)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c8 = self.s8(x)
        c16 = self.s16(c8)
        c32 = self.s32(c16)
        p = self.lat32(c32)
        p = self.lat16(c16) + F.interpolate(p, size=c16.shape[-2:], mode="nearest")
        p = self.lat8(c8) + F.interpolate(p, size=c8.shape[-2:], mode="nearest")
        p = self.smooth(p)
        return torch.cat([self.heat(p), self.box(p)], dim=1)


def decode(
    out: torch.Tensor,
    *,
    topk: int = 100,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.6,
) -> list[dict[str, torch.Tensor]]:
    """Raw maps [B, C + 4, h, w] -> per image ``{"boxes" [N, 4] xyxy input px, "labels" [N]
    channel indices, "scores" [N]}``."""
    b, c4, h, w = out.shape
    c = c4 - 4
    heat = out[:, :c].sigmoid()
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, idx = peaks.flatten(1).topk(min(topk, c * h * w), dim=1)
    cls = idx // (h * w)
    cell = idx % (h * w)
    cy, cx = (cell // w).float(), (cell % w).float()
    reg = out[:, c:].flatten(2)  # [B, 4, h*w]
    results = []
    for i in range(b):
        r = reg[i][:, cell[i]]  # [4, k]
        bw, bh = r[0].clamp(max=6).exp() * STRIDE, r[1].clamp(max=6).exp() * STRIDE
        x = (cx[i] + r[2]) * STRIDE
        y = (cy[i] + r[3]) * STRIDE
        boxes = torch.stack([x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2], dim=1)
        keep = scores[i] > score_threshold
        boxes, s, lab = boxes[keep], scores[i][keep], cls[i][keep]
        k = batched_nms(boxes, s, lab, iou_threshold)
        results.append({"boxes": boxes[k], "labels": lab[k], "scores": s[k]})
    return results


class DemoDetectorAdapter(DetectionAdapter):
    """Decodes :class:`DemoDetNet` maps, then undoes the letterbox (``DetectionAdapter``)."""

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        return super().postprocess(decode(outputs.float()), batch)


def build_demo_detector(weights: str | None = None) -> DemoDetectorAdapter:
    """The demo detector with its shipped weights (or ``weights``: a state dict, or
    ``"random"``)."""
    spec = shipped_weights(
        "demo-detector",
        weights,
        _WEIGHTS,
        maker="python -m visionbench.models.demo_training demo-detector --out PATH",
    )
    module = DemoDetNet()
    info = load_weights(module, spec, random_info={"note": DEMO_RANDOM_NOTE})
    return DemoDetectorAdapter(
        "demo-detector",
        get_label_space("coco91"),
        module,
        DEMO_DET_PREPROCESS,
        class_ids=CATEGORY_IDS,
        weights=info,
    )
