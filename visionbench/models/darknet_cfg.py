"""Darknet ``.cfg`` files: the parser and a PyTorch network built from one.

A cfg is an INI-like file of repeated sections (REFERENCE.md §6): a ``[net]`` header
followed by one section per layer, in order. Layers are numbered 0.. after ``[net]``;
``[route] layers=-1, 61`` and ``[shortcut] from=-3`` refer to them relatively (negative)
or absolutely (0-based). Supported layer types are those of ``yolov3.cfg`` and
``yolov3-tiny.cfg``: ``[convolutional]``, ``[shortcut]``, ``[route]``, ``[upsample]``,
``[maxpool]`` and ``[yolo]``.

The built :class:`Darknet` reproduces darknet's inference arithmetic, including its
max-pool border rule (windows that hang over the right/bottom edge take the max of the
pixels they cover, i.e. padding with ``-inf``) and the ``[yolo]`` decoding of the paper:
``bx = (σ(tx) + cx)·stride``, ``bw = pw·exp(tw)`` (anchors in input pixels).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from visionbench.errors import VisionbenchError

__all__ = [
    "CfgSection",
    "DarknetCfgError",
    "parse_cfg",
    "packaged_cfg",
    "Darknet",
    "ConvLayer",
    "YOLOLayer",
    "decode_yolo",
]

SUPPORTED = ("convolutional", "shortcut", "route", "upsample", "maxpool", "yolo")
_ACTIVATIONS = ("leaky", "linear", "relu", "logistic")


class DarknetCfgError(VisionbenchError, ValueError):
    """A darknet cfg is malformed or uses something the builder does not support."""


@dataclass
class CfgSection:
    """One ``[type]`` section of a cfg.

    Attributes:
        type: the section name without brackets, lower-case (``"convolutional"``).
        options: ``key -> raw string value`` in file order.
        line: 1-based line number of the ``[type]`` header, for messages.
        source: the file (or ``"<string>"``) it came from.
    """

    type: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0
    source: str = "<string>"

    def where(self) -> str:
        return f"{self.source}:{self.line} [{self.type}]"

    def get_int(self, key: str, default: int | None = None) -> int:
        return int(self._get(key, default, int))

    def get_float(self, key: str, default: float | None = None) -> float:
        return float(self._get(key, default, float))

    def get_str(self, key: str, default: str | None = None) -> str:
        return str(self._get(key, default, str))

    def get_ints(self, key: str, default: list[int] | None = None) -> list[int]:
        """A comma-separated list of ints (``anchors = 10,13,  16,30``)."""
        if key not in self.options:
            if default is None:
                raise DarknetCfgError(f"{self.where()}: missing required option {key!r}")
            return list(default)
        raw = self.options[key]
        try:
            return [int(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            raise DarknetCfgError(
                f"{self.where()}: option {key!r} must be a comma-separated list of integers, "
                f"got {raw!r}"
            ) from None

    def _get(self, key: str, default: object, kind: type) -> object:
        if key not in self.options:
            if default is None:
                raise DarknetCfgError(f"{self.where()}: missing required option {key!r}")
            return default
        raw = self.options[key]
        try:
            return kind(raw)
        except ValueError:
            raise DarknetCfgError(
                f"{self.where()}: option {key!r} must be {kind.__name__}, got {raw!r}"
            ) from None


_SECTION = re.compile(r"^\[([A-Za-z_0-9]+)\]$")


def parse_cfg(path: str | Path | None = None, *, text: str | None = None) -> list[CfgSection]:
    """Parse a darknet cfg into its sections, in file order (repeated sections kept).

    Comments start with ``#`` or ``;``; blank lines are ignored; whitespace around keys and
    values is stripped (``mask = 6,7,8``). The first section must be ``[net]`` or
    ``[network]``.

    Args:
        path: the cfg file. Exactly one of ``path`` and ``text`` is given.
        text: the cfg contents.

    Raises:
        DarknetCfgError: naming the file and line of a malformed line.
    """
    if (path is None) == (text is None):
        raise ValueError("give exactly one of `path` and `text`")
    source = "<string>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DarknetCfgError(f"darknet cfg not found: {source}") from None
    assert text is not None
    sections: list[CfgSection] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        m = _SECTION.match(line)
        if m:
            sections.append(CfgSection(m.group(1).lower(), {}, lineno, source))
            continue
        if "=" not in line:
            raise DarknetCfgError(
                f"{source}:{lineno}: expected `[section]` or `key=value`, got {raw!r}"
            )
        if not sections:
            raise DarknetCfgError(f"{source}:{lineno}: option {raw.strip()!r} before any [section]")
        key, value = (s.strip() for s in line.split("=", 1))
        sections[-1].options[key] = value
    if not sections or sections[0].type not in ("net", "network"):
        first = sections[0].type if sections else "nothing"
        raise DarknetCfgError(f"{source}: a darknet cfg starts with [net], found {first}")
    return sections


def packaged_cfg(name: str) -> Path:
    """Path of a cfg shipped in ``visionbench/models/cfg/`` (``"yolov3"``, ``"yolov3-tiny"``)."""
    ref = resources.files("visionbench.models").joinpath("cfg", f"{name}.cfg")
    path = Path(str(ref))
    if not path.is_file():
        raise DarknetCfgError(f"no packaged darknet cfg {name!r} (looked for {path})")
    return path


# ---------------------------------------------------------------------------------------
# Layers


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


class YOLOLayer(nn.Module):
    """``[yolo]``: decodes a head ``[B, A*(5+C), H, W]`` into ``[B, A*H*W, 5+C]``.

    Columns: ``cx, cy, w, h`` in network-input pixels, objectness, ``C`` class
    probabilities (independent sigmoids). Rows in order anchor, row, column.

    Attributes:
        anchors: ``[A, 2]`` (w, h) of the masked anchors in input pixels (buffer).
        mask: indices into the cfg's anchor list.
        num_classes: ``C``.
    """

    def __init__(self, anchors: list[tuple[int, int]], mask: list[int], num_classes: int) -> None:
        super().__init__()
        self.mask = mask
        self.num_classes = num_classes
        self.register_buffer(
            "anchors",
            torch.tensor([anchors[i] for i in mask], dtype=torch.float32),
            persistent=False,
        )

    def forward(self, x: torch.Tensor, img_size: tuple[int, int]) -> torch.Tensor:
        return decode_yolo(x, self.anchors, img_size, self.num_classes)


def decode_yolo(
    raw: torch.Tensor, anchors: torch.Tensor, img_size: tuple[int, int], num_classes: int
) -> torch.Tensor:
    """Decode one YOLO head by the paper's formula.

    ``bx = (σ(tx) + cx)·sx``, ``by = (σ(ty) + cy)·sy``, ``bw = pw·exp(tw)``,
    ``bh = ph·exp(th)``, objectness ``σ(to)``, class probabilities ``σ(tc)``, where
    ``(cx, cy)`` is the cell, ``sx = W_in / W``, ``sy = H_in / H`` its stride in pixels and
    ``(pw, ph)`` the anchor in input pixels.

    Args:
        raw: ``[B, A*(5+C), H, W]`` head output.
        anchors: ``[A, 2]`` anchor (w, h), input pixels.
        img_size: ``(H_in, W_in)`` of the network input, pixels.
        num_classes: ``C``.

    Returns:
        ``[B, A*H*W, 5+C]``: cx, cy, w, h (input pixels), objectness, class probabilities.
    """
    b, _, h, w = raw.shape
    a = anchors.shape[0]
    if raw.shape[1] != a * (5 + num_classes):
        raise DarknetCfgError(
            f"[yolo] expects {a}*(5+{num_classes}) = {a * (5 + num_classes)} input channels, "
            f"got {raw.shape[1]}"
        )
    p = raw.view(b, a, 5 + num_classes, h, w).permute(0, 1, 3, 4, 2).float()
    sy, sx = img_size[0] / h, img_size[1] / w
    gy, gx = torch.meshgrid(
        torch.arange(h, device=raw.device, dtype=p.dtype),
        torch.arange(w, device=raw.device, dtype=p.dtype),
        indexing="ij",
    )
    anc = anchors.to(device=raw.device, dtype=p.dtype).view(1, a, 1, 1, 2)
    cx = (torch.sigmoid(p[..., 0]) + gx) * sx
    cy = (torch.sigmoid(p[..., 1]) + gy) * sy
    wh = torch.exp(p[..., 2:4]) * anc
    rest = torch.sigmoid(p[..., 4:])
    out = torch.cat([cx.unsqueeze(-1), cy.unsqueeze(-1), wh, rest], dim=-1)
    return out.reshape(b, a * h * w, 5 + num_classes)


# ---------------------------------------------------------------------------------------
# The network


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
            if act not in _ACTIVATIONS:
                raise DarknetCfgError(
                    f"{sec.where()}: unsupported activation {act!r}; supported: {', '.join(_ACTIVATIONS)}"
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
