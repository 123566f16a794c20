"""Cityscapes pixel-level protocol (cityscapesScripts ``evalPixelLevelSemanticLabeling``):
class and category IoU / iIoU over the 19 evaluated classes, on labelIds.

Prediction files: a folder of labelIds PNGs, one per frame, found by the frame name
(``<city>_<seq>_<frame>*.png``, as cityscapesScripts does). ``bench eval`` decodes and
reduces the frames in threads (:mod:`visionbench.metrics.segmentation.cityscapes_files`) without building
per-frame objects. ``bench export`` writes ``<frame>_labelIds.png``. Metrics are fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visionbench.errors import AnnotationError, ContractError
from visionbench.metrics.base import MetricResult
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.protocols.base import (
    Draws,
    MetricInfo,
    PerClass,
    PerSample,
    Protocol,
    result_sample_ids,
)
from visionbench.protocols.options import Option
from visionbench.protocols.prediction_files import check_exists
from visionbench.protocols.semantic import (
    check_same_shape,
    pair_pngs,
    read_result_pngs,
    target_mask,
    write_label_pngs,
)
from visionbench.types import Prediction, Target, Task

__all__ = ["CityscapesProtocol"]

#: result PNGs are ``<frame>*.png``, any continuation (cityscapesScripts' getPrediction)
_ANY = ""


def _label_names() -> tuple[str, ...]:
    from visionbench.metrics.segmentation.cityscapes import CITYSCAPES_LABEL_NAMES

    return CITYSCAPES_LABEL_NAMES


class CityscapesProtocol(Protocol):
    name = "cityscapes"
    task = Task.SEMANTIC_SEGMENTATION
    description = "Cityscapes pixel-level: class/category IoU and iIoU on labelIds"
    options = (
        Option("check_train_ids", "bool", True, "refuse predictions that look like trainIds"),
        Option("workers", "int", 0, "bench eval: PNG decoding threads (0: min(8, CPUs))"),
    )
    headline = ("miou", "iiou", "miou_category", "iiou_category")
    metrics = {k: MetricInfo("fraction") for k in headline}
    export_formats = ("cityscapes-png",)
    per_sample = PerSample("miou", True, "the frame's own mIoU over the 19 classes in it")
    analyses = ("confused_pairs", "per_sample")

    def per_sample_scores(self, result: MetricResult) -> Any:
        import numpy as np

        from visionbench.metrics.segmentation.cityscapes import (
            CityscapesFrameStats,
            cityscapes_scores,
        )

        ev = result.evaluator
        f = ev.frames() if ev is not None and hasattr(ev, "frames") else None
        if f is None:
            return None
        off, idx, cnt = f["offsets"], f["cell_index"], f["cell_count"]
        z = np.zeros(0, np.int64)
        scores = np.empty(len(off) - 1)
        for i in range(len(off) - 1):
            conf = np.bincount(idx[off[i] : off[i + 1]], weights=cnt[off[i] : off[i + 1]],
                               minlength=34 * 34).astype(np.int64).reshape(34, 34)  # fmt: skip
            scores[i] = cityscapes_scores(CityscapesFrameStats(conf, z, z, z, z))["miou"]
        return self.per_sample, result_sample_ids(result, len(scores)), scores

    def draws_for(self) -> Draws:
        names = _label_names()
        return Draws(
            per_class=(PerClass("class_iou", "IoU", names=names),),
            confusion="confusion",
            confusion_names=names,
        )

    def build_evaluator(self) -> Any:
        from visionbench.metrics.segmentation.cityscapes import CityscapesEvaluator

        return CityscapesEvaluator(check_train_ids=self.opts["check_train_ids"])

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        for p, t in zip(predictions, targets):
            gt = target_mask(t)
            check_same_shape(p, gt)
            inst = t.instances
            if inst is None and t.instances_path:
                inst = read_label_png(t.instances_path, single_channel=True)
            evaluator.update(
                pred_label_ids=p.mask, gt_label_ids=gt, gt_instance_ids=inst,
                frame=str(p.sample_id),
            )  # fmt: skip

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        return read_result_pngs(path, gt.sample_ids, separator=_ANY)

    def evaluate_file(self, path: str | Path, source: Any) -> MetricResult:
        """Threaded file evaluator when every target is a pair of gt PNG files."""
        from visionbench.metrics.errors import MetricInputError
        from visionbench.metrics.segmentation.cityscapes import CityscapesEvaluator
        from visionbench.metrics.segmentation.cityscapes_files import iter_cityscapes_file_stats

        p = check_exists(path)
        gt = source.ground_truth()
        ts = list(gt.targets)
        if not all(t.mask is None and t.mask_path and t.instances_path for t in ts):
            return self.score(self.read_predictions(p, gt), ts)
        preds = pair_pngs(p, gt.sample_ids, separator=_ANY)
        ev = CityscapesEvaluator(check_train_ids=self.opts["check_train_ids"])
        try:
            for stats in iter_cityscapes_file_stats(
                [str(f) for f in preds],
                [t.mask_path for t in ts],
                [t.instances_path for t in ts],
                num_workers=self.opts["workers"] or None,
                check_train_ids=self.opts["check_train_ids"],
            ):
                ev.add_stats(stats)
        except MetricInputError as e:
            raise AnnotationError(str(e), path=str(p)) from None
        result = ev.compute()
        result.sample_ids = list(gt.sample_ids)  # the frames, in order (for the analysis)
        return result

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "cityscapes-png"):
            raise ContractError(f"protocol cityscapes writes cityscapes-png, not {format!r}")
        return write_label_pngs(predictions, path, suffix="_labelIds")
