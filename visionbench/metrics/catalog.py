"""Built-in metrics: name -> ("module:attr", info), listed by ``bench list metrics``.

Functions and evaluators of the metrics core, by task. Units are in each metric's
docstring: COCO AP/AR, segmentation, COCO-caption BLEU and scene-graph recall are
fractions (0-1); classification accuracy and sacreBLEU are percentages (0-100).
"""

from __future__ import annotations

from typing import Any

_M = "visionbench.metrics"


def _e(attr: str, module: str, task: str, description: str) -> tuple[str, dict[str, Any]]:
    return f"{_M}.{module}:{attr}", {"task": task, "description": description}


METRICS: dict[str, tuple[str, dict[str, Any]]] = {
    "box_iou": _e(
        "box_iou", "iou", "detection", "pairwise box IoU, xyxy/xywh, COCO or +1 px, crowd rule"
    ),
    "mask_iou": _e("mask_iou", "iou", "detection", "mask IoU on binary masks or COCO RLE"),
    "pr_curve": _e("pr_curve", "pr", "detection", "precision/recall curve from scores and matches"),
    "average_precision": _e(
        "average_precision", "pr", "detection", "AP: COCO 101-point, VOC 11-point, all-point"
    ),
    "best_f1": _e("best_f1", "pr", "detection", "P/R/F1 at the best-F1 threshold"),
    "coco_evaluate": _e(
        "coco_evaluate",
        "detection.coco",
        "detection",
        "COCO AP/AR (bbox, segm, keypoints), identical to pycocotools",
    ),
    "CocoEvaluator": _e(
        "CocoEvaluator",
        "detection.coco",
        "detection",
        "mergeable COCO evaluator fed image by image",
    ),
    "lvis_evaluate": _e(
        "lvis_evaluate",
        "detection.lvis",
        "detection",
        "LVIS v1 federated AP/AR, APr/APc/APf (bbox, segm), identical to lvis-api",
    ),
    "LvisEvaluator": _e(
        "LvisEvaluator",
        "detection.lvis",
        "detection",
        "mergeable LVIS evaluator fed image by image",
    ),
    "VOCEvaluator": _e(
        "VOCEvaluator",
        "detection.voc",
        "detection",
        "Pascal VOC AP (07 11-point / 12 all-point, +1 px, difficult), equal to voc_eval",
    ),
    "voc_ap": _e("voc_ap", "detection.voc", "detection", "VOC AP of a recall/precision curve"),
    "topk_accuracy": _e(
        "topk_accuracy",
        "classification",
        "classification",
        "top-k accuracy, percent, documented ties",
    ),
    "real_accuracy": _e(
        "real_accuracy", "classification", "classification", "ImageNet-ReaL accuracy, percent"
    ),
    "ClassificationEvaluator": _e(
        "ClassificationEvaluator",
        "classification",
        "classification",
        "top-k, per-class, P/R/F1, confusion",
    ),
    "miou": _e(
        "miou",
        "segmentation.semantic",
        "semantic_segmentation",
        "mIoU from a confusion matrix, ignore index",
    ),
    "SegmentationEvaluator": _e(
        "SegmentationEvaluator",
        "segmentation.semantic",
        "semantic_segmentation",
        "IoU, pixel acc, mean class acc, fwIoU",
    ),
    "CityscapesEvaluator": _e(
        "CityscapesEvaluator",
        "segmentation.cityscapes",
        "semantic_segmentation",
        "Cityscapes IoU/iIoU protocol, identical to cityscapesscripts",
    ),
    "evaluate_cityscapes_files": _e(
        "evaluate_cityscapes_files",
        "segmentation.cityscapes_files",
        "semantic_segmentation",
        "Cityscapes evaluation from PNG files",
    ),
    "coco_bleu": _e(
        "coco_bleu",
        "captioning.bleu",
        "captioning",
        "BLEU-1..4, COCO-caption convention (pycocoevalcap)",
    ),
    "sacrebleu_corpus": _e(
        "sacrebleu_corpus",
        "captioning.bleu",
        "captioning",
        "sacreBLEU corpus score with its signature",
    ),
    "cider_d": _e(
        "cider_d", "captioning.cider", "captioning", "CIDEr-D (pycocoevalcap Cider), x10"
    ),
    "rouge_l": _e(
        "rouge_l", "captioning.rouge", "captioning", "ROUGE-L, beta=1.2 (pycocoevalcap Rouge)"
    ),
    "CaptionEvaluator": _e(
        "CaptionEvaluator",
        "captioning.evaluator",
        "captioning",
        "mergeable COCO-caption BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE + sacreBLEU",
    ),
    "SceneGraphEvaluator": _e(
        "SceneGraphEvaluator",
        "scene_graph",
        "scene_graph",
        "R@K, ngR@K, mR@K, zsR@K (Scene-Graph-Benchmark)",
    ),
}
