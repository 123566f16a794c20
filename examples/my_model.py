"""A user model for ``bench run --model examples/my_model.py:build`` (or ``mypkg.my_model:build``
once it is importable).

The factory may return a ``ModelAdapter``, a tuple ``(module, task, label_space[, preprocess])``
or a dict with those keys; see ``visionbench/models/user_model.py``. This one returns a tiny
ImageNet-1k classifier (random weights unless ``weights`` names a state-dict file) and
declares its preprocessing next to it.

Run it directly to see one prediction::

    python examples/my_model.py
"""

from __future__ import annotations

import torch
from torch import nn

from visionbench.models.preprocess import Preprocess


class TinyNet(nn.Module):
    """[B, 3, H, W] -> logits [B, 1000] (ImageNet-1k class order)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build(weights: str | None = None, image_size: int = 128) -> tuple:
    """Return ``(module, task, label_space, preprocess)``.

    Args:
        weights: optional path of a state dict of :class:`TinyNet`.
        image_size: center-crop size (the resize is ``image_size / 0.875``).
    """
    torch.manual_seed(0)
    module = TinyNet()
    if weights is not None:
        from visionbench.models.weights import load_into, load_state_dict_file

        load_into(module, load_state_dict_file(weights), source=weights)
    preprocess = Preprocess(mode="resize_crop", resize=round(image_size / 0.875), crop=image_size)
    return module, "classification", "imagenet1k", preprocess


if __name__ == "__main__":
    from visionbench.models.user_model import load_user_model
    from visionbench.tasks import Batch

    adapter = load_user_model(f"{__file__}:build")
    image = torch.randint(0, 256, (3, 200, 300), dtype=torch.uint8)
    x, meta = adapter.preprocess(image)
    (pred,) = adapter.predict(Batch(x[None], [{**meta, "sample_id": "example"}]))
    top5 = pred.scores.argsort()[::-1][:5]
    print(
        adapter.describe()["name"],
        "params:",
        adapter.num_params(),
        "top-5:",
        [adapter.label_space.names[i] for i in top5],
    )
