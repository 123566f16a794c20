"""Built-in models: name -> ("module:factory", info), read by ``visionbench.registry.models``.

A factory takes ``(weights: str | None = None, **options)`` and returns a
:class:`~visionbench.models.base.ModelAdapter`. ``tv:<name>`` resolves any torchvision model
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
}
