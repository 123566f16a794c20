"""Mobile-Former (Chen et al., "Mobile-Former: Bridging MobileNet and Transformer", CVPR 2022).

A MobileNet branch (stride-2 stem, then inverted-bottleneck blocks with dynamic ReLU) runs in
parallel with a Former branch of a few global tokens (6 x 192 for 294M). In every block:

1. Mobile->Former: the tokens attend to the feature map (per head, keys = values = the
   features, no projection), scaled channel-wise by a token-conditioned gate, projected and
   added to the tokens (post-LayerNorm);
2. Former: multi-head self-attention over the tokens (4 heads, keys = values = the tokens)
   and a 2x FFN, both post-norm;
3. Mobile: 1x1 expand -> 3x3 depthwise -> 1x1 project (``pw`` block) or, for stride-2 and
   the first blocks, 3x3 depthwise expand -> 1x1 -> 3x3 depthwise -> 1x1 (``dw`` block);
   the activations are dynamic ReLU ``max(a1·x, a2·x)`` whose coefficients come from the
   first token through a small MLP;
4. Former->Mobile: the feature map attends to the tokens (queries = features, keys and
   values projected from the tokens) and the result is added to it.

The head pools the 1x1-expanded features (x6) and concatenates the first token, then an FC
(with BN and h-swish) to ``num_features`` and the classifier. The configurations
(``CONFIGS``) are the paper's 26M ... 508M models (Table 12 / the authors' release); their
published parameters and multiply-adds at 224x224 are in ``PUBLISHED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from visionbench.errors import RegistryError
from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ClassifierAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.weights import default_weights, load_weights

__all__ = ["MobileFormer", "MobileFormerConfig", "CONFIGS", "PUBLISHED", "build_mobile_former"]


@dataclass(frozen=True)
class MobileFormerConfig:
    """One Mobile-Former size.

    Attributes:
        stem: stem output channels.
        blocks: per block ``(kind, e1, out_channels, stride, e2)``: ``kind`` ``"dw"`` (the
            depthwise-expand block; ``e2 == 0`` makes it a plain dw-separable conv without
            tokens) or ``"pw"`` (the inverted bottleneck); ``e1``/``e2`` expansion ratios.
        token_num, token_dim: the Former's tokens.
        num_features: width of the classifier's hidden FC.
        groups: groups of the 1x1 convs (4 for 26M, with a channel shuffle).
    """

    stem: int
    blocks: tuple[tuple[str, int, int, int, int], ...]
    token_num: int
    token_dim: int
    num_features: int
    groups: int = 1


def _blocks(*rows: tuple[str, int, int, int, int]) -> tuple[tuple[str, int, int, int, int], ...]:
    return tuple(rows)


_SMALL = _blocks(
    ("dw", 3, 12, 2, 0),
    ("pw", 3, 12, 1, 3),
    ("dw", 6, 24, 2, 4),
    ("pw", 3, 24, 1, 3),
    ("dw", 6, 48, 2, 4),
    ("pw", 4, 48, 1, 4),
    ("pw", 6, 64, 1, 4),
    ("dw", 6, 96, 2, 4),
    ("pw", 6, 96, 1, 4),
)


def _twelve(c: tuple[int, ...], e: tuple[int, ...], e2: tuple[int, ...]) -> tuple:
    kinds = ("dw", "dw", "pw", "dw", "pw", "dw", "pw", "pw", "pw", "dw", "pw", "pw")
    strides = (1, 2, 1, 2, 1, 2, 1, 1, 1, 2, 1, 1)
    return tuple(zip(kinds, e, c, strides, e2))


_E1 = (2, 6, 4, 6, 4, 6, 4, 6, 6, 6, 6, 6)
_E2 = (0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4)

CONFIGS: dict[str, MobileFormerConfig] = {
    "508m": MobileFormerConfig(
        24,
        _twelve(
            (24, 40, 40, 72, 72, 128, 128, 176, 176, 240, 240, 240),
            (2, 6, 3, 6, 3, 6, 4, 6, 6, 6, 6, 6),
            (0, 4, 3, 4, 3, 4, 4, 4, 4, 4, 4, 4),
        ),
        6,
        192,
        1920,
    ),
    "294m": MobileFormerConfig(
        16, _twelve((16, 24, 24, 48, 48, 96, 96, 128, 128, 192, 192, 192), _E1, _E2), 6, 192, 1920
    ),
    "214m": MobileFormerConfig(
        12,
        _twelve(
            (12, 20, 20, 40, 40, 80, 80, 112, 112, 160, 160, 160),
            (2, 6, 3, 6, 4, 6, 4, 6, 6, 6, 6, 6),
            _E2,
        ),
        6,
        192,
        1600,
    ),
    "151m": MobileFormerConfig(
        12,
        _twelve(
            (12, 16, 16, 32, 32, 64, 64, 88, 88, 128, 128, 128),
            (2, 6, 3, 6, 3, 6, 4, 6, 6, 6, 6, 6),
            (0, 4, 3, 4, 3, 4, 4, 4, 4, 4, 4, 4),
        ),
        6,
        192,
        1280,
    ),
    "96m": MobileFormerConfig(
        12,
        _blocks(
            ("dw", 2, 12, 1, 0),
            ("dw", 6, 16, 2, 4),
            ("dw", 6, 32, 2, 4),
            ("pw", 3, 32, 1, 3),
            ("dw", 6, 64, 2, 4),
            ("pw", 4, 64, 1, 4),
            ("pw", 6, 88, 1, 4),
            ("dw", 6, 128, 2, 4),
            ("pw", 6, 128, 1, 4),
        ),
        4,
        128,
        1280,
    ),
    "52m": MobileFormerConfig(8, _SMALL, 3, 128, 1024),
    "26m": MobileFormerConfig(8, _SMALL, 3, 128, 1024, groups=4),
}

#: Paper (Table 12): parameters (millions), multiply-adds at 224x224 (millions), top-1.
PUBLISHED: dict[str, tuple[float, float, float]] = {
    "508m": (14.0, 508, 79.3),
    "294m": (11.4, 294, 77.9),
    "214m": (9.4, 214, 76.7),
    "151m": (7.6, 151, 75.2),
    "96m": (4.6, 96, 72.8),
    "52m": (3.5, 52, 68.7),
    "26m": (3.2, 26, 64.0),
}


class MobileFormer(nn.Module):
    """[B, 3, 224, 224] -> logits [B, num_classes]."""

    def __init__(self, cfg: MobileFormerConfig, num_classes: int = 1000) -> None:
        super().__init__()
        d, t = cfg.token_dim, cfg.token_num
        self.tokens = nn.Parameter(torch.randn(t, d) * 0.02)
        self.stem = nn.Sequential(
            nn.Conv2d(3, cfg.stem, 3, 2, 1, bias=False), nn.BatchNorm2d(cfg.stem), nn.ReLU6()
        )
        blocks, cin = [], cfg.stem
        for kind, e1, cout, stride, e2 in cfg.blocks:
            blocks.append(_Block(kind, cin, cout, stride, e1, e2, d, cfg.groups))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.final_m2f = _Mobile2Former(cin, d)
        hidden = cin * 6
        self.head_conv = nn.Sequential(
            _Shuffle(cfg.groups),
            nn.Conv2d(cin, hidden, 1, groups=cfg.groups, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.fc = nn.Sequential(
            nn.Linear(hidden + d, cfg.num_features),
            nn.BatchNorm1d(cfg.num_features),
            nn.Hardswish(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(cfg.num_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.tokens.unsqueeze(0).repeat(x.shape[0], 1, 1)  # [B, T, D]
        x = self.stem(x)
        for block in self.blocks:
            x, z = block(x, z)
        z = self.final_m2f(x, z)
        pooled = F.hardswish(self.head_conv(x).mean((2, 3)))
        return self.classifier(self.fc(torch.cat([pooled, z[:, 0]], dim=1)))


def build_mobile_former(size: str, weights: str | None = None) -> ClassifierAdapter:
    """Mobile-Former-``size`` (``"26m"`` ... ``"508m"``) for ImageNet-1k.

    Args:
        size: a key of :data:`CONFIGS`.
        weights: ``"random"``, or a path / cache name / URL (``#sha256=`` checks it) of a
            state dict of this module; ``None``:
            ``mobile_former_<size>.pt`` (or ``.pth``) in the weights cache directory, else a
            :class:`WeightsError` saying where it looked.
    """
    if size not in CONFIGS:
        raise RegistryError(f"unknown Mobile-Former size {size!r}; choose from {list(CONFIGS)}")
    name = f"mobile_former_{size}"
    spec = default_weights(name, weights, [f"{name}.pt", f"{name}.pth"])
    module = MobileFormer(CONFIGS[size])
    info = load_weights(module, spec)
    # the authors' eval: resize 256 (crop_pct 0.875), center crop 224, bilinear, ImageNet mean/std
    return ClassifierAdapter(
        f"mobile_former_{size}",
        get_label_space("imagenet1k"),
        module,
        Preprocess(mode="resize_crop", resize=256, crop=224),
        weights=info,
    )


def _factory(size: str) -> Any:
    def build(weights: str | None = None) -> ClassifierAdapter:
        return build_mobile_former(size, weights)

    build.__name__ = build.__qualname__ = f"mobile_former_{size}"
    build.__doc__ = f"Mobile-Former-{size.upper()} (paper: {PUBLISHED[size][0]} M params)."
    return build


mobile_former_26m = _factory("26m")
mobile_former_52m = _factory("52m")
mobile_former_96m = _factory("96m")
mobile_former_151m = _factory("151m")
mobile_former_214m = _factory("214m")
mobile_former_294m = _factory("294m")
mobile_former_508m = _factory("508m")


# -- building blocks ----------------------------------------------------------------------


class _Shuffle(nn.Module):
    """Channel shuffle with ``groups`` groups (identity for 1)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return x
        b, c, h, w = x.shape
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class _DynamicReLU(nn.Module):
    """``max(a1·x, a2·x)`` per channel, ``a1 in [0, 2]``, ``a2 in [-1, 1]``, from token 0."""

    def __init__(self, token_dim: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.hyper = nn.Sequential(
            nn.Linear(token_dim, token_dim // 4),
            nn.ReLU(),
            nn.Linear(token_dim // 4, 2 * channels),
            nn.Hardsigmoid(),
        )

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        a = self.hyper(z[:, 0])[:, :, None, None]
        a1, a2 = a.split(self.channels, dim=1)
        return torch.maximum(x * ((a1 - 0.5) * 2 + 1), x * ((a2 - 0.5) * 2))


class _Mobile2Former(nn.Module):
    """Tokens attend to the features (2 heads, k = v = features), gated, post-LayerNorm."""

    def __init__(self, channels: int, token_dim: int, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.q = nn.Linear(token_dim, channels)
        self.gate = nn.Sequential(nn.Linear(token_dim, channels), nn.Hardsigmoid())
        self.proj = nn.Linear(channels, token_dim)
        self.norm = nn.LayerNorm(token_dim)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = z.shape[1]
        q = self.q(z).view(b, t, self.heads, -1).transpose(1, 2)  # [B, N, T, C/N]
        k = x.view(b, self.heads, c // self.heads, h * w)  # [B, N, C/N, HW]
        attn = ((q @ k) * self.scale).softmax(-1)  # [B, N, T, HW]
        out = (attn @ k.transpose(-1, -2)).transpose(1, 2).reshape(b, t, c)
        out = out * (self.gate(z) * 2.0)
        return self.norm(z + self.proj(out))


class _Former(nn.Module):
    """Token self-attention (4 heads, k = v = tokens) + FFN x2, post-norm."""

    def __init__(self, dim: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, t, d = z.shape
        q = self.q(z).view(b, t, self.heads, -1).transpose(1, 2)  # [B, N, T, D/N]
        k = z.view(b, t, self.heads, -1).permute(0, 2, 3, 1)  # [B, N, D/N, T]
        attn = ((q @ k) * self.scale).softmax(-1)
        a = (attn @ k.transpose(-1, -2)).transpose(1, 2).reshape(b, t, d)
        z = self.norm1(z + self.out(a))
        return self.norm2(z + self.ffn(z))


class _Former2Mobile(nn.Module):
    """Features attend to the tokens (2 heads, q = features, k/v projected from tokens)."""

    def __init__(self, channels: int, token_dim: int, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.k = nn.Linear(token_dim, channels)
        self.v = nn.Linear(token_dim, channels)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = z.shape[1]
        q = x.view(b, self.heads, c // self.heads, h * w).transpose(-1, -2)  # [B, N, HW, C/N]
        k = self.k(z).view(b, t, self.heads, -1).permute(0, 2, 3, 1)  # [B, N, C/N, T]
        v = self.v(z).view(b, t, self.heads, -1).transpose(1, 2)  # [B, N, T, C/N]
        attn = ((q @ k) * self.scale).softmax(-1)  # [B, N, HW, T]
        out = (attn @ v).transpose(-1, -2).reshape(b, c, h, w)
        return x + out


class _Block(nn.Module):
    """One Mobile-Former block (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        cin: int,
        cout: int,
        stride: int,
        e1: int,
        e2: int,
        token_dim: int,
        groups: int,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.identity = stride == 1 and cin == cout
        self.conv_only = e2 == 0
        if self.conv_only:  # dw 3x3 (x e1) -> ReLU6 -> 1x1
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin * e1, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin * e1),
                nn.ReLU6(),
                _Shuffle(cin if groups > 1 else 1),
                nn.Conv2d(cin * e1, cout, 1, groups=groups, bias=False),
                nn.BatchNorm2d(cout),
            )
            return
        self.m2f = _Mobile2Former(cin, token_dim)
        self.former = _Former(token_dim)
        self.f2m = _Former2Mobile(cout, token_dim)
        if kind == "dw":
            h1, h2 = cin * e1, cout * e2
            self.conv1 = nn.Sequential(
                nn.Conv2d(cin, h1, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(h1),
                _Shuffle(cin if groups > 1 else 1),
            )
            self.act1 = _DynamicReLU(token_dim, h1)
            self.conv2 = nn.Sequential(
                nn.Conv2d(h1, cout, 1, groups=groups, bias=False), nn.BatchNorm2d(cout)
            )
            self.conv3 = nn.Sequential(
                nn.Conv2d(cout, h2, 3, 1, 1, groups=cout, bias=False),
                nn.BatchNorm2d(h2),
                _Shuffle(cout if groups > 1 else 1),
            )
            self.act3 = _DynamicReLU(token_dim, h2)
            self.conv4 = nn.Sequential(
                nn.Conv2d(h2, cout, 1, groups=groups, bias=False), nn.BatchNorm2d(cout)
            )
        elif kind == "pw":
            h = cin * e1
            self.conv1 = nn.Sequential(
                nn.Conv2d(cin, h, 1, groups=groups, bias=False), nn.BatchNorm2d(h), _Shuffle(groups)
            )
            self.act1 = _DynamicReLU(token_dim, h)
            self.conv2 = nn.Sequential(
                nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h)
            )
            self.act2 = _DynamicReLU(token_dim, h)
            self.conv3 = nn.Sequential(
                nn.Conv2d(h, cout, 1, groups=groups, bias=False),
                nn.BatchNorm2d(cout),
                _Shuffle(groups),
            )
        else:
            raise ValueError(f"unknown Mobile-Former block kind {kind!r}")

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.conv_only:
            out = self.conv(x)
            return (out + x if self.identity else out), z
        z = self.former(self.m2f(x, z))
        if self.kind == "dw":
            out = self.conv2(self.act1(self.conv1(x), z))
            out = out + self.conv4(self.act3(self.conv3(out), z))
            out = self.f2m(out, z)
            return (out + x if self.identity else out), z
        out = self.conv3(self.act2(self.conv2(self.act1(self.conv1(x), z)), z))
        if self.identity:
            out = out + x
        return self.f2m(out, z), z
