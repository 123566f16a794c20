"""Scene-graph recall (Scene-Graph-Benchmark): R@K, ngR@K, mR@K (and zsR@K) per mode.

Options: ``mode`` (predcls: the model gets the gt boxes and labels; sgcls: the gt boxes;
sgdet: pixels only; phrdet), ``ks``, ``iou_threshold``, ``ng_top``, ``num_predicates``
(0: the dataset's predicate label space, e.g. 50 for VG-150),
``skip_images_without_predictions``. Recalls are fractions 0-1. Image ids may be any
value (VG ids are ints, other datasets' strings).

Prediction files: a JSON list of ``{"image_id", "boxes" [[x1, y1, x2, y2]], "labels",
"scores", "rel_pairs" [[subj, obj]], "rel_scores" [[P+1 scores]]}``; ``bench export``
writes the same.
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
from visionbench.protocols.options import Option, OptionError
from visionbench.protocols.prediction_files import check_exists, load_json, write_json
from visionbench.types import Prediction, SceneGraphPrediction, Target, Task

__all__ = ["SceneGraphProtocol"]

_GT_OBJECTS = {"predcls": "boxes+labels", "sgcls": "boxes"}


class SceneGraphProtocol(Protocol):
    name = "scene-graph"
    task = Task.SCENE_GRAPH
    description = "Scene-Graph-Benchmark recall R@K, ngR@K, mR@K (PredCls / SGCls / SGDet)"
    options = (
        Option("mode", "str", "sgdet", "predcls, sgcls, sgdet or phrdet",
               choices=("predcls", "sgcls", "sgdet", "phrdet")),
        Option("ks", "ints", (20, 50, 100), "the K of R@K"),
        Option("iou_threshold", "float", 0.5, "box IoU of a hit"),
        Option("ng_top", "int", 100, "predictions kept for ngR@K"),
        Option("num_predicates", "int", 0, "predicate classes (0: the dataset's predicate space)"),
        Option("skip_images_without_predictions", "bool", False,
               "reproduce the reference's skipping of images without a predicted pair"),
    )  # fmt: skip
    metrics = {"*R@*": MetricInfo("fraction"), "R@*": MetricInfo("fraction")}
    export_formats = ("scene-graph-json",)
    per_sample = PerSample("R@K", True, "the image's recall of its gt relations at the largest K")

    def per_sample_scores(self, result: Any) -> Any:
        ev = result.evaluator
        if ev is None:
            return None
        st = ev.state_dict()
        n_rels = np.asarray(st["num_gt_relations"], np.int64)
        k = max(self.opts["ks"]) if self.opts["ks"] else 100
        image_of = np.repeat(np.arange(len(n_rels)), n_rels)
        hits = np.bincount(image_of, weights=np.asarray(st["gc_rank"]) < k, minlength=len(n_rels))
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = np.where(n_rels > 0, hits / np.maximum(n_rels, 1), np.nan)
        what = PerSample(f"R@{k}", True, self.per_sample.description)
        ids = ev.image_ids() if hasattr(ev, "image_ids") else None
        return what, ids or result_sample_ids(result, len(scores)), scores

    def setup(self) -> None:
        n = self.opts["num_predicates"]
        if not n:
            space = getattr(self.dataset, "predicate_space", None)
            if space is None:
                raise OptionError(
                    "scene-graph protocol: the dataset has no predicate label space; pass "
                    "-M num_predicates=N"
                )
            n = len(space)
        self.num_predicates = int(n)
        self.opts["num_predicates"] = self.num_predicates

    def headline_metrics(self) -> list[str]:
        ks = sorted(set(self.opts["ks"]))
        mid = ks[len(ks) // 2] if ks else 50
        return [f"R@{k}" for k in ks] + [f"mR@{mid}", f"ngR@{mid}"]

    def draws_for(self) -> Draws:
        k = max(self.opts["ks"]) if self.opts["ks"] else 100
        names = None
        space = getattr(self.dataset, "predicate_space", None)
        if space is not None and len(space) == self.num_predicates:
            names = tuple(space.names)
        return Draws(per_class=(PerClass(f"mR@{k}_per_predicate", f"R@{k}", names=names),))

    def model_inputs(self) -> dict[str, Any]:
        return {"gt_objects": _GT_OBJECTS.get(self.opts["mode"])}

    def build_evaluator(self) -> Any:
        from visionbench.metrics.scene_graph import SceneGraphEvaluator

        o = self.opts
        return SceneGraphEvaluator(
            num_predicates=self.num_predicates, mode=o["mode"], ks=o["ks"],
            iou_threshold=o["iou_threshold"], ng_top=o["ng_top"],
            skip_images_without_predictions=o["skip_images_without_predictions"],
        )  # fmt: skip

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        for p, t in zip(predictions, targets):
            evaluator.update(
                pred_boxes=p.boxes, pred_labels=p.labels, pred_scores=p.scores,
                rel_pairs=p.rel_pairs, rel_scores=p.rel_scores,
                gt_boxes=t.boxes, gt_labels=t.labels, gt_relations=t.relations,
                image_id=p.sample_id,
            )  # fmt: skip

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        p = check_exists(path)
        rows = load_json(p)
        if not isinstance(rows, list):
            raise AnnotationError("scene-graph predictions are a JSON list", path=str(p))
        by_id: dict[str, Any] = {}
        for i, r in enumerate(rows):
            if not isinstance(r, dict) or "image_id" not in r:
                raise AnnotationError(f"entry {i} needs an image_id", path=str(p), id=i)
            by_id[str(r["image_id"])] = r
        missing = [s for s in gt.sample_ids if str(s) not in by_id]
        if missing:
            raise AnnotationError(
                f"no scene graph for {len(missing)} images: {missing[:10]}",
                path=str(p), field="image_id",
            )  # fmt: skip
        out: list[Prediction] = []
        for s in gt.sample_ids:
            r = by_id[str(s)]
            try:
                out.append(SceneGraphPrediction(
                    boxes=np.array(r["boxes"], np.float64).reshape(-1, 4), labels=r["labels"],
                    scores=r["scores"], rel_pairs=np.array(r["rel_pairs"], np.int64).reshape(-1, 2),
                    rel_scores=np.array(r["rel_scores"], np.float64).reshape(len(r["rel_pairs"]), -1),
                    sample_id=s,
                ))  # fmt: skip
            except KeyError as e:
                raise AnnotationError(
                    f"missing field {e}", path=str(p), field=str(e), id=s
                ) from None
        return out

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "scene-graph-json"):
            raise ContractError(f"protocol scene-graph writes scene-graph-json, not {format!r}")
        rows = [
            {
                "image_id": _json_id(p.sample_id),
                "boxes": np.asarray(p.boxes, np.float64).tolist(),
                "labels": np.asarray(p.labels).tolist(),
                "scores": np.asarray(p.scores, np.float64).tolist(),
                "rel_pairs": np.asarray(p.rel_pairs).tolist(),
                "rel_scores": np.asarray(p.rel_scores, np.float64).tolist(),
            }
            for p in predictions
        ]
        return write_json(rows, path)


def _json_id(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
