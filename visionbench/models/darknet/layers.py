"""The darknet layers other than ``[yolo]`` (:mod:`visionbench.models.darknet.yolo_head`).

``[convolutional]``, ``[maxpool]``, ``[upsample]``, ``[route]`` and ``[shortcut]``, each
computing what darknet computes at inference, including its max-pool border rule (windows
that hang over the right/bottom edge take the max of the pixels they cover, i.e. padding
with ``-inf``). ``[route]`` and ``[shortcut]`` only hold their source indices: the
network's forward pass (:class:`~visionbench.models.darknet.network.Darknet`) wires them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "ConvLayer",
    "MaxPoolLayer",
    "UpsampleLayer",
    "RouteLayer",
    "ShortcutLayer",
]

#: The ``activation=`` values :class:`ConvLayer` implements.
ACTIVATIONS = ("leaky", "linear", "relu", "logistic")


class ConvLayer(nn.Module):
    """``[convolutional]``: conv (bias only without BN), optional BN, activation."""

    def __init__(
        self,
        c_in: int,
        filters: int,
        size: int,
        stride: int,
        padding: int,
        batch_normalize: bool,
        activation: str,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            c_in, filters, size, stride, padding, groups=groups, bias=not batch_normalize
        )
        self.bn = nn.BatchNorm2d(filters) if batch_normalize else None
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.activation == "leaky":
            return F.leaky_relu(x, 0.1)
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "logistic":
            return torch.sigmoid(x)
        return x


class MaxPoolLayer(nn.Module):
    """``[maxpool]`` as darknet computes it: ``padding`` (default ``size-1``) split
    ``padding//2`` before and the rest after, padded cells ignored (``-inf``), so size 2
    stride 1 keeps the spatial size and pads right/bottom only."""

    def __init__(self, size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.size, self.stride, self.padding = size, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        before = self.padding // 2
        after = self.padding - before
        if self.padding:
            x = F.pad(x, (before, after, before, after), value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class UpsampleLayer(nn.Module):
    """``[upsample] stride=2``: nearest-neighbour upsampling by an integer factor."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.stride, mode="nearest")


class RouteLayer(nn.Module):
    """``[route]``: channel concatenation of earlier outputs (absolute indices)."""

    def __init__(self, sources: list[int]) -> None:
        super().__init__()
        self.sources = sources


class ShortcutLayer(nn.Module):
    """``[shortcut]``: the previous output plus an earlier one (absolute index)."""

    def __init__(self, source: int, activation: str) -> None:
        super().__init__()
        self.source = source
        self.activation = activation
