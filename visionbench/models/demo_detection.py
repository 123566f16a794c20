"""The built-in demo detector: a tiny CenterNet-style detector trained on ``coco-mini``.

One output scale (stride 8 of a 192x192 letterbox) fed by a small FPN: per class a centre
heatmap, per cell a box size (log, in stride units) and a sub-cell centre offset. Decoding
keeps 3x3 heatmap peaks, the ``topk`` best over all classes, then per-class NMS
(:func:`torchvision.ops.batched_nms`). It predicts COCO category ids (label space
``coco91``) but only the 8 categories coco-mini draws (person, car, stop sign, dog,
umbrella, kite, apple, clock) and was trained only on the 160 images of coco-mini
train2017, so it is a demo of the pipeline, not a COCO model. Weights ship with the package
(``models/weights/demo_detector_coco_mini.pt``); they are made by :func:`train_demo_detector`
(``python -m visionbench.models.demo_detection --out PATH``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

from visionbench.label_spaces import get_label_space
from visionbench.models.demo import load_demo_weights
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter
from visionbench.tasks import Batch
from visionbench.types import Prediction

__all__ = [
    "DemoDetNet",
    "DemoDetectorAdapter",
    "build_demo_detector",
    "train_demo_detector",
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
    """The demo detector with its shipped weights (or ``weights``: a state-dict file)."""
    module = DemoDetNet()
    info = load_demo_weights(module, weights, _WEIGHTS, trainer="visionbench.models.demo_detection")
    return DemoDetectorAdapter(
        "demo-detector",
        get_label_space("coco91"),
        module,
        DEMO_DET_PREPROCESS,
        class_ids=CATEGORY_IDS,
        weights=info,
    )


# ---------------------------------------------------------------------------------------
# training


def _targets(
    boxes: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Boxes [N, 4] xyxy input px, labels [N] channel indices -> heatmap [C, h, w]
    (elliptical Gaussians, sigma = box side / 6 in cells), regression targets [4, h, w]
    and a centre mask [h, w]."""
    n = INPUT // STRIDE
    heat = torch.zeros(num_classes, n, n)
    reg = torch.zeros(4, n, n)
    centre = torch.zeros(n, n, dtype=torch.bool)
    ys, xs = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
    for (x0, y0, x1, y1), lab in zip(boxes.tolist(), labels.tolist()):
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
        ix, iy = min(int(cx), n - 1), min(int(cy), n - 1)
        sx, sy = max(w / STRIDE / 6, 0.5), max(h / STRIDE / 6, 0.5)
        g = torch.exp(-((xs - ix) ** 2) / (2 * sx * sx) - ((ys - iy) ** 2) / (2 * sy * sy))
        heat[lab] = torch.maximum(heat[lab], g)
        heat[lab, iy, ix] = 1.0
        reg[:, iy, ix] = torch.tensor(
            [
                torch.log(torch.tensor(w / STRIDE)),
                torch.log(torch.tensor(h / STRIDE)),
                cx - ix,
                cy - iy,
            ]
        )
        centre[iy, ix] = True
    return heat, reg, centre


def _focal(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel focal loss (alpha 2, beta 4), per positive."""
    p = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = -torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = -torch.log(1 - p) * p**2 * (1 - target) ** 4 * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def _load_train(root: str | Path | None) -> tuple[torch.Tensor, list, list]:
    """Letterboxed train images [N, 3, 192, 192] and their non-crowd boxes (input px), labels."""
    from visionbench.loaders.mini import coco_mini

    ds = coco_mini(root, "train2017")
    channel = {cid: k for k, cid in enumerate(CATEGORY_IDS)}
    xs, boxes, labels = [], [], []
    for i in range(len(ds)):
        s = ds[i]
        x, meta = DEMO_DET_PREPROCESS(s.image.load())
        t = s.target
        keep = ~t.iscrowd.astype(bool) & torch.tensor([c in channel for c in t.labels]).numpy()
        b = torch.as_tensor(t.boxes[keep], dtype=torch.float32)
        (sh, sw), (top, left) = meta["scale"], meta["pad"]
        b = b * torch.tensor([sw, sh, sw, sh]) + torch.tensor([left, top, left, top])
        xs.append(x)
        boxes.append(b)
        labels.append(torch.tensor([channel[int(c)] for c in t.labels[keep]], dtype=torch.long))
    return torch.stack(xs), boxes, labels


def train_demo_detector(
    root: str | Path | None = None, *, epochs: int = 30, seed: int = 0, batch_size: int = 16
) -> DemoDetNet:
    """Train on coco-mini ``train2017`` (crowd regions left out) with horizontal flips.

    Args:
        root: the dataset root (None: the built-in coco-mini).
        epochs: passes over the 160 images.
        seed: torch seed (the result is deterministic for a given torch build and thread
            count).
        batch_size: images per step.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster on a shared CPU, and the same sums on every machine
    try:
        return _train(root, epochs=epochs, seed=seed, batch_size=batch_size)
    finally:
        torch.set_num_threads(threads)


def _train(root: str | Path | None, *, epochs: int, seed: int, batch_size: int) -> DemoDetNet:
    torch.manual_seed(seed)
    x_all, boxes, labels = _load_train(root)
    model = DemoDetNet()
    nc = model.num_classes
    targets = [_targets(b, lab, nc) for b, lab in zip(boxes, labels)]
    flipped = [
        _targets(torch.stack([INPUT - b[:, 2], b[:, 1], INPUT - b[:, 0], b[:, 3]], 1), lab, nc)
        for b, lab in zip(boxes, labels)
    ]
    steps = epochs * ((len(boxes) + batch_size - 1) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for b in torch.randperm(len(boxes)).split(batch_size):
            flip = torch.rand(len(b)) < 0.5
            xb = torch.where(flip[:, None, None, None], x_all[b].flip(3), x_all[b])
            tg = [flipped[i] if f else targets[i] for i, f in zip(b.tolist(), flip.tolist())]
            heat = torch.stack([t[0] for t in tg])
            reg = torch.stack([t[1] for t in tg])
            centre = torch.stack([t[2] for t in tg])
            out = model(xb)
            loss_heat = _focal(out[:, :nc], heat)
            m = centre[:, None].expand_as(reg)
            n_pos = centre.sum().clamp(min=1)
            loss_size = F.l1_loss(
                out[:, nc : nc + 2][m[:, :2]], reg[:, :2][m[:, :2]], reduction="sum"
            )
            loss_off = F.l1_loss(out[:, nc + 2 :][m[:, 2:]], reg[:, 2:][m[:, 2:]], reduction="sum")
            loss = loss_heat + (loss_size + loss_off) / n_pos
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description="train the demo detector on coco-mini")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = train_demo_detector(epochs=args.epochs)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
