"""visionbench.metrics: the metrics core, numpy in, numbers out.

Imports nothing from the rest of visionbench and never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Public names -> the module that defines them, imported on first use (PEP 562): a
# process that needs only COCO evaluation does not pay for importing the other metric
# families (scene graphs, Cityscapes PNG decoding, BLEU, ...).
_EXPORTS = {
    "Evaluator": "visionbench.metrics.base",
    "MetricResult": "visionbench.metrics.base",
    "coco_bleu": "visionbench.metrics.captioning.bleu",
    "coco_bleu_statistics": "visionbench.metrics.captioning.bleu",
    "sacrebleu_corpus": "visionbench.metrics.captioning.bleu",
    "sacrebleu_sentence": "visionbench.metrics.captioning.bleu",
    "CaptionEvaluator": "visionbench.metrics.captioning.evaluator",
    "cider_d": "visionbench.metrics.captioning.cider",
    "CityscapesEvaluator": "visionbench.metrics.segmentation.cityscapes",
    "cityscapes_frame_stats": "visionbench.metrics.segmentation.cityscapes",
    "cityscapes_scores": "visionbench.metrics.segmentation.cityscapes",
    "train_ids_to_label_ids": "visionbench.metrics.segmentation.cityscapes",
    "evaluate_cityscapes_files": "visionbench.metrics.segmentation.cityscapes_files",
    "find_cityscapes_predictions": "visionbench.metrics.segmentation.cityscapes_files",
    "ClassificationEvaluator": "visionbench.metrics.classification",
    "classification_confusion_matrix": "visionbench.metrics.classification",
    "per_class_accuracy": "visionbench.metrics.classification",
    "precision_recall_f1": "visionbench.metrics.classification",
    "real_accuracy": "visionbench.metrics.classification",
    "topk_accuracy": "visionbench.metrics.classification",
    "CocoEvaluator": "visionbench.metrics.detection.coco",
    "CocoParams": "visionbench.metrics.detection.coco",
    "coco_evaluate": "visionbench.metrics.detection.coco",
    "MetricInputError": "visionbench.metrics.errors",
    "MetricUnavailableError": "visionbench.metrics.errors",
    "box_area": "visionbench.metrics.iou",
    "box_iou": "visionbench.metrics.iou",
    "box_iou_elementwise": "visionbench.metrics.iou",
    "mask_iou": "visionbench.metrics.iou",
    "read_label_png": "visionbench.metrics.segmentation.label_png",
    "LvisEvaluator": "visionbench.metrics.detection.lvis",
    "lvis_evaluate": "visionbench.metrics.detection.lvis",
    "PRCurve": "visionbench.metrics.pr",
    "average_precision": "visionbench.metrics.pr",
    "best_f1": "visionbench.metrics.pr",
    "class_pr_curves": "visionbench.metrics.pr",
    "pr_curve": "visionbench.metrics.pr",
    "prf_at_threshold": "visionbench.metrics.pr",
    "ptb_tokenize": "visionbench.metrics.captioning.ptb_tokenizer",
    "rouge_l": "visionbench.metrics.captioning.rouge",
    "SceneGraphEvaluator": "visionbench.metrics.scene_graph",
    "match_triplets": "visionbench.metrics.scene_graph",
    "relation_triplets": "visionbench.metrics.scene_graph",
    "scene_graph_recall": "visionbench.metrics.scene_graph",
    "SegmentationEvaluator": "visionbench.metrics.segmentation.semantic",
    "miou": "visionbench.metrics.segmentation.semantic",
    "segmentation_confusion_matrix": "visionbench.metrics.segmentation.semantic",
    "segmentation_scores": "visionbench.metrics.segmentation.semantic",
    "VOCEvaluator": "visionbench.metrics.detection.voc",
    "voc_ap": "visionbench.metrics.detection.voc",
    "voc_box_iou": "visionbench.metrics.detection.voc",
    "voc_match_image": "visionbench.metrics.detection.voc",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the eager imports
    from visionbench.metrics.base import Evaluator, MetricResult
    from visionbench.metrics.captioning.bleu import (
        coco_bleu,
        coco_bleu_statistics,
        sacrebleu_corpus,
        sacrebleu_sentence,
    )
    from visionbench.metrics.captioning.cider import cider_d
    from visionbench.metrics.captioning.evaluator import CaptionEvaluator
    from visionbench.metrics.captioning.ptb_tokenizer import ptb_tokenize
    from visionbench.metrics.captioning.rouge import rouge_l
    from visionbench.metrics.classification import (
        ClassificationEvaluator,
        classification_confusion_matrix,
        per_class_accuracy,
        precision_recall_f1,
        real_accuracy,
        topk_accuracy,
    )
    from visionbench.metrics.detection.coco import CocoEvaluator, CocoParams, coco_evaluate
    from visionbench.metrics.detection.lvis import LvisEvaluator, lvis_evaluate
    from visionbench.metrics.detection.voc import VOCEvaluator, voc_ap, voc_box_iou, voc_match_image
    from visionbench.metrics.errors import MetricInputError, MetricUnavailableError
    from visionbench.metrics.iou import box_area, box_iou, box_iou_elementwise, mask_iou
    from visionbench.metrics.pr import (
        PRCurve,
        average_precision,
        best_f1,
        class_pr_curves,
        pr_curve,
        prf_at_threshold,
    )
    from visionbench.metrics.scene_graph import (
        SceneGraphEvaluator,
        match_triplets,
        relation_triplets,
        scene_graph_recall,
    )
    from visionbench.metrics.segmentation.cityscapes import (
        CityscapesEvaluator,
        cityscapes_frame_stats,
        cityscapes_scores,
        train_ids_to_label_ids,
    )
    from visionbench.metrics.segmentation.cityscapes_files import (
        evaluate_cityscapes_files,
        find_cityscapes_predictions,
    )
    from visionbench.metrics.segmentation.label_png import read_label_png
    from visionbench.metrics.segmentation.semantic import (
        SegmentationEvaluator,
        miou,
        segmentation_confusion_matrix,
        segmentation_scores,
    )


def __getattr__(name: str) -> Any:
    import importlib

    mod = _EXPORTS.get(name)
    if mod is None:
        # a submodule reached as an attribute (``visionbench.metrics.detection.coco``), as when the
        # package imported them all
        if not name.startswith("__"):
            try:
                return importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as e:
                if e.name != f"{__name__}.{name}":
                    raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "Evaluator",
    "MetricResult",
    "MetricInputError",
    "MetricUnavailableError",
    # detection (iou.py, pr.py, coco*.py): IoU, P/R/F1, AP; COCO AP/AR on 0-1
    "box_iou",
    "box_iou_elementwise",
    "box_area",
    "mask_iou",
    "PRCurve",
    "pr_curve",
    "average_precision",
    "prf_at_threshold",
    "best_f1",
    "class_pr_curves",
    "coco_evaluate",
    "CocoEvaluator",
    "CocoParams",
    "lvis_evaluate",
    "LvisEvaluator",
    # Pascal VOC (voc.py): devkit AP (11-point / all-point), +1 px IoU, on 0-1
    "VOCEvaluator",
    "voc_ap",
    "voc_box_iou",
    "voc_match_image",
    # captioning (captioning.py, bleu.py, cider.py, rouge.py, coco_caption_java.py,
    # ptb_tokenizer.py): bleu1-4, meteor, rouge_l, spice on 0-1, cider_d x10, sacrebleu 0-100
    "CaptionEvaluator",
    "coco_bleu",
    "coco_bleu_statistics",
    "cider_d",
    "rouge_l",
    "ptb_tokenize",
    "sacrebleu_corpus",
    "sacrebleu_sentence",
    # scene graphs (scene_graph.py): R@K, ngR@K, mR@K, zsR@K on 0-1
    "SceneGraphEvaluator",
    "match_triplets",
    "relation_triplets",
    "scene_graph_recall",
    # classification (classification.py): top-k, ReaL, P/R/F1 in percent 0-100
    "ClassificationEvaluator",
    "topk_accuracy",
    "real_accuracy",
    "classification_confusion_matrix",
    "per_class_accuracy",
    "precision_recall_f1",
    # semantic segmentation (segmentation.py, cityscapes*.py): IoU etc. on 0-1
    "SegmentationEvaluator",
    "miou",
    "segmentation_confusion_matrix",
    "segmentation_scores",
    "CityscapesEvaluator",
    "cityscapes_frame_stats",
    "cityscapes_scores",
    "train_ids_to_label_ids",
    "evaluate_cityscapes_files",
    "find_cityscapes_predictions",
    "read_label_png",
]
