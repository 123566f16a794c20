"""Built-in protocols: name -> ("module:Class", info). Resolved lazily by
:data:`visionbench.protocols.protocols`; plug-ins add entries through the entry-point group
``visionbench.protocols``."""

from __future__ import annotations

from typing import Any

PROTOCOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "coco": (
        "visionbench.protocols.coco:CocoProtocol",
        {"task": "detection", "description": "COCO AP/AR (bbox, segm or keypoints), pycocotools"},
    ),
    "lvis": (
        "visionbench.protocols.lvis:LvisProtocol",
        {"task": "detection", "description": "LVIS v1 federated AP/AR, APr/APc/APf (lvis-api)"},
    ),
    "cityscapes": (
        "visionbench.protocols.cityscapes:CityscapesProtocol",
        {
            "task": "semantic_segmentation",
            "description": "Cityscapes pixel-level (cityscapesScripts): IoU/iIoU over labelIds",
        },
    ),
    "semantic": (
        "visionbench.protocols.semantic:SemanticProtocol",
        {
            "task": "semantic_segmentation",
            "description": "confusion-matrix mIoU, pixel accuracy (ignore_index, reduce_zero_label)",
        },
    ),
    "imagenet": (
        "visionbench.protocols.imagenet:ImageNetProtocol",
        {"task": "classification", "description": "top-k accuracy (+ImageNet-ReaL), per class"},
    ),
    "scene-graph": (
        "visionbench.protocols.scene_graph:SceneGraphProtocol",
        {
            "task": "scene_graph",
            "description": "Scene-Graph-Benchmark recall R@K, ngR@K, mR@K (predcls/sgcls/sgdet)",
        },
    ),
    "coco-caption": (
        "visionbench.protocols.coco_caption:CocoCaptionProtocol",
        {"task": "captioning", "description": "COCO-caption BLEU-1..4 and sacreBLEU"},
    ),
    "voc": (
        "visionbench.protocols.voc:VOCProtocol",
        {
            "task": "detection",
            "description": "Pascal VOC AP at IoU 0.5 (devkit: +1 px, difficult ignored; "
            "07 11-point, 12 all-point)",
        },
    ),
}

#: The protocol of a dataset that names none (third-party datasets without a catalog entry).
DEFAULT_BY_TASK: dict[str, str] = {
    "detection": "coco",
    "semantic_segmentation": "semantic",
    "classification": "imagenet",
    "scene_graph": "scene-graph",
    "captioning": "coco-caption",
}
