"""YOLOv3 and YOLOv3-tiny (Redmon & Farhadi, 2018) from darknet cfg and weights.

The network is built from the packaged cfgs (``visionbench/models/cfg/``) by
:mod:`visionbench.models.darknet`; weights are darknet ``.weights`` files or a PyTorch
state dict of the same module, loaded by :func:`visionbench.models.weights.load_weights`
(a path, a cache name or a URL, optionally with ``#sha256=``).

Evaluation pipeline, as darknet's ``validate_detector`` does it:

1. letterbox the image into ``img_size`` x ``img_size`` (aspect kept, grey 0.5 padding,
   pixels in [0, 1], no mean/std);
2. decode every ``[yolo]`` head (``bx = (σ(tx)+cx)·stride``, ``bw = pw·e^tw``);
3. score = objectness x class probability, one candidate per (box, class) above
   ``conf_thresh`` (multi-label), at most ``max_candidates`` by score;
4. undo the letterbox (subtract the pad, divide by the scale) into original pixels;
5. class-aware NMS (``torchvision.ops.batched_nms``, IoU ``nms_iou``), keep ``max_det``;
6. clip to the image and map COCO-80 indices to COCO category ids (``coco91``).

Reference figures (REFERENCE.md §6): 61,949,149 parameters and 65.86 BFLOPs at 416x416
for YOLOv3; 8,852,366 parameters and 5.56 BFLOPs for YOLOv3-tiny. Darknet's BFLOPs are
2 x multiply-adds of the convolutions, the convention of ``torch.utils.flop_counter``
(measured: 65.864 and 5.565 GFLOPs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchvision.ops import batched_nms

from visionbench.errors import RunError, WeightsError
from visionbench.label_spaces import get_label_space, label_map
from visionbench.models.adapter import ModelAdapter
from visionbench.models.darknet.cfg import packaged_cfg
from visionbench.models.darknet.network import Darknet
from visionbench.models.preprocess import Preprocess
from visionbench.models.weights import DARKNET, TORCH, default_weights, load_weights
from visionbench.tasks import Batch
from visionbench.types import DetectionPrediction, Task

__all__ = [
    "YOLOv3Adapter",
    "build_yolov3",
    "build_yolov3_tiny",
    "build_darknet_yolo",
    "letterbox_preprocess",
]

#: Seed of the random initialisation used when no weights are given.
RANDOM_INIT_SEED = 0


class YOLOv3Adapter(ModelAdapter):
    """A darknet YOLO network evaluated on COCO category ids.

    Args:
        name: registry name.
        module: the :class:`Darknet` network (80 classes, COCO-80 order).
        img_size: letterbox size in pixels (multiple of 32).
        conf_thresh: minimum objectness x class probability kept (darknet evaluates at
            0.005, the common mAP protocol at 0.001).
        nms_iou: IoU above which a lower-scored box of the same class is suppressed.
        max_det: detections kept per image after NMS.
        max_candidates: candidates (box, class) kept by score before NMS, bounding the
            NMS cost when a poorly trained model scores everything above ``conf_thresh``.
        weights: description of the weights for the run record.
    """

    def __init__(
        self,
        name: str,
        module: Darknet,
        *,
        img_size: int = 416,
        conf_thresh: float = 0.001,
        nms_iou: float = 0.6,
        max_det: int = 100,
        max_candidates: int = 30000,
        weights: dict[str, Any] | None = None,
    ) -> None:
        _check_img_size(img_size)
        super().__init__(
            name,
            Task.DETECTION,
            get_label_space("coco91"),
            module,
            letterbox_preprocess(img_size),
            weights=weights,
        )
        classes = {y.num_classes for y in module.yolo_layers()}
        if classes != {80}:
            raise WeightsError(
                f"{name}: the COCO-80 -> category id map needs 80 classes per [yolo] layer, "
                f"the cfg {module.source} has {sorted(classes)}"
            )
        self.img_size = img_size
        self.conf_thresh = conf_thresh
        self.nms_iou = nms_iou
        self.max_det = max_det
        self.max_candidates = max_candidates
        table = label_map("coco80", "coco91").table
        self._category_ids = torch.tensor([table[i] for i in range(80)], dtype=torch.int64)

    def postprocess(self, outputs: torch.Tensor, batch: Batch) -> Sequence[DetectionPrediction]:
        """Decoded heads ``[B, N, 85]`` -> one :class:`DetectionPrediction` per image,
        boxes xyxy in original-image pixels, labels COCO category ids."""
        outputs = outputs.float()
        return [self._one(det, meta) for det, meta in zip(outputs, batch.metas)]

    def _one(self, det: torch.Tensor, meta: dict[str, Any]) -> DetectionPrediction:
        scores = det[:, 4:5] * det[:, 5:]  # [N, 80]
        rows, cls = torch.nonzero(scores > self.conf_thresh, as_tuple=True)
        conf = scores[rows, cls]
        if conf.numel() > self.max_candidates:
            conf, top = conf.topk(self.max_candidates)
            rows, cls = rows[top], cls[top]
        boxes = to_original_pixels(cxcywh_to_xyxy(det[rows, :4]), meta)
        keep = batched_nms(boxes, conf, cls, self.nms_iou)[: self.max_det]
        h, w = meta["orig_size"]
        boxes = boxes[keep]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        labels = self._category_ids[cls[keep].cpu()]
        return DetectionPrediction(
            boxes=boxes.cpu().double().numpy(),
            labels=labels.numpy(),
            scores=conf[keep].cpu().double().numpy(),
            sample_id=meta.get("sample_id"),
        )

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["postprocess"] = {
            "conf_thresh": self.conf_thresh,
            "nms_iou": self.nms_iou,
            "max_det": self.max_det,
            "max_candidates": self.max_candidates,
            "nms": "torchvision.ops.batched_nms",
            "multi_label": True,
        }
        return d


# ---------------------------------------------------------------------------------------
# Builders


def build_yolov3(
    weights: str | Path | None = None,
    *,
    img_size: int = 416,
    conf_thresh: float = 0.001,
    nms_iou: float = 0.6,
    max_det: int = 100,
) -> YOLOv3Adapter:
    """YOLOv3 (Darknet-53, three heads) on COCO (``weights="random"``: seeded random init).

    Args:
        weights: a darknet ``.weights`` file (248,007,048 bytes for the official one)
            or a ``.pt``/``.pth`` state dict of the same :class:`Darknet` module.
        img_size: letterbox size (multiple of 32; darknet's published sizes: 320, 416, 608).
        conf_thresh, nms_iou, max_det: see :class:`YOLOv3Adapter`.
    """
    return build_darknet_yolo(
        "yolov3",
        "yolov3",
        weights,
        img_size=img_size,
        conf_thresh=conf_thresh,
        nms_iou=nms_iou,
        max_det=max_det,
    )


def build_yolov3_tiny(
    weights: str | Path | None = None,
    *,
    img_size: int = 416,
    conf_thresh: float = 0.001,
    nms_iou: float = 0.6,
    max_det: int = 100,
) -> YOLOv3Adapter:
    """YOLOv3-tiny (two heads) on COCO (``weights="random"``: seeded random init).

    Args: as :func:`build_yolov3` (the official ``yolov3-tiny.weights`` is 35,434,956 bytes).
    """
    return build_darknet_yolo(
        "yolov3-tiny",
        "yolov3-tiny",
        weights,
        img_size=img_size,
        conf_thresh=conf_thresh,
        nms_iou=nms_iou,
        max_det=max_det,
    )


def build_darknet_yolo(
    name: str,
    cfg: str | Path,
    weights: str | Path | None = None,
    **kwargs: Any,
) -> YOLOv3Adapter:
    """A :class:`YOLOv3Adapter` from a packaged cfg name or a cfg path, and weights.

    Args:
        name: the adapter's name.
        cfg: ``"yolov3"``/``"yolov3-tiny"`` (packaged) or a path to a ``.cfg``.
        weights: a darknet ``.weights`` file or a ``.pt``/``.pth`` state dict, as a path,
            a name in the weights cache or a URL (``#sha256=<hex>`` checks it); ``"random"``
            for a random init seeded with :data:`RANDOM_INIT_SEED`; ``None``:
            ``<cfg>.weights`` (or ``.pt``/``.pth``) in the weights cache directory, else a
            :class:`WeightsError` saying where it looked.
        **kwargs: ``img_size``, ``conf_thresh``, ``nms_iou``, ``max_det``, ``max_candidates``.
    """
    cfg_path = Path(cfg) if str(cfg).endswith(".cfg") else packaged_cfg(str(cfg))
    stem = cfg_path.stem
    spec = default_weights(name, weights, [f"{stem}.weights", f"{stem}.pt", f"{stem}.pth"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        module = Darknet.from_cfg(cfg_path)
    random_info = {
        "seed": RANDOM_INIT_SEED,
        "note": "--weights random: randomly initialised, detections are meaningless",
    }
    info = load_weights(module, spec, formats=(DARKNET, TORCH), random_info=random_info)
    return YOLOv3Adapter(name, module.eval(), weights={"cfg": cfg_path.name, **info}, **kwargs)


def letterbox_preprocess(img_size: int) -> Preprocess:
    """Darknet's eval preprocessing: letterbox to ``img_size``, grey 0.5, [0, 1] pixels."""
    return Preprocess(
        mode="letterbox",
        size=img_size,
        interpolation="bilinear",
        mean=None,
        std=None,
        pad_value=0.5,
    )


# ---------------------------------------------------------------------------------------
# Box geometry


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    """``[N, 4]`` (cx, cy, w, h) -> ``[N, 4]`` (x1, y1, x2, y2), same units."""
    half = b[:, 2:4] / 2
    return torch.cat([b[:, 0:2] - half, b[:, 0:2] + half], dim=1)


def to_original_pixels(boxes: torch.Tensor, meta: dict[str, Any]) -> torch.Tensor:
    """Undo the letterbox: ``x = (x_in - left) / sx``, ``y = (y_in - top) / sy``.

    Args:
        boxes: ``[N, 4]`` xyxy in network-input pixels.
        meta: the preprocessing meta: ``scale`` (sy, sx) and ``pad`` (top, left); both
            default to identity when absent (input already at network size).

    Returns:
        ``[N, 4]`` xyxy in original-image pixels (not clipped).
    """
    sy, sx = meta.get("scale", (1.0, 1.0))
    top, left = meta.get("pad", (0, 0))
    offset = boxes.new_tensor([left, top, left, top])
    scale = boxes.new_tensor([sx, sy, sx, sy])
    return (boxes - offset) / scale


# ---------------------------------------------------------------------------------------


def _check_img_size(img_size: int) -> None:
    if img_size <= 0 or img_size % 32:
        raise RunError(f"YOLOv3 img_size must be a positive multiple of 32, got {img_size}")
