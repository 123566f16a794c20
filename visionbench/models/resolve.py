"""``--model NAME`` to a :class:`~visionbench.models.adapter.ModelAdapter`.

* ``tv:<name>`` — any torchvision model (:func:`~visionbench.models.torchvision_zoo.build_torchvision`);
* ``timm:<name>`` — any timm classifier (:func:`~visionbench.models.timm_zoo.build_timm`);
* a registered name (``visionbench/models/catalog.py`` or a ``visionbench.models`` entry point);
* ``pkg.module:factory`` or ``path/file.py:factory`` — your own model
  (:func:`~visionbench.models.user_model.load_user_model`).

Weights: ``weights=None`` lets the factory use its default (the published weights for
torchvision names, which must already be in the torch hub cache); ``"random"`` asks for a
random init; anything else (an enum member name, a path, a URL) is passed to the factory.
"""

from __future__ import annotations

from typing import Any

from visionbench import registry
from visionbench.models.adapter import ModelAdapter

__all__ = ["build_model", "RANDOM"]

#: ``--weights random``: a random init, for structure checks, profiling and smoke tests.
RANDOM = "random"


def build_model(name: str, *, weights: str | None = None, **options: Any) -> ModelAdapter:
    """Resolve ``name`` and build its adapter.

    Args:
        name: ``tv:<name>``, a registered model name, or ``pkg.module:factory``.
        weights: ``None`` (the factory's default), ``"random"``, or a weights spec.
        options: keyword options of the factory (unknown ones are the factory's error).

    Raises:
        RegistryError: unknown name (with suggestions), or a factory that does not return
            a ModelAdapter.
    """
    kw = dict(options)
    if weights is not None:
        kw["weights"] = weights
    if name.startswith("timm:"):
        from visionbench.models.timm_zoo import build_timm

        return build_timm(name, **kw)
    if name.startswith("tv:"):
        from visionbench.models.torchvision_zoo import build_torchvision

        return build_torchvision(name, **kw)
    if name in registry.models:
        # the registry checks what the factory returns against the Model protocol
        return registry.models.build(name, **kw)
    if ":" in name:
        from visionbench.models.user_model import load_user_model

        return load_user_model(name, **kw)
    registry.models.entry(name)  # raises with suggestions
    raise AssertionError("unreachable")
