"""The evaluator protocol and the result type shared by every metric.

A metric is a pure function over arrays plus an evaluator that holds only sufficient
statistics: ``update`` adds samples, ``merge`` adds another evaluator's statistics (shards
merge exactly), ``compute`` turns statistics into a :class:`MetricResult`, and
``state_dict`` / ``load_state_dict`` serialise the statistics (numpy arrays and plain
Python values only, so a state can go through ``np.savez`` or ``torch.distributed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

VERSION = "0.1.0"


@dataclass
class MetricResult:
    """Named numbers plus the arrays behind them.

    Attributes:
        metrics: metric name -> value (float; NaN where undefined, e.g. a class with no
            ground truth). Units are stated in each metric's docstring.
        signature: the exact protocol that produced the numbers, e.g.
            ``coco|bbox|iou=.50:.05:.95|area=all,s,m,l|maxdets=1,10,100|v0.1.0``.
            Numbers with different signatures are never compared.
        arrays: arrays for plots and deeper analysis (PR curves, confusion matrix, ...).
        higher_is_better: metric name -> bool, for ranking on the leaderboard.
        evaluator: the evaluator that computed the result (its per-sample statistics give
            bootstrap intervals, see :mod:`visionbench.metrics.bootstrap`); None when the
            numbers came otherwise. Not compared, not serialised.
        sample_ids: the ids of the evaluated samples in the order the evaluator keeps
            them (set by the protocols' scorer; None when unknown). Not compared.
    """

    metrics: dict[str, float]
    signature: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    evaluator: Any = field(default=None, compare=False, repr=False)
    sample_ids: Any = field(default=None, compare=False, repr=False)

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]


@runtime_checkable
class Evaluator(Protocol):
    """Stateful metric: ``update`` / ``merge`` / ``compute`` / ``state_dict`` / ``reset``.

    ``update`` takes keyword arguments only, predictions before targets in its signature:
    ``update(predictions=..., targets=...)`` where a sample is one array each
    (classification, semantic segmentation, captions), else named fields, ``dt_*`` /
    ``pred_*`` then ``gt_*`` (COCO, LVIS, VOC, Cityscapes, scene graphs). A positional call
    is a ``TypeError``, so arguments in the wrong order cannot be scored silently.
    """

    signature: str

    def update(self, **kwargs: Any) -> None: ...

    def reset(self) -> None: ...

    def merge(self, other: Evaluator) -> None: ...

    def compute(self) -> MetricResult: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def check_mergeable(
    evaluator: Any, other: Any, attr: str, *, quote: bool = False, article: str = "a"
) -> None:
    """``merge``'s precondition: ``other`` is an evaluator of the same class whose ``attr``
    (its signature or configuration) equals this one's.

    Raises:
        MetricInputError: ``merge: expected a <Class> with <attr> <value>, got <theirs>``.
    """
    from visionbench.metrics.errors import MetricInputError

    mine = getattr(evaluator, attr)
    if isinstance(other, type(evaluator)) and getattr(other, attr) == mine:
        return
    theirs = getattr(other, attr, type(other).__name__)
    if quote:
        mine, theirs = repr(mine), repr(theirs)
    raise MetricInputError(
        f"merge: expected {article} {type(evaluator).__name__} with {attr} {mine}, got {theirs}"
    )


def extend_lists(evaluator: Any, other: Any, names: tuple[str, ...]) -> None:
    """Append ``other``'s per-sample lists to ``evaluator``'s (``merge`` of list states)."""
    for name in names:
        getattr(evaluator, name).extend(getattr(other, name))
