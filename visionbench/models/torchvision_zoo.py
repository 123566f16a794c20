"""Any torchvision classification, segmentation or detection model: ``tv:<name>``.

The preprocessing and the label space come from the weights enum (``weights.transforms()``
and ``weights.meta["categories"]``), so an evaluation is reproducible by construction:

* classification: ``resize_crop`` with the enum's resize/crop sizes, interpolation and
  mean/std; label space ``imagenet1k``;
* detection: the model resizes and normalises internally (``GeneralizedRCNNTransform`` /
  SSD transforms), so the input is the [0, 1] image at its own size (``mode="none"``,
  no mean/std); torchvision's 91-entry COCO list is indexed by COCO category id, so output
  label ``k`` is ``coco91`` id ``k`` with ``__background__`` and ``N/A`` dropped;
* segmentation: the VOC-21 weights output Pascal VOC classes — label space ``voc21``
  (defined here), which has no map to Cityscapes: the engine refuses rather than guess.
  The weights' eval transform resizes the shorter side to 520 (bilinear) before
  normalising; the adapter does that resize on the normalised batch (the same linear map
  up to uint8 rounding) and maps the logits back to the image's own size (``mode="none"``).

Weights: no network access at run time. ``weights=None`` (or ``"random"``) builds a random
init; an enum member (``"DEFAULT"``, ``"IMAGENET1K_V2"``) is used only if its file is
already in the torch hub cache (``$TORCH_HOME/hub/checkpoints``), else a
:class:`~visionbench.errors.WeightsError` says which file to put where; a path or URL is a
state dict loaded with :func:`~visionbench.models.weights.load_state_dict_file`.
"""

from __future__ import annotations

import difflib
import inspect
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from visionbench.errors import RegistryError, WeightsError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.models.adapter import ClassifierAdapter, ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter, SegmentationAdapter
from visionbench.models.weights import is_random, load_weights, split_sha256
from visionbench.types import RANDOM_WEIGHTS

__all__ = [
    "build_torchvision",
    "torchvision_family",
    "hub_checkpoint_path",
    "VOC21",
    "mobilenet_v3_large",
    "vit_b_16",
    "maxvit_t",
    "densenet121",
    "lraspp_mobilenet_v3_large",
    "ssdlite320_mobilenet_v3_large",
]

#: Pascal VOC 2012 segmentation classes, in the order torchvision's VOC-21 weights output them.
VOC21 = LabelSpace(
    "voc21",
    (
        "__background__",
        "aeroplane",
        "bicycle",
        "bird",
        "boat",
        "bottle",
        "bus",
        "car",
        "cat",
        "chair",
        "cow",
        "diningtable",
        "dog",
        "horse",
        "motorbike",
        "person",
        "pottedplant",
        "sheep",
        "sofa",
        "train",
        "tvmonitor",
    ),
)

#: Builder options that the pretrained builds set themselves; a random init mirrors them so
#: that it has the same structure and parameter count as the published weights.
_RANDOM_INIT_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": False},
    "inception_v3": {"transform_input": True, "init_weights": False},
}
_BACKGROUND = ("__background__", "N/A", "no person")


def build_torchvision(
    name: str,
    weights: str | None = "DEFAULT",
    *,
    mask_threshold: float = 0.5,
    attention: str | None = None,
    attention_options: dict[str, Any] | None = None,
) -> ModelAdapter:
    """Build torchvision model ``name`` wrapped in the adapter of its task.

    Args:
        name: a torchvision builder name (``torchvision.models.list_models()``), with or
            without the ``tv:`` prefix.
        weights: ``None``/``"random"`` for a random init; a weights enum member name
            (``"DEFAULT"``, ``"IMAGENET1K_V1"``, or ``"Enum.MEMBER"``) read from the torch
            hub cache; or a path / URL of a state dict.
        mask_threshold: instance-mask probability threshold (Mask R-CNN).
        attention: replace every ``nn.MultiheadAttention`` (the ViT family) by
            ``"linear"`` or ``"block_sparse"`` attention with the same weights
            (:mod:`visionbench.models.efficient_attention`); the adapter is then named
            ``tv:<name>+<attention>``.
        attention_options: options of the block-sparse attention (``block``, ``window``,
            ``num_global``, ``num_random``, ``seed``).

    Returns:
        A :class:`ClassifierAdapter`, :class:`SegmentationAdapter` or
        :class:`DetectionAdapter` whose preprocessing and label space are those of the
        weights enum (the default member when ``weights`` is random or a file).

    Raises:
        RegistryError: unknown name (with suggestions) or an unsupported family (video,
            optical flow, quantized).
        WeightsError: enum weights not in the hub cache, unreadable, or not fitting.
    """
    import torchvision.models as tvm

    name = name.removeprefix("tv:")
    family = torchvision_family(name)
    enum = tvm.get_model_weights(name)
    member, file_spec = _parse_weights(enum, weights)
    meta_w = member if member is not None else enum.DEFAULT
    builder = tvm.get_model_builder(name)
    params = inspect.signature(builder).parameters

    info: dict[str, Any]
    if member is not None:
        ckpt = hub_checkpoint_path(member)
        if not ckpt.is_file():
            raise WeightsError(
                f"weights {type(member).__name__}.{member.name} for tv:{name} are not in the "
                f"torch hub cache: missing file {ckpt} (downloads are disabled; fetch "
                f"{member.url} and put it there, or set TORCH_HOME); pass --weights PATH (a state "
                f"dict file) or --weights random for a random init"
            )
        try:
            module = builder(weights=member, progress=False)
        except Exception as e:
            raise WeightsError(
                f"cannot load {ckpt} ({ckpt.stat().st_size} bytes) for tv:{name}: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ) from None
        info = {"name": f"{type(member).__name__}.{member.name}", "path": str(ckpt)}
    else:
        kwargs: dict[str, Any] = {"weights": None, **_RANDOM_INIT_KWARGS.get(name, {})}
        if name.startswith("vit_") and "min_size" in meta_w.meta:
            kwargs["image_size"] = meta_w.meta["min_size"][0]  # SWAG weights: 384/518
        if "weights_backbone" in params:
            kwargs["weights_backbone"] = None
        if family == "segmentation" and "aux_loss" in params and meta_w.meta.get("num_params"):
            kwargs["aux_loss"] = True  # what the VOC-21 weights carry
        module = builder(**kwargs)
        if family == "detection":
            _freeze_backbone_norms_like_pretrained(name, module, meta_w)
        info = load_weights(module, RANDOM_WEIGHTS if file_spec is None else file_spec)

    full_name = f"tv:{name}"
    if attention is not None:
        from visionbench.models.efficient_attention import swap_attention

        if swap_attention(module, attention, **(attention_options or {})) == 0:
            raise RegistryError(
                f"tv:{name} has no nn.MultiheadAttention to replace by {attention!r}"
            )
        full_name += f"+{attention}"
        info = {**info, "attention": attention, **(attention_options or {})}
    return _adapter(full_name, family, module, meta_w, info, mask_threshold)


def torchvision_family(name: str) -> str:
    """``"classification"``, ``"segmentation"`` or ``"detection"`` for a builder name."""
    import torchvision.models as tvm

    name = name.removeprefix("tv:")
    every = tvm.list_models()
    if name not in every:
        close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join('tv:' + c for c in close)}?" if close else ""
        raise RegistryError(f"unknown torchvision model 'tv:{name}'{hint}")
    for family, module in (
        ("classification", tvm),
        ("segmentation", tvm.segmentation),
        ("detection", tvm.detection),
    ):
        if name in tvm.list_models(module=module):
            return family
    raise RegistryError(
        f"tv:{name} is a torchvision model of a family visionbench does not evaluate (video, "
        f"optical flow or quantized); supported: classification, segmentation, detection"
    )


def hub_checkpoint_path(member: Any) -> Path:
    """Where ``torch.hub`` keeps the file of a weights enum member."""
    filename = os.path.basename(urlparse(member.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


# -- convenience constructors for the catalog -------------------------------------------


def mobilenet_v3_large(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision MobileNetV3-Large, ImageNet-1k (V2 weights by default)."""
    return build_torchvision("mobilenet_v3_large", weights, **kw)


def vit_b_16(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision ViT-B/16, ImageNet-1k."""
    return build_torchvision("vit_b_16", weights, **kw)


def maxvit_t(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision MaxViT-T, ImageNet-1k (bicubic 224)."""
    return build_torchvision("maxvit_t", weights, **kw)


def densenet121(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision DenseNet-121, ImageNet-1k."""
    return build_torchvision("densenet121", weights, **kw)


def lraspp_mobilenet_v3_large(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision LR-ASPP MobileNetV3-Large, Pascal VOC-21 (not Cityscapes)."""
    return build_torchvision("lraspp_mobilenet_v3_large", weights, **kw)


def ssdlite320_mobilenet_v3_large(weights: str | None = "DEFAULT", **kw: Any) -> ModelAdapter:
    """torchvision SSDlite320 MobileNetV3-Large, COCO (coco91 category ids)."""
    return build_torchvision("ssdlite320_mobilenet_v3_large", weights, **kw)


# -- helpers ------------------------------------------------------------------------------


def _parse_weights(enum: Any, weights: str | None) -> tuple[Any | None, str | None]:
    """(enum member or None, file spec or None)."""
    if weights is None or is_random(weights):
        return None, None
    member_name = weights.split(".", 1)[1] if weights.startswith(enum.__name__ + ".") else weights
    if member_name == "DEFAULT":
        return enum.DEFAULT, None
    if member_name in enum.__members__:
        return enum[member_name], None
    target = split_sha256(weights)[0]
    if (
        "/" in target
        or "\\" in target
        or target.endswith((".pt", ".pth", ".bin"))
        or (urlparse(target).scheme in ("http", "https", "file"))
    ):
        return None, weights
    raise WeightsError(
        f"unknown weights {weights!r} for {enum.__name__}; choose one of "
        f"{['DEFAULT', *enum.__members__]}, 'random', or a path/URL of a state dict (optionally #sha256=<hex>)"
    )


def _interp(mode: Any) -> str:
    return str(getattr(mode, "value", mode)).lower()


def _preprocess(family: str, member: Any) -> Preprocess:
    t = member.transforms()
    if family == "classification":
        return Preprocess(
            mode="resize_crop",
            resize=int(t.resize_size[0]),
            crop=int(t.crop_size[0]),
            interpolation=_interp(t.interpolation),
            mean=tuple(t.mean),
            std=tuple(t.std),
        )
    if family == "segmentation":
        return Preprocess(
            mode="none",
            interpolation=_interp(t.interpolation),
            mean=tuple(t.mean),
            std=tuple(t.std),
        )
    return Preprocess(mode="none", mean=None, std=None)


def _adapter(
    name: str,
    family: str,
    module: nn.Module,
    member: Any,
    info: dict[str, Any],
    mask_threshold: float,
) -> ModelAdapter:
    cats = list(member.meta.get("categories") or [])
    pre = _preprocess(family, member)
    if family == "classification":
        if len(cats) != 1000:
            raise RegistryError(f"{name}: expected 1000 ImageNet categories, got {len(cats)}")
        return ClassifierAdapter(name, get_label_space("imagenet1k"), module, pre, weights=info)
    if family == "segmentation":
        if cats != list(VOC21.names):
            raise RegistryError(f"{name}: weights categories are not Pascal VOC-21: {cats[:5]}...")
        short = getattr(member.transforms(), "resize_size", None)
        return SegmentationAdapter(
            name, VOC21, module, pre, weights=info, short_side=int(short[0]) if short else None
        )
    coco91 = get_label_space("coco91")
    ids = np.array([-1 if c in _BACKGROUND else k for k, c in enumerate(cats)])
    for k in np.flatnonzero(ids >= 0):
        if coco91.name_of(int(k)) != cats[k]:
            raise RegistryError(
                f"{name}: category {k} is {cats[k]!r}, coco91 says {coco91.name_of(int(k))!r}"
            )
    return DetectionAdapter(
        name, coco91, module, pre, class_ids=ids, mask_threshold=mask_threshold, weights=info
    )


def _freeze_backbone_norms_like_pretrained(name: str, module: nn.Module, member: Any) -> None:
    """R-CNN builders use ``FrozenBatchNorm2d`` in the backbone when weights are loaded and
    ``BatchNorm2d`` for a random init; mirror the pretrained structure (identical in eval)
    so a random init has the published parameter count."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    expected = member.meta.get("num_params")
    have = sum(p.numel() for p in module.parameters())
    body = getattr(getattr(module, "backbone", None), "body", None)
    if expected is None or have == expected or body is None:
        return
    _replace_bn(body, FrozenBatchNorm2d)


def _replace_bn(parent: nn.Module, frozen: type) -> None:
    for child_name, child in parent.named_children():
        if isinstance(child, nn.BatchNorm2d):
            fb = frozen(child.num_features, eps=child.eps)
            fb.weight.copy_(child.weight.detach())
            fb.bias.copy_(child.bias.detach())
            fb.running_mean.copy_(child.running_mean)
            fb.running_var.copy_(child.running_var)
            setattr(parent, child_name, fb)
        else:
            _replace_bn(child, frozen)
