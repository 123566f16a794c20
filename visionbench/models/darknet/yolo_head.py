"""The ``[yolo]`` head: decoding raw head maps into boxes, objectness and class scores.

The paper's decoding (Redmon & Farhadi, 2018): ``bx = (σ(tx) + cx)·stride``,
``bw = pw·exp(tw)`` with anchors in network-input pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from visionbench.models.darknet.cfg import DarknetCfgError

__all__ = ["YOLOLayer", "decode_yolo"]


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
