"""visionbench.metrics: the metrics core, numpy in, numbers out.

Imports nothing from the rest of visionbench and never imports torch.
"""

from __future__ import annotations

from visionbench.metrics.base import Evaluator, MetricResult
from visionbench.metrics.bleu import (
    coco_bleu,
    coco_bleu_statistics,
    sacrebleu_corpus,
    sacrebleu_sentence,
)
from visionbench.metrics.captioning import CaptionEvaluator
from visionbench.metrics.cider import cider_d
from visionbench.metrics.cityscapes import (
    CityscapesEvaluator,
    cityscapes_frame_stats,
    cityscapes_scores,
    train_ids_to_label_ids,
)
from visionbench.metrics.cityscapes_files import (
    evaluate_cityscapes_files,
    find_cityscapes_predictions,
)
from visionbench.metrics.classification import (
    ClassificationEvaluator,
    classification_confusion_matrix,
    per_class_accuracy,
    precision_recall_f1,
    real_accuracy,
    topk_accuracy,
)
from visionbench.metrics.coco import CocoEvaluator, CocoParams, coco_evaluate
from visionbench.metrics.errors import MetricInputError, MetricUnavailableError
from visionbench.metrics.iou import box_area, box_iou, box_iou_elementwise, mask_iou
from visionbench.metrics.label_png import read_label_png
from visionbench.metrics.pr import (
    PRCurve,
    average_precision,
    best_f1,
    class_pr_curves,
    pr_curve,
    prf_at_threshold,
)
from visionbench.metrics.ptb_tokenizer import ptb_tokenize
from visionbench.metrics.rouge import rouge_l
from visionbench.metrics.scene_graph import (
    SceneGraphEvaluator,
    match_triplets,
    relation_triplets,
    scene_graph_recall,
)
from visionbench.metrics.segmentation import (
    SegmentationEvaluator,
    miou,
    segmentation_confusion_matrix,
    segmentation_scores,
)
from visionbench.metrics.voc import VOCEvaluator, voc_ap, voc_box_iou, voc_match_image

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
