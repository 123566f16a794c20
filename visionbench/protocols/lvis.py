"""LVIS v1 protocol: federated AP/AR of ``lvis`` 0.5.3's ``LVISEval`` (bbox or segm).

Options: ``iou_type`` (bbox | segm), ``max_dets`` (results kept per image, 300). AP/AR are
fractions 0-1 (NaN where ``LVISEval`` gives -1); ``APr`` / ``APc`` / ``APf`` average the
rare / common / frequent categories. The dataset gives each category's frequency group
(``dataset.frequency``, label-space order) and each target its ``neg_labels`` /
``not_exhaustive_labels``.

``bench eval`` reads LVIS/COCO results JSON. When the dataset is an LVIS annotation file
(``source.annotation_file``), the file pair is scored by
:func:`~visionbench.metrics.detection.lvis.lvis_evaluate` directly, exactly as ``LVISResults`` +
``LVISEval`` (the per-image 300 cut counts every result of the image, results of unknown
categories included); otherwise through per-sample predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visionbench.errors import AnnotationError, ContractError
from visionbench.metrics.base import MetricResult
from visionbench.protocols.base import Draws, MetricInfo, PerClass, Protocol
from visionbench.protocols.coco import DetectionSweep, _coco_results, _image_id, coco_results_rows
from visionbench.protocols.options import Option
from visionbench.protocols.prediction_files import check_exists, write_json
from visionbench.types import Prediction, Target, Task

__all__ = ["LvisProtocol"]


class LvisProtocol(DetectionSweep, Protocol):
    name = "lvis"
    task = Task.DETECTION
    description = "LVIS v1 federated AP/AR, APr/APc/APf (lvis-api LVISEval), bbox or segm"
    options = (
        Option("iou_type", "str", "bbox", "what is matched: boxes or masks (RLE)",
               choices=("bbox", "segm")),
        Option("max_dets", "int", 300, "results kept per image (the official 300)"),
    )  # fmt: skip
    headline = ("AP", "AP50", "AP75", "APr", "APc", "APf", "APs", "APm", "APl", "AR@300")
    metrics = {"AP*": MetricInfo("fraction"), "AR*": MetricInfo("fraction")}
    draws = Draws(per_class=(PerClass("ap_per_category", "AP", ids="category_ids"),))
    export_formats = ("coco-json",)

    def setup(self) -> None:
        if int(self.opts["max_dets"]) < 1:
            raise ContractError(f"max_dets must be >= 1, got {self.opts['max_dets']}")

    @classmethod
    def dataset_requirements(cls, opts: Any) -> dict[str, Any]:
        """segm needs the gt masks."""
        return {"masks": True} if opts.get("iou_type") == "segm" else {}

    def headline_metrics(self) -> list[str]:
        md = int(self.opts["max_dets"])
        return [m.replace("@300", f"@{md}") for m in self.headline]

    def build_evaluator(self) -> Any:
        from visionbench.metrics.detection.lvis import LvisEvaluator

        freq = getattr(self.dataset, "frequency", None)
        if freq is None:
            raise ContractError(
                "the LVIS protocol needs the dataset's category frequencies (dataset.frequency)"
            )
        ls = self.label_space
        return LvisEvaluator(
            list(ls.ids), list(freq), iou_type=str(self.opts["iou_type"]),
            max_dets=int(self.opts["max_dets"]), cat_names=dict(zip(ls.ids, ls.names)),
        )  # fmt: skip

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        segm = self.opts["iou_type"] == "segm"
        for p, t in zip(predictions, targets):
            if t.neg_labels is None or t.not_exhaustive_labels is None:
                raise ContractError(
                    "the LVIS protocol needs neg_labels and not_exhaustive_labels on every "
                    f"target (sample_id={t.sample_id})"
                )
            if segm and (p.masks is None or t.masks is None):
                which = "predictions" if p.masks is None else "ground truth (-D masks=true)"
                raise ContractError(
                    f"iou_type=segm needs masks in the {which} (sample_id={p.sample_id})"
                )
            evaluator.update(
                image_id=_image_id(p.sample_id),
                dt_boxes=p.boxes, dt_labels=p.labels, dt_scores=p.scores,
                gt_boxes=t.boxes, gt_labels=t.labels,
                neg_category_ids=t.neg_labels, not_exhaustive_category_ids=t.not_exhaustive_labels,
                gt_area=t.area, gt_ann_ids=t.ann_ids if len(t.ann_ids) else None,
                gt_masks=t.masks if segm else None, dt_masks=p.masks if segm else None,
            )  # fmt: skip

    def evaluate_file(self, path: str | Path, source: Any) -> MetricResult:
        """The file pair through :func:`lvis_evaluate` when ``source`` is an LVIS file."""
        p = check_exists(path)
        ann = getattr(source, "annotation_file", None)
        if ann is None or getattr(source, "frequency", None) is None:
            return super().evaluate_file(p, source)
        from visionbench.metrics.detection.lvis import lvis_evaluate
        from visionbench.metrics.errors import MetricInputError

        try:
            return lvis_evaluate(
                str(ann), str(p), iou_type=str(self.opts["iou_type"]),
                max_dets=int(self.opts["max_dets"]),
            )  # fmt: skip
        except MetricInputError as e:  # its message names the file, the field and the id
            raise AnnotationError(str(e)) from None

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        return _coco_results(check_exists(path), gt, str(self.opts["iou_type"]))

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "coco-json"):
            raise ContractError(f"protocol lvis writes coco-json, not {format!r}")
        return write_json(coco_results_rows(predictions, str(self.opts["iou_type"])), path)
