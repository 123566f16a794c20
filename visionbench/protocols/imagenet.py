"""ImageNet classification protocol: top-k accuracy (timm's ``validate.py``), ImageNet-ReaL
when the dataset has ReaL labels, per-class accuracy, P/R/F1 and the confusion matrix.

Options: ``topk`` (default 1,5; ks above the number of classes are left out), ``ties``
(index | pessimistic | optimistic, see :mod:`visionbench.metrics.classification`). All
metrics are percentages (0-100).

Prediction files: CSV with a ``sample_id`` column and ``top1..topk`` (or ``label``)
columns of class indices, or JSON ``{sample_id: [ids best first]}``. ``bench export``
writes the top-5 CSV.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import AnnotationError, ContractError
from visionbench.protocols.base import Draws, MetricInfo, PerSample, Protocol
from visionbench.protocols.base import result_sample_ids as _ids
from visionbench.protocols.options import Option
from visionbench.protocols.prediction_files import check_exists, load_json
from visionbench.types import ClassificationPrediction, Prediction, Target, Task

__all__ = ["ImageNetProtocol"]


class ImageNetProtocol(Protocol):
    name = "imagenet"
    task = Task.CLASSIFICATION
    description = "top-k accuracy (+ImageNet-ReaL), per-class accuracy, P/R/F1, confusion"
    options = (
        Option("topk", "ints", (1, 5), "the k of top-k accuracy"),
        Option("ties", "str", "index", "how equal scores rank",
               choices=("index", "pessimistic", "optimistic")),
        Option("export_k", "int", 5, "bench export: class ids per row of the CSV"),
    )  # fmt: skip
    metrics = {"*": MetricInfo("percent")}
    # per-class accuracy is in the arrays too; 1,000 bars are not a useful picture
    draws = Draws(confusion="confusion")
    per_sample = PerSample(
        "true_class_prob", True, "probability of the true class (softmax of the scores)"
    )
    analyses = ("confused_pairs", "calibration")

    def per_sample_scores(self, result: Any) -> Any:
        ev = result.evaluator
        prob = ev.probabilities() if ev is not None else None
        if prob is not None:
            return self.per_sample, _ids(result, len(prob["true_prob"])), prob["true_prob"]
        s = ev.samples() if ev is not None else None
        if s is None:
            return None
        what = PerSample("top1_correct", True, "1 when the top-1 class is the label, else 0")
        return what, _ids(result, len(s["rank"])), (s["rank"] == 0).astype(np.float64)

    export_formats = ("topk-csv",)

    def setup(self) -> None:
        if not self.opts["topk"] or any(k < 1 for k in self.opts["topk"]):
            from visionbench.protocols.options import OptionError

            raise OptionError(f"metric option topk={self.opts['topk']}: expected positive ints")

    @property
    def topk(self) -> tuple[int, ...]:
        n = len(self.label_space)
        return tuple(k for k in self.opts["topk"] if k <= n) or (1,)

    def headline_metrics(self) -> list[str]:
        ks = self.topk
        return [f"top{k}" for k in ks] + [f"real_top{k}" for k in ks]

    def build_evaluator(self) -> Any:
        from visionbench.metrics.classification import ClassificationEvaluator

        return ClassificationEvaluator(
            len(self.label_space), topk=self.topk, ties=self.opts["ties"]
        )

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        labels = np.array([t.label for t in targets], dtype=np.int64)
        real = [t.labels for t in targets]
        real_labels = None if all(r is None for r in real) else [list(r or ()) for r in real]
        if all(p.scores is not None for p in predictions):
            scores = np.stack([p.scores for p in predictions])
            if scores.shape[1] != len(self.label_space):
                raise ContractError(
                    f"model gives {scores.shape[1]} class scores but label space "
                    f"{self.label_space.name!r} has {len(self.label_space)} classes"
                )
            evaluator.update(predictions=scores, targets=labels, real_labels=real_labels)
        else:
            topk = np.stack([_topk_ids(p, max(self.topk)) for p in predictions])
            evaluator.update(predictions=topk, targets=labels, real_labels=real_labels)

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        return _read_classification(check_exists(path), gt)

    def write_predictions(
        self, predictions: Sequence[Prediction], path: str | Path, *, gt: Any = None,
        format: str | None = None,
    ) -> Path:  # fmt: skip
        if format not in (None, "topk-csv"):
            raise ContractError(f"protocol imagenet writes topk-csv, not {format!r}")
        k = min(self.opts["export_k"], len(self.label_space))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["sample_id", *[f"top{i + 1}" for i in range(k)]])
        for p in predictions:
            w.writerow([p.sample_id, *[int(c) for c in _topk_ids(p, k)]])
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(buf.getvalue())
        os.replace(tmp, out)
        return out


def _topk_ids(p: Any, k: int) -> np.ndarray:
    """Class ids best first: the index tie rule (stable sort of -scores), or the given ids."""
    if p.scores is not None:
        return np.argsort(-np.asarray(p.scores), kind="stable")[:k].astype(np.int64)
    return np.asarray(p.topk, np.int64)[:k]


def _read_classification(p: Path, gt: Any) -> list[Prediction]:
    by_id: dict[str, list[int]] = {}
    if p.suffix.lower() == ".json":
        data = load_json(p)
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
                        path=str(p), field=",".join(kcols), id=row["sample_id"],
                    ) from None  # fmt: skip
    missing = [s for s in gt.sample_ids if str(s) not in by_id]
    if missing:
        raise AnnotationError(
            f"no prediction for {len(missing)} samples: {missing[:10]}",
            path=str(p), field="sample_id",
        )  # fmt: skip
    return [
        ClassificationPrediction(topk=np.array(by_id[str(s)]), sample_id=s) for s in gt.sample_ids
    ]
