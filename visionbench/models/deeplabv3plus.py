"""DeepLabV3+ (Chen et al., ECCV 2018) over torchvision MobileNetV2 / ResNet-50 / ResNet-101.

Architecture (REFERENCE.md §7), output stride 16:

* backbone: high-level features at stride 16 (the stride-32 stage dilated by 2) and
  low-level features at stride 4 (MobileNetV2 ``features[:4]``, 24 channels; ResNet
  ``layer1``, 256 channels);
* ASPP: a 1x1 conv, three 3x3 convs with dilation 6, 12, 18 and image pooling, 256 channels
  each (conv-BN-ReLU), concatenated (1280) and projected to 256 (1x1-BN-ReLU, dropout 0.1);
* decoder: low-level 1x1 conv to 48 channels, concatenated with the ASPP output upsampled
  x4 (304 channels), a 3x3 conv to 256 (BN-ReLU), a 1x1 conv to the classes, then bilinear
  upsampling to the input size.

The module outputs Cityscapes trainIds (19 classes, label space ``cityscapes19``). With
``label_space="cityscapes34"`` the adapter writes Cityscapes labelIds (the evaluation
protocol's ids) through the explicit ``cityscapes19 -> cityscapes34`` label map. No
pretrained weights ship: ``weights`` is a path or URL of a state dict of this module.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from visionbench.errors import RegistryError
from visionbench.label_spaces import get_label_space, label_map
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import SegmentationAdapter
from visionbench.models.weights import load_into, load_state_dict_file, resolve_weights, sha256_file

__all__ = [
    "DeepLabV3Plus",
    "ASPP",
    "build_deeplabv3plus",
    "deeplabv3plus_mobilenetv2",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
]

_BACKBONES = ("mobilenetv2", "resnet50", "resnet101")


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: [B, C_in, h, w] -> [B, 256, h, w]."""

    def __init__(
        self, in_channels: int, rates: tuple[int, int, int] = (6, 12, 18), channels: int = 256
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [_conv_bn_relu(in_channels, channels, 1)]
        branches += [_conv_bn_relu(in_channels, channels, 3, dilation=r) for r in rates]
        self.branches = nn.ModuleList(branches)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), _conv_bn_relu(in_channels, channels, 1))
        self.project = nn.Sequential(
            _conv_bn_relu(channels * (len(rates) + 2), channels, 1), nn.Dropout(0.1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        pooled = self.pool(x)
        outs.append(F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, dim=1))


class DeepLabV3Plus(nn.Module):
    """[B, 3, H, W] -> logits [B, num_classes, H, W].

    Args:
        backbone: ``"mobilenetv2"``, ``"resnet50"`` or ``"resnet101"`` (torchvision,
            random init).
        num_classes: output channels (19 Cityscapes trainIds).
        output_stride: 16 (dilation 6/12/18) or 8 (dilation 12/24/36, the stride-16 stage
            dilated too).
    """

    def __init__(
        self, backbone: str = "mobilenetv2", num_classes: int = 19, output_stride: int = 16
    ) -> None:
        super().__init__()
        if backbone not in _BACKBONES:
            raise RegistryError(
                f"unknown DeepLabV3+ backbone {backbone!r}; choose from {_BACKBONES}"
            )
        if output_stride not in (8, 16):
            raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")
        self.backbone_name = backbone
        if backbone == "mobilenetv2":
            self.low, self.high, low_ch, high_ch = _mobilenetv2(output_stride)
        else:
            self.low, self.high, low_ch, high_ch = _resnet(backbone, output_stride)
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.aspp = ASPP(high_ch, rates)
        self.reduce = _conv_bn_relu(low_ch, 48, 1)
        self.decoder = nn.Sequential(
            _conv_bn_relu(256 + 48, 256, 3), nn.Conv2d(256, num_classes, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        low = self.low(x)
        high = self.aspp(self.high(low))
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        out = self.decoder(torch.cat([high, self.reduce(low)], dim=1))
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)


def build_deeplabv3plus(
    backbone: str,
    weights: str | None = None,
    *,
    label_space: str = "cityscapes19",
    output_stride: int = 16,
) -> SegmentationAdapter:
    """DeepLabV3+ adapter for Cityscapes.

    Args:
        backbone: ``"mobilenetv2"``, ``"resnet50"`` or ``"resnet101"``.
        weights: ``None``/``"random"`` (random init) or a path/URL of a state dict.
        label_space: ``"cityscapes19"`` (predict trainIds) or ``"cityscapes34"`` (predict
            labelIds via the explicit label map).
        output_stride: 16 or 8.
    """
    if label_space not in ("cityscapes19", "cityscapes34"):
        raise RegistryError(
            f"DeepLabV3+ predicts Cityscapes classes; label_space must be cityscapes19 or "
            f"cityscapes34, got {label_space!r}"
        )
    module = DeepLabV3Plus(backbone, 19, output_stride)
    info: dict[str, Any] = {"name": "random"}
    if weights is not None and weights.lower() not in ("random", "none"):
        path = resolve_weights(weights)
        load_into(module, load_state_dict_file(path), source=f"weights file {path}")
        info = {"name": weights, "path": str(path), "sha256": sha256_file(path)}
    train_ids = list(get_label_space("cityscapes19").ids)
    class_ids = (
        train_ids
        if label_space == "cityscapes19"
        else label_map("cityscapes19", "cityscapes34").apply(train_ids).tolist()
    )
    return SegmentationAdapter(
        f"deeplabv3plus_{backbone}",
        get_label_space(label_space),
        module,
        Preprocess(mode="none", interpolation="bilinear"),
        class_ids=class_ids,
        weights=info,
    )


def deeplabv3plus_mobilenetv2(weights: str | None = None, **kw: Any) -> SegmentationAdapter:
    """DeepLabV3+ MobileNetV2, OS16 (published Cityscapes val mIoU 0.721)."""
    return build_deeplabv3plus("mobilenetv2", weights, **kw)


def deeplabv3plus_resnet50(weights: str | None = None, **kw: Any) -> SegmentationAdapter:
    """DeepLabV3+ ResNet-50, OS16."""
    return build_deeplabv3plus("resnet50", weights, **kw)


def deeplabv3plus_resnet101(weights: str | None = None, **kw: Any) -> SegmentationAdapter:
    """DeepLabV3+ ResNet-101, OS16 (published Cityscapes val mIoU 0.762)."""
    return build_deeplabv3plus("resnet101", weights, **kw)


# -- backbones ----------------------------------------------------------------------------


def _conv_bn_relu(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Sequential:
    pad = 0 if k == 1 else dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _mobilenetv2(output_stride: int) -> tuple[nn.Module, nn.Module, int, int]:
    """MobileNetV2 ``features[:4]`` (24 ch, stride 4) and ``features[4:18]`` (320 ch); the
    last 1x1 conv to 1280 is dropped. Stages past the output stride are dilated."""
    from torchvision.models import mobilenet_v2

    feats = mobilenet_v2(weights=None).features
    # features[i] starts a stride-2 stage at i = 1(conv0), 2, 4, 7, 14.
    dilate_from = 14 if output_stride == 16 else 7
    dilation = 1
    for i in range(dilate_from, 18):
        for m in feats[i].modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                if m.stride == (2, 2):
                    m.stride = (1, 1)
                    dilation *= 2
                m.dilation = (dilation, dilation)
                m.padding = (dilation, dilation)
    return feats[:4], feats[4:18], 24, 320


def _resnet(name: str, output_stride: int) -> tuple[nn.Module, nn.Module, int, int]:
    """ResNet stem+``layer1`` (256 ch, stride 4) and ``layer2..4`` (2048 ch)."""
    import torchvision.models as tvm

    dil = [False, False, True] if output_stride == 16 else [False, True, True]
    r = getattr(tvm, name)(weights=None, replace_stride_with_dilation=dil)
    low = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1)
    high = nn.Sequential(r.layer2, r.layer3, r.layer4)
    return low, high, 256, 2048
