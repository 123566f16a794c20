"""profile_model: FLOPs against hand counts and torchvision's published MACs, and the shape
of the profile record."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ClassifierAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.profiling import count_flops, default_input_size, profile_model


def _tiny() -> ClassifierAdapter:
    # conv 3->8, 3x3, stride 1, pad 1 on 32x32: 32*32*8*3*9 MACs = 221,184
    # linear 8->1000 after global pooling: 8,000 MACs
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 1000),
    )
    return ClassifierAdapter(
        "tiny",
        get_label_space("imagenet1k"),
        module,
        Preprocess(mode="resize_crop", resize=36, crop=32),
    )


def test_flops_by_hand() -> None:
    a = _tiny()
    assert count_flops(a.module, torch.zeros(1, 3, 32, 32)) == 2 * (221_184 + 8_000)


def test_profile_record() -> None:
    a = _tiny()
    prof = profile_model(a, batch_size=4, device="cpu", warmup=1, iters=3)
    assert prof["input_size"] == [32, 32] == list(default_input_size(a))
    assert prof["params"] == 3 * 8 * 9 + 8 + 8 * 1000 + 1000
    assert prof["gmacs"] == pytest.approx(229_184 / 1e9)
    assert prof["gflops"] == pytest.approx(2 * prof["gmacs"])
    assert prof["latency_ms"] > 0 and prof["throughput_ips"] > 0 and prof["peak_memory_mb"] > 0
    assert prof["latency_ms_p90"] >= prof["latency_ms"]
    assert prof["memory_kind"] == "cpu_peak_rss_process" and prof["batch_size"] == 4
    with pytest.raises(ValueError, match="need iters >= 1"):
        profile_model(a, iters=0)


def test_mobilenet_v3_large_macs_match_torchvision_meta() -> None:
    import torchvision.models as tvm

    from visionbench.models.torchvision_zoo import build_torchvision

    a = build_torchvision("mobilenet_v3_large", None)
    macs = count_flops(a.module.eval(), torch.zeros(1, 3, 224, 224)) / 2e9
    published = tvm.MobileNet_V3_Large_Weights.DEFAULT.meta["_ops"]  # 0.217 (REFERENCE.md §7)
    assert published == pytest.approx(0.217)
    assert macs == pytest.approx(published, rel=0.02)


# REFERENCE.md §7 GFLOPs (torchvision meta "_ops", which count multiply-adds) and the
# input size the weights are evaluated at
REFERENCE_MACS = [
    ("vit_b_16", 224, 17.564),
    ("maxvit_t", 224, 5.558),
    ("densenet121", 224, 2.834),
    ("lraspp_mobilenet_v3_large", 520, 2.086),
]


@pytest.mark.parametrize(("name", "size", "gmacs"), REFERENCE_MACS)
def test_reference_gflops_on_meta_device(name: str, size: int, gmacs: float) -> None:
    from visionbench.models.torchvision_zoo import build_torchvision

    with torch.device("meta"):  # shapes only: no initialisation, no arithmetic
        a = build_torchvision(name, None)
        macs = count_flops(a.module.eval(), torch.empty(1, 3, size, size)) / 2e9
    assert macs == pytest.approx(gmacs, rel=2e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_profile_cuda() -> None:
    prof = profile_model(_tiny(), batch_size=8, device="cuda", warmup=2, iters=5)
    assert prof["memory_kind"] == "cuda_max_memory_allocated" and prof["peak_memory_mb"] > 0
