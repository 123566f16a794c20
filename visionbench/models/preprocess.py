"""Preprocessing declared next to the weights that need it (timm's convention).

A :class:`Preprocess` turns a decoded ``uint8`` RGB tensor ``[3, H, W]`` into the model's
float input and returns the metadata needed to map outputs back to original pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

__all__ = ["Preprocess", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERP = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


@dataclass(frozen=True)
class Preprocess:
    """Eval preprocessing of one set of weights.

    Attributes:
        mode: ``"resize_crop"`` (resize the shorter side to ``resize``, center-crop
            ``crop``: torchvision/timm classification), ``"letterbox"`` (aspect-preserving
            resize into ``size`` x ``size`` with grey padding: YOLO), ``"resize"`` (to
            ``size`` (h, w) exactly), or ``"none"`` (keep the image size: segmentation).
        resize: shorter-side size for ``resize_crop``.
        crop: center-crop size for ``resize_crop``.
        size: output size for ``letterbox`` (int) and ``resize`` ((h, w)).
        interpolation: ``bilinear``, ``bicubic`` or ``nearest``.
        mean, std: per-channel normalisation of [0, 1] pixels; ``None`` keeps [0, 1].
        pad_value: letterbox padding value in [0, 1] (darknet uses 0.5).
    """

    mode: str = "resize_crop"
    resize: int = 256
    crop: int = 224
    size: int | tuple[int, int] = 416
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] | None = IMAGENET_MEAN
    std: tuple[float, float, float] | None = IMAGENET_STD
    pad_value: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ("resize_crop", "letterbox", "resize", "none"):
            raise ValueError(f"unknown preprocess mode {self.mode!r}")
        if self.interpolation not in _INTERP:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; use {list(_INTERP)}")

    @property
    def crop_pct(self) -> float:
        """timm's ``crop_pct`` (crop / resize) for ``resize_crop``."""
        return self.crop / self.resize

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """uint8 [3, H, W] -> (float32 [3, h, w], meta with ``orig_size``, ``scale``, ``pad``)."""
        h, w = int(image.shape[-2]), int(image.shape[-1])
        meta: dict[str, Any] = {"orig_size": (h, w)}
        interp = _INTERP[self.interpolation]
        if self.mode == "resize_crop":
            x = TF.resize(image, [self.resize], interpolation=interp, antialias=True)
            x = TF.center_crop(x, [self.crop, self.crop])
            x = x.float() / 255.0
        elif self.mode == "letterbox":
            s = int(self.size) if isinstance(self.size, int) else int(self.size[0])
            scale = min(s / h, s / w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            x = TF.resize(image, [nh, nw], interpolation=interp, antialias=True).float() / 255.0
            top, left = (s - nh) // 2, (s - nw) // 2
            x = F.pad(x, (left, s - nw - left, top, s - nh - top), value=self.pad_value)
            meta.update(scale=(nh / h, nw / w), pad=(top, left))
        elif self.mode == "resize":
            sh, sw = (self.size, self.size) if isinstance(self.size, int) else self.size
            x = TF.resize(image, [sh, sw], interpolation=interp, antialias=True).float() / 255.0
            meta.update(scale=(sh / h, sw / w), pad=(0, 0))
        else:
            x = image.float() / 255.0
        if self.mean is not None and self.std is not None:
            x = TF.normalize(x, list(self.mean), list(self.std))
        return x.contiguous(), meta
