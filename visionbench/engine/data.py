"""The DataLoader side of a run: decode and preprocess in workers, collate to a batch."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from visionbench.errors import USER_ERRORS
from visionbench.tasks import Dataset
from visionbench.types import Target

__all__ = ["EvalItems", "collate", "make_loader"]


class EvalItems(torch.utils.data.Dataset):
    """Dataset indices -> (pixels, meta, target); runs inside DataLoader workers.

    Each item's meta carries ``sample_id``, ``index`` and ``t_preprocess`` (seconds spent
    decoding and preprocessing it, measured in the worker).
    """

    def __init__(
        self,
        dataset: Dataset,
        indices: Sequence[int],
        preprocess: Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, Any]]],
        *,
        gt_objects: str | None = None,
    ) -> None:
        """``gt_objects``: for scene-graph PredCls (``"boxes+labels"``) or SGCls
        (``"boxes"``), the ground-truth objects are handed to the model in the meta."""
        self.dataset = dataset
        self.indices = list(indices)
        self.preprocess = preprocess
        self.gt_objects = gt_objects

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, dict[str, Any], Target]:
        t0 = time.perf_counter()
        idx = self.indices[k]
        sample = self.dataset[idx]
        try:
            image = sample.image.load()
            x, meta = self.preprocess(image)
        except USER_ERRORS:
            raise
        except Exception as e:  # name the sample: a corrupt image must not be anonymous
            raise RuntimeError(f"preprocessing sample {sample.sample_id!r} failed: {e}") from e
        meta = dict(
            meta, sample_id=sample.sample_id, index=idx, t_preprocess=time.perf_counter() - t0
        )
        if self.gt_objects:
            meta["boxes"] = sample.target.boxes
            if self.gt_objects == "boxes+labels":
                meta["labels"] = sample.target.labels
        return x, meta, sample.target


def collate(
    items: list[tuple[torch.Tensor, dict[str, Any], Target]],
) -> tuple[Any, list[dict[str, Any]], list[Target]]:
    """Stack pixels when all items share a shape, else keep a list (forwarded one by one)."""
    xs = [it[0] for it in items]
    images: Any = torch.stack(xs) if len({tuple(x.shape) for x in xs}) == 1 else xs
    return images, [it[1] for it in items], [it[2] for it in items]


def make_loader(
    items: EvalItems, *, batch_size: int, workers: int, pin_memory: bool
) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        items,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )
