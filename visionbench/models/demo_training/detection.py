"""Training of the demo detector (:class:`~visionbench.models.demo_detection.DemoDetNet`)
on ``coco-mini`` train2017, which made ``models/weights/demo_detector_coco_mini.pt``:
CenterNet targets (Gaussian centre heatmaps, log box sizes, sub-cell offsets), the
penalty-reduced focal loss and L1 regression, horizontal flips."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from visionbench.models.demo_detection import (
    CATEGORY_IDS,
    DEMO_DET_PREPROCESS,
    INPUT,
    STRIDE,
    DemoDetNet,
)

__all__ = ["centernet_targets", "train_demo_detector", "write"]

EPOCHS = 30


def centernet_targets(
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
    root: str | Path | None = None, *, epochs: int = EPOCHS, seed: int = 0, batch_size: int = 16
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
    targets = [centernet_targets(b, lab, nc) for b, lab in zip(boxes, labels)]
    flipped = [
        centernet_targets(
            torch.stack([INPUT - b[:, 2], b[:, 1], INPUT - b[:, 0], b[:, 3]], 1), lab, nc
        )
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


def write(out: str | Path, *, epochs: int | None = None) -> str:
    """Train with the shipped recipe and save the state dict to ``out``; the report line."""
    t0 = time.perf_counter()
    model = train_demo_detector(epochs=EPOCHS if epochs is None else epochs)
    torch.save(model.state_dict(), out)
    return f"wrote {out} ({time.perf_counter() - t0:.1f} s)"
