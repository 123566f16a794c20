"""Where predictions meet ground truth: contract objects -> metric evaluators.

One :class:`Scorer` per task wraps the metrics core's evaluator: it turns lists of
contract predictions and targets into the arrays the evaluator takes. Scorers hold only
the evaluator's sufficient statistics, so they merge across shards and ranks exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace
from visionbench.metrics.base import MetricResult
from visionbench.types import Prediction, Target, Task

__all__ = ["Scorer", "make_scorer"]


class Scorer:
    """Base: ``update(preds, targets)``, ``merge``, ``compute``, ``state_dict``."""

    def __init__(self, label_space: LabelSpace, evaluator: Any) -> None:
        self.label_space = label_space
        self.evaluator = evaluator

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        raise NotImplementedError

    def merge(self, other: Scorer) -> None:
        self.evaluator.merge(other.evaluator)

    def compute(self) -> MetricResult:
        return self.evaluator.compute()

    def state_dict(self) -> dict[str, Any]:
        return self.evaluator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluator.load_state_dict(state)


class ClassificationScorer(Scorer):
    def __init__(self, label_space: LabelSpace, **options: Any) -> None:
        from visionbench.metrics.classification import ClassificationEvaluator

        topk = tuple(options.pop("topk", (1, 5)))
        topk = tuple(k for k in topk if k <= len(label_space))
        super().__init__(
            label_space, ClassificationEvaluator(len(label_space), topk=topk, **options)
        )

    def update(self, preds: list[Prediction], targets: list[Target]) -> None:
        labels = np.array([t.label for t in targets], dtype=np.int64)
        real = [t.labels for t in targets]
        real_labels = None if all(r is None for r in real) else [list(r or ()) for r in real]
        if all(p.scores is not None for p in preds):
            scores = np.stack([p.scores for p in preds])
            if scores.shape[1] != len(self.label_space):
                raise ContractError(
                    f"model gives {scores.shape[1]} class scores but label space "
                    f"{self.label_space.name!r} has {len(self.label_space)} classes"
                )
            self.evaluator.update(scores, labels, real_labels=real_labels)
        else:
            topk = np.stack([p.topk for p in preds])
            self.evaluator.update(topk, labels, real_labels=real_labels)


_SCORERS: dict[Task, type[Scorer]] = {
    Task.CLASSIFICATION: ClassificationScorer,
}


def make_scorer(task: Task, label_space: LabelSpace, **options: Any) -> Scorer:
    try:
        cls = _SCORERS[task]
    except KeyError:
        raise ContractError(f"no scorer for task {task.value} yet") from None
    return cls(label_space, **options)
