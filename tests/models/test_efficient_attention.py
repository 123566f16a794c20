"""Linear and block-sparse attention against dense reference formulas, and the drop-in swap
into torchvision's ViT."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.vision_transformer import VisionTransformer

from visionbench.errors import RegistryError
from visionbench.models.efficient_attention import (
    EfficientSelfAttention,
    bigbird_block_layout,
    block_sparse_attention,
    linear_attention,
    swap_attention,
)


def _qkv(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, n, 8, generator=g, dtype=torch.float64) for _ in range(3))


def test_linear_attention_equals_quadratic_formula() -> None:
    q, k, v = _qkv(37)
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    a = fq @ fk.transpose(-1, -2)  # [B, H, N, N] similarities, all positive
    ref = (a @ v) / a.sum(-1, keepdim=True)
    torch.testing.assert_close(linear_attention(q, k, v), ref)


def test_block_sparse_with_full_window_is_softmax() -> None:
    q, k, v = _qkv(50)  # 50 is not a multiple of 16: padding must be masked
    out = block_sparse_attention(q, k, v, block=16, window=9, num_global=1, num_random=0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize(("n", "block", "g", "r"), [(100, 8, 1, 2), (64, 16, 2, 1), (33, 4, 0, 3)])
def test_block_sparse_equals_dense_masked_attention(n: int, block: int, g: int, r: int) -> None:
    q, k, v = _qkv(n, seed=n)
    nb = -(-n // block)
    layout = bigbird_block_layout(nb, window=3, num_global=g, num_random=r, seed=5)
    token_mask = layout.repeat_interleave(block, 0).repeat_interleave(block, 1)[:n, :n]
    s = (q @ k.transpose(-1, -2)) / 8**0.5
    ref = s.masked_fill(~token_mask, float("-inf")).softmax(-1) @ v
    out = block_sparse_attention(q, k, v, block=block, window=3, num_global=g, num_random=r, seed=5)
    torch.testing.assert_close(out, ref)


def test_bigbird_layout() -> None:
    lay = bigbird_block_layout(10, window=3, num_global=1, num_random=2, seed=0)
    assert lay[0].all() and lay[:, 0].all()  # global block
    for i in range(1, 10):
        band = {j for j in (i - 1, i, i + 1) if 0 <= j < 10}
        assert band <= set(lay[i].nonzero().flatten().tolist())
        assert int(lay[i].sum()) == len(band | {0}) + 2  # + 2 random blocks
    assert torch.equal(lay, bigbird_block_layout(10, window=3, num_global=1, num_random=2, seed=0))


def _tiny_vit() -> VisionTransformer:
    torch.manual_seed(0)
    vit = VisionTransformer(
        image_size=32,
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
        num_classes=10,
    ).eval()
    torch.nn.init.normal_(vit.heads.head.weight)  # torchvision zero-inits the head
    return vit


def test_swap_keeps_weights_and_softmax_reproduces_vit() -> None:
    vit = _tiny_vit()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = vit(x)
    assert ref.abs().min() > 0
    keys = list(vit.state_dict())
    assert swap_attention(vit, "softmax") == 2
    assert list(vit.state_dict()) == keys
    assert isinstance(vit.encoder.layers[0].self_attention, EfficientSelfAttention)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), ref, rtol=1e-5, atol=1e-5)
    for kind in ("linear", "block_sparse"):
        v2 = _tiny_vit()
        # 17 tokens in blocks of 2: 9 blocks, each row sees at most 6 (sparse)
        swap_attention(v2, kind, **({"block": 2} if kind == "block_sparse" else {}))
        with torch.no_grad():
            out = v2(x)
        assert out.shape == (2, 10) and torch.isfinite(out).all()
        assert not torch.allclose(out, ref)


def test_torchvision_zoo_attention_option() -> None:
    from visionbench.models.torchvision_zoo import build_torchvision

    with pytest.raises(RegistryError, match="has no nn.MultiheadAttention"):
        build_torchvision("squeezenet1_1", None, attention="linear")
    with pytest.raises(ValueError, match="unknown attention kind 'fast'"):
        EfficientSelfAttention(16, 2, kind="fast")
