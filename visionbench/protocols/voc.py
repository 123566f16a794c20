"""Pascal VOC detection: the devkit's AP at IoU 0.5 (REFERENCE.md §8).

Options (``-M KEY=VALUE``):

- ``ap_method``: ``11point`` (VOC2007 test) or ``allpoint`` (VOC2010+); the VOC datasets
  set theirs (voc2007: 11point, voc2012: allpoint).
- ``iou``: a detection is a true positive above this IoU (strictly), default 0.5.
- ``use_difficult``: count ``difficult`` objects as ordinary ground truth (default False:
  ignored, as the benchmark does).

Ground truth: :class:`~visionbench.types.DetectionTarget` (0-based corners); its
``difficult`` flags when it has them (:class:`~visionbench.loaders.voc.VOCTarget`). Boxes
are turned into the devkit's inclusive pixel boxes ``(x1 + 1, y1 + 1, x2, y2)`` and scored
with its ``+1`` IoU. Predictions carry ``voc20`` labels; a detection labelled
:data:`~visionbench.label_spaces.IGNORE` (a COCO category that is no VOC class, after the
``coco91 -> voc20`` map) is dropped.

Error analysis (``record["analysis"]``): ``worst``, the images of lowest F1 at the run's
best-F1 score threshold over all classes (``F1@0.5``: the devkit's matching at the run's
``iou``, difficult objects neither to find nor false positives when hit), and
``threshold_sweep``, the best F1 overall and per class, as COCO's; both from the
evaluator's per-image flags (:func:`~visionbench.metrics.detection.voc.voc_threshold_sweep`).

Prediction files (``bench eval``, ``bench export --format voc-comp4``): the devkit's
results files, one per class, ``comp4_det_<split>_<class>.txt`` (any ``..._<class>.txt``
or ``<class>.txt`` is read), one detection a line::

    <image id> <score> <xmin> <ymin> <xmax> <ymax>        devkit coordinates (1-based)

Written with full float precision (``repr``), so ``bench eval`` on an export gives the
run's numbers exactly; read straight into the evaluator in devkit coordinates, exactly as
``voc_eval`` reads them.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError
from visionbench.label_spaces import IGNORE
from visionbench.metrics.base import MetricResult
from visionbench.metrics.detection.voc import VOC_AP_METHODS, VOCEvaluator, devkit_boxes
from visionbench.protocols.base import (
    Draws,
    MetricInfo,
    PerClass,
    PerSample,
    Protocol,
    threshold_sweep_analysis,
)
from visionbench.protocols.options import Option
from visionbench.types import DetectionPrediction, Prediction, Target, Task

__all__ = ["VOCProtocol", "read_comp4", "write_comp4"]


class VOCProtocol(Protocol):
    name = "voc"
    task = Task.DETECTION
    description = "Pascal VOC AP at IoU 0.5 (devkit: +1 px boxes, difficult ignored, 07 11-point / 12 all-point)"
    options = (
        Option("ap_method", "str", "allpoint", "AP rule: 11point (VOC2007) or allpoint (VOC2010+)",
               choices=VOC_AP_METHODS),
        Option("iou", "float", 0.5, "IoU a true positive must exceed (strictly)"),
        Option("use_difficult", "bool", False, "count difficult objects as ordinary ground truth"),
    )  # fmt: skip
    headline = ("mAP",)
    metrics = {"mAP": MetricInfo("fraction"), "AP_*": MetricInfo("fraction")}
    draws = Draws(per_class=(PerClass("ap_per_category", "AP", ids="category_ids"),))
    export_formats = ("voc-comp4",)
    per_sample = PerSample(
        "F1@0.5", True,
        "the image's F1 at IoU > 0.5 (devkit matching, difficult ignored) at the run's "
        "best-F1 score threshold",
    )  # fmt: skip
    analyses = ("threshold_sweep",)

    def setup(self) -> None:
        if not 0.0 <= self.opts["iou"] < 1.0:
            raise ContractError(f"metric option iou={self.opts['iou']}: expected 0 <= iou < 1")

    def build_evaluator(self) -> VOCEvaluator:
        return VOCEvaluator(
            list(self.label_space.ids),
            iou_threshold=self.opts["iou"],
            ap_method=self.opts["ap_method"],
            class_names=list(self.label_space.names),
            use_difficult=self.opts["use_difficult"],
        )

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        for p, t in zip(predictions, targets):
            keep = p.labels != IGNORE
            self._add(evaluator, t, devkit_boxes(p.boxes[keep]), p.labels[keep], p.scores[keep])

    def evaluate_file(self, path: str | Path, source: Any) -> MetricResult:
        """Score a folder of devkit results files, read in devkit coordinates (no round
        trip through 0-based boxes: the same floats ``voc_eval`` reads)."""
        gt = source.ground_truth() if hasattr(source, "ground_truth") else source
        dets = read_comp4(path, gt.sample_ids, self.label_space)
        ev = self.build_evaluator()
        for sid, t in zip(gt.sample_ids, gt.targets):
            boxes, labels, scores = dets[sid]
            self._add(ev, t, boxes, labels, scores)
        return ev.compute()

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        dets = read_comp4(path, gt.sample_ids, self.label_space)
        out: list[Prediction] = []
        for sid in gt.sample_ids:
            boxes, labels, scores = dets[sid]
            b = boxes.copy()
            b[:, :2] = np.minimum(b[:, :2] - 1.0, b[:, 2:])  # 0-based; x1 <= x2 up to rounding
            out.append(DetectionPrediction(boxes=b, labels=labels, scores=scores, sample_id=sid))
        return out

    def write_predictions(
        self,
        predictions: Sequence[Prediction],
        path: str | Path,
        *,
        gt: Any = None,
        format: str | None = None,
    ) -> Path:
        if format not in (None, "voc-comp4"):
            raise ContractError(f"protocol voc writes voc-comp4, not {format!r}")
        split = getattr(self.dataset, "split", None) or _split_of(gt) or "test"
        return write_comp4(predictions, path, self.label_space, split=split)

    # -- error analysis ---------------------------------------------------------------
    def per_sample_scores(self, result: MetricResult) -> Any:
        sweep = self._sweep(result)
        if sweep is None:
            return None
        what = PerSample(f"F1@{self.opts['iou']:g}", True, self.per_sample.description)
        return what, sweep["image_ids"], sweep["image_f1"]

    def threshold_sweep(self, result: MetricResult) -> dict[str, Any] | None:
        """``record["analysis"]["threshold_sweep"]``: best F1 overall and per class."""
        sweep = self._sweep(result)
        if sweep is None:
            return None
        return threshold_sweep_analysis(sweep, self.label_space, self.opts["iou"])

    def _sweep(self, result: MetricResult) -> dict[str, Any] | None:
        ev = result.evaluator
        if not isinstance(ev, VOCEvaluator) or not ev.has_per_image_statistics:
            return None
        memo = getattr(self, "_sweep_memo", None)
        if memo is None or memo[0] is not result:
            memo = (result, ev.threshold_sweep())
            self._sweep_memo = memo
        return memo[1]

    # -- helpers ------------------------------------------------------------------------
    def _add(self, ev: VOCEvaluator, t: Any, boxes: np.ndarray, labels: np.ndarray,
             scores: np.ndarray) -> None:  # fmt: skip
        difficult = getattr(t, "difficult", None)  # the evaluator ignores it with use_difficult
        ev.update(
            dt_boxes=boxes, dt_labels=labels, dt_scores=scores,
            gt_boxes=devkit_boxes(t.boxes), gt_labels=t.labels, gt_difficult=difficult,
            image_id=t.sample_id,
        )  # fmt: skip


_LINE = re.compile(r"\s+")
_EPS = 1e-6  # pixels


def read_comp4(
    path: str | Path, sample_ids: Sequence[Any], label_space: Any
) -> dict[Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The devkit results files under ``path`` (a folder, searched recursively, or one file).

    Returns:
        sample id -> (boxes [N, 4] devkit coordinates, labels [N], scores [N]); every id of
        ``sample_ids`` is present (no detections: empty arrays). Within an image,
        detections keep file order, class by class in label-space order.

    Raises:
        AnnotationError: no results file, a file named for no class, a malformed line, an
            image id not in the split, a box with xmax < xmin - 1; the message names the file,
            the line and the image id.
    """
    root = Path(path)
    if not root.exists():
        raise AnnotationError("predictions not found", path=str(root))
    names = list(label_space.names)
    files = [root] if root.is_file() else sorted(root.rglob("*.txt"))
    by_class: dict[str, Path] = {}
    for f in files:
        cls = _class_of(f.name, names)
        if cls is None:
            raise AnnotationError(
                f"cannot tell the class of results file {f.name!r}: expected "
                f"comp4_det_<split>_<class>.txt (or <class>.txt) with <class> one of {', '.join(names)}",
                path=str(f),
            )
        if cls in by_class:
            raise AnnotationError(
                f"two results files for class {cls!r}: {by_class[cls].name} and {f.name}",
                path=str(f),
            )
        by_class[cls] = f
    if not by_class:
        raise AnnotationError(
            "no VOC results files (comp4_det_<split>_<class>.txt) found", path=str(root)
        )
    index = {str(s): i for i, s in enumerate(sample_ids)}
    img_parts, cls_parts, val_parts = [], [], []
    for cls_id, cls in zip(label_space.ids, names):
        f = by_class.get(cls)
        if f is None:
            continue
        ids, vals = _parse_results_file(f, index)
        img_parts.append(ids)
        cls_parts.append(np.full(len(ids), cls_id, np.int64))
        val_parts.append(vals)
    img = np.concatenate(img_parts)
    cls_ids = np.concatenate(cls_parts)
    vals = np.concatenate(val_parts).reshape(-1, 5)
    order = np.argsort(img, kind="stable")  # by image; class order, then file order within
    bounds = np.searchsorted(img[order], np.arange(len(sample_ids) + 1))
    out = {}
    for k, sid in enumerate(sample_ids):
        sel = order[bounds[k] : bounds[k + 1]]
        out[sid] = (vals[sel, 1:], cls_ids[sel], vals[sel, 0])
    return out


def _parse_results_file(f: Path, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(sample positions [N], values [N, 5]: score, xmin, ymin, xmax, ymax) of one file.

    Fast path: every token at once (numpy parses the numbers); on any defect the file is
    read again line by line to name the line."""
    text = f.read_text(encoding="utf-8")
    tokens = text.split()
    n_lines = sum(1 for line in text.splitlines() if line.strip())
    if len(tokens) == 6 * n_lines:
        table = np.asarray(tokens, dtype=object).reshape(-1, 6)
        try:
            vals = table[:, 1:].astype(np.float64)
        except ValueError:
            vals = None
        if vals is not None:
            uniq, inv = np.unique(table[:, 0].astype(str), return_inverse=True)
            pos = np.asarray([index.get(u, -1) for u in uniq.tolist()], np.int64)
            ids = pos[inv.reshape(-1)] if len(uniq) else np.zeros(0, np.int64)
            ok = (
                (ids >= 0).all()
                and np.isfinite(vals).all()
                and (vals[:, 3] - vals[:, 1] >= -1.0 - _EPS).all()
                and (vals[:, 4] - vals[:, 2] >= -1.0 - _EPS).all()
            )
            if ok:
                return ids, vals
    return _parse_results_lines(f, text, index)


def _parse_results_lines(
    f: Path, text: str, index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    rows: list[list[float]] = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = _LINE.split(line.strip())
        if parts == [""]:
            continue
        if len(parts) != 6:
            raise AnnotationError(
                f"line {n}: expected '<image id> <score> <xmin> <ymin> <xmax> <ymax>', "
                f"got {line.strip()[:80]!r}",
                path=str(f),
            )
        pos = index.get(parts[0])
        if pos is None:
            raise AnnotationError(
                f"line {n}: image {parts[0]!r} is not in the evaluated split",
                path=str(f),
                id=parts[0],
            )
        try:
            v = [float(x) for x in parts[1:]]
        except ValueError:
            raise AnnotationError(
                f"line {n}: expected numbers after the image id, got {' '.join(parts[1:])!r}",
                path=str(f), id=parts[0],
            ) from None  # fmt: skip
        # devkit boxes: xmax >= xmin - 1 (a box under one pixel wide has xmax < xmin; a
        # zero-width one written as x1 + 1 may miss by a rounding error)
        if not all(np.isfinite(v)) or v[3] - v[1] < -1.0 - _EPS or v[4] - v[2] < -1.0 - _EPS:
            raise AnnotationError(
                f"line {n}: expected finite numbers and xmax >= xmin - 1, ymax >= ymin - 1 "
                f"(devkit pixel boxes), got {' '.join(parts[1:])}",
                path=str(f), id=parts[0],
            )  # fmt: skip
        ids.append(pos)
        rows.append(v)
    return np.asarray(ids, np.int64), np.asarray(rows, np.float64).reshape(-1, 5)


def write_comp4(
    predictions: Sequence[Prediction], folder: str | Path, label_space: Any, *, split: str = "test"
) -> Path:
    """``<folder>/comp4_det_<split>_<class>.txt`` for every class (empty when it has no
    detection), devkit coordinates, full precision; each file written atomically.
    Detections labelled :data:`IGNORE` are left out."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    lines: dict[int, list[str]] = {int(c): [] for c in label_space.ids}
    for p in predictions:
        keep = p.labels != IGNORE
        boxes = devkit_boxes(p.boxes[keep])
        for b, c, s in zip(boxes.tolist(), p.labels[keep].tolist(), p.scores[keep].tolist()):
            if c not in lines:
                raise ContractError(
                    f"label {c} is not in label space {label_space.name!r} (sample_id={p.sample_id})"
                )
            lines[c].append(f"{p.sample_id} {s!r} {b[0]!r} {b[1]!r} {b[2]!r} {b[3]!r}\n")
    for c, name in zip(label_space.ids, label_space.names):
        target = out / f"comp4_det_{split}_{name}.txt"
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.writelines(lines[int(c)])
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return out


def _class_of(filename: str, names: list[str]) -> str | None:
    stem = filename[:-4] if filename.endswith(".txt") else filename
    for name in sorted(names, key=len, reverse=True):
        if stem == name or stem.endswith("_" + name):
            return name
    return None


def _split_of(gt: Any) -> str | None:
    image_set = getattr(gt, "files", {}).get("image_set") if gt is not None else None
    return Path(image_set).stem if image_set else None
