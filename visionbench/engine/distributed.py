"""torchrun support: who am I, which contiguous shard is mine, gather metric states.

Under ``torchrun`` (``WORLD_SIZE`` > 1) each rank takes a contiguous shard of the samples
(no padding duplicates), writes its own predictions, and rank 0 merges the metric states
of all ranks and writes the run record. Non-zero ranks return the same record (they
receive it from rank 0), never ``{}``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DistInfo",
    "dist_info",
    "contiguous_shard",
    "gather_to_rank0",
    "broadcast_from_rank0",
    "barrier",
]


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_info(*, init: bool = True, device_type: str = "cpu") -> DistInfo:
    """Read torchrun's environment; initialise the process group when needed
    (``nccl`` on CUDA, else ``gloo``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and init:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(rank, world, local)


def contiguous_shard(n: int, rank: int, world: int) -> range:
    """Indices ``[start, stop)`` of rank's contiguous shard; sizes differ by at most 1."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def gather_to_rank0(obj: Any, info: DistInfo) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); None elsewhere."""
    if not info.distributed:
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_from_rank0(obj: Any, info: DistInfo) -> Any:
    if not info.distributed:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.distributed:
        import torch.distributed as dist

        dist.barrier()
