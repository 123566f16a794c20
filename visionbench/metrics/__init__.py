"""visionbench.metrics: the metrics core, numpy in, numbers out.

Imports nothing from the rest of visionbench and never imports torch.
"""

from __future__ import annotations

from visionbench.metrics.base import Evaluator, MetricResult
from visionbench.metrics.bleu import (
    CaptionEvaluator,
    coco_bleu,
    coco_bleu_statistics,
    sacrebleu_corpus,
    sacrebleu_sentence,
)
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.ptb_tokenizer import ptb_tokenize
from visionbench.metrics.scene_graph import (
    SceneGraphEvaluator,
    match_triplets,
    relation_triplets,
    scene_graph_recall,
)

__all__ = [
    "Evaluator",
    "MetricResult",
    "MetricInputError",
    # captioning (bleu.py, ptb_tokenizer.py): bleu1-4 on 0-1, sacrebleu on 0-100
    "CaptionEvaluator",
    "coco_bleu",
    "coco_bleu_statistics",
    "ptb_tokenize",
    "sacrebleu_corpus",
    "sacrebleu_sentence",
    # scene graphs (scene_graph.py): R@K, ngR@K, mR@K, zsR@K on 0-1
    "SceneGraphEvaluator",
    "match_triplets",
    "relation_triplets",
    "scene_graph_recall",
]
