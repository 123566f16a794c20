"""Training of the demo segmenter (:class:`~visionbench.models.demo_segmentation.DemoSegNet`)
on ``cityscapes-mini`` train, which made ``models/weights/demo_segnet_cityscapes_mini.pt``:
class-weighted cross-entropy on random 128 px wide crops and horizontal flips."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from visionbench.label_spaces import IGNORE
from visionbench.models.demo_segmentation import DEMO_SEG_PREPROCESS, NUM_CLASSES, DemoSegNet

__all__ = ["train_demo_segnet", "write"]

EPOCHS = 100
_CROP = 128  # training crop width (px); the full frame height is kept


def _class_weights(y: torch.Tensor) -> torch.Tensor:
    """Inverse square-root pixel frequency of each trainId (absent classes weigh 0 and
    never appear in the loss anyway), normalised to mean 1 over the present classes."""
    valid = y[y != IGNORE].long()
    counts = torch.bincount(valid, minlength=NUM_CLASSES).double()
    w = torch.where(counts > 0, counts.clamp(min=1).rsqrt(), torch.zeros_like(counts))
    return (w / w[counts > 0].mean()).float()


def train_demo_segnet(
    root: str | Path | None = None, *, epochs: int = EPOCHS, seed: int = 0, batch_size: int = 8
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


def write(out: str | Path, *, epochs: int | None = None) -> str:
    """Train with the shipped recipe and save the state dict to ``out``; the report line."""
    t0 = time.perf_counter()
    model = train_demo_segnet(epochs=EPOCHS if epochs is None else epochs)
    torch.save(model.state_dict(), out)
    return f"wrote {out} ({time.perf_counter() - t0:.1f} s)"
