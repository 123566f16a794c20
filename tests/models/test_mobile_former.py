"""Mobile-Former: every configuration against the paper's table (REFERENCE.md §7):
parameters within 5 %, multiply-adds at 224x224 within 10 %."""

from __future__ import annotations

import pytest
import torch

from visionbench.errors import RegistryError
from visionbench.models.mobile_former import CONFIGS, PUBLISHED, MobileFormer, build_mobile_former
from visionbench.models.profiling import count_flops

# REFERENCE.md §7: (params in millions, MAdds in millions)
PAPER = {
    "508m": (14.0, 508),
    "294m": (11.4, 294),
    "214m": (9.4, 214),
    "151m": (7.6, 151),
    "96m": (4.6, 96),
    "52m": (3.5, 52),
    "26m": (3.2, 26),
}


def test_published_table_matches_reference() -> None:
    assert {k: v[:2] for k, v in PUBLISHED.items()} == PAPER


@pytest.mark.parametrize("size", list(PAPER))
def test_params_and_madds_match_paper(size: str) -> None:
    with torch.device("meta"):  # shapes only: no initialisation, no arithmetic
        model = MobileFormer(CONFIGS[size]).eval()
    params = sum(p.numel() for p in model.parameters())
    madds = count_flops(model, torch.empty(1, 3, 224, 224, device="meta")) / 2
    p_ref, m_ref = PAPER[size]
    assert abs(params / (p_ref * 1e6) - 1) < 0.05, (size, params)
    assert abs(madds / (m_ref * 1e6) - 1) < 0.10, (size, madds)


def test_forward_and_adapter() -> None:
    a = build_mobile_former("26m", "random")
    assert a.name == "mobile_former_26m" and a.label_space.name == "imagenet1k"
    assert (a.preprocess_config.resize, a.preprocess_config.crop) == (256, 224)
    with torch.no_grad():
        out = a.module(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()
    # the Former branch feeds the classifier: other tokens, other logits
    with torch.no_grad():
        a.module.tokens.add_(1.0)
        out2 = a.module(torch.zeros(1, 3, 224, 224))
        a.module.tokens.sub_(1.0)
        out3 = a.module(torch.zeros(1, 3, 224, 224))
    assert not torch.allclose(out2, out3)
    with pytest.raises(RegistryError, match="unknown Mobile-Former size '1g'"):
        build_mobile_former("1g")
