"""``bench eval``: score predictions made elsewhere into an ordinary run record.

Readers, by task (``fmt="auto"`` picks from the dataset's task and the file):

- detection: a COCO results JSON (detectron2, mmdet, ultralytics): a list of
  ``{"image_id", "category_id", "bbox": [x, y, w, h], "score", ["segmentation"]}``.
  As pycocotools' ``loadRes``: results for images not in the ground truth are an error
  (named), results of categories not in the ground truth are dropped with a warning, and
  ground-truth images without results count as misses.
- semantic segmentation: a folder of result PNGs holding labelIds, one per frame, found
  by the frame name (``<city>_<seq>_<frame>*.png``, as cityscapesScripts does).
- classification: CSV with a ``sample_id`` column and ``top1..topk`` (or ``label``)
  columns of class indices, or JSON ``{sample_id: [ids best first]}``.
- captioning: COCO caption results JSON ``[{"image_id", "caption"}]``.
- scene graph: JSON list of ``{"image_id", "boxes", "labels", "scores", "rel_pairs",
  "rel_scores"}``.
"""

from __future__ import annotations

import csv
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.engine.records import RunRecord, write_record
from visionbench.engine.run import build_record
from visionbench.engine.scoring import make_scorer
from visionbench.errors import AnnotationError, MetricInputError
from visionbench.metrics.coco_validate import check_box, check_result_fields, check_segmentation
from visionbench.tasks import Dataset, GroundTruth
from visionbench.types import (
    CaptionPrediction,
    ClassificationPrediction,
    DetectionPrediction,
    Prediction,
    SceneGraphPrediction,
    SegmentationPrediction,
    Task,
)

__all__ = ["evaluate_predictions", "read_predictions"]


def evaluate_predictions(
    dataset: Dataset,
    predictions: str | Path,
    *,
    name: str | None = None,
    results: str | Path | None = None,
    scorer_options: dict[str, Any] | None = None,
    command: list[str] | None = None,
) -> tuple[RunRecord, Path]:
    """Score a predictions file / folder against ``dataset``'s ground truth; write a record."""
    t0 = time.perf_counter()
    gt = dataset.ground_truth()
    preds = read_predictions(dataset.task, predictions, gt, image_sizes=_image_sizes(dataset))
    scorer = make_scorer(dataset.task, dataset.label_space, **(scorer_options or {}))
    targets = gt.targets
    scorer.update(preds, list(targets))
    result = scorer.compute()
    wall = time.perf_counter() - t0
    model_info = {
        "name": name or Path(predictions).stem,
        "task": dataset.task.value,
        "label_space": dataset.label_space.name,
        "params": None,
        "weights": {"predictions": str(Path(predictions).resolve())},
    }
    record = build_record(
        model_info, dataset, gt, result,
        timings={"wall_s": wall, "throughput_img_s": None, "source": "bench eval"},
        device="none", config={"predictions": str(predictions)}, n=len(gt), seed=0,
        command=command if command is not None else list(sys.argv),
    )  # fmt: skip
    path = write_record(record, results, arrays=result.arrays)
    return record, path


def read_predictions(
    task: Task,
    path: str | Path,
    gt: GroundTruth,
    *,
    image_sizes: dict[Any, tuple[int, int]] | None = None,
) -> list[Prediction]:
    """One prediction per ground-truth sample, in ground-truth order.

    ``image_sizes``: sample id -> (height, width) from the annotation, to check the
    ``size`` of RLE masks in detection results against (default: the ground-truth masks')."""
    p = Path(path)
    if not p.exists():
        raise AnnotationError("predictions not found", path=str(p))
    readers = {
        Task.DETECTION: _coco_results,
        Task.SEMANTIC_SEGMENTATION: _segmentation_pngs,
        Task.CLASSIFICATION: _classification,
        Task.CAPTIONING: _captions,
        Task.SCENE_GRAPH: _scene_graphs,
    }
    if task == Task.DETECTION:
        return _coco_results(p, gt, image_sizes)
    return readers[task](p, gt)


def _image_sizes(dataset: Dataset) -> dict[Any, tuple[int, int]] | None:
    """(height, width) the annotation records for each sample (detection datasets only)."""
    if dataset.task != Task.DETECTION:
        return None
    out: dict[Any, tuple[int, int]] = {}
    for i in range(len(dataset)):
        s = dataset[i]
        h, w = getattr(s.image, "height", None), getattr(s.image, "width", None)
        if h is not None and w is not None:
            out[s.sample_id] = (int(h), int(w))
    return out


# ---------------------------------------------------------------------------------------


def _load_json(p: Path) -> Any:
    import orjson

    data = p.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        import json

        try:  # Python's json writes NaN/Infinity tokens; read them so the check names the row
            return json.loads(data)
        except (ValueError, RecursionError):
            raise AnnotationError(f"not valid JSON: {e}", path=str(p)) from None


def _coco_results(
    p: Path, gt: GroundTruth, image_sizes: dict[Any, tuple[int, int]] | None = None
) -> list[Prediction]:
    rows = _load_json(p)
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
    sizes = {
        int(k): v for k, v in (image_sizes or {}).items() if isinstance(k, (int, np.integer))
    } or _mask_sizes(gt)
    for i, r in enumerate(rows):
        try:  # the checks of the metrics core: types, strings refused (pycocotools drops them)
            check_result_fields(r, i, str(p))
            segm = r.get("segmentation")
            if segm is not None:
                h, w = sizes.get(int(r["image_id"]), (-1, -1))
                check_segmentation(segm, h, w, src=str(p), ident=f"results[{i}]")
            if "bbox" in r:
                check_box(r["bbox"], str(p), f"results[{i}]")
                box = r["bbox"]
            elif isinstance(segm, dict):  # as pycocotools' loadRes: the mask's bounding box
                from pycocotools import mask as mask_utils

                box = mask_utils.toBbox(_rle_for_pycocotools(segm)).tolist()
            else:
                raise MetricInputError(f"{p}: results[{i}]: missing field 'bbox'")
        except MetricInputError as e:
            msg = str(e).removeprefix(f"{p}: ")
            raise AnnotationError(msg, path=str(p), id=i) from None
        iid, cid, score = int(r["image_id"]), int(r["category_id"]), float(r["score"])
        x, y, w, h = (float(v) for v in box)
        if not np.isfinite(score):
            raise AnnotationError(
                f"results[{i}] (image_id {iid}): field 'score' is non-finite: {r['score']}",
                path=str(p), field="score", id=i,
            )  # fmt: skip
        if not all(np.isfinite([x, y, w, h])) or w < 0 or h < 0:
            raise AnnotationError(
                f"results[{i}] (image_id {iid}): field 'bbox' is non-finite or has a negative "
                f"width/height: {box} (expected finite [x, y, w, h], w >= 0, h >= 0)",
                path=str(p), field="bbox", id=i,
            )  # fmt: skip
        if iid not in known_imgs:
            unknown_imgs.add(iid)
            continue
        if cid not in known_cats:
            dropped_cats[cid] += 1
            continue
        per_img[iid].append(
            {"box": (x, y, x + w, y + h), "cat": cid, "score": score, "segm": r.get("segmentation")}
        )
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
    for sid in gt.sample_ids:
        dets = per_img.get(int(sid), [])
        masks = (
            [d["segm"] for d in dets] if dets and all(d["segm"] is not None for d in dets) else None
        )
        out.append(DetectionPrediction(
            boxes=np.array([d["box"] for d in dets], np.float64).reshape(-1, 4),
            labels=np.array([d["cat"] for d in dets], np.int64),
            scores=np.array([d["score"] for d in dets], np.float64),
            masks=masks, sample_id=sid,
        ))  # fmt: skip
    return out


def _rle_for_pycocotools(segm: dict[str, Any]) -> dict[str, Any]:
    """A checked RLE in the form pycocotools' functions take (compressed, bytes counts)."""
    from pycocotools import mask as mask_utils

    h, w = segm["size"]
    if isinstance(segm["counts"], list):
        return mask_utils.frPyObjects(segm, h, w)
    c = segm["counts"]
    return {"size": [h, w], "counts": c.encode() if isinstance(c, str) else c}


def _mask_sizes(gt: GroundTruth) -> dict[int, tuple[int, int]]:
    """(height, width) of each image whose ground truth carries masks (their RLE size)."""
    out: dict[int, tuple[int, int]] = {}
    for sid, t in zip(gt.sample_ids, gt.targets):
        masks = getattr(t, "masks", None)
        if masks:
            size = masks[0].get("size") if isinstance(masks[0], dict) else None
            if size is not None and len(size) == 2:
                out[int(sid)] = (int(size[0]), int(size[1]))
    return out


def _segmentation_pngs(p: Path, gt: GroundTruth) -> list[Prediction]:
    from PIL import Image

    if not p.is_dir():
        raise AnnotationError("segmentation results must be a folder of PNGs", path=str(p))
    files = {f.name: f for f in p.rglob("*.png")}
    out: list[Prediction] = []
    missing = []
    for sid in gt.sample_ids:
        hits = [f for n, f in files.items() if n.startswith(f"{sid}_") or n == f"{sid}.png"]
        if len(hits) != 1:
            missing.append((sid, len(hits)))
            continue
        with Image.open(hits[0]) as im:
            out.append(SegmentationPrediction(mask=np.asarray(im), sample_id=sid))
    if missing:
        desc = ", ".join(f"{s} ({'none' if n == 0 else f'{n} files'})" for s, n in missing[:10])
        raise AnnotationError(
            f"{len(missing)} frames without exactly one result PNG: {desc}", path=str(p)
        )
    return out


def _classification(p: Path, gt: GroundTruth) -> list[Prediction]:
    by_id: dict[str, list[int]] = {}
    if p.suffix.lower() == ".json":
        data = _load_json(p)
        if not isinstance(data, dict):
            raise AnnotationError(
                "classification JSON must map sample_id -> [class ids best first]", path=str(p)
            )
        by_id = {
            str(k): [int(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()
        }
    else:
        with open(p, newline="") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            if "sample_id" not in cols:
                raise AnnotationError(
                    f"CSV needs a sample_id column, has {cols}", path=str(p), field="sample_id"
                )
            kcols = sorted(
                (c for c in cols if c.startswith("top") and c[3:].isdigit()),
                key=lambda c: int(c[3:]),
            )
            kcols = kcols or (["label"] if "label" in cols else [])
            if not kcols:
                raise AnnotationError("CSV needs top1..topk or label columns", path=str(p))
            for line, row in enumerate(reader, start=2):
                try:
                    by_id[row["sample_id"]] = [int(row[c]) for c in kcols]
                except (TypeError, ValueError):
                    raise AnnotationError(
                        f"line {line}: class ids must be integers",
                        path=str(p),
                        field=",".join(kcols),
                        id=row["sample_id"],
                    ) from None
    missing = [s for s in gt.sample_ids if str(s) not in by_id]
    if missing:
        raise AnnotationError(
            f"no prediction for {len(missing)} samples: {missing[:10]}",
            path=str(p),
            field="sample_id",
        )
    return [
        ClassificationPrediction(topk=np.array(by_id[str(s)]), sample_id=s) for s in gt.sample_ids
    ]


def _captions(p: Path, gt: GroundTruth) -> list[Prediction]:
    rows = _load_json(p)
    by_id: dict[str, str] = {}
    for i, r in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(r, dict) or "image_id" not in r or not isinstance(r.get("caption"), str):
            raise AnnotationError(
                f"result {i} needs image_id and a string caption", path=str(p), id=i
            )
        by_id[str(r["image_id"])] = r["caption"]
    missing = [s for s in gt.sample_ids if str(s) not in by_id]
    if not isinstance(rows, list) or missing:
        raise AnnotationError(
            f"no caption for {len(missing)} images: {missing[:10]}", path=str(p), field="image_id"
        )
    return [CaptionPrediction(by_id[str(s)], sample_id=s) for s in gt.sample_ids]


def _scene_graphs(p: Path, gt: GroundTruth) -> list[Prediction]:
    rows = _load_json(p)
    by_id = {str(r["image_id"]): r for r in rows} if isinstance(rows, list) else {}
    missing = [s for s in gt.sample_ids if str(s) not in by_id]
    if missing:
        raise AnnotationError(
            f"no scene graph for {len(missing)} images: {missing[:10]}",
            path=str(p),
            field="image_id",
        )
    out: list[Prediction] = []
    for s in gt.sample_ids:
        r = by_id[str(s)]
        out.append(SceneGraphPrediction(
            boxes=np.array(r["boxes"], np.float64).reshape(-1, 4), labels=r["labels"], scores=r["scores"],
            rel_pairs=np.array(r["rel_pairs"], np.int64).reshape(-1, 2),
            rel_scores=np.array(r["rel_scores"], np.float64).reshape(len(r["rel_pairs"]), -1), sample_id=s,
        ))  # fmt: skip
    return out
