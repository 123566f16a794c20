"""Drop-in attention for the ViT family: linear attention and BigBird-style block-sparse.

* :func:`linear_attention` (Katharopoulos et al., 2020): ``φ(x) = elu(x) + 1``,
  ``out_i = φ(q_i)·Σ_j φ(k_j) v_jᵀ / φ(q_i)·Σ_j φ(k_j)`` — O(N·D²) instead of O(N²·D).
* :func:`block_sparse_attention` (Zaheer et al., 2020, BigBird): the sequence is cut into
  blocks of ``block`` tokens; each query block attends to the ``num_global`` first blocks,
  a sliding window of ``window`` blocks around itself and ``num_random`` random blocks
  (fixed by ``seed``), and the global blocks attend to everything. Softmax is exact over
  the selected keys; cost O(N·(g + w + r)·block·D).
* :class:`EfficientSelfAttention` has the parameters of ``nn.MultiheadAttention``
  (``in_proj_weight``, ``in_proj_bias``, ``out_proj``), so :func:`swap_attention` can replace
  the attention of a torchvision ViT in place and the same state dict still loads.
  ``kind="softmax"`` reproduces ``nn.MultiheadAttention`` (the check that the weight layout
  is right).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "linear_attention",
    "block_sparse_attention",
    "bigbird_block_layout",
    "EfficientSelfAttention",
    "swap_attention",
    "ATTENTION_KINDS",
]

ATTENTION_KINDS = ("softmax", "linear", "block_sparse")


def linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Linear attention with the feature map ``elu(x) + 1``.

    Args:
        q, k, v: [B, H, N, D] (``k``/``v`` may have another length M).

    Returns:
        [B, H, N, D].
    """
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    kv = torch.einsum("bhmd,bhme->bhde", fk, v)  # [B, H, D, D]
    norm = torch.einsum("bhnd,bhd->bhn", fq, fk.sum(dim=2)).clamp_min(eps)
    return torch.einsum("bhnd,bhde->bhne", fq, kv) / norm[..., None]


def bigbird_block_layout(
    num_blocks: int, *, window: int = 3, num_global: int = 1, num_random: int = 2, seed: int = 0
) -> torch.Tensor:
    """[nb, nb] bool: which key blocks each query block attends to (BigBird's pattern)."""
    nb = num_blocks
    idx = torch.arange(nb)
    layout = (idx[:, None] - idx[None, :]).abs() <= window // 2
    g = min(num_global, nb)
    layout[:, :g] = True
    layout[:g, :] = True
    gen = torch.Generator().manual_seed(seed)
    for i in range(g, nb):
        free = (~layout[i]).nonzero().flatten()
        if free.numel():
            pick = free[torch.randperm(free.numel(), generator=gen)[:num_random]]
            layout[i, pick] = True
    return layout


def block_sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    block: int = 16,
    window: int = 3,
    num_global: int = 1,
    num_random: int = 2,
    seed: int = 0,
) -> torch.Tensor:
    """BigBird-style block-sparse softmax attention (self-attention: N == M).

    Args:
        q, k, v: [B, H, N, D]; N is padded to a multiple of ``block`` internally (padded
            keys are masked out).

    Returns:
        [B, H, N, D].
    """
    b, h, n, d = q.shape
    nb = math.ceil(n / block)
    pad = nb * block - n
    if pad:
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
    layout = bigbird_block_layout(
        nb, window=window, num_global=num_global, num_random=num_random, seed=seed
    ).to(q.device)
    key_valid = torch.arange(nb * block, device=q.device) < n
    scale = d**-0.5
    g = min(num_global, nb)
    out = torch.empty_like(q)
    # global query blocks: dense rows
    if g:
        qg = q[:, :, : g * block]
        s = (qg @ k.transpose(-1, -2)) * scale
        s = s.masked_fill(~key_valid, float("-inf"))
        out[:, :, : g * block] = s.softmax(-1) @ v
    if nb > g:
        # the other query blocks: gather their key blocks (padded to the same count, masked)
        rows = layout[g:]
        m = int(rows.sum(1).max())
        order = torch.argsort((~rows).to(torch.int8), dim=1, stable=True)[:, :m]  # selected first
        sel_valid = torch.gather(rows, 1, order)  # [nb-g, m]
        kb = k.view(b, h, nb, block, d)[:, :, order]  # [B, H, nb-g, m, block, D]
        vb = v.view(b, h, nb, block, d)[:, :, order]
        kb = kb.reshape(b, h, nb - g, m * block, d)
        vb = vb.reshape(b, h, nb - g, m * block, d)
        qb = q.view(b, h, nb, block, d)[:, :, g:]  # [B, H, nb-g, block, D]
        s = (qb @ kb.transpose(-1, -2)) * scale  # [B, H, nb-g, block, m*block]
        valid = sel_valid[:, :, None] & key_valid.view(nb, block)[order]  # [nb-g, m, block]
        s = s.masked_fill(~valid.reshape(nb - g, 1, m * block), float("-inf"))
        out[:, :, g * block :] = (s.softmax(-1) @ vb).reshape(b, h, (nb - g) * block, d)
    return out[:, :, :n]


class EfficientSelfAttention(nn.Module):
    """Self-attention with ``nn.MultiheadAttention``'s parameters and call signature
    (``batch_first=True``; returns ``(output, None)``).

    Args:
        embed_dim, num_heads: as ``nn.MultiheadAttention``.
        kind: ``"softmax"``, ``"linear"`` or ``"block_sparse"``.
        options: block-sparse options (``block``, ``window``, ``num_global``, ``num_random``,
            ``seed``).
    """

    def __init__(
        self, embed_dim: int, num_heads: int, *, kind: str = "linear", **options: Any
    ) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"unknown attention kind {kind!r}; choose from {ATTENTION_KINDS}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.kind, self.options = (
            embed_dim,
            num_heads,
            kind,
            options,
        )
        self.batch_first = True
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    @classmethod
    def from_multihead(
        cls, mha: nn.MultiheadAttention, kind: str, **options: Any
    ) -> EfficientSelfAttention:
        """Copy the weights of a ``batch_first`` ``nn.MultiheadAttention``."""
        if not mha.batch_first or mha.in_proj_weight is None:
            raise ValueError(
                "only batch_first MultiheadAttention with a packed in_proj is supported"
            )
        new = cls(mha.embed_dim, mha.num_heads, kind=kind, **options)
        new.load_state_dict(mha.state_dict())
        return new.to(mha.in_proj_weight.device, mha.in_proj_weight.dtype)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        need_weights: bool = False,
        **_: Any,
    ) -> tuple[torch.Tensor, None]:
        x = query  # self-attention: key and value are the query
        b, n, e = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, self.num_heads, e // self.num_heads).permute(2, 0, 3, 1, 4)
        if self.kind == "softmax":
            o = F.scaled_dot_product_attention(q, k, v)
        elif self.kind == "linear":
            o = linear_attention(q, k, v)
        else:
            o = block_sparse_attention(q, k, v, **self.options)
        return self.out_proj(o.transpose(1, 2).reshape(b, n, e)), None


def swap_attention(module: nn.Module, kind: str, **options: Any) -> int:
    """Replace every ``nn.MultiheadAttention`` in ``module`` (in place) by an
    :class:`EfficientSelfAttention` of ``kind`` with the same weights.

    Returns:
        The number of attention modules replaced.
    """
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.MultiheadAttention):
            setattr(module, name, EfficientSelfAttention.from_multihead(child, kind, **options))
            count += 1
        else:
            count += swap_attention(child, kind, **options)
    return count
