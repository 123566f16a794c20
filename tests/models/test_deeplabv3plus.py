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
    head = sum(p.numel() for mod in (m.aspp, m.reduce, m.decoder) for p in mod.parameters())
    assert head == _head_params(c_high, c_low)
    dil = [b[0].dilation for b in m.aspp.branches]
    assert dil == [(1, 1), (6, 6), (12, 12), (18, 18)]
    assert m.aspp.project[0][0].in_channels == 1280 and m.aspp.project[0][0].out_channels == 256
    assert m.decoder[0][0].in_channels == 304 and m.decoder[0][0].kernel_size == (3, 3)
    assert m.reduce[0].out_channels == 48
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        low = m.low(x)
        high = m.high(low)
        out = m(x)
    assert low.shape == (1, c_low, 16, 24)  # stride 4
    assert high.shape == (1, c_high, 4, 6)  # output stride 16
    assert out.shape == (1, 19, 64, 96)


def test_output_stride_8() -> None:
    m = DeepLabV3Plus("mobilenetv2", output_stride=8).eval()
    with torch.no_grad():
        assert m.high(m.low(torch.randn(1, 3, 64, 64))).shape[-2:] == (8, 8)
    assert [b[0].dilation for b in m.aspp.branches][1:] == [(12, 12), (24, 24), (36, 36)]


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
    a = build_deeplabv3plus("mobilenetv2", label_space=space)
    a.module = _OneClass(13)  # trainId 13 = car = labelId 26
    x, meta = a.preprocess(torch.zeros(3, 20, 30, dtype=torch.uint8))
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": "f"}]))
    assert p.mask.shape == (20, 30) and np.unique(p.mask).tolist() == [expected]
    assert a.label_space == get_label_space(space)
