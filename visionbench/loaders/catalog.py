"""Built-in datasets: name -> ("module:factory", info).

A factory takes ``(root: str | None, split: str, **options)`` and returns a
:class:`~visionbench.tasks.Dataset`. ``root=None`` means "find it" (``--data-root``,
``VISIONBENCH_DATA``; the ``*-mini`` datasets are generated into the cache).
"""

from __future__ import annotations

from typing import Any

DATASETS: dict[str, tuple[str, dict[str, Any]]] = {
    "imagenet-mini": (
        "visionbench.loaders.mini:imagenet_mini",
        {"task": "classification", "label_space": "imagenet1k", "split": "val",
         "description": "built-in: 10 ImageNet classes drawn as shapes, devkit layout"},
    ),
    "imagenet": (
        "visionbench.loaders.factories:imagenet",
        {"task": "classification", "label_space": "imagenet1k", "split": "val",
         "description": "ILSVRC2012 val, <root>/val/<wnid>/*.JPEG"},
    ),
}
