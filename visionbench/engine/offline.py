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
from visionbench.errors import AnnotationError
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
    tag: str | None = None,
) -> tuple[RunRecord, Path]:
    """Score a predictions file / folder against ``dataset``'s ground truth; write a record.

    The record's weights identity (``model.weights_id``) is the sha256 of the predictions
    (the file, or every file of the folder by relative path): two different prediction
    files never share a leaderboard row."""
    t0 = time.perf_counter()
    gt = dataset.ground_truth()
    preds = read_predictions(dataset.task, predictions, gt)
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
        "weights_id": _predictions_sha256(Path(predictions)),
    }
    record = build_record(
        model_info, dataset, gt, result,
        timings={"wall_s": wall, "throughput_img_s": None, "source": "bench eval"},
        device="none", config={"predictions": str(predictions)}, n=len(gt), seed=0,
        command=command if command is not None else list(sys.argv),
        subset=_subset(dataset, gt), dropped=_dropped(dataset), tag=tag,
    )  # fmt: skip
    path = write_record(record, results, arrays=result.arrays)
    return record, path


def _predictions_sha256(p: Path) -> str:
    """sha256 of a predictions file, or of a folder's files (relative path + content)."""
    import hashlib

    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _dropped(dataset: Dataset) -> int:
    return sum(
        "dropped" in str(getattr(p, "message", "")) for p in getattr(dataset, "problems", [])
    )


def _subset(dataset: Dataset, gt: GroundTruth) -> str | None:
    """Every sample is scored; only samples / annotations dropped by ``--lenient`` make
    the evaluated set a subset of the split."""
    if not _dropped(dataset):
        return None
    from visionbench.engine.records import subset_fingerprint

    return subset_fingerprint(list(gt.sample_ids))


def read_predictions(task: Task, path: str | Path, gt: GroundTruth) -> list[Prediction]:
    """One prediction per ground-truth sample, in ground-truth order."""
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
    return readers[task](p, gt)


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
        except ValueError:
            raise AnnotationError(f"not valid JSON: {e}", path=str(p)) from None


def _coco_results(p: Path, gt: GroundTruth) -> list[Prediction]:
    rows = _load_json(p)
    if not isinstance(rows, list):
        raise AnnotationError("a COCO results file is a JSON list of detections", path=str(p))
    known_imgs = {int(s) for s in gt.sample_ids}
    known_cats = set(gt.label_space.ids)
    per_img: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unknown_imgs: set[int] = set()
    dropped_cats: dict[int, int] = defaultdict(int)
    for i, r in enumerate(rows):
        try:
            iid, cid, score = int(r["image_id"]), int(r["category_id"]), float(r["score"])
            x, y, w, h = (float(v) for v in r["bbox"])
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(
                f"result {i} is malformed ({type(e).__name__}: {e})",
                path=str(p),
                field="image_id/category_id/bbox/score",
                id=i,
            ) from None
        if not all(np.isfinite([x, y, w, h, score])) or w < 0 or h < 0:
            raise AnnotationError(
                f"result {i} has a non-finite or negative bbox/score {r['bbox']}, {r['score']}",
                path=str(p),
                field="bbox",
                id=r.get("image_id"),
            )
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
