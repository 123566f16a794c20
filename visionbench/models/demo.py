"""The built-in demo classifier: a 4-block CNN trained on ``imagenet-mini``.

It predicts the 1000 ImageNet classes (label space ``imagenet1k``) but was trained only
on the 10 classes imagenet-mini draws, so it is a demo of the pipeline, not an ImageNet
model. Weights ship with the package (``models/weights/demo_cnn_imagenet_mini.pt``); they
are made by :func:`train_demo_cnn` (``python -m visionbench.models.demo --out PATH``).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from visionbench.errors import WeightsError
from visionbench.label_spaces import get_label_space
from visionbench.models.base import ClassifierAdapter
from visionbench.models.preprocess import Preprocess

__all__ = ["DemoCNN", "build_demo_cnn", "train_demo_cnn", "DEMO_PREPROCESS"]

DEMO_PREPROCESS = Preprocess(mode="resize_crop", resize=72, crop=64, interpolation="bilinear")
_WEIGHTS = "demo_cnn_imagenet_mini.pt"


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
    """The demo classifier with its shipped weights, ``weights`` (a state-dict file), or
    ``"random"`` (random init)."""
    module = DemoCNN()
    info = load_demo_weights(module, weights, _WEIGHTS, trainer="visionbench.models.demo")
    return ClassifierAdapter(
        "demo-cnn", get_label_space("imagenet1k"), module, DEMO_PREPROCESS, weights=info
    )


def load_demo_weights(
    module: nn.Module, weights: str | None, shipped: str, *, trainer: str
) -> dict[str, str]:
    """Load a demo model's weights into ``module``; return the record's weights info.

    ``weights=None``: the file ``shipped`` under ``visionbench/models/weights/``;
    ``"random"``: keep the (seeded) random init; else a state-dict file. Missing, corrupt
    or ill-fitting files raise :class:`WeightsError` naming the file and the keys.
    """
    from visionbench.models.weights import load_into, load_state_dict_file, sha256_file

    if weights == "random":
        return {
            "name": "random",
            "source": "random-init",
            "note": "demo model without its trained weights",
        }
    if weights is None:
        path = Path(str(resources.files("visionbench.models").joinpath("weights", shipped)))
    else:
        path = Path(weights)
    if not path.is_file():
        from visionbench.models.weights import no_weights_hint

        raise WeightsError(
            f"{type(module).__name__} weights not found: {path} (make them with "
            f"`python -m {trainer} --out PATH`); {no_weights_hint()}"
        )
    load_into(module, load_state_dict_file(path), source=str(path))
    return {"path": str(path), "sha256": sha256_file(path)}


def train_demo_cnn(root: str | Path, *, epochs: int = 30, seed: int = 0) -> DemoCNN:
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


def main() -> None:
    ap = argparse.ArgumentParser(description="train the demo CNN on imagenet-mini")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args()
    from visionbench import synth

    model = train_demo_cnn(synth.ensure("imagenet-mini"), epochs=args.epochs)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
