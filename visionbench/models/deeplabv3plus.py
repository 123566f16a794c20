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
from visionbench.models.weights import default_weights, load_weights

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
    """Atrous spatial pyramid pooling: [B, C_in, h, w] -> [B, 256, h, w].

    ``convs``: the 1x1 branch, the three atrous 3x3 branches and the image-pooling branch,
    concatenated in that order (1280 channels) and projected to 256.
    """

    def __init__(
        self, in_channels: int, rates: tuple[int, int, int] = (6, 12, 18), channels: int = 256
    ) -> None:
        super().__init__()
        convs: list[nn.Module] = [_conv_bn_relu(in_channels, channels, 1)]
        convs += [_conv_bn_relu(in_channels, channels, 3, dilation=r) for r in rates]
        convs.append(
            nn.Sequential(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, channels, 1))
        )
        self.convs = nn.ModuleList(convs)
        n = channels * (len(rates) + 2)
        self.project = nn.Sequential(*_conv_bn_relu(n, channels, 1), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [c(x) for c in self.convs]
        outs[-1] = F.interpolate(outs[-1], size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.project(torch.cat(outs, dim=1))


class DeepLabV3PlusHead(nn.Module):
    """Decoder: ``project`` (low-level 1x1 -> 48), ``aspp``, and ``classifier`` (3x3 conv
    304 -> 256, 1x1 to the classes) on ``[low-level, upsampled ASPP]``."""

    def __init__(
        self, high_channels: int, low_channels: int, num_classes: int, rates: tuple[int, int, int]
    ) -> None:
        super().__init__()
        self.project = _conv_bn_relu(low_channels, 48, 1)
        self.aspp = ASPP(high_channels, rates)
        self.classifier = nn.Sequential(
            *_conv_bn_relu(48 + 256, 256, 3), nn.Conv2d(256, num_classes, 1)
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        high = self.aspp(high)
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(torch.cat([self.project(low), high], dim=1))


class DeepLabV3Plus(nn.Module):
    """[B, 3, H, W] -> logits [B, num_classes, H, W].

    Parameter names follow the widely used reference implementation
    (VainF/DeepLabV3Plus-Pytorch: ``backbone.*``, ``classifier.project``,
    ``classifier.aspp.convs``, ``classifier.classifier``), so its Cityscapes checkpoints (a
    dict with ``model_state``) load unchanged.

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
            self.backbone: nn.Module = _MobileNetV2Backbone(output_stride)
            low_ch, high_ch = 24, 320
        else:
            self.backbone = _ResNetBackbone(backbone, output_stride)
            low_ch, high_ch = 256, 2048
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.classifier = DeepLabV3PlusHead(high_ch, low_ch, num_classes, rates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = self.backbone(x)
        out = self.classifier(low, high)
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


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
        weights: ``"random"`` (random init) or a path / cache name / URL (``#sha256=``
            checks it) of a state dict; ``None``:
            ``deeplabv3plus_<backbone>.pt`` (or ``.pth``) in the weights cache directory,
            else a :class:`WeightsError` saying where it looked.
        label_space: ``"cityscapes19"`` (predict trainIds) or ``"cityscapes34"`` (predict
            labelIds via the explicit label map).
        output_stride: 16 or 8.
    """
    if label_space not in ("cityscapes19", "cityscapes34"):
        raise RegistryError(
            f"DeepLabV3+ predicts Cityscapes classes; label_space must be cityscapes19 or "
            f"cityscapes34, got {label_space!r}"
        )
    name = f"deeplabv3plus_{backbone}"
    spec = default_weights(name, weights, [f"{name}.pt", f"{name}.pth"])
    module = DeepLabV3Plus(backbone, 19, output_stride)
    info = load_weights(module, spec)
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


class _MobileNetV2Backbone(nn.Module):
    """torchvision MobileNetV2 ``features[:4]`` (24 ch, stride 4) as ``low_level_features``
    and ``features[4:18]`` (320 ch) as ``high_level_features``; the last 1x1 conv to 1280 is
    dropped. Past the output stride, a stage's strided block runs at stride 1 with the
    previous dilation and its other blocks with the dilation doubled (DeepLab's rule)."""

    def __init__(self, output_stride: int) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        feats = mobilenet_v2(weights=None).features
        # stages (first block index, stride): features[i] for i in 1, 2, 4, 7, 14 stride 2
        strided_stage_starts = (2, 4, 7, 14)
        stride, dilation = 2, 1  # after the stem
        for i in range(2, 18):
            if i in strided_stage_starts:
                if stride == output_stride:
                    _set_dw(feats[i], stride=1, dilation=dilation)
                    dilation *= 2
                else:
                    stride *= 2
            elif dilation > 1:
                _set_dw(feats[i], stride=1, dilation=dilation)
        self.low_level_features = feats[:4]
        self.high_level_features = feats[4:18]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.low_level_features(x)
        return low, self.high_level_features(low)


class _ResNetBackbone(nn.Module):
    """torchvision ResNet up to ``layer4``; low level = ``layer1`` (256 ch, stride 4)."""

    def __init__(self, name: str, output_stride: int) -> None:
        super().__init__()
        import torchvision.models as tvm

        dil = [False, False, True] if output_stride == 16 else [False, True, True]
        r = getattr(tvm, name)(weights=None, replace_stride_with_dilation=dil)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return low, self.layer4(self.layer3(self.layer2(low)))


def _set_dw(block: nn.Module, *, stride: int, dilation: int) -> None:
    for m in block.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            m.stride = (stride, stride)
            m.dilation = (dilation, dilation)
            m.padding = (dilation, dilation)
