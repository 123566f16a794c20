"""Where predictions meet ground truth: contract objects -> metric evaluators.

One :class:`Scorer` per task wraps the metrics core's evaluator: it turns lists of
contract predictions and targets into the arrays the evaluator takes. Scorers hold only
the evaluator's sufficient statistics, so they merge across shards and ranks exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace
from visionbench.metrics.base import MetricResult
from visionbench.types import Prediction, Target, Task

__all__ = ["Scorer", "make_scorer"]


class Scorer:
    """Base: ``update(preds, targets)``, ``merge``, ``compute``, ``state_dict``."""

    def __init__(self, label_space: LabelSpace, evaluator: Any) -> None:
        self.label_space = label_space
        self.evaluator = evaluator

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        raise NotImplementedError

    def merge(self, other: Scorer) -> None:
        self.evaluator.merge(other.evaluator)

    def compute(self) -> MetricResult:
        return self.evaluator.compute()

    def state_dict(self) -> dict[str, Any]:
        return self.evaluator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluator.load_state_dict(state)


class ClassificationScorer(Scorer):
    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        from visionbench.metrics.classification import ClassificationEvaluator

        topk = tuple(options.pop("topk", (1, 5)))
        topk = tuple(k for k in topk if k <= len(label_space))
        super().__init__(
            label_space, ClassificationEvaluator(len(label_space), topk=topk, **options)
        )

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        labels = np.array([t.label for t in targets], dtype=np.int64)
        real = [t.labels for t in targets]
        real_labels = None if all(r is None for r in real) else [list(r or ()) for r in real]
        if all(p.scores is not None for p in preds):
            scores = np.stack([p.scores for p in preds])
            if scores.shape[1] != len(self.label_space):
                raise ContractError(
                    f"model gives {scores.shape[1]} class scores but label space "
                    f"{self.label_space.name!r} has {len(self.label_space)} classes"
                )
            self.evaluator.update(scores, labels, real_labels=real_labels)
        else:
            topk = np.stack([p.topk for p in preds])
            self.evaluator.update(topk, labels, real_labels=real_labels)


class DetectionScorer(Scorer):
    """COCO evaluation (bbox, or segm when ``iou_type="segm"``) over the dataset's category ids."""

    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        from visionbench.metrics.coco import CocoEvaluator

        self.iou_type = options.pop("iou_type", "bbox")
        names = dict(zip(label_space.ids, label_space.names))
        super().__init__(
            label_space,
            CocoEvaluator(
                list(label_space.ids), iou_type=self.iou_type, cat_names=names, **options
            ),
        )

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        for p, t in zip(preds, targets):
            segm = self.iou_type == "segm"
            self.evaluator.update(
                _image_id(p.sample_id),
                t.boxes, t.labels, p.boxes, p.labels, p.scores,
                gt_iscrowd=t.iscrowd, gt_area=t.area, gt_ann_ids=t.ann_ids if len(t.ann_ids) else None,
                gt_masks=t.masks if segm else None, dt_masks=p.masks if segm else None,
            )  # fmt: skip


class SegmentationScorer(Scorer):
    """Cityscapes protocol for ``cityscapes34`` (labelIds); confusion-matrix mIoU otherwise."""

    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        if label_space.name == "cityscapes34":
            from visionbench.metrics.cityscapes import CityscapesEvaluator

            evaluator: Any = CityscapesEvaluator(**options)
            self.cityscapes = True
        else:
            from visionbench.metrics.segmentation import SegmentationEvaluator

            evaluator = SegmentationEvaluator(len(label_space), **options)
            self.cityscapes = False
        super().__init__(label_space, evaluator)

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        for p, t in zip(preds, targets):
            gt = t.mask if t.mask is not None else _read_png(t.mask_path)
            if gt.shape != p.mask.shape:
                raise ContractError(
                    f"predicted mask {list(p.mask.shape)} != ground truth {list(gt.shape)} "
                    f"(sample_id={p.sample_id}); predictions must be at the gt's resolution"
                )
            if self.cityscapes:
                inst = t.instances
                if inst is None and t.instances_path:
                    inst = _read_png(t.instances_path)
                self.evaluator.update(gt, p.mask, inst, frame=str(p.sample_id))
            else:
                self.evaluator.update(gt, p.mask)


class SceneGraphScorer(Scorer):
    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        from visionbench.metrics.scene_graph import SceneGraphEvaluator

        options.setdefault("num_predicates", 50)
        super().__init__(label_space, SceneGraphEvaluator(**options))

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        for p, t in zip(preds, targets):
            self.evaluator.update(
                t.boxes, t.labels, t.relations, p.boxes, p.labels, p.scores, p.rel_pairs, p.rel_scores,
                image_id=p.sample_id,
            )  # fmt: skip


class CaptionScorer(Scorer):
    """COCO-caption metrics; METEOR and SPICE whenever this machine can run them."""

    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        from visionbench.metrics.captioning import CaptionEvaluator

        options.setdefault("meteor", "auto")
        options.setdefault("spice", "auto")
        super().__init__(label_space, CaptionEvaluator(**options))

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        self.evaluator.update([p.caption for p in preds], [list(t.captions) for t in targets])


def _image_id(sample_id: Any) -> int:
    try:
        return int(sample_id)
    except (TypeError, ValueError):
        raise ContractError(
            f"COCO evaluation needs integer image ids, got sample_id={sample_id!r}"
        ) from None


def _read_png(path: str | None) -> np.ndarray:
    from PIL import Image

    if path is None:
        raise ContractError("segmentation target has neither a mask nor a mask path")
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except OSError as e:
        raise ContractError(f"cannot read label image {path}: {e}") from None


_SCORERS: dict[Task, type[Scorer]] = {
    Task.CLASSIFICATION: ClassificationScorer,
    Task.DETECTION: DetectionScorer,
    Task.SEMANTIC_SEGMENTATION: SegmentationScorer,
    Task.SCENE_GRAPH: SceneGraphScorer,
    Task.CAPTIONING: CaptionScorer,
}


def make_scorer(task: Task, label_space: LabelSpace, **options: Any) -> Scorer:
    try:
        cls = _SCORERS[task]
    except KeyError:
        raise ContractError(f"no scorer for task {task.value} yet") from None
    return cls(label_space, **options)
