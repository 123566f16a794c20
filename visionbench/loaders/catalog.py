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
    "vg-mini": (
        "visionbench.loaders.visual_genome:vg_mini",
        {"task": "scene_graph", "label_space": "vg150", "split": "all",
         "description": "built-in: drawn scene graphs in VG v1.4 files (option target='regions' "
                        "for region-description captioning)"},
    ),
    "vg": (
        "visionbench.loaders.visual_genome:visual_genome",
        {"task": "scene_graph", "label_space": "vg150", "split": "all",
         "description": "Visual Genome v1.0/1.2/1.4 release files (objects.json, relationships.json, "
                        "...) + VG_100K/; option target='regions' for region descriptions"},
    ),
    "vg150": (
        "visionbench.loaders.vg150:vg150",
        {"task": "scene_graph", "label_space": "vg150", "split": "test",
         "description": "VG-150 split: VG-SGG-with-attri.h5 + VG-SGG-dicts-with-attri.json + "
                        "image_data.json + VG_100K/"},
    ),
}
