"""DeepLabV3+: the ASPP/decoder structure of REFERENCE.md §7 and the Cityscapes id mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from visionbench.label_spaces import get_label_space
from visionbench.models.deeplabv3plus import DeepLabV3Plus, build_deeplabv3plus
from visionbench.tasks import Batch


def _head_params(c_high: int, c_low: int, classes: int = 19) -> int:
    """ASPP + decoder parameters by hand (convs without bias, BN = 2 params per channel)."""
    bn = 2 * 256
    aspp = (c_high * 256 + bn) + 3 * (9 * c_high * 256 + bn) + (c_high * 256 + bn)
    project = 1280 * 256 + bn
    reduce = c_low * 48 + 2 * 48
    decoder = 9 * 304 * 256 + bn + 256 * classes + classes
    return aspp + project + reduce + decoder


@pytest.mark.parametrize(
    ("backbone", "c_high", "c_low"), [("mobilenetv2", 320, 24), ("resnet50", 2048, 256)]
)
def test_structure(backbone: str, c_high: int, c_low: int) -> None:
    m = DeepLabV3Plus(backbone).eval()
    head = m.classifier
    assert sum(p.numel() for p in head.parameters()) == _head_params(c_high, c_low)
    dil = [b[0].dilation for b in head.aspp.convs[:4]]
    assert dil == [(1, 1), (6, 6), (12, 12), (18, 18)]
    assert isinstance(head.aspp.convs[4][0], nn.AdaptiveAvgPool2d)
    assert head.aspp.project[0].in_channels == 1280 and head.aspp.project[0].out_channels == 256
    assert head.classifier[0].in_channels == 304 and head.classifier[0].kernel_size == (3, 3)
    assert head.project[0].out_channels == 48
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        low, high = m.backbone(x)
        out = m(x)
    assert low.shape == (1, c_low, 16, 24)  # stride 4
    assert high.shape == (1, c_high, 4, 6)  # output stride 16
    assert out.shape == (1, 19, 64, 96)


def test_output_stride_8() -> None:
    m = DeepLabV3Plus("mobilenetv2", output_stride=8).eval()
    with torch.no_grad():
        assert m.backbone(torch.randn(1, 3, 64, 64))[1].shape[-2:] == (8, 8)
    assert [b[0].dilation for b in m.classifier.aspp.convs[1:4]] == [(12, 12), (24, 24), (36, 36)]
    # DeepLab's rule: a stage's strided block keeps the previous dilation, the rest double it
    hl = m.backbone.high_level_features  # features[4:18]
    dw = [
        next(c for c in b.modules() if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3))
        for b in hl
    ]
    assert [(c.stride[0], c.dilation[0]) for c in dw] == (
        [(2, 1), (1, 1), (1, 1)] + [(1, 1)] + [(1, 2)] * 6 + [(1, 2)] + [(1, 4)] * 3
    )


def test_mobilenetv2_os16_dilations_and_reference_keys() -> None:
    m = DeepLabV3Plus("mobilenetv2", output_stride=16)
    dw = [
        next(c for c in b.modules() if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3))
        for b in m.backbone.high_level_features
    ]
    assert [(c.stride[0], c.dilation[0]) for c in dw] == (
        [(2, 1)] * 1 + [(1, 1)] * 2 + [(2, 1)] + [(1, 1)] * 6 + [(1, 1)] + [(1, 2)] * 3
    )
    # parameter names of VainF/DeepLabV3Plus-Pytorch, whose Cityscapes checkpoints load as is
    keys = set(m.state_dict())
    for k in (
        "backbone.low_level_features.0.0.weight",
        "backbone.low_level_features.1.conv.0.0.weight",
        "backbone.high_level_features.13.conv.3.running_var",
        "classifier.project.0.weight",
        "classifier.aspp.convs.3.0.weight",
        "classifier.aspp.convs.4.1.weight",
        "classifier.aspp.convs.4.2.running_mean",
        "classifier.aspp.project.0.weight",
        "classifier.classifier.0.weight",
        "classifier.classifier.3.bias",
    ):
        assert k in keys, k
    r = DeepLabV3Plus("resnet50")
    assert {"backbone.conv1.weight", "backbone.layer4.2.bn3.weight"} <= set(r.state_dict())


class _OneClass(nn.Module):
    def __init__(self, train_id: int) -> None:
        super().__init__()
        self.train_id = train_id
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], 19, x.shape[2], x.shape[3])
        out[:, self.train_id] = 1
        return out


@pytest.mark.parametrize(("space", "expected"), [("cityscapes19", 13), ("cityscapes34", 26)])
def test_trainid_to_labelid(space: str, expected: int) -> None:
    a = build_deeplabv3plus("mobilenetv2", "random", label_space=space)
    a.module = _OneClass(13)  # trainId 13 = car = labelId 26
    x, meta = a.preprocess(torch.zeros(3, 20, 30, dtype=torch.uint8))
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": "f"}]))
    assert p.mask.shape == (20, 30) and np.unique(p.mask).tolist() == [expected]
    assert a.label_space == get_label_space(space)


def test_loads_reference_style_checkpoint(tmp_path) -> None:
    # the reference implementation saves {"model_state": ..., "best_score": np.float64, ...}
    torch.manual_seed(3)
    ref = DeepLabV3Plus("mobilenetv2")
    torch.save(
        {"model_state": ref.state_dict(), "best_score": np.float64(0.72), "cur_itrs": 1},
        tmp_path / "best_deeplabv3plus_mobilenet_cityscapes_os16.pth",
    )
    a = build_deeplabv3plus(
        "mobilenetv2", str(tmp_path / "best_deeplabv3plus_mobilenet_cityscapes_os16.pth")
    )
    w = a.module.classifier.classifier[3].weight
    assert torch.equal(w, ref.classifier.classifier[3].weight)
    assert a.weights["sha256"]
