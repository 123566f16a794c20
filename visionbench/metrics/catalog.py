"""Built-in metrics: name -> ("module:attr", info), listed by ``bench list metrics``."""

from __future__ import annotations

from typing import Any

METRICS: dict[str, tuple[str, dict[str, Any]]] = {
    "topk_accuracy": (
        "visionbench.metrics.classification:topk_accuracy",
        {"task": "classification", "description": "top-k accuracy, percent"},
    ),
}
