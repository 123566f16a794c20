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

    def __getitem__(self, k: int) -> tuple[torch.Tensor | None, dict[str, Any], Target | None]:
        """Never raises: a sample that cannot be loaded comes back as ``(None, meta with
        "error", target)`` so that the run can save what it has and stop with a clear
        message (an exception in a worker would arrive wrapped in a worker traceback)."""
        t0 = time.perf_counter()
        idx = self.indices[k]
        sample = None
        try:
            sample = self.dataset[idx]
            x, meta = self.preprocess(sample.image.load())
        except Exception as e:  # noqa: BLE001 - reported by the main process, naming the sample
            sid = sample.sample_id if sample is not None else f"#{idx}"
            msg = str(e) if isinstance(e, USER_ERRORS) else f"{type(e).__name__}: {e}"
            # bad data (not a bug): `--lenient` may skip the sample
            skippable = isinstance(e, USER_ERRORS)
            return (
                None,
                {"sample_id": sid, "index": idx, "error": msg, "skippable": skippable},
                None,
            )
        meta = dict(
            meta, sample_id=sample.sample_id, index=idx, t_preprocess=time.perf_counter() - t0
        )
        if self.gt_objects:
            meta["boxes"] = sample.target.boxes
            if self.gt_objects == "boxes+labels":
                meta["labels"] = sample.target.labels
        return x, meta, sample.target


def collate(
    items: list[tuple[torch.Tensor | None, dict[str, Any], Target | None]],
) -> tuple[Any, list[dict[str, Any]], list[Target], list[dict[str, Any]]]:
    """Stack pixels when all items share a shape, else keep a list (forwarded one by one).

    Returns ``(images, metas, targets, failed)``: ``failed`` holds the metas of samples
    that could not be loaded (with their ``error``); they are left out of the batch.
    """
    good = [it for it in items if it[0] is not None]
    failed = [it[1] for it in items if it[0] is None]
    xs = [it[0] for it in good]
    images: Any = xs
    if xs and len({tuple(x.shape) for x in xs}) == 1:
        images = torch.stack(xs)
    return images, [it[1] for it in good], [it[2] for it in good], failed


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
