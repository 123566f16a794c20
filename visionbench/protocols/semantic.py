"""Semantic segmentation by confusion matrix: IoU per class, mIoU, pixel accuracy.

Options: ``ignore_index`` (ground-truth value not evaluated, default 255) and
``reduce_zero_label`` (ADE20K / mmseg convention: label 0 "other" becomes ``ignore_index``
and every other label ``l`` becomes ``l - 1``, in the ground truth only). The classes are
the dataset's label space (C = its length). Metrics are fractions 0-1.

Prediction files: a folder of single-channel PNGs of class ids, one per sample, named
``<sample_id>.png`` (or ``<sample_id>_*.png``). ``bench export`` writes ``<sample_id>.png``.

With ``reduce_zero_label`` the model's classes are ``0..C-1`` (ADE20K: 150). The ADE20K
challenge's submission PNGs hold the dataset's ids instead, ``1..150`` (class ``c`` is
written ``c + 1``; 0 "other" is never a prediction): ``bench export --format
png-dataset-ids`` writes them, and ``bench eval -M prediction_labels=dataset`` reads them
(a 0 in such a file is an error naming the file: the confusion matrix has no "other").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.segmentation.label_png import read_label_png
from visionbench.metrics.segmentation.result_pngs import pair_result_pngs
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
from visionbench.types import Prediction, SegmentationPrediction, Target, Task

__all__ = ["SemanticProtocol", "read_result_pngs", "write_label_pngs", "pair_pngs", "target_mask"]


class SemanticProtocol(Protocol):
    name = "semantic"
    task = Task.SEMANTIC_SEGMENTATION
    description = "confusion-matrix mIoU, pixel accuracy, mean class accuracy, fwIoU"
    options = (
        Option("ignore_index", "int", 255, "ground-truth value that is not evaluated"),
        Option("reduce_zero_label", "bool", False,
               "gt label 0 -> ignore_index, l -> l-1 (ADE20K convention)"),
        Option("prediction_labels", "str", "reduced",
               "bench eval PNGs hold model classes 0..C-1 ('reduced') or, with "
               "reduce_zero_label, the dataset's ids 1..C ('dataset': ADE20K submissions)",
               choices=("reduced", "dataset")),
    )  # fmt: skip
    headline = ("miou", "pixel_acc", "mean_class_acc", "fwiou")
    metrics = {
        "miou": MetricInfo("fraction"),
        "pixel_acc": MetricInfo("fraction"),
        "mean_class_acc": MetricInfo("fraction"),
        "fwiou": MetricInfo("fraction"),
    }
    draws = Draws(per_class=(PerClass("iou", "IoU"),), confusion="confusion")
    export_formats = ("png", "png-dataset-ids")
    per_sample = PerSample("miou", True, "the frame's own mIoU (classes present in it)")
    analyses = ("confused_pairs", "per_sample")

    def per_sample_scores(self, result: Any) -> Any:
        from visionbench.metrics.bootstrap import sample_table
        from visionbench.metrics.error_analysis import per_frame_miou
        from visionbench.metrics.errors import MetricInputError

        try:
            scores = per_frame_miou(sample_table(result.evaluator))
        except MetricInputError:
            return None
        return self.per_sample, result_sample_ids(result, len(scores)), scores

    def setup(self) -> None:
        if self.opts["prediction_labels"] == "dataset" and not self.opts["reduce_zero_label"]:
            from visionbench.protocols.options import OptionError

            raise OptionError(
                "metric option prediction_labels=dataset needs reduce_zero_label=true (without "
                "it the dataset's ids are the model's classes)"
            )

    def build_evaluator(self) -> Any:
        from visionbench.metrics.segmentation.semantic import SegmentationEvaluator

        return SegmentationEvaluator(len(self.label_space), ignore_index=self.opts["ignore_index"])

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        for p, t in zip(predictions, targets):
            gt = target_mask(t)
            check_same_shape(p, gt)
            if self.opts["reduce_zero_label"]:
                gt = reduce_zero_label(gt, self.opts["ignore_index"])
            evaluator.update(predictions=p.mask, targets=gt)

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        out = read_result_pngs(check_exists(path), gt.sample_ids)
        if not (self.opts["reduce_zero_label"] and self.opts["prediction_labels"] == "dataset"):
            return out
        files = pair_pngs(path, gt.sample_ids)
        shifted = []
        for p, f in zip(out, files):
            if p.mask.size and p.mask.min() == 0:
                raise AnnotationError(
                    f"sample {p.sample_id}: label 0 ('other') in a prediction with "
                    "prediction_labels=dataset (submissions predict 1..C)",
                    path=str(f),
                )
            mask = p.mask.astype(np.int64) - 1
            shifted.append(SegmentationPrediction(mask=mask, sample_id=p.sample_id))
        return shifted

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "png", "png-dataset-ids"):
            raise ContractError(f"protocol semantic writes png or png-dataset-ids, not {format!r}")
        if format == "png-dataset-ids" and not self.opts["reduce_zero_label"]:
            raise ContractError(
                "png-dataset-ids is for reduce_zero_label datasets (ADE20K); this run's "
                "predictions are already the dataset's ids: use --format png"
            )
        if format == "png-dataset-ids":
            predictions = [
                SegmentationPrediction(mask=np.asarray(p.mask).astype(np.int64) + 1,
                                       sample_id=p.sample_id)
                for p in predictions
            ]  # fmt: skip
        return write_label_pngs(predictions, path, suffix="")


# ---------------------------------------------------------------------------------------


def reduce_zero_label(gt: np.ndarray, ignore_index: int) -> np.ndarray:
    """mmseg's ``reduce_zero_label``: 0 -> ``ignore_index``, l -> l - 1 (and
    ``ignore_index`` stays)."""
    g = gt.astype(np.int64)
    out = g - 1
    out[g == 0] = ignore_index
    out[g == ignore_index] = ignore_index
    return out


def target_mask(t: Any) -> np.ndarray:
    """The target's mask, decoded from ``mask_path`` when the target holds only the path."""
    if t.mask is not None:
        return t.mask
    if t.mask_path is None:
        raise ContractError("segmentation target has neither a mask nor a mask path")
    return read_label_png(t.mask_path, single_channel=True)


def check_same_shape(p: Any, gt: np.ndarray) -> None:
    if gt.shape != p.mask.shape:
        raise ContractError(
            f"predicted mask {list(p.mask.shape)} != ground truth {list(gt.shape)} "
            f"(sample_id={p.sample_id}); predictions must be at the gt's resolution"
        )


def pair_pngs(path: str | Path, sample_ids: Sequence[Any], *, separator: str = "_") -> list[Path]:
    """The result PNG of each sample (:func:`~visionbench.metrics.segmentation.result_pngs.pair_result_pngs`:
    ``<id>.png`` or ``<id>{separator}*.png``, recursively), errors as :class:`AnnotationError`."""
    try:
        return pair_result_pngs(check_exists(path), sample_ids, separator=separator)
    except MetricInputError as e:  # the message names the folder and the frames
        raise AnnotationError(str(e)) from None


def read_result_pngs(
    path: str | Path, sample_ids: Sequence[Any], *, separator: str = "_"
) -> list[Prediction]:
    """A folder of single-channel result PNGs as one prediction per sample id."""
    files = pair_pngs(path, sample_ids, separator=separator)
    return [
        SegmentationPrediction(mask=read_label_png(f, single_channel=True), sample_id=s)
        for s, f in zip(sample_ids, files)
    ]


def write_label_pngs(predictions: Sequence[Prediction], folder: str | Path, *, suffix: str) -> Path:
    """``<folder>/<sample_id><suffix>.png`` per prediction (uint8, or 16-bit when ids > 255)."""
    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for p in predictions:
        m = np.asarray(p.mask)
        if m.min(initial=0) < 0 or m.max(initial=0) > 65535:
            raise ContractError(f"mask ids outside 0..65535 (sample_id={p.sample_id})")
        arr = m.astype(np.uint8) if m.max(initial=0) <= 255 else m.astype(np.uint16)
        target = out / f"{p.sample_id}{suffix}.png"
        tmp = target.with_name(f".{target.name}.tmp")
        Image.fromarray(arr).save(tmp, format="PNG")
        tmp.replace(target)
    return out
