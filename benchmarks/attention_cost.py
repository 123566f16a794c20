"""Cost of softmax vs linear vs BigBird block-sparse attention against sequence length.

One command, all peers in the same run, ratios printed::

    python benchmarks/attention_cost.py [--lengths 256 1024 4096] [--device cpu] [--repeats 5]

Per length N: median wall time of one forward of each attention on [1, H=12, N, D=64]
(ViT-B/16 heads), its FLOPs by ``torch.utils.flop_counter`` (matmuls only; 2 per
multiply-add) and the ratio to softmax attention (the explicit ``softmax(q kᵀ/√d) v``; ``sdpa`` is PyTorch's fused
``F.scaled_dot_product_attention`` for time — its FLOPs are not counted on CPU).
Block-sparse: block 64, window 3, 1 global block, 2 random blocks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from visionbench.models.efficient_attention import block_sparse_attention, linear_attention

PEERS = {
    "softmax": lambda q, k, v: ((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5).softmax(-1) @ v,
    "sdpa": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
    "linear": linear_attention,
    "block_sparse": lambda q, k, v: block_sparse_attention(
        q, k, v, block=64, window=3, num_global=1, num_random=2
    ),
}


def _time(fn, q, k, v, repeats: int, device: torch.device) -> float:
    fn(q, k, v)  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn(q, k, v)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    dev = torch.device(args.device)
    print(
        f"{'N':>6} {'attention':>13} {'ms':>9} {'GFLOPs':>8} {'time/softmax':>13} {'flops/softmax':>14}"
    )
    with torch.inference_mode():
        for n in args.lengths:
            q, k, v = (torch.randn(1, args.heads, n, args.dim, device=dev) for _ in range(3))
            base_t = base_f = None
            for name, fn in PEERS.items():
                with FlopCounterMode(display=False) as fc:
                    fn(q, k, v)
                flops = fc.get_total_flops()
                t = _time(fn, q, k, v, args.repeats, dev)
                base_t = base_t or t
                base_f = base_f or flops
                ratio = f"{flops / base_f:>14.3f}" if flops else f"{'-':>14}"
                print(
                    f"{n:>6} {name:>13} {t * 1e3:>9.2f} {flops / 1e9:>8.3f} "
                    f"{t / base_t:>13.3f} {ratio}"
                )


if __name__ == "__main__":
    main()
