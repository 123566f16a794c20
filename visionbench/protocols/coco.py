"""COCO detection protocol: AP/AR of pycocotools' ``COCOeval`` for ``bbox``, ``segm`` and
``keypoints``.

Options: ``iou_type`` (bbox | segm | keypoints), ``compat`` (none | pycocotools: reproduce
pycocotools' quirks, see :mod:`visionbench.metrics.detection.coco`). AP/AR are fractions 0-1, NaN
where pycocotools prints -1.

Prediction files are COCO results JSON (detectron2, mmdet, ultralytics write them): a list
of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` plus ``"segmentation"``
(RLE or polygons) for segm and ``"keypoints"`` [3k] for keypoints. When the ground truth
is a COCO annotation file, ``bench eval`` scores the results file through the library's
columnar path (:func:`~visionbench.metrics.detection.coco.coco_evaluate`), exactly as ``COCO.loadRes``
+ ``COCOeval``: results for images not in the ground truth are an error, results of
categories not in it are dropped with a warning, ground-truth images without results
count as misses.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError, MetricInputError
from visionbench.metrics.base import MetricResult
from visionbench.metrics.detection.coco_segm_checks import (
    check_box,
    check_result_fields,
    check_segmentation,
)
from visionbench.protocols.base import (
    Draws,
    MetricInfo,
    PerClass,
    PerSample,
    Protocol,
    threshold_sweep_analysis,
)
from visionbench.protocols.options import Option
from visionbench.protocols.prediction_files import check_exists, load_json, write_json
from visionbench.types import DetectionPrediction, Prediction, Target, Task

__all__ = ["CocoProtocol", "CocoGroundTruthFile", "DetectionSweep", "coco_results_rows"]

_AP = ("AP", "AP50", "AP75", "APs", "APm", "APl")


class DetectionSweep:
    """Per-sample score and threshold sweep of protocols whose evaluator keeps COCO match
    state (COCO, LVIS): :func:`~visionbench.metrics.pr.detection_threshold_sweep`."""

    per_sample = PerSample(
        "F1@0.5", True, "the image's F1 at IoU 0.5 at the run's best-F1 score threshold"
    )
    analyses: tuple[str, ...] = ("threshold_sweep",)
    label_space: Any

    def per_sample_scores(self, result: MetricResult) -> Any:
        sweep = self._sweep(result)
        if sweep is None:
            return None
        return self.per_sample, sweep["image_ids"], sweep["image_f1"]

    def threshold_sweep(self, result: MetricResult) -> dict[str, Any] | None:
        """``record["analysis"]["threshold_sweep"]``: best F1 at IoU 0.5, overall and per class."""
        sweep = self._sweep(result)
        if sweep is None:
            return None
        return threshold_sweep_analysis(sweep, self.label_space, 0.5)

    def _sweep(self, result: MetricResult) -> dict[str, Any] | None:
        if result.evaluator is None:  # numbers without match state (e.g. a loaded result)
            return None
        memo = getattr(self, "_sweep_memo", None)
        if memo is None or memo[0] is not result:
            from visionbench.metrics.pr import detection_threshold_sweep

            memo = (result, detection_threshold_sweep(result.evaluator, iou_threshold=0.5))
            self._sweep_memo = memo
        return memo[1]


class CocoProtocol(DetectionSweep, Protocol):
    name = "coco"
    task = Task.DETECTION
    description = "COCO AP/AR (pycocotools COCOeval), bbox, segm or keypoints"
    options = (
        Option("iou_type", "str", "bbox", "what is matched: boxes, masks (RLE) or keypoints (OKS)",
               choices=("bbox", "segm", "keypoints")),
        Option("compat", "str", "none", "pycocotools: reproduce its quirks exactly",
               choices=("none", "pycocotools")),
        Option("tide", "bool", False, "record TIDE's error breakdown (bbox; keeps every box, "
               "~0.6 s CPU per 500k detections)"),
    )  # fmt: skip
    headline = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100")
    metrics = {"AP*": MetricInfo("fraction"), "AR*": MetricInfo("fraction")}
    draws = Draws(
        per_class=(PerClass("ap_per_category", "AP", ids="category_ids"),), pr_curves="precision"
    )
    export_formats = ("coco-json",)

    def setup(self) -> None:
        if self.opts["tide"] and self.iou_type != "bbox":
            from visionbench.protocols.options import OptionError

            raise OptionError(f"metric option tide=true needs iou_type=bbox, not {self.iou_type}")

    def analyses_for(self) -> tuple[str, ...]:
        return self.analyses + (("tide",) if self.opts["tide"] else ())

    def tide(self, result: MetricResult) -> dict[str, Any]:
        """``record["analysis"]["tide"]`` (needs ``-M tide=true``: the evaluator keeps boxes)."""
        from visionbench.metrics.detection.tide import tide_from_evaluator

        return tide_from_evaluator(result.evaluator)

    @property
    def iou_type(self) -> str:
        return str(self.opts["iou_type"])

    def _compat(self) -> str | None:
        return None if self.opts["compat"] == "none" else str(self.opts["compat"])

    @classmethod
    def dataset_requirements(cls, opts: Any) -> dict[str, Any]:
        """segm needs the gt masks."""
        return {"masks": True} if opts.get("iou_type") == "segm" else {}

    def build_evaluator(self) -> Any:
        from visionbench.metrics.detection.coco import CocoEvaluator

        ls = self.label_space
        return CocoEvaluator(
            list(ls.ids),
            iou_type=self.iou_type,
            compat=self._compat(),
            cat_names=dict(zip(ls.ids, ls.names)),
            keep_boxes=bool(self.opts["tide"]),
        )

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        segm = self.iou_type == "segm"
        kp = self.iou_type == "keypoints"
        for p, t in zip(predictions, targets):
            if kp and getattr(p, "keypoints", None) is None:
                raise ContractError(
                    f"iou_type=keypoints needs predicted keypoints (sample_id={p.sample_id})"
                )
            if segm and (p.masks is None or t.masks is None):
                which = (
                    "predictions" if p.masks is None else "ground truth (dataset option masks=true)"
                )
                raise ContractError(
                    f"iou_type=segm needs masks in the {which} (sample_id={p.sample_id})"
                )
            evaluator.update(
                image_id=_image_id(p.sample_id),
                dt_boxes=p.boxes, dt_labels=p.labels, dt_scores=p.scores,
                gt_boxes=t.boxes, gt_labels=t.labels,
                gt_iscrowd=t.iscrowd, gt_area=t.area, gt_ann_ids=t.ann_ids if len(t.ann_ids) else None,
                gt_masks=t.masks if segm else None, dt_masks=p.masks if segm else None,
                gt_keypoints=_flat_kp(t.keypoints) if kp else None,
                gt_num_keypoints=_num_kp(t.keypoints) if kp else None,
                dt_keypoints=_flat_kp(p.keypoints) if kp else None,
            )  # fmt: skip

    # -- bench eval -----------------------------------------------------------------

    def evaluate_file(self, path: str | Path, source: Any) -> MetricResult:
        """The columnar library path when the ground truth is exactly a COCO annotation
        file (``source.annotation_file``, nothing dropped); else per-sample objects."""
        p = check_exists(path)
        ann = getattr(source, "annotation_file", None)
        if ann is None or getattr(source, "problems", None):
            return super().evaluate_file(p, source)
        from visionbench.metrics.detection.coco import coco_evaluate
        from visionbench.metrics.errors import MetricInputError

        img_ids = getattr(source, "image_ids", None)
        table = getattr(source, "ground_truth_table", None)
        gt = table(self.iou_type, self._compat() is not None) if table else str(ann)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = coco_evaluate(
                    gt, str(p), iou_type=self.iou_type, compat=self._compat(),
                    keep_boxes=bool(self.opts["tide"]),
                    **({"img_ids": list(img_ids)} if img_ids is not None else {}),
                )  # fmt: skip
        except MetricInputError as e:  # its message names the file, the field and the id
            raise AnnotationError(str(e)) from None
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if any("category ids not in the ground truth" in str(w.message) for w in caught):
            rows = load_json(p)  # only when results were dropped: is it the COCO-80 index?
            if isinstance(rows, list):
                warn_coco80(rows, set(int(c) for c in self.label_space.ids), p)
        return result

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        p = check_exists(path)
        own = getattr(self.dataset, "read_predictions", None)  # a format's own files (YOLO txt)
        if own is not None:
            preds = own(p, gt)
            if preds is not None:
                return preds
        return _coco_results(p, gt, self.iou_type)

    # -- bench export ---------------------------------------------------------------

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "coco-json"):
            raise ContractError(f"protocol coco writes coco-json, not {format!r}")
        return write_json(coco_results_rows(predictions, self.iou_type), path)


class CocoGroundTruthFile:
    """Any COCO-format ground-truth JSON as the source of ``bench eval --gt FILE.json``:
    no dataset root, no per-image objects; scored by :meth:`CocoProtocol.evaluate_file`,
    which parses the file once (:meth:`ground_truth_table`, the library's columnar reader).

    Attributes:
        name, split: for the record (default ``coco`` and the file's stem).
        annotation_file: the file; ``image_ids`` None (every image of the file).
    """

    task = Task.DETECTION

    def __init__(self, path: str | Path, *, name: str = "coco", split: str | None = None) -> None:
        p = Path(path)
        if not p.is_file():
            raise AnnotationError("ground-truth file not found", path=str(p))
        self.annotation_file = str(p)
        self.root = str(p.parent)
        self.name = name
        self.split = split or p.stem
        self.image_ids = None
        self.problems: list[Any] = []
        self._table: Any = None
        self._header: tuple[int, Any] | None = None

    def ground_truth_table(self, iou_type: str, compat: bool) -> Any:
        """The file as a :class:`~visionbench.metrics.detection.coco_columns.GroundTruthTable` (parsed
        once per iou_type / compat)."""
        from visionbench.metrics.detection.coco_columns import load_ground_truth
        from visionbench.metrics.errors import MetricInputError

        key = (iou_type, compat)
        if self._table is None or self._table[0] != key:
            try:
                table = load_ground_truth(self.annotation_file, iou_type=iou_type, compat=compat)
            except MetricInputError as e:
                raise AnnotationError(str(e)) from None
            self._table = (key, table)
        return self._table[1]

    @property
    def label_space(self) -> Any:
        """The file's categories as a label space (named after the file)."""
        return self._info()[1]

    def __len__(self) -> int:
        return self._info()[0]

    def fingerprint(self) -> str:
        """sha256 (first 16 hex) of the file's bytes."""
        import hashlib

        h = hashlib.sha256()
        with open(self.annotation_file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        return h.hexdigest()[:16]

    def ground_truth(self) -> Any:
        raise ContractError(
            f"{self.annotation_file}: a --gt file is scored from the file itself, not per sample"
        )

    def _info(self) -> tuple[int, Any]:
        from visionbench.label_spaces import LabelSpace

        space_name = f"file:{Path(self.annotation_file).name}"
        if self._table is not None:
            t = self._table[1]
            space = LabelSpace(space_name, tuple(t.cat_names), tuple(int(c) for c in t.cat_ids))
            return len(t.image_ids), space
        if self._header is None:
            self._header = self._read_header(space_name)
        return self._header

    def _read_header(self, space_name: str) -> tuple[int, Any]:
        import orjson

        from visionbench.label_spaces import LabelSpace

        try:
            doc = orjson.loads(Path(self.annotation_file).read_bytes())
            images, cats = doc["images"], doc["categories"]
            names = tuple(str(c.get("name", c["id"])) for c in cats)
            ids = tuple(int(c["id"]) for c in cats)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise AnnotationError(
                f"not a COCO ground-truth file ({type(e).__name__}: {e})",
                path=self.annotation_file, field="images/categories",
            ) from None  # fmt: skip
        return len(images), LabelSpace(space_name, names, ids)


def coco_results_rows(predictions: Sequence[Prediction], iou_type: str = "bbox") -> list[dict]:
    """COCO results rows (``bbox`` xywh; ``segmentation`` RLE with str counts; keypoints)."""
    rows: list[dict[str, Any]] = []
    for p in predictions:
        iid = _image_id(p.sample_id)
        b = p.boxes
        xywh = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
        kps = getattr(p, "keypoints", None)
        for i in range(len(b)):
            r: dict[str, Any] = {
                "image_id": iid,
                "category_id": int(p.labels[i]),
                "bbox": [float(v) for v in xywh[i]],
                "score": float(p.scores[i]),
            }
            if p.masks is not None:
                m = dict(p.masks[i])
                if isinstance(m.get("counts"), bytes):
                    m["counts"] = m["counts"].decode("ascii")
                r["segmentation"] = m
            if kps is not None:
                r["keypoints"] = [float(v) for v in np.asarray(kps[i], np.float64).ravel()]
            rows.append(r)
    return rows


# ---------------------------------------------------------------------------------------


#: ids 1..79 that are not COCO category ids (the gaps of the 91-id list)
_COCO91_GAPS = frozenset({12, 26, 29, 30, 45, 66, 68, 69, 71})


def warn_coco80(rows: list[Any], known: set[int], p: Path) -> None:
    """Warn when results with ``category_id`` 0..79 meet COCO category ids: the COCO-80
    class index (YOLO-style ``cls``) written where the COCO-91 category id belongs."""
    if not rows or not known or not ({1, 90} <= known):
        return
    try:
        cats = {int(r["category_id"]) for r in rows}
    except (KeyError, TypeError, ValueError):
        return
    if cats and max(cats) <= 79 and (0 in cats or cats & _COCO91_GAPS):
        warnings.warn(
            f"{p}: every category_id is in 0..79 and some are not COCO category ids "
            f"({sorted(cats - known)[:10]}): these look like COCO-80 class indices "
            "(ultralytics/YOLO 'cls', darknet), not the COCO-91 category ids (1..90) the ground "
            "truth uses; map them with visionbench.label_spaces.label_map('coco80', 'coco91') "
            "(the scores below are wrong otherwise)",
            stacklevel=3,
        )


def _image_id(sample_id: Any) -> int:
    try:
        return int(sample_id)
    except (TypeError, ValueError):
        raise ContractError(
            f"COCO evaluation needs integer image ids, got sample_id={sample_id!r}"
        ) from None


def _flat_kp(kp: Any) -> Any:
    if kp is None:
        return None
    a = np.asarray(kp, np.float64)
    return a.reshape(len(a), int(np.prod(a.shape[1:])))


def _num_kp(kp: Any) -> Any:
    if kp is None:
        return None
    a = np.asarray(kp, np.float64)
    a = a.reshape(len(a), int(np.prod(a.shape[1:])) // 3, 3)
    return (a[:, :, 2] > 0).sum(axis=1)


def _mask_sizes(gt: Any) -> dict[int, tuple[int, int]]:
    """(height, width) of each image whose ground truth carries masks (their RLE size)."""
    out: dict[int, tuple[int, int]] = {}
    for sid, t in zip(gt.sample_ids, gt.targets):
        masks = getattr(t, "masks", None)
        size = masks[0].get("size") if masks and isinstance(masks[0], dict) else None
        if size is not None and len(size) == 2 and isinstance(sid, (int, np.integer)):
            out[int(sid)] = (int(size[0]), int(size[1]))
    return out


def _coco_results(p: Path, gt: Any, iou_type: str) -> list[Prediction]:
    rows = load_json(p)
    if not isinstance(rows, list):
        raise AnnotationError("a COCO results file is a JSON list of detections", path=str(p))
    known_imgs = {int(s) for s in gt.sample_ids}
    known_cats = set(gt.label_space.ids)
    per_img: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unknown_imgs: set[int] = set()
    dropped_cats: dict[int, int] = defaultdict(int)
    if not rows:
        warnings.warn(
            f"{p}: empty results list; every ground truth counts as missed (AP 0)", stacklevel=2
        )
    sizes = _mask_sizes(gt)
    for i, r in enumerate(rows):
        try:  # the metrics core's checks: types (string ids refused), RLE before pycocotools
            check_result_fields(r, i, str(p))
            if "bbox" in r:
                check_box(r["bbox"], str(p), f"results[{i}]")
            if r.get("segmentation") is not None:
                h_, w_ = sizes.get(int(r["image_id"]), (-1, -1))
                check_segmentation(r["segmentation"], h_, w_, src=str(p), ident=f"results[{i}]")
        except MetricInputError as e:
            raise AnnotationError(str(e).removeprefix(f"{p}: "), path=str(p), id=i) from None
        try:
            iid, cid, score = int(r["image_id"]), int(r["category_id"]), float(r["score"])
            if "bbox" not in r and iou_type == "segm" and isinstance(r.get("segmentation"), dict):
                from pycocotools import mask as mask_utils  # COCO.loadRes: the mask's box

                seg = dict(r["segmentation"])
                if isinstance(seg.get("counts"), str):
                    seg["counts"] = seg["counts"].encode()
                r = {**r, "bbox": [float(v) for v in mask_utils.toBbox(seg)]}
            x, y, w, h = (float(v) for v in r["bbox"])
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(
                f"result {i} is malformed ({type(e).__name__}: {e})",
                path=str(p), field="image_id/category_id/bbox/score", id=i,
            ) from None  # fmt: skip
        if not np.isfinite(score):
            raise AnnotationError(
                f"results[{i}] (image_id {iid}): field 'score' is non-finite: {r['score']}",
                path=str(p), field="score", id=i,
            )  # fmt: skip
        if not all(np.isfinite([x, y, w, h])) or w < 0 or h < 0:
            raise AnnotationError(
                f"results[{i}] (image_id {iid}): field 'bbox' is non-finite or has a negative "
                f"width/height: {r['bbox']} (expected finite [x, y, w, h], w >= 0, h >= 0)",
                path=str(p), field="bbox", id=i,
            )  # fmt: skip
        if iid not in known_imgs:
            unknown_imgs.add(iid)
            continue
        if cid not in known_cats:
            dropped_cats[cid] += 1
            continue
        per_img[iid].append({"box": (x, y, x + w, y + h), "cat": cid, "score": score,
                             "segm": r.get("segmentation"), "kp": r.get("keypoints")})  # fmt: skip
    warn_coco80(rows, known_cats, p)
    if unknown_imgs:
        ids = sorted(unknown_imgs)
        raise AnnotationError(
            f"results for {len(ids)} image ids that are not in the ground truth: {ids[:10]}"
            f"{' ...' if len(ids) > 10 else ''}", path=str(p), field="image_id",
        )  # fmt: skip
    if dropped_cats:
        warnings.warn(
            f"{p}: dropped {sum(dropped_cats.values())} results of category ids not in the ground truth "
            f"{sorted(dropped_cats)[:10]} (pycocotools drops them silently)", stacklevel=2,
        )  # fmt: skip
    out: list[Prediction] = []
    kp_width = next(
        (3 * np.asarray(t.keypoints).shape[1] for t in gt.targets
         if getattr(t, "keypoints", None) is not None and np.asarray(t.keypoints).ndim == 3),
        51,
    )  # fmt: skip
    for sid in gt.sample_ids:
        dets = per_img.get(int(sid), [])
        has_segm = bool(dets) and all(d["segm"] is not None for d in dets)
        if iou_type == "segm" and dets and not has_segm:
            raise AnnotationError(
                "iou_type=segm: every result needs a segmentation", path=str(p),
                field="segmentation", id=sid,
            )  # fmt: skip
        kps = None
        if iou_type == "keypoints":
            kps = np.array([d["kp"] or [] for d in dets], np.float64).reshape(len(dets), kp_width)
        masks = [d["segm"] for d in dets] if has_segm else ([] if iou_type == "segm" else None)
        out.append(DetectionPrediction(
            boxes=np.array([d["box"] for d in dets], np.float64).reshape(-1, 4),
            labels=np.array([d["cat"] for d in dets], np.int64),
            scores=np.array([d["score"] for d in dets], np.float64),
            masks=masks, sample_id=sid, keypoints=kps,
        ))  # fmt: skip
    return out
