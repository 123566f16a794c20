"""Any timm classifier: ``timm:<name>`` (``pip install 'visionbench[timm]'``).

The model's own pretrained config decides the evaluation preprocessing, as timm's
``validate.py`` does: ``resolve_data_config({}, model=model, use_test_size=True)`` gives
input size, crop percentage and mode, interpolation, mean and std, and
``create_transform(**config, is_training=False)`` is applied to each image (a PIL image
made from the decoded pixels), so the model sees exactly what ``validate.py`` feeds it.

Weights are never downloaded at run time:

* ``weights=None`` (default): the pretrained weights of ``<name>`` if their file is
  already in the local Hugging Face cache (``$HF_HOME/hub``, the ``hf_hub_id`` of the
  model's pretrained config) or in the torch hub cache (its ``url``); otherwise a
  one-line :class:`~visionbench.errors.WeightsError` says which file is missing;
* a path, a name in the weights cache or a URL (``#sha256=<hex>`` checks it; found by
  :func:`~visionbench.models.weights.resolve_weights`): a state dict / checkpoint file,
  loaded by timm (``pretrained_cfg_overlay`` with ``file=``; timm's checkpoint filters
  apply, which is why timm, not :func:`~visionbench.models.weights.load_weights`, loads it);
* ``"random"``: a random init (structure checks, profiling).

Label space: ``imagenet1k`` for 1000-class models (timm's class order is the sorted
WNIDs), else the model's own classes (``label_names`` of its config, or ``0..C-1``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from visionbench.errors import RegistryError, WeightsError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.models.adapter import ClassifierAdapter
from visionbench.models.weights import is_random, random_init_info, resolve_weights, sha256_file

__all__ = ["build_timm", "list_timm_models", "TimmPreprocess", "cached_weights_file"]


def list_timm_models(pattern: str = "*", *, pretrained: bool = False) -> list[str]:
    """timm model names matching a glob ``pattern`` (``pretrained``: with their tags)."""
    timm = _import_timm()
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    return sorted(timm.list_models(pattern, pretrained=pretrained))


def build_timm(name: str, weights: str | None = None) -> ClassifierAdapter:
    """Build ``timm:<name>`` with its validate.py preprocessing.

    Args:
        name: a timm model name (``resnet50``, ``resnet50.a1_in1k``), with or without
            the ``timm:`` prefix.
        weights: None (the cached pretrained weights), ``"random"``, or a file path /
            cache name / URL.

    Raises:
        RegistryError: timm missing, or an unknown model name (with suggestions).
        WeightsError: pretrained weights not cached, or a file that does not fit.
    """
    timm = _import_timm()
    name = name.removeprefix("timm:")
    arch = name.split(".", 1)[0]
    if arch not in timm.list_models():
        import difflib

        close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join('timm:' + c for c in close)}?" if close else ""
        raise RegistryError(f"unknown timm model 'timm:{name}'{hint}")
    info: dict[str, Any]
    if is_random(weights):
        module = _create(timm, name, pretrained=False)
        info = random_init_info()
    else:
        path = cached_weights_file(name) if weights is None else resolve_weights(weights)
        try:
            module = _create(
                timm, name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}
            )
        except (RuntimeError, KeyError, ValueError, OSError) as e:
            msg = str(e).splitlines()[0] if str(e) else ""
            raise WeightsError(
                f"cannot load {path} into timm:{name}: {type(e).__name__}: {msg[:300]}"
            ) from None
        info = {"name": str(path) if weights else f"timm:{name}", "path": str(path)}
        info["sha256"] = sha256_file(path)
    module.eval()
    pre = TimmPreprocess.for_model(module)
    n_cls = int(getattr(module, "num_classes", 0) or 0)
    label_names = (module.pretrained_cfg or {}).get("label_names")
    if n_cls == 1000:
        space = get_label_space("imagenet1k")
    else:
        names = tuple(label_names) if label_names else tuple(str(i) for i in range(n_cls))
        space = LabelSpace(f"timm:{name}", names)
    return ClassifierAdapter(f"timm:{name}", space, module, pre, weights=info)  # type: ignore[arg-type]


def cached_weights_file(name: str) -> Path:
    """The local file of ``name``'s pretrained weights (HF cache or torch hub cache).

    Raises:
        WeightsError: not cached; the message names the repository / URL and the cache.
    """
    from timm.models import get_pretrained_cfg

    name = name.removeprefix("timm:")
    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError:
        cfg = None
    if cfg is None:
        raise WeightsError(
            f"timm:{name} has no pretrained config; pass --weights FILE or --weights random"
        )
    tried = []
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import HF_HUB_CACHE

        repo = cfg.hf_hub_id.split("@", 1)[0]
        files = [cfg.hf_hub_filename] if cfg.hf_hub_filename else []
        files += ["model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"]
        for fn in files:
            hit = try_to_load_from_cache(repo, fn)
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
        tried.append(f"hf://{repo}/model.safetensors in {HF_HUB_CACHE}")
    if cfg.url:
        ckpt = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url.split("?")[0])
        if ckpt.is_file():
            return ckpt
        tried.append(f"{ckpt} (from {cfg.url})")
    raise WeightsError(
        f"pretrained weights of timm:{name} are not cached locally (downloads are disabled): "
        f"looked for {'; '.join(tried) or 'no source in its config'}; pass --weights FILE "
        "or --weights random"
    )


class TimmPreprocess:
    """timm's eval transform (``create_transform(**data_config, is_training=False)``)
    on the engine's uint8 [3, H, W] tensors, via a PIL image as validate.py reads it."""

    def __init__(self, data_config: dict[str, Any]) -> None:
        from timm.data import create_transform

        self.data_config = dict(data_config)
        self.transform = create_transform(**self.data_config, is_training=False)

    @classmethod
    def for_model(cls, module: torch.nn.Module) -> TimmPreprocess:
        from timm.data import resolve_data_config

        return cls(resolve_data_config({}, model=module, use_test_size=True))

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        from PIL import Image

        h, w = int(image.shape[-2]), int(image.shape[-1])
        pil = Image.fromarray(image.permute(1, 2, 0).contiguous().numpy(), mode="RGB")
        return self.transform(pil).contiguous(), {"orig_size": (h, w)}

    def to_dict(self) -> dict[str, Any]:
        c = self.data_config
        return {
            "mode": f"timm:{c.get('crop_mode', 'center')}",
            "input_size": list(c["input_size"]),
            "crop_pct": c.get("crop_pct"),
            "interpolation": c.get("interpolation"),
            "mean": list(c["mean"]),
            "std": list(c["std"]),
        }


def _create(timm: Any, name: str, **kw: Any) -> torch.nn.Module:
    # no network: nothing here may reach the hub (files are passed explicitly)
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TIMM_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return timm.create_model(name, **kw)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _import_timm() -> Any:
    try:
        import timm
    except ImportError:
        raise RegistryError(
            "timm models need timm: pip install 'visionbench[timm]' (or pip install timm)"
        ) from None
    return timm
