"""Training of the demo classifier (:class:`~visionbench.models.demo.DemoCNN`) on
``imagenet-mini`` train, which made ``models/weights/demo_cnn_imagenet_mini.pt``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from visionbench.models.demo import DemoCNN
from visionbench.models.preprocess import Preprocess

__all__ = ["train_demo_cnn", "write"]

EPOCHS = 30


def train_demo_cnn(root: str | Path, *, epochs: int = EPOCHS, seed: int = 0) -> DemoCNN:
    """Train on ``root/train/<wnid>/*`` (imagenet-mini) with random crops and flips."""
    from visionbench.loaders.imagenet import ImageNetFolder

    torch.manual_seed(seed)
    ds = ImageNetFolder(root, "train")
    pre = Preprocess(mode="resize_crop", resize=72, crop=72)
    xs, ys = [], []
    for i in range(len(ds)):
        s = ds[i]
        xs.append(pre(s.image.load())[0])
        ys.append(s.target.label)
    x_all, y_all = torch.stack(xs), torch.tensor(ys)
    model = DemoCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=3e-3, total_steps=epochs * ((len(ys) + 63) // 64)
    )
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(ys))
        for b in perm.split(64):
            xb = x_all[b]
            oy, ox = torch.randint(0, 9, (2,)).tolist()
            xb = xb[:, :, oy : oy + 64, ox : ox + 64]
            if torch.rand(()) < 0.5:
                xb = xb.flip(3)
            loss = nn.functional.cross_entropy(model(xb), y_all[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def write(out: str | Path, *, epochs: int | None = None) -> str:
    """Train with the shipped recipe and save the state dict to ``out``; the report line."""
    from visionbench import synth

    model = train_demo_cnn(
        synth.ensure("imagenet-mini"), epochs=EPOCHS if epochs is None else epochs
    )
    torch.save(model.state_dict(), out)
    return f"wrote {out}"
