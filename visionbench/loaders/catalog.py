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
            "description": "built-in: drawn scene graphs in VG v1.4 files (option target='regions' "
            "for region-description captioning)",
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
    "voc2007": (
        "visionbench.loaders.factories:voc2007",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "test",
            "protocol": "voc",
            "protocol_options": {"ap_method": "11point"},
            "description": "Pascal VOC2007 detection, <root>/VOCdevkit/VOC2007/Annotations/*.xml + "
            "ImageSets/Main/<split>.txt + JPEGImages/; 11-point AP at IoU 0.5, difficult ignored",
        },
    ),
    "voc2012": (
        "visionbench.loaders.factories:voc2012",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "val",
            "protocol": "voc",
            "protocol_options": {"ap_method": "allpoint"},
            "description": "Pascal VOC2012 detection, <root>/VOCdevkit/VOC2012/...; all-point AP at "
            "IoU 0.5, difficult ignored",
        },
    ),
    "voc-mini": (
        "visionbench.loaders.mini:voc_mini",
        {
            "task": "detection",
            "label_space": "voc20",
            "split": "test",
            "protocol": "voc",
            "protocol_options": {"ap_method": "11point"},
            "description": "built-in: 20 VOC classes drawn as shapes, VOCdevkit layout (option "
            "year=2012 for the VOC2012 folder, scored all-point)",
        },
    ),
    "ade20k": (
        "visionbench.loaders.factories:ade20k",
        {
            "task": "semantic_segmentation",
            "label_space": "ade150",
            "split": "validation",
            "protocol": "semantic",
            "protocol_options": {"reduce_zero_label": True},
            "description": "ADE20K SceneParsing, <root>/ADEChallengeData2016/images|annotations/"
            "<split>/; 150 classes, 0 = other not evaluated (reduce_zero_label)",
        },
    ),
    "ade20k-mini": (
        "visionbench.loaders.mini:ade20k_mini",
        {
            "task": "semantic_segmentation",
            "label_space": "ade150",
            "split": "validation",
            "protocol": "semantic",
            "protocol_options": {"reduce_zero_label": True},
            "description": "built-in: drawn indoor/outdoor scenes with ADE20K label values, "
            "ADEChallengeData2016 layout",
        },
    ),
}
