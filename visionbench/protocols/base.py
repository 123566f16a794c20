"""The protocol base: how a benchmark is scored, declared in one class.

A protocol is the official way a dataset's numbers are made (COCO bbox, Cityscapes
pixel-level, ImageNet top-k, ...). One subclass of :class:`Protocol` per protocol file
declares, as class attributes:

- ``name``, ``task``, ``description``;
- ``options``: typed :class:`~visionbench.protocols.options.Option` s (reachable from the
  CLI as ``-M KEY=VALUE``; validated, unknown keys are one-line errors);
- ``headline``: the metric names shown first, in order (``headline_metrics()`` may make
  them depend on the options);
- ``metrics``: metric name (or ``fnmatch`` pattern, ``"R@*"``) -> :class:`MetricInfo`
  (unit and ``higher_is_better``), written into every run record;
- ``draws``: what the report can draw from the result's arrays (:class:`Draws`);
- ``export_formats``: the official submission formats ``write_predictions`` writes;
- ``per_sample``: the per-sample score samples are ranked by (:class:`PerSample`: the
  k worst samples of ``record["analysis"]``), computed by ``per_sample_scores(result)``;
- ``analyses``: which error analyses ``record["analysis"]`` carries beyond the worst
  samples (``"confused_pairs"``, ``"calibration"``, ``"per_sample"`` distribution,
  ``"threshold_sweep"``, ``"tide"``; see :mod:`visionbench.engine.analysis`);

and implements:

- ``build_evaluator()``: a fresh mergeable evaluator of the metrics core;
- ``update(evaluator, predictions, targets)``: contract objects -> the evaluator's arrays
  (**one argument order everywhere: predictions first, then targets**);
- ``read_predictions(path, gt)`` for ``bench eval`` (and optionally ``evaluate_file`` for
  a fast path that never builds per-sample objects);
- ``write_predictions(predictions, path, gt=..., format=...)`` for ``bench export``.

The engine and ``bench eval`` only ever call :meth:`Protocol.scorer`,
:meth:`Protocol.evaluate_file`, :meth:`Protocol.record_entry` and
:meth:`Protocol.metric_metadata`; they never branch on a task or a label-space name.

A new protocol file, in full (``visionbench/protocols/my_protocol.py``)::

    from visionbench.protocols.base import Draws, MetricInfo, PerClass, Protocol
    from visionbench.protocols.options import Option
    from visionbench.types import Task


    class MyProtocol(Protocol):
        name = "my-protocol"
        task = Task.DETECTION
        description = "AP at IoU 0.5, all-point interpolation"
        options = (Option("iou", "float", 0.5, "IoU threshold of a true positive"),)
        headline = ("mAP",)
        metrics = {"mAP": MetricInfo("percent"), "AP_*": MetricInfo("percent")}
        draws = Draws(per_class=(PerClass("ap_per_class", "AP"),))
        export_formats = ("my-format",)

        def build_evaluator(self):
            return MyEvaluator(num_classes=len(self.label_space), iou=self.opts["iou"])

        def update(self, evaluator, predictions, targets):
            for p, t in zip(predictions, targets):
                evaluator.update(dt_boxes=p.boxes, dt_labels=p.labels, dt_scores=p.scores,
                                 gt_boxes=t.boxes, gt_labels=t.labels)

        def read_predictions(self, path, gt): ...  # -> one Prediction per gt sample
        def write_predictions(self, predictions, path, *, gt=None, format=None): ...

and one line in ``visionbench/protocols/catalog.py``::

    "my-protocol": ("visionbench.protocols.my_protocol:MyProtocol",
                    {"task": "detection", "description": "..."}),

A dataset names it in its catalog entry (``"protocol": "my-protocol"``, optional
``"protocol_options": {...}`` defaults) or as a ``protocol`` attribute of the dataset
object (which wins: a dataset option may change the protocol).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from visionbench.errors import ContractError
from visionbench.label_spaces import LabelSpace
from visionbench.metrics.base import MetricResult
from visionbench.protocols.options import Option, validate_options
from visionbench.types import Prediction, Target, Task

__all__ = [
    "UNITS",
    "ANALYSES",
    "MetricInfo",
    "PerClass",
    "PerSample",
    "Draws",
    "Protocol",
    "Scorer",
]

#: the error analyses a protocol may declare (``Protocol.analyses``)
ANALYSES = ("confused_pairs", "calibration", "per_sample", "threshold_sweep", "tide")

#: The units a metric may carry in a run record.
#: score: 0-100 (sacreBLEU); unbounded: a non-negative score with no fixed top (CIDEr-D)
UNITS = ("percent", "fraction", "count", "seconds", "score", "unbounded")


@dataclass(frozen=True)
class MetricInfo:
    """A metric's unit (one of :data:`UNITS`) and whether higher is better."""

    unit: str
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")


@dataclass(frozen=True)
class PerSample:
    """The per-sample score of a protocol (what ``record["analysis"]["worst"]`` ranks by).

    Attributes:
        name: the score's name in the record (``"F1@0.5"``, ``"miou"``, ``"cider_d"``).
        higher_is_better: the worst samples are the lowest (True) or the highest.
        description: one line for the report.
    """

    name: str
    higher_is_better: bool = True
    description: str = ""


@dataclass(frozen=True)
class PerClass:
    """A per-class array the report draws as bars.

    Attributes:
        array: key in ``MetricResult.arrays`` of a ``[K]`` array.
        label: what the values are (``"AP"``, ``"IoU"``), for axis labels.
        ids: key of a ``[K]`` array of class ids (COCO ``category_ids``), looked up in the
            label space; None: entry ``i`` is class ``i`` of ``names`` or the label space.
        names: explicit class names of the ``K`` entries (when they are not the label
            space's, e.g. Cityscapes' 19 evaluated classes).
    """

    array: str
    label: str
    ids: str | None = None
    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Draws:
    """What the report can draw from a result's arrays (all keys of ``MetricResult.arrays``).

    Attributes:
        per_class: per-class bar charts.
        confusion: key of a ``[C, C]`` confusion matrix (rows = ground truth), or None.
        confusion_names: class names of its rows (None: the label space's).
        pr_curves: key of the COCO ``precision`` array ``[T, R, K, A, M]``, or None.
    """

    per_class: tuple[PerClass, ...] = ()
    confusion: str | None = None
    confusion_names: tuple[str, ...] | None = None
    pr_curves: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["per_class"] = [
            {k: v for k, v in asdict(p).items() if v is not None} for p in self.per_class
        ]
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v not in (None, [])
        }


class Protocol:
    """Base class of a scoring protocol; see the module docstring for how to write one.

    Args:
        label_space: the dataset's ground-truth label space.
        options: user options (typed values or CLI strings), validated against
            :attr:`options`.
        dataset: the dataset object, for protocols that need more of it (the scene-graph
            protocol reads its ``predicate_space``); may be None.
        defaults: option defaults of the dataset (its catalog entry's
            ``protocol_options``), applied before ``options``.

    Attributes:
        opts: the complete, typed option values.
    """

    name: ClassVar[str] = ""
    task: ClassVar[Task]
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    headline: ClassVar[tuple[str, ...]] = ()
    metrics: ClassVar[Mapping[str, MetricInfo]] = {}
    draws: ClassVar[Draws] = Draws()
    export_formats: ClassVar[tuple[str, ...]] = ()
    per_sample: ClassVar[PerSample | None] = None
    analyses: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        label_space: LabelSpace,
        options: Mapping[str, Any] | None = None,
        *,
        dataset: Any = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.label_space = label_space
        self.dataset = dataset
        self.opts: dict[str, Any] = validate_options(
            self.options, options, where=f"metric option of {self.name!r}", defaults=defaults
        )
        self.setup()

    # -- to implement ---------------------------------------------------------------

    def setup(self) -> None:
        """Check option combinations after validation (override; default: nothing)."""

    def build_evaluator(self) -> Any:
        """A fresh, empty evaluator (``update / merge / compute / state_dict / reset``)."""
        raise NotImplementedError

    def update(
        self, evaluator: Any, predictions: Sequence[Prediction], targets: Sequence[Target]
    ) -> None:
        """Add a batch: ``predictions[i]`` is scored against ``targets[i]``."""
        raise NotImplementedError

    def read_predictions(self, path: str | Path, gt: Any) -> list[Prediction]:
        """One prediction per ground-truth sample, in ``gt.sample_ids`` order."""
        raise ContractError(f"protocol {self.name!r} cannot read prediction files")

    def write_predictions(
        self,
        predictions: Sequence[Prediction],
        path: str | Path,
        *,
        gt: Any = None,
        format: str | None = None,
    ) -> Path:
        """Write ``predictions`` in the official submission ``format`` (default the first
        of :attr:`export_formats`) at ``path``; return what was written."""
        raise ContractError(f"protocol {self.name!r} has no submission format to export to")

    def model_inputs(self) -> dict[str, Any]:
        """What the engine hands the model besides pixels (``{"gt_objects": "boxes"}``
        for scene-graph classification); default nothing."""
        return {}

    @classmethod
    def dataset_requirements(cls, opts: Mapping[str, Any]) -> dict[str, Any]:
        """Dataset options these (validated) protocol options need, e.g. ``{"masks": True}``
        for COCO segm; applied when the dataset is built, where it declares them."""
        return {}

    def per_sample_scores(self, result: MetricResult) -> tuple[PerSample, Any, Any] | None:
        """``(what, sample ids [n], scores [n])`` of the evaluated samples (NaN: undefined
        for that sample), from the result's evaluator state (no re-inference); None when
        the state has no per-sample statistics. Default: none."""
        return None

    def analyses_for(self) -> tuple[str, ...]:
        """The analyses of this run (default :attr:`analyses`; override when options
        change them)."""
        return self.analyses

    def headline_metrics(self) -> list[str]:
        """Headline metric names in display order (default :attr:`headline`)."""
        return list(self.headline)

    # -- provided -------------------------------------------------------------------

    def scorer(self) -> Scorer:
        """A fresh mergeable scorer: ``update(predictions, targets)``, ``merge``, ``compute``."""
        return Scorer(self)

    def score(self, predictions: Sequence[Prediction], targets: Sequence[Target]) -> MetricResult:
        """Score a whole set at once."""
        s = self.scorer()
        s.update(predictions, targets)
        return s.compute()

    def evaluate_file(self, path: str | Path, source: Any) -> MetricResult:
        """``bench eval``: score a predictions file / folder against the ground truth of
        ``source`` (a dataset, or any object with ``ground_truth()``). Override for a fast
        path that reads the official files directly."""
        gt = source.ground_truth()
        preds = self.read_predictions(path, gt)
        return self.score(preds, list(gt.targets))

    def metric_info(self, name: str) -> MetricInfo | None:
        """The declared unit and direction of metric ``name`` (exact name, then patterns)."""
        if name in self.metrics:
            return self.metrics[name]
        for pattern, info in self.metrics.items():
            if fnmatch.fnmatchcase(name, pattern):
                return info
        return None

    def metric_metadata(self, result: MetricResult) -> dict[str, dict[str, Any]]:
        """Per metric of ``result``: ``{"unit", "higher_is_better"}`` (the evaluator's
        ``higher_is_better`` when the protocol declares no unit for it)."""
        out: dict[str, dict[str, Any]] = {}
        for name in result.metrics:
            info = self.metric_info(name)
            hib = result.higher_is_better.get(name, True) if info is None else info.higher_is_better
            entry: dict[str, Any] = {"higher_is_better": bool(hib)}
            if info is not None:
                entry["unit"] = info.unit
            out[name] = entry
        return out

    def record_entry(self, result: MetricResult | None = None) -> dict[str, Any]:
        """``record["protocol"]``: name, headline (present metrics only when ``result`` is
        given), options (JSON values) and what the report can draw."""
        headline = self.headline_metrics()
        if result is not None:
            headline = [m for m in headline if m in result.metrics]
        return {
            "name": self.name,
            "headline": headline,
            "options": {k: _jsonable(v) for k, v in self.opts.items()},
            "draws": self.draws_for().as_dict(),
        }

    def draws_for(self) -> Draws:
        """What the report draws (default :attr:`draws`; override when options change it)."""
        return self.draws

    @classmethod
    def describe(cls) -> list[str]:
        """Lines for ``bench describe``: the protocol and its options."""
        lines = [f"protocol {cls.name}: {cls.description}"]
        lines += [f"  -M {o.describe()}" for o in cls.options] or ["  (no options)"]
        if cls.export_formats:
            lines.append(f"  export formats: {', '.join(cls.export_formats)}")
        return lines


class Scorer:
    """A protocol's evaluator behind the contract objects: ``update(predictions, targets)``,
    ``merge``, ``compute``, ``reset``, ``state_dict`` / ``load_state_dict``. Holds only the
    evaluator's sufficient statistics, so shards and ranks merge exactly."""

    #: key of the sample ids (arrival order) in :meth:`state_dict`
    IDS_KEY = "scorer_sample_ids"

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.evaluator = protocol.build_evaluator()
        self.sample_ids: list[Any] = []  # arrival order, as the evaluators keep samples

    def update(self, predictions: Sequence[Prediction], targets: Sequence[Target]) -> None:
        if len(predictions) != len(targets):
            raise ContractError(
                f"{len(predictions)} predictions but {len(targets)} targets in one update"
            )
        self.protocol.update(self.evaluator, list(predictions), list(targets))
        self.sample_ids.extend(getattr(p, "sample_id", None) for p in predictions)

    def merge(self, other: Scorer) -> None:
        self.evaluator.merge(other.evaluator)
        self.sample_ids.extend(other.sample_ids)

    def compute(self) -> MetricResult:
        result = self.evaluator.compute()
        if result.sample_ids is None:
            result.sample_ids = list(self.sample_ids)
        return result

    def reset(self) -> None:
        self.evaluator.reset()
        self.sample_ids = []

    def state_dict(self) -> dict[str, Any]:
        return {**self.evaluator.state_dict(), self.IDS_KEY: list(self.sample_ids)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.sample_ids = list(state.pop(self.IDS_KEY, None) or [])
        self.evaluator.load_state_dict(state)


def threshold_sweep_analysis(
    sweep: Mapping[str, Any], label_space: Any, iou_threshold: float
) -> dict[str, Any]:
    """``record["analysis"]["threshold_sweep"]`` from a detection sweep
    (:func:`~visionbench.metrics.pr.detection_threshold_sweep`, the VOC evaluator's):
    best F1 overall and per class, the classes by name."""
    names = dict(zip(label_space.ids, label_space.names))
    return {
        "best_f1": sweep["best_f1"], "best_threshold": sweep["best_threshold"],
        "precision": sweep["precision"], "recall": sweep["recall"],
        "iou_threshold": float(iou_threshold),
        "per_class": [
            {"class": str(names.get(r["category_id"], r["category_id"])),
             "best_f1": r["best_f1"], "best_threshold": r["best_threshold"]}
            for r in sweep["per_class"]
        ],
    }  # fmt: skip


def result_sample_ids(result: MetricResult, n: int) -> list[Any]:
    """The ids of a result's ``n`` samples in the evaluator's order (``result.sample_ids``,
    set by :class:`Scorer`), else their positions 0..n-1."""
    ids = getattr(result, "sample_ids", None)
    if ids is not None and len(ids) == n and all(i is not None for i in ids):
        return list(ids)
    return list(range(n))


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v
