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

__all__ = ["SemanticProtocol", "read_label_image", "write_label_pngs", "pair_pngs"]


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
        files = pair_pngs(check_exists(path), gt.sample_ids)
        shift = self.opts["reduce_zero_label"] and self.opts["prediction_labels"] == "dataset"
        out = []
        for s, f in zip(gt.sample_ids, files):
            mask = read_label_image(f)
            if shift:
                if mask.size and mask.min() == 0:
                    raise AnnotationError(
                        f"sample {s}: label 0 ('other') in a prediction with "
                        "prediction_labels=dataset (submissions predict 1..C)",
                        path=str(f),
                    )
                mask = mask.astype(np.int64) - 1
            out.append(SegmentationPrediction(mask=mask, sample_id=s))
        return out

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "png", "png-dataset-ids"):
            raise ContractError(f"protocol semantic writes png or png-dataset-ids, not {format!r}")
        if format == "png-dataset-ids" and self.opts["reduce_zero_label"]:
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
    if t.mask is not None:
        return t.mask
    return read_label_image(t.mask_path)


def check_same_shape(p: Any, gt: np.ndarray) -> None:
    if gt.shape != p.mask.shape:
        raise ContractError(
            f"predicted mask {list(p.mask.shape)} != ground truth {list(gt.shape)} "
            f"(sample_id={p.sample_id}); predictions must be at the gt's resolution"
        )


def read_label_image(path: str | Path | None) -> np.ndarray:
    """A single-channel label PNG as an integer array."""
    from PIL import Image

    if path is None:
        raise ContractError("segmentation target has neither a mask nor a mask path")
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except OSError as e:
        raise ContractError(f"cannot read label image {path}: {e}") from None


def pair_pngs(folder: Path, sample_ids: Sequence[Any]) -> list[Path]:
    """One PNG per sample id: ``<id>.png`` or the single ``<id>_*.png`` (recursively);
    O(files + samples)."""
    if not folder.is_dir():
        raise AnnotationError("segmentation results must be a folder of PNGs", path=str(folder))
    wanted = {str(s) for s in sample_ids}
    hits: dict[str, list[Path]] = {}
    for f in folder.rglob("*.png"):
        stem = f.name[:-4]
        if stem in wanted:
            hits.setdefault(stem, []).append(f)
            continue
        # <id>_<anything>.png: try every "_" cut of the stem, longest first
        cut = stem.rfind("_")
        while cut > 0:
            if stem[:cut] in wanted:
                hits.setdefault(stem[:cut], []).append(f)
                break
            cut = stem.rfind("_", 0, cut)
    missing = [(s, len(hits.get(str(s), []))) for s in sample_ids if len(hits.get(str(s), [])) != 1]
    if missing:
        desc = ", ".join(f"{s} ({'none' if n == 0 else f'{n} files'})" for s, n in missing[:10])
        raise AnnotationError(
            f"{len(missing)} frames without exactly one result PNG: {desc}", path=str(folder)
        )
    return [hits[str(s)][0] for s in sample_ids]


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
