"""The :class:`Darknet` network, built layer by layer from parsed cfg sections.

Supported layer types are those of ``yolov3.cfg`` and ``yolov3-tiny.cfg``:
``[convolutional]``, ``[shortcut]``, ``[route]``, ``[upsample]``, ``[maxpool]``
(:mod:`visionbench.models.darknet.layers`) and ``[yolo]``
(:mod:`visionbench.models.darknet.yolo_head`). The network reproduces darknet's
inference arithmetic; its ``.weights`` files are read by
:mod:`visionbench.models.darknet.weights`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from visionbench.models.darknet.cfg import CfgSection, DarknetCfgError, parse_cfg
from visionbench.models.darknet.layers import (
    ACTIVATIONS,
    ConvLayer,
    MaxPoolLayer,
    RouteLayer,
    ShortcutLayer,
    UpsampleLayer,
)
from visionbench.models.darknet.yolo_head import YOLOLayer

__all__ = ["Darknet", "SUPPORTED"]

#: The cfg section types :class:`Darknet` builds.
SUPPORTED = ("convolutional", "shortcut", "route", "upsample", "maxpool", "yolo")


class Darknet(nn.Module):
    """A network built from parsed cfg sections.

    ``forward(x)`` takes ``[B, C, H, W]`` (H, W multiples of the largest stride) and
    returns the decoded detections of every ``[yolo]`` layer concatenated:
    ``[B, N, 5+C]`` (see :class:`YOLOLayer`).

    Attributes:
        net: the ``[net]`` options.
        layers: one module per layer section (``len(layers)`` is darknet's layer count).
        layer_types: the section type of each layer.
        out_channels: channels of each layer's output.
        source: the cfg it was built from.
    """

    def __init__(self, sections: list[CfgSection]) -> None:
        super().__init__()
        if not sections or sections[0].type not in ("net", "network"):
            raise DarknetCfgError("sections must start with [net]")
        self.net = dict(sections[0].options)
        self.source = sections[0].source
        self.in_channels = sections[0].get_int("channels", 3)
        self.layers = nn.ModuleList()
        self.layer_types: list[str] = []
        self.out_channels: list[int] = []
        self._keep: set[int] = set()
        for i, sec in enumerate(sections[1:]):
            module, c_out = self._build(i, sec)
            self.layers.append(module)
            self.layer_types.append(sec.type)
            self.out_channels.append(c_out)

    @classmethod
    def from_cfg(cls, path: str | Path) -> Darknet:
        """Build from a cfg file."""
        return cls(parse_cfg(path))

    @property
    def width(self) -> int:
        return int(self.net.get("width", 416))

    @property
    def height(self) -> int:
        return int(self.net.get("height", 416))

    def conv_layers(self) -> list[ConvLayer]:
        """The ``[convolutional]`` layers in cfg order (the ``.weights`` order)."""
        return [m for m in self.layers if isinstance(m, ConvLayer)]

    def yolo_layers(self) -> list[YOLOLayer]:
        return [m for m in self.layers if isinstance(m, YOLOLayer)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img_size = (int(x.shape[-2]), int(x.shape[-1]))
        outputs: dict[int, torch.Tensor] = {}
        detections: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, RouteLayer):
                parts = [outputs[j] for j in layer.sources]
                x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            elif isinstance(layer, ShortcutLayer):
                x = x + outputs[layer.source]
            elif isinstance(layer, YOLOLayer):
                detections.append(layer(x, img_size))
            else:
                x = layer(x)
            if i in self._keep:
                outputs[i] = x
        return torch.cat(detections, dim=1)

    # -- building -----------------------------------------------------------------------

    def _index(self, i: int, ref: int, sec: CfgSection) -> int:
        j = i + ref if ref < 0 else ref
        if not 0 <= j < i:
            raise DarknetCfgError(
                f"{sec.where()}: layer {i} refers to layer {ref} -> {j}, which is not an "
                f"earlier layer (0..{i - 1})"
            )
        self._keep.add(j)
        return j

    def _build(self, i: int, sec: CfgSection) -> tuple[nn.Module, int]:
        c_prev = self.out_channels[-1] if self.out_channels else self.in_channels
        t = sec.type
        if t == "convolutional":
            size = sec.get_int("size", 1)
            padding = size // 2 if sec.get_int("pad", 0) else sec.get_int("padding", 0)
            act = sec.get_str("activation", "logistic")
            if act not in ACTIVATIONS:
                raise DarknetCfgError(
                    f"{sec.where()}: unsupported activation {act!r}; supported: {', '.join(ACTIVATIONS)}"
                )
            filters = sec.get_int("filters", 1)
            groups = sec.get_int("groups", 1)
            return ConvLayer(
                c_prev,
                filters,
                size,
                sec.get_int("stride", 1),
                padding,
                bool(sec.get_int("batch_normalize", 0)),
                act,
                groups,
            ), filters
        if t == "maxpool":
            size = sec.get_int("size", 1)
            stride = sec.get_int("stride", 1)
            return MaxPoolLayer(size, stride, sec.get_int("padding", size - 1)), c_prev
        if t == "upsample":
            return UpsampleLayer(sec.get_int("stride", 2)), c_prev
        if t == "route":
            sources = [self._index(i, r, sec) for r in sec.get_ints("layers")]
            return RouteLayer(sources), sum(self.out_channels[j] for j in sources)
        if t == "shortcut":
            j = self._index(i, sec.get_ints("from")[0], sec)
            if self.out_channels[j] != c_prev:
                raise DarknetCfgError(
                    f"{sec.where()}: shortcut adds layer {j} ({self.out_channels[j]} channels) to "
                    f"layer {i - 1} ({c_prev} channels); channel counts must match"
                )
            act = sec.get_str("activation", "linear")
            if act != "linear":
                raise DarknetCfgError(
                    f"{sec.where()}: only linear shortcut activation is supported"
                )
            return ShortcutLayer(j, act), c_prev
        if t == "yolo":
            flat = sec.get_ints("anchors")
            if len(flat) % 2:
                raise DarknetCfgError(
                    f"{sec.where()}: anchors must be (w, h) pairs, got {len(flat)} numbers"
                )
            anchors = list(zip(flat[0::2], flat[1::2]))
            num = sec.get_int("num", len(anchors))
            if num != len(anchors):
                raise DarknetCfgError(f"{sec.where()}: num={num} but {len(anchors)} anchors given")
            mask = sec.get_ints("mask", list(range(num)))
            if any(not 0 <= m < num for m in mask):
                raise DarknetCfgError(f"{sec.where()}: mask {mask} out of range 0..{num - 1}")
            classes = sec.get_int("classes", 20)
            if c_prev != len(mask) * (5 + classes):
                raise DarknetCfgError(
                    f"{sec.where()}: the layer before [yolo] has {c_prev} filters; expected "
                    f"len(mask)*(5+classes) = {len(mask) * (5 + classes)}"
                )
            return YOLOLayer(anchors, mask, classes), c_prev
        raise DarknetCfgError(
            f"{sec.where()}: unsupported layer type [{t}]; supported: {', '.join(SUPPORTED)}"
        )
