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
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "val",
            "description": "built-in: 10 ImageNet classes drawn as shapes, devkit layout",
        },
    ),
    "imagenet": (
        "visionbench.loaders.factories:imagenet",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "val",
            "description": "ILSVRC2012 val: <root>/val/<wnid>/*.JPEG, flat val + devkit meta.mat, or "
            "Kaggle LOC_val_solution.csv (option layout=auto|folder|devkit|kaggle; "
            "real_labels=real.json for ImageNet-ReaL)",
        },
    ),
    "imagenetv2": (
        "visionbench.loaders.factories:imagenetv2",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "split": "matched-frequency",
            "description": "ImageNetV2, <root>/<class index 0..999>/*.jpeg",
        },
    ),
    "coco": (
        "visionbench.loaders.factories:coco",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "description": "COCO instances, <root>/annotations/instances_<split>.json + <root>/<split>/ "
            "(2014/2017; option masks=True for RLE masks, drop_dangling=True)",
        },
    ),
    "coco-captions": (
        "visionbench.loaders.factories:coco_captions",
        {
            "task": "captioning",
            "label_space": "text",
            "split": "val2017",
            "description": "COCO captions, <root>/annotations/captions_<split>.json",
        },
    ),
    "coco-keypoints": (
        "visionbench.loaders.factories:coco_keypoints",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "description": "COCO person keypoints, <root>/annotations/person_keypoints_<split>.json",
        },
    ),
    "coco-mini": (
        "visionbench.loaders.mini:coco_mini",
        {
            "task": "detection",
            "label_space": "coco91",
            "split": "val2017",
            "description": "built-in: shapes with COCO category ids, instances_val2017.json format",
        },
    ),
    "coco-mini-captions": (
        "visionbench.loaders.mini:coco_mini_captions",
        {
            "task": "captioning",
            "label_space": "text",
            "split": "val2017",
            "description": "built-in: templated captions of coco-mini, captions_val2017.json format",
        },
    ),
    "cityscapes": (
        "visionbench.loaders.factories:cityscapes",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes34",
            "split": "val",
            "description": "Cityscapes, <root>/leftImg8bit/<split>/<city>/ + gtFine labelIds/instanceIds "
            "(option label_space=cityscapes19 for trainIds)",
        },
    ),
    "cityscapes-mini": (
        "visionbench.loaders.mini:cityscapes_mini",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes34",
            "split": "val",
            "description": "built-in: drawn street scenes with real Cityscapes label ids",
        },
    ),
    "vg-mini": (
        "visionbench.loaders.visual_genome:vg_mini",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "all",
            "description": "built-in: drawn scene graphs in VG v1.4 files; splits all, train (first "
            "70% of the images), test (option target='regions' for region descriptions)",
        },
    ),
    "vg": (
        "visionbench.loaders.visual_genome:visual_genome",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "all",
            "description": "Visual Genome v1.0/1.2/1.4 release files (objects.json, relationships.json, "
            "...) + VG_100K/; option target='regions' for region descriptions",
        },
    ),
    "vg150": (
        "visionbench.loaders.vg150:vg150",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "split": "test",
            "description": "VG-150 split: VG-SGG-with-attri.h5 + VG-SGG-dicts-with-attri.json + "
            "image_data.json + VG_100K/",
        },
    ),
}
