"""Your own model: ``--model pkg.module:factory`` (or ``path/to/file.py:factory``).

The factory is called with the keyword options given on the command line (``weights`` among
them when ``--weights`` is set) and may return any of:

1. a :class:`~visionbench.models.adapter.ModelAdapter` (full control: preprocessing,
   postprocessing, label space);
2. a tuple ``(module, task, label_space)`` or ``(module, task, label_space, preprocess)``;
3. a dict with keys ``module``, ``task``, ``label_space`` and optionally ``preprocess``,
   ``name``, ``class_ids``, ``weights``.

``task`` is a :class:`~visionbench.types.Task` or its name, ``label_space`` a
:class:`~visionbench.label_spaces.LabelSpace` or a built-in name, ``preprocess`` a
:class:`~visionbench.models.preprocess.Preprocess` (default: ImageNet ``resize_crop`` 256/224
for classification, the image at its own size with ImageNet mean/std for segmentation, the
[0, 1] image for detection). What a bare ``module`` must return, per task:

* classification: logits ``[B, C]`` in label-space order;
* semantic_segmentation: logits ``[B, C, h, w]`` (or a dict with ``"out"``); channel ``k``
  is label-space id ``class_ids[k]`` (default: the space's ids in order);
* detection: a list of ``{"boxes" [N, 4] xyxy input pixels, "labels" [N], "scores" [N]}``
  per image (torchvision's convention); label ``k`` is category ``class_ids[k]`` (default:
  the space's ids in order; ``-1`` drops a label).

See ``examples/my_model.py`` for a runnable example.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from visionbench.errors import RegistryError
from visionbench.label_spaces import LabelSpace, get_label_space
from visionbench.models.adapter import ClassifierAdapter, ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter, SegmentationAdapter
from visionbench.registry import import_object
from visionbench.tasks import parse_task
from visionbench.types import Task

__all__ = ["load_user_model", "adapter_from_module", "is_user_model_spec"]


def is_user_model_spec(spec: str) -> bool:
    """True for ``"pkg.module:attr"`` and ``"file.py:attr"`` specs."""
    mod, sep, attr = spec.rpartition(":")
    return bool(sep and mod and attr) and not spec.startswith("tv:")


def load_user_model(spec: str, **options: Any) -> ModelAdapter:
    """Import ``spec`` = ``"pkg.module:factory"`` or ``"path/file.py:factory"``, call it with
    ``options`` and wrap what it returns (see the module docstring for the accepted shapes).

    Raises:
        RegistryError: the factory cannot be imported or returns something else.
    """
    factory = _import_factory(spec)
    if not callable(factory):
        raise RegistryError(f"user model {spec!r} is not callable ({type(factory).__name__})")
    adapter = _wrap(spec, factory(**options))
    if not adapter.weights and "weights" in options:
        adapter.weights = _describe_weights(str(options["weights"]))
    if "weights" not in options and not _declares_weights(adapter.weights):
        import warnings

        warnings.warn(
            f"user model {spec!r}: no --weights given and its factory declares none (return "
            "'weights': {'path': ..., 'sha256': ...}); the run record identifies its weights "
            "by a hash of its state dict, and a randomly initialised module is not detected",
            stacklevel=2,
        )
    return adapter


def _describe_weights(spec: str) -> dict[str, Any]:
    """The record's description of a ``--weights`` value the factory did not describe."""
    from visionbench.models.weights import is_random, random_init_info, sha256_file

    if is_random(spec):
        return random_init_info()
    p = Path(spec).expanduser()
    if p.is_file():
        return {"name": spec, "path": str(p.resolve()), "sha256": sha256_file(p)}
    return {"name": spec}


def _declares_weights(weights: dict[str, Any]) -> bool:
    return any(weights.get(k) for k in ("sha256", "path", "name", "source"))


def _wrap(spec: str, result: Any) -> ModelAdapter:
    default_name = spec.rpartition(":")[2]
    if isinstance(result, ModelAdapter):
        return result
    if isinstance(result, Mapping):
        unknown = set(result) - {
            "module",
            "task",
            "label_space",
            "preprocess",
            "name",
            "class_ids",
            "weights",
        }
        if unknown or not {"module", "task", "label_space"} <= set(result):
            raise RegistryError(
                f"user model {spec!r} returned a dict with keys {sorted(result)}; expected "
                f"module, task, label_space and optionally preprocess, name, class_ids, weights"
            )
        return adapter_from_module(
            result["module"],
            result["task"],
            result["label_space"],
            preprocess=result.get("preprocess"),
            name=result.get("name", spec),
            class_ids=result.get("class_ids"),
            weights=result.get("weights"),
        )
    if isinstance(result, tuple) and len(result) in (3, 4) and isinstance(result[0], nn.Module):
        return adapter_from_module(*result, name=spec)
    raise RegistryError(
        f"user model factory {spec!r} returned {type(result).__name__}; expected a ModelAdapter, "
        f"a tuple (module, task, label_space[, preprocess]) or a dict with those keys "
        f"(factory name {default_name!r})"
    )


def adapter_from_module(
    module: nn.Module,
    task: str | Task,
    label_space: str | LabelSpace,
    preprocess: Preprocess | None = None,
    *,
    name: str = "user",
    class_ids: Sequence[int] | None = None,
    weights: dict[str, Any] | None = None,
) -> ModelAdapter:
    """Wrap a bare module in the adapter of ``task`` (see the module docstring)."""
    if not isinstance(module, nn.Module):
        raise RegistryError(
            f"user model {name!r}: expected an nn.Module, got {type(module).__name__}"
        )
    t = parse_task(task)
    space = get_label_space(label_space) if isinstance(label_space, str) else label_space
    if t is Task.CLASSIFICATION:
        return ClassifierAdapter(name, space, module, preprocess or Preprocess(), weights=weights)
    if t is Task.SEMANTIC_SEGMENTATION:
        return SegmentationAdapter(
            name,
            space,
            module,
            preprocess or Preprocess(mode="none"),
            class_ids=class_ids,
            weights=weights,
        )
    if t is Task.DETECTION:
        return DetectionAdapter(
            name,
            space,
            module,
            preprocess or Preprocess(mode="none", mean=None, std=None),
            class_ids=list(space.ids) if class_ids is None else class_ids,
            weights=weights,
        )
    raise RegistryError(
        f"user model {name!r}: a bare module for task {t.value!r} is not supported; return a "
        f"ModelAdapter subclass that implements postprocess()"
    )


def _import_factory(spec: str) -> Any:
    mod, sep, attr = spec.rpartition(":")
    if not sep or not mod or not attr:
        raise RegistryError(f"user model {spec!r} is not of the form 'package.module:factory'")
    if mod.endswith(".py") or "/" in mod or "\\" in mod:
        path = Path(mod).expanduser().resolve()
        if not path.is_file():
            raise RegistryError(f"user model file {str(path)!r} does not exist (from {spec!r})")
        mod_name = f"visionbench_user_{path.stem}"
        s = importlib.util.spec_from_file_location(mod_name, path)
        if s is None or s.loader is None:
            raise RegistryError(f"cannot import {str(path)!r} as a Python module")
        module = importlib.util.module_from_spec(s)
        sys.modules[mod_name] = module
        s.loader.exec_module(module)
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise RegistryError(f"{str(path)!r} has no attribute {attr!r}")
            obj = getattr(obj, part)
        return obj
    return import_object(spec, what="user model")
