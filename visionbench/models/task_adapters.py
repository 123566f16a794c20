"""Adapters for modules whose raw outputs are segmentation logits or torchvision detections.

:class:`SegmentationAdapter` turns logits ``[B, C, h, w]`` (or a dict with ``"out"``) into a
label-id mask at the original image size; :class:`DetectionAdapter` turns torchvision-style
detections (a list of ``{"boxes", "labels", "scores"[, "masks"]}`` per image, boxes in the
model's input pixels) into :class:`~visionbench.types.DetectionPrediction` in original pixels
with dataset category ids. Both undo the preprocessing geometry recorded in each sample's
meta (``orig_size``, ``scale``, ``pad``; see :class:`~visionbench.models.preprocess.Preprocess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace
from visionbench.models.adapter import ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.tasks import Batch
from visionbench.types import DetectionPrediction, Prediction, SegmentationPrediction, Task

__all__ = ["SegmentationAdapter", "DetectionAdapter", "content_region"]


def content_region(meta: dict[str, Any], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part ``(top, left, height, width)`` of a preprocessed image of ``size`` (h, w)
    that holds the original image (letterbox padding excluded)."""
    top, left = meta.get("pad", (0, 0))
    if "scale" not in meta:
        return 0, 0, size[0], size[1]
    oh, ow = meta["orig_size"]
    sh, sw = meta["scale"]
    h = min(size[0] - top, max(1, round(oh * sh)))
    w = min(size[1] - left, max(1, round(ow * sw)))
    return int(top), int(left), int(h), int(w)


class SegmentationAdapter(ModelAdapter):
    """A module mapping [B, 3, H, W] to per-class logits [B, C, h, w] (any h, w).

    Args:
        class_ids: the label id of each output channel (default: ``label_space.ids``), e.g.
            the Cityscapes labelId of each trainId channel when ``label_space`` is
            ``cityscapes34``.
        output_key: key of the logits when the module returns a dict (torchvision: ``"out"``).
        short_side: resize the batch (bilinear, antialiased) so its shorter side has this
            many pixels before the module runs (torchvision's VOC weights: 520); logits are
            mapped back to the preprocessed size. ``None`` feeds the batch as it is.
    """

    def __init__(
        self,
        name: str,
        label_space: LabelSpace,
        module: nn.Module,
        preprocess: Preprocess,
        *,
        class_ids: Sequence[int] | None = None,
        output_key: str = "out",
        short_side: int | None = None,
        weights: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name, Task.SEMANTIC_SEGMENTATION, label_space, module, preprocess, weights=weights
        )
        ids = np.asarray(label_space.ids if class_ids is None else class_ids, dtype=np.int64)
        label_space.check_ids(ids, what=f"class ids of {name}")
        self.class_ids = ids
        self.output_key = output_key
        self.short_side = short_side
        self._dtype = np.uint8 if ids.min() >= 0 and ids.max() < 256 else np.int32

    def forward(self, images: torch.Tensor) -> Any:
        if self.short_side is not None:
            h, w = int(images.shape[-2]), int(images.shape[-1])
            s = self.short_side / min(h, w)
            size = (max(1, round(h * s)), max(1, round(w * s)))
            if size != (h, w):
                images = F.interpolate(
                    images, size=size, mode="bilinear", align_corners=False, antialias=True
                )
        return self.module(images)

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        logits = outputs[self.output_key] if isinstance(outputs, dict) else outputs
        if logits.ndim != 4 or logits.shape[1] != len(self.class_ids):
            raise ContractError(
                f"{self.name}: expected logits [B, {len(self.class_ids)}, h, w], "
                f"got {list(logits.shape)}"
            )
        in_h, in_w = int(batch.images.shape[-2]), int(batch.images.shape[-1])
        preds = []
        for i, meta in enumerate(batch.metas):
            x = logits[i : i + 1].detach().float()
            if x.shape[-2:] != (in_h, in_w):
                x = F.interpolate(x, size=(in_h, in_w), mode="bilinear", align_corners=False)
            top, left, h, w = content_region(meta, (in_h, in_w))
            x = x[..., top : top + h, left : left + w]
            oh, ow = meta.get("orig_size", (h, w))
            if (h, w) != (oh, ow):
                x = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
            idx = x[0].argmax(0).cpu().numpy()
            preds.append(
                SegmentationPrediction(
                    mask=self.class_ids[idx].astype(self._dtype), sample_id=meta.get("sample_id")
                )
            )
        return preds


class DetectionAdapter(ModelAdapter):
    """A module returning torchvision-style detections, one dict per image.

    Args:
        class_ids: ``class_ids[k]`` is the category id of output label ``k`` in
            ``label_space``; ``-1`` drops detections of that label (torchvision's
            ``__background__`` and ``N/A`` entries).
        mask_threshold: probability above which a ``"masks"`` output pixel is foreground;
            masks become COCO RLE (pycocotools) at the original size.
    """

    def __init__(
        self,
        name: str,
        label_space: LabelSpace,
        module: nn.Module,
        preprocess: Preprocess,
        *,
        class_ids: Sequence[int],
        mask_threshold: float = 0.5,
        weights: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, Task.DETECTION, label_space, module, preprocess, weights=weights)
        ids = np.asarray(class_ids, dtype=np.int64)
        label_space.check_ids(ids[ids >= 0], what=f"class ids of {name}")
        self.class_ids = ids
        self.mask_threshold = mask_threshold

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        in_size = (int(batch.images.shape[-2]), int(batch.images.shape[-1]))
        return [self._one(out, meta, in_size) for out, meta in zip(outputs, batch.metas)]

    def _one(
        self, out: dict[str, torch.Tensor], meta: dict[str, Any], in_size: tuple[int, int]
    ) -> DetectionPrediction:
        labels = out["labels"].detach().cpu().numpy().astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_ids)):
            raise ContractError(
                f"{self.name}: output labels must be in 0..{len(self.class_ids) - 1}, "
                f"got {labels.min()}..{labels.max()}"
            )
        cats = self.class_ids[labels]
        keep = cats >= 0
        boxes = out["boxes"].detach().float().cpu().numpy().astype(np.float64)[keep]
        scores = out["scores"].detach().float().cpu().numpy().astype(np.float64)[keep]
        top, left = meta.get("pad", (0, 0))
        sh, sw = meta.get("scale", (1.0, 1.0))
        oh, ow = meta.get("orig_size", in_size)
        boxes = (boxes - np.array([left, top, left, top])) / np.array([sw, sh, sw, sh])
        boxes = np.clip(boxes, 0, np.array([ow, oh, ow, oh], dtype=np.float64))
        masks = None
        if "masks" in out:
            masks = self._masks(out["masks"][torch.as_tensor(keep)], meta, in_size, (oh, ow))
        return DetectionPrediction(
            boxes=boxes,
            labels=cats[keep],
            scores=scores,
            masks=masks,
            sample_id=meta.get("sample_id"),
        )

    def _masks(
        self,
        probs: torch.Tensor,
        meta: dict[str, Any],
        in_size: tuple[int, int],
        orig: tuple[int, int],
    ) -> list[dict[str, Any]]:
        from pycocotools import mask as mask_utils

        if probs.numel() == 0:
            return []
        top, left, h, w = content_region(meta, in_size)
        x = probs.detach().float()[:, :, top : top + h, left : left + w]
        if (h, w) != orig:
            x = F.interpolate(x, size=orig, mode="bilinear", align_corners=False)
        binary = (x[:, 0] > self.mask_threshold).cpu().numpy().astype(np.uint8)
        rles = mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))
        for r in rles:
            r["counts"] = r["counts"].decode("ascii")
        return list(rles)
