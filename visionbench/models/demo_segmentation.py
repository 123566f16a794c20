"""The built-in demo segmenter: a tiny fully-convolutional net trained on ``cityscapes-mini``.

It predicts the 19 Cityscapes trainIds (label space ``cityscapes19``; the engine maps them
to the dataset's labelIds through the explicit ``cityscapes19 -> cityscapes34`` label map)
at the original image resolution. It was trained only on the 40 drawn street scenes of
cityscapes-mini train, so it is a demo of the pipeline, not a Cityscapes model. Weights
ship with the package (``models/weights/demo_segnet_cityscapes_mini.pt``); they are made by
:func:`train_demo_segnet` (``python -m visionbench.models.demo_segmentation --out PATH``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from visionbench.label_spaces import IGNORE, get_label_space
from visionbench.models.demo import load_demo_weights
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import SegmentationAdapter

__all__ = ["DemoSegNet", "build_demo_segnet", "train_demo_segnet", "DEMO_SEG_PREPROCESS"]

#: Full resolution (no resize): logits are upsampled to the input, which is the original.
DEMO_SEG_PREPROCESS = Preprocess(mode="none")
NUM_CLASSES = 19
_WEIGHTS = "demo_segnet_cityscapes_mini.pt"
_CROP = 128  # training crop width (px); the full frame height is kept


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
    """The demo segmenter with its shipped weights (or ``weights``: a state-dict file)."""
    module = DemoSegNet()
    info = load_demo_weights(
        module, weights, _WEIGHTS, trainer="visionbench.models.demo_segmentation"
    )
    return SegmentationAdapter(
        "demo-segnet",
        get_label_space("cityscapes19"),
        module,
        DEMO_SEG_PREPROCESS,
        weights=info,
    )


def _class_weights(y: torch.Tensor) -> torch.Tensor:
    """Inverse square-root pixel frequency of each trainId (absent classes weigh 0 and
    never appear in the loss anyway), normalised to mean 1 over the present classes."""
    valid = y[y != IGNORE].long()
    counts = torch.bincount(valid, minlength=NUM_CLASSES).double()
    w = torch.where(counts > 0, counts.clamp(min=1).rsqrt(), torch.zeros_like(counts))
    return (w / w[counts > 0].mean()).float()


def train_demo_segnet(
    root: str | Path | None = None, *, epochs: int = 100, seed: int = 0, batch_size: int = 8
) -> DemoSegNet:
    """Train on cityscapes-mini ``train`` (trainIds, 255 ignored) with random 128 px wide crops and
    horizontal flips.

    Args:
        root: the dataset root (None: the built-in cityscapes-mini).
        epochs: passes over the 40 frames.
        seed: torch seed (the result is deterministic for a given torch build and thread
            count).
        batch_size: frames per step.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster on a shared CPU, and the same sums on every machine
    try:
        return _train(root, epochs=epochs, seed=seed, batch_size=batch_size)
    finally:
        torch.set_num_threads(threads)


def _train(root: str | Path | None, *, epochs: int, seed: int, batch_size: int) -> DemoSegNet:
    from visionbench.loaders.mini import cityscapes_mini

    torch.manual_seed(seed)
    ds = cityscapes_mini(root, "train", label_space="cityscapes19")
    xs, ys = [], []
    for i in range(len(ds)):
        s = ds[i]
        xs.append(DEMO_SEG_PREPROCESS(s.image.load())[0])
        ys.append(torch.from_numpy(s.target.mask.astype("int64")))
    x_all, y_all = torch.stack(xs), torch.stack(ys)
    weight = _class_weights(y_all)
    model = DemoSegNet()
    steps = epochs * ((len(ys) + batch_size - 1) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for b in torch.randperm(len(ys)).split(batch_size):
            x0 = int(torch.randint(0, x_all.shape[-1] - _CROP + 1, ()))
            xb, yb = x_all[b, :, :, x0 : x0 + _CROP], y_all[b, :, x0 : x0 + _CROP]
            if torch.rand(()) < 0.5:
                xb, yb = xb.flip(3), yb.flip(2)
            logits = F.interpolate(model(xb), size=yb.shape[-2:], mode="bilinear")
            loss = F.cross_entropy(logits, yb, weight=weight, ignore_index=IGNORE)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description="train the demo segmenter on cityscapes-mini")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = train_demo_segnet(epochs=args.epochs)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
