"""Built-in models: name -> ("module:factory", info), read by ``visionbench.registry.models``.

A factory takes ``(weights: str | None = None, **options)`` and returns a
:class:`~visionbench.models.adapter.ModelAdapter`. ``tv:<name>`` resolves any torchvision model
and ``pkg.module:factory`` a user's own; those are not listed here.
"""

from __future__ import annotations

from typing import Any

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "demo-cnn": (
        "visionbench.models.demo:build_demo_cnn",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "built-in demo: 4-layer CNN trained on imagenet-mini (shipped weights)",
        },
    ),
    "demo-segnet": (
        "visionbench.models.demo_segmentation:build_demo_segnet",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes19",
            "description": "built-in demo: tiny FCN trained on cityscapes-mini (shipped weights)",
        },
    ),
    "demo-detector": (
        "visionbench.models.demo_detection:build_demo_detector",
        {
            "task": "detection",
            "label_space": "coco91",
            "description": "built-in demo: tiny CenterNet-style detector trained on coco-mini "
            "(8 drawn categories; shipped weights)",
        },
    ),
    "demo-freq": (
        "visionbench.models.demo_scene_graph:build_demo_freq",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "description": "built-in demo: FREQ (Neural Motifs) statistics of vg-mini train; "
            "PredCls on vg-mini test (shipped statistics)",
        },
    ),
    "demo-captioner": (
        "visionbench.models.demo_captioning:build_demo_captioner",
        {
            "task": "captioning",
            "label_space": "text",
            "description": "built-in demo: 5-nearest-neighbour caption retrieval on 16x16 tiny "
            "images of coco-mini train2017, consensus caption (shipped training set)",
        },
    ),
    "yolov3": (
        "visionbench.models.yolov3:build_yolov3",
        {
            "task": "detection",
            "label_space": "coco91",
            "description": "YOLOv3 (Darknet-53) from darknet cfg/.weights; 416x416 letterbox; "
            "61.9M params, 65.86 GFLOPs",
        },
    ),
    "yolov3-tiny": (
        "visionbench.models.yolov3:build_yolov3_tiny",
        {
            "task": "detection",
            "label_space": "coco91",
            "description": "YOLOv3-tiny from darknet cfg/.weights; 416x416 letterbox; "
            "8.9M params, 5.56 GFLOPs",
        },
    ),
    "deeplabv3plus_mobilenetv2": (
        "visionbench.models.deeplabv3plus:deeplabv3plus_mobilenetv2",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes19",
            "description": "DeepLabV3+ MobileNetV2 OS16 (ASPP 6/12/18 + decoder), Cityscapes trainIds; published val mIoU 0.721",
        },
    ),
    "deeplabv3plus_resnet50": (
        "visionbench.models.deeplabv3plus:deeplabv3plus_resnet50",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes19",
            "description": "DeepLabV3+ ResNet-50 OS16, Cityscapes trainIds",
        },
    ),
    "deeplabv3plus_resnet101": (
        "visionbench.models.deeplabv3plus:deeplabv3plus_resnet101",
        {
            "task": "semantic_segmentation",
            "label_space": "cityscapes19",
            "description": "DeepLabV3+ ResNet-101 OS16, Cityscapes trainIds; published val mIoU 0.762",
        },
    ),
    "mobile_former_26m": (
        "visionbench.models.mobile_former:mobile_former_26m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-26M: 3.2M params, 26M MAdds, paper top-1 64.0",
        },
    ),
    "mobile_former_52m": (
        "visionbench.models.mobile_former:mobile_former_52m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-52M: 3.5M params, 52M MAdds, paper top-1 68.7",
        },
    ),
    "mobile_former_96m": (
        "visionbench.models.mobile_former:mobile_former_96m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-96M: 4.6M params, 96M MAdds, paper top-1 72.8",
        },
    ),
    "mobile_former_151m": (
        "visionbench.models.mobile_former:mobile_former_151m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-151M: 7.6M params, 151M MAdds, paper top-1 75.2",
        },
    ),
    "mobile_former_214m": (
        "visionbench.models.mobile_former:mobile_former_214m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-214M: 9.4M params, 214M MAdds, paper top-1 76.7",
        },
    ),
    "mobile_former_294m": (
        "visionbench.models.mobile_former:mobile_former_294m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-294M: 11.4M params, 294M MAdds, paper top-1 77.9",
        },
    ),
    "mobile_former_508m": (
        "visionbench.models.mobile_former:mobile_former_508m",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "Mobile-Former-508M: 14.0M params, 508M MAdds, paper top-1 79.3",
        },
    ),
    "freq": (
        "visionbench.models.scene_graph_freq:freq",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "description": "Neural Motifs FREQ baseline (class-pair predicate frequencies); --weights stats.npz",
        },
    ),
    "freq_overlap": (
        "visionbench.models.scene_graph_freq:freq_overlap",
        {
            "task": "scene_graph",
            "label_space": "vg150",
            "description": "FREQ+OVERLAP: FREQ on intersecting box pairs only; --weights stats.npz",
        },
    ),
    "mobilenet_v3_large": (
        "visionbench.models.torchvision_zoo:mobilenet_v3_large",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "torchvision MobileNetV3-Large (IMAGENET1K_V2): 5,483,032 params, 0.217 GMACs",
        },
    ),
    "vit_b_16": (
        "visionbench.models.torchvision_zoo:vit_b_16",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "torchvision ViT-B/16: 86,567,656 params, 17.56 GMACs",
        },
    ),
    "maxvit_t": (
        "visionbench.models.torchvision_zoo:maxvit_t",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "torchvision MaxViT-T: 30,919,624 params, 5.56 GMACs (bicubic 224)",
        },
    ),
    "densenet121": (
        "visionbench.models.torchvision_zoo:densenet121",
        {
            "task": "classification",
            "label_space": "imagenet1k",
            "description": "torchvision DenseNet-121: 7,978,856 params, 2.83 GMACs",
        },
    ),
    "lraspp_mobilenet_v3_large": (
        "visionbench.models.torchvision_zoo:lraspp_mobilenet_v3_large",
        {
            "task": "semantic_segmentation",
            "label_space": "voc21",
            "description": "torchvision LR-ASPP MobileNetV3-Large, Pascal VOC-21 classes (not Cityscapes): 3,221,538 params",
        },
    ),
    "ssdlite320_mobilenet_v3_large": (
        "visionbench.models.torchvision_zoo:ssdlite320_mobilenet_v3_large",
        {
            "task": "detection",
            "label_space": "coco91",
            "description": "torchvision SSDlite320 MobileNetV3-Large, COCO category ids: 3,440,060 params",
        },
    ),
}
