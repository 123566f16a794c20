"""Classification metrics: top-k accuracy, ImageNet-ReaL accuracy, confusion, P/R/F1.

Units: every number in a :class:`MetricResult` from this module is a **percentage
(0-100)**, like timm's ``top1`` / ``top5``; confusion matrices and supports are counts.

Tie handling (``ties=``), for score inputs ``[N, C]``. A sample's target is ranked among
the classes; it counts as correct at ``k`` when its rank is ``< k``:

- ``"index"`` (default): classes are ordered by score, descending, and equal scores by
  class index, ascending, i.e. ``np.argsort(-scores, kind="stable")``; top-1 is
  ``np.argmax`` (and ``torch.argmax``). Deterministic and the same on every platform.
- ``"pessimistic"``: every other class whose score equals the target's is ranked ahead of
  it (a tie is never credited).
- ``"optimistic"``: the target is ranked ahead of all classes with an equal score.

Without ties the three modes agree, and agree with timm's ``accuracy`` and torchmetrics'
``multiclass_accuracy(top_k=k, average="micro")``, which use ``torch.topk`` (whose order
among equal scores is unspecified). NaN scores are refused. For ReaL, where a sample has
a set of valid labels, the same rules rank the best-scored valid label against the
*invalid* classes only. Confusion matrix and precision / recall / F1 always use the
``"index"`` top-1 prediction.

Top-k ids inputs ``[N, k]`` (integer dtype) are predicted class ids, best first; the rank
of the target is its first position in the row (no ties are possible).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult
from visionbench.metrics.errors import MetricInputError

TIES = ("index", "pessimistic", "optimistic")

__all__ = [
    "ClassificationEvaluator",
    "classification_confusion_matrix",
    "per_class_accuracy",
    "precision_recall_f1",
    "real_accuracy",
    "target_rank",
    "topk_accuracy",
]


def target_rank(
    preds: np.ndarray,
    valid: np.ndarray,
    *,
    ties: str = "index",
) -> np.ndarray:
    """Rank (0 = best) of the best valid label of each sample.

    Args:
        preds: ``[N, C]`` float scores (any monotone scale: logits, probabilities), or
            ``[N, k]`` integer predicted class ids, best first.
        valid: ``[N]`` integer target labels, or ``[N, C]`` bool mask of valid labels (ReaL).
        ties: ``"index"``, ``"pessimistic"`` or ``"optimistic"`` (see module docstring).

    Returns:
        ``[N]`` int64 ranks; for ids inputs a target absent from the row gets ``k``; a
        sample with no valid label gets ``C`` (never correct).
    """
    if ties not in TIES:
        raise MetricInputError(f"ties: expected one of {TIES}, got {ties!r}")
    preds = np.asarray(preds)
    n = preds.shape[0]
    if np.issubdtype(preds.dtype, np.integer):
        k = preds.shape[1]
        if valid.ndim == 1:
            hit = preds == valid[:, None]
        else:
            hit = np.take_along_axis(valid, preds.astype(np.intp), axis=1)
        return np.where(hit.any(axis=1), hit.argmax(axis=1), k).astype(np.int64)
    c = preds.shape[1]
    rows = np.arange(n)
    cols = np.arange(c)
    if valid.ndim == 1:
        s_t = preds[rows, valid]
        first_valid = valid
        invalid = cols[None, :] != valid[:, None]
    else:
        masked = np.where(valid, preds, -np.inf)
        s_t = masked.max(axis=1)
        first_valid = (valid & (preds == s_t[:, None])).argmax(axis=1)
        invalid = ~valid
    ahead = (preds > s_t[:, None]) & invalid
    rank = ahead.sum(axis=1)
    if ties != "optimistic":
        equal = (preds == s_t[:, None]) & invalid
        if ties == "index":
            equal &= cols[None, :] < first_valid[:, None]
        rank = rank + equal.sum(axis=1)
    if valid.ndim == 2:
        rank = np.where(valid.any(axis=1), rank, c)
    return rank.astype(np.int64)


def topk_accuracy(
    preds: np.ndarray,
    labels: np.ndarray,
    *,
    topk: Sequence[int] = (1, 5),
    ties: str = "index",
) -> dict[int, float]:
    """Top-k accuracy in percent (0-100).

    Args:
        preds: ``[N, C]`` float scores or ``[N, k]`` integer class ids, best first.
        labels: ``[N]`` integer class indices in ``[0, C)``.
        topk: the k values.
        ties: tie rule for score inputs (module docstring).

    Returns:
        ``{k: accuracy}``; NaN for an empty input.
    """
    preds, labels = _check_preds_labels(preds, labels, None, topk)
    rank = target_rank(preds, labels, ties=ties)
    n = len(labels)
    return {k: float(100.0 * np.count_nonzero(rank < k) / n) if n else float("nan") for k in topk}


def real_accuracy(
    preds: np.ndarray,
    real_labels: Sequence[Sequence[int]],
    *,
    topk: Sequence[int] = (1, 5),
    ties: str = "index",
) -> dict[int, float]:
    """ImageNet-ReaL accuracy (Beyer et al. 2020) in percent (0-100).

    A sample is correct at k when any of its valid labels is among the top k. A sample
    whose valid-label set is empty is dropped from numerator and denominator (timm's
    ``RealLabelsImagenet``).

    Args:
        preds: ``[N, C]`` float scores or ``[N, k]`` integer class ids, best first.
        real_labels: N sequences of valid class indices (``real.json`` entries).
        topk: the k values.
        ties: tie rule for score inputs (module docstring).

    Returns:
        ``{k: accuracy}``; NaN when every set is empty.
    """
    preds = np.asarray(preds)
    num_classes = preds.shape[1] if preds.ndim == 2 and preds.dtype.kind == "f" else None
    correct, kept, _ = _real_correct(preds, real_labels, topk, ties, num_classes)
    return {k: float(100.0 * c / kept) if kept else float("nan") for k, c in zip(topk, correct)}


def classification_confusion_matrix(
    pred_labels: np.ndarray, labels: np.ndarray, num_classes: int
) -> np.ndarray:
    """Confusion matrix ``[C, C]`` int64 counts: rows ground truth, columns prediction."""
    pred_labels = np.asarray(pred_labels, dtype=np.int64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    flat = np.bincount(labels * num_classes + pred_labels, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Per-class accuracy (recall) in percent, ``[C]``; NaN for a class with no samples."""
    confusion = np.asarray(confusion, dtype=np.float64)
    support = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(support > 0, 100.0 * np.diag(confusion) / support, np.nan)


def precision_recall_f1(confusion: np.ndarray) -> dict[str, Any]:
    """Precision, recall and F1 from a confusion matrix, in percent.

    Per class: ``P = tp/(tp+fp)``, ``R = tp/(tp+fn)``, ``F1 = 2tp/(2tp+fp+fn)``, each 0
    when its denominator is 0 (torchmetrics' and scikit-learn's ``zero_division=0``).
    Macro: the mean over classes that occur in the ground truth or the predictions
    (``tp+fp+fn > 0``), as torchmetrics and scikit-learn. Micro: from summed counts; for
    single-label data micro P = R = F1 = accuracy. ``acc_macro`` is the macro mean of
    per-class recall (torchmetrics ``MulticlassAccuracy(average="macro")``).

    Returns:
        ``precision`` / ``recall`` / ``f1`` ``[C]`` arrays, ``support`` ``[C]`` counts, and
        floats ``precision_macro``, ``recall_macro``, ``f1_macro``, ``acc_macro``,
        ``precision_micro``, ``recall_micro``, ``f1_micro`` (NaN when there are no samples).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    precision = _safe_pct(tp, tp + fp)
    recall = _safe_pct(tp, tp + fn)
    f1 = _safe_pct(2 * tp, 2 * tp + fp + fn)
    present = (tp + fp + fn) > 0
    out: dict[str, Any] = {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": (tp + fn).astype(np.int64),
    }
    for name, arr in (("precision", precision), ("recall", recall), ("f1", f1)):
        out[f"{name}_macro"] = float(arr[present].mean()) if present.any() else float("nan")
    out["acc_macro"] = out["recall_macro"]
    total = confusion.sum()
    micro = float(100.0 * tp.sum() / total) if total else float("nan")
    for name in ("precision", "recall", "f1"):
        out[f"{name}_micro"] = micro
    return out


class ClassificationEvaluator:
    """Mergeable classification evaluator.

    State: per-k correct counts, the sample count, the ``[C, C]`` confusion matrix and,
    once ``real_labels`` are given, per-k ReaL correct counts and the kept-sample count.

    Metrics (all percent, higher is better): ``top{k}`` for each k, ``real_top{k}`` (when
    ReaL labels were given), ``acc_macro``, ``precision_macro``, ``recall_macro``,
    ``f1_macro``, ``precision_micro``, ``recall_micro``, ``f1_micro``. Arrays:
    ``confusion`` ``[C, C]`` (rows gt), ``per_class_accuracy``, ``precision``, ``recall``,
    ``f1`` ``[C]`` in percent, ``support`` ``[C]``.

    Args:
        num_classes: C.
        topk: the k values for top-k accuracy.
        ties: tie rule for score inputs (module docstring).
    """

    def __init__(
        self, num_classes: int, *, topk: Sequence[int] = (1, 5), ties: str = "index"
    ) -> None:
        if ties not in TIES:
            raise MetricInputError(f"ties: expected one of {TIES}, got {ties!r}")
        if int(num_classes) < 1:
            raise MetricInputError(f"num_classes: expected >= 1, got {num_classes}")
        if not topk or any(int(k) < 1 for k in topk):
            raise MetricInputError(f"topk: expected positive integers, got {list(topk)}")
        self.num_classes = int(num_classes)
        self.topk = tuple(int(k) for k in topk)
        self.ties = ties
        self.reset()

    @property
    def signature(self) -> str:
        real = "|real=yes" if self._real_used else ""
        return f"cls|topk={','.join(map(str, self.topk))}|ties={self.ties}{real}|v{VERSION}"

    def reset(self) -> None:
        """Forget every sample."""
        self._n = 0
        self._correct = np.zeros(len(self.topk), np.int64)
        self._confusion = np.zeros((self.num_classes, self.num_classes), np.int64)
        self._real_used = False
        self._real_n = 0
        self._real_correct = np.zeros(len(self.topk), np.int64)
        # per sample, in arrival order (for bootstrap intervals and paired tests)
        self._sample_rank: list[np.ndarray] = []
        self._sample_label: list[np.ndarray] = []
        self._sample_top1: list[np.ndarray] = []
        self._sample_real_rank: list[np.ndarray] = []
        # per sample, score inputs only: top-1 probability, probability of the label
        # (softmax first when a batch has a score outside [0, 1], as torchmetrics)
        self._sample_conf: list[np.ndarray] = []
        self._sample_true_prob: list[np.ndarray] = []
        self._sample_prob_top1: list[np.ndarray] = []

    def update(
        self,
        *,
        predictions: np.ndarray,
        targets: np.ndarray,
        real_labels: Sequence[Sequence[int]] | None = None,
    ) -> None:
        """Add a batch (keyword arguments only, as every evaluator's ``update``).

        Args:
            predictions: ``[N, C]`` float scores, or ``[N, k]`` integer class ids best first
                (``k >= max(topk)`` unless ``k == C``).
            targets: ``[N]`` integer class indices in ``[0, C)``.
            real_labels: optional N sequences of valid labels (ImageNet-ReaL); an empty
                sequence drops that sample from the ReaL numbers only. Give them for every
                batch or for none.
        """
        preds, labels = _check_preds_labels(predictions, targets, self.num_classes, self.topk)
        if (real_labels is not None) != self._real_used and self._n > 0:
            raise MetricInputError(
                "real_labels: given for some batches and not others; give them for all or none"
            )
        rank = target_rank(preds, labels, ties=self.ties)
        self._correct += np.array([np.count_nonzero(rank < k) for k in self.topk], np.int64)
        top1 = preds.argmax(axis=1) if preds.dtype.kind == "f" else preds[:, 0]
        self._confusion += classification_confusion_matrix(top1, labels, self.num_classes)
        self._n += len(labels)
        cap = max(self.topk)  # ranks beyond the largest k are all "not in top-k"
        self._sample_rank.append(np.minimum(rank, cap).astype(np.int32))
        self._sample_label.append(labels.astype(np.int32))
        self._sample_top1.append(np.asarray(top1).astype(np.int32))
        if preds.dtype.kind == "f":
            prob = _probabilities(preds)
            self._sample_conf.append(prob.max(axis=1))
            self._sample_prob_top1.append(prob.argmax(axis=1).astype(np.int32))
            self._sample_true_prob.append(prob[np.arange(len(labels)), labels])
        if real_labels is not None:
            self._real_used = True
            correct, kept, real_rank = _real_correct(
                preds, real_labels, self.topk, self.ties, self.num_classes
            )
            self._real_correct += np.asarray(correct, np.int64)
            self._real_n += kept
            self._sample_real_rank.append(np.minimum(real_rank, cap).astype(np.int32))

    def merge(self, other: ClassificationEvaluator) -> None:
        """Add another evaluator's statistics (same num_classes, topk, ties)."""
        if (other.num_classes, other.topk, other.ties) != (self.num_classes, self.topk, self.ties):
            raise MetricInputError(
                f"merge: expected an evaluator with num_classes={self.num_classes}, "
                f"topk={self.topk}, ties={self.ties!r}; got {other.num_classes}, "
                f"{other.topk}, {other.ties!r}"
            )
        if other._n and self._n and other._real_used != self._real_used:
            raise MetricInputError("merge: one evaluator has real_labels and the other not")
        self._n += other._n
        self._correct += other._correct
        self._confusion += other._confusion
        self._real_used = self._real_used or other._real_used
        self._real_n += other._real_n
        self._real_correct += other._real_correct
        self._sample_rank.extend(other._sample_rank)
        self._sample_label.extend(other._sample_label)
        self._sample_top1.extend(other._sample_top1)
        self._sample_real_rank.extend(other._sample_real_rank)
        self._sample_conf.extend(other._sample_conf)
        self._sample_true_prob.extend(other._sample_true_prob)
        self._sample_prob_top1.extend(other._sample_prob_top1)

    def compute(self) -> MetricResult:
        """Turn the statistics into a :class:`MetricResult` (percent; NaN when empty)."""
        metrics: dict[str, float] = {}
        for k, c in zip(self.topk, self._correct):
            metrics[f"top{k}"] = float(100.0 * c / self._n) if self._n else float("nan")
        if self._real_used:
            for k, c in zip(self.topk, self._real_correct):
                metrics[f"real_top{k}"] = (
                    float(100.0 * c / self._real_n) if self._real_n else float("nan")
                )
        prf = precision_recall_f1(self._confusion)
        for name in (
            "acc_macro",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_micro",
            "recall_micro",
            "f1_micro",
        ):
            metrics[name] = prf[name]
        arrays = {
            "confusion": self._confusion.copy(),
            "per_class_accuracy": per_class_accuracy(self._confusion),
            "precision": prf["precision"],
            "recall": prf["recall"],
            "f1": prf["f1"],
            "support": prf["support"],
        }
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays=arrays,
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """Sufficient statistics and settings, as numpy arrays and plain values."""
        return {
            "num_classes": self.num_classes,
            "topk": list(self.topk),
            "ties": self.ties,
            "n": self._n,
            "correct": self._correct.copy(),
            "confusion": self._confusion.copy(),
            "real_used": self._real_used,
            "real_n": self._real_n,
            "real_correct": self._real_correct.copy(),
            "sample_rank": _cat32(self._sample_rank),
            "sample_label": _cat32(self._sample_label),
            "sample_top1": _cat32(self._sample_top1),
            "sample_real_rank": _cat32(self._sample_real_rank),
            "sample_conf": _catf32(self._sample_conf),
            "sample_true_prob": _catf32(self._sample_true_prob),
            "sample_prob_top1": _cat32(self._sample_prob_top1),
        }

    def probabilities(self) -> dict[str, np.ndarray] | None:
        """Per sample in arrival order: ``confidence`` (top-1 probability, float32) and
        ``true_prob`` (probability of the label), ``correct`` (the top-1 of the
        probabilities is the label), as calibration needs them
        (:mod:`visionbench.metrics.calibration`); None unless every batch came as scores."""
        conf = _catf32(self._sample_conf)
        if self._n == 0 or len(conf) != self._n:
            return None
        correct = _cat32(self._sample_prob_top1) == _cat32(self._sample_label)
        return {
            "confidence": conf,
            "true_prob": _catf32(self._sample_true_prob),
            "correct": correct,
        }

    def samples(self) -> dict[str, np.ndarray] | None:
        """Per-sample statistics in arrival order: ``rank`` (target rank, capped at
        max(topk)), ``label``, ``top1`` and, with ReaL, ``real_rank`` (-1: no ReaL label);
        None when the state came from an older record without them."""
        rank = _cat32(self._sample_rank)
        if len(rank) != self._n:
            return None
        out = {"rank": rank, "label": _cat32(self._sample_label), "top1": _cat32(self._sample_top1)}
        if self._real_used:
            out["real_rank"] = _cat32(self._sample_real_rank)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (settings included)."""
        self.__init__(int(state["num_classes"]), topk=state["topk"], ties=str(state["ties"]))
        self._n = int(state["n"])
        self._correct = np.asarray(state["correct"], np.int64).copy()
        self._confusion = np.asarray(state["confusion"], np.int64).copy()
        self._real_used = bool(state["real_used"])
        self._real_n = int(state["real_n"])
        self._real_correct = np.asarray(state["real_correct"], np.int64).copy()
        for key in ("rank", "label", "top1", "real_rank", "prob_top1"):
            arr = state.get(f"sample_{key}")
            if arr is not None and len(arr):
                getattr(self, f"_sample_{key}").append(np.asarray(arr, np.int32))
        for key in ("conf", "true_prob"):
            arr = state.get(f"sample_{key}")
            if arr is not None and len(arr):
                getattr(self, f"_sample_{key}").append(np.asarray(arr, np.float32))


def _cat32(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)


def _catf32(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def _probabilities(preds: np.ndarray) -> np.ndarray:
    """float32 probabilities of a batch: the scores, or their softmax when any lies
    outside [0, 1] (torchmetrics' ``normalize_logits_if_needed``; as
    :func:`visionbench.metrics.calibration.top1_confidence`)."""
    s = preds.astype(np.float32)
    if ((s < 0) | (s > 1)).any():
        e = np.exp(s - s.max(axis=1, keepdims=True))
        s = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return s


def _safe_pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1), 0.0)


def _check_preds_labels(
    preds: Any, labels: Any, num_classes: int | None, topk: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    preds = np.asarray(preds)
    labels = np.asarray(labels)
    if preds.ndim != 2:
        raise MetricInputError(
            f"preds: expected [N, C] scores or [N, k] class ids, got shape {list(preds.shape)}"
        )
    if labels.ndim != 1 or len(labels) != len(preds):
        raise MetricInputError(
            f"labels: expected shape [{len(preds)}] (one per row of preds), "
            f"got {list(labels.shape)}"
        )
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise MetricInputError(f"labels: expected integer class indices, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if preds.dtype.kind == "f":
        if num_classes is not None and preds.shape[1] != num_classes:
            raise MetricInputError(
                f"preds: expected scores of shape [N, {num_classes}], got {list(preds.shape)}"
            )
        if np.isnan(preds).any():
            bad = int(np.flatnonzero(np.isnan(preds).any(axis=1))[0])
            raise MetricInputError(f"preds: NaN score in row {bad}")
        c = preds.shape[1]
    elif np.issubdtype(preds.dtype, np.integer):
        c = num_classes
        k = preds.shape[1]
        if (num_classes is None or k < num_classes) and k < max(topk):
            raise MetricInputError(
                f"preds: class ids [N, {k}] cannot give top-{max(topk)} accuracy; "
                f"pass at least {max(topk)} ids per row, or scores [N, C]"
            )
        if preds.size and (preds.min() < 0 or (c is not None and preds.max() >= c)):
            raise MetricInputError(
                f"preds: class ids must lie in [0, {c}), got range [{preds.min()}, {preds.max()}]"
            )
    else:
        raise MetricInputError(f"preds: expected float scores or integer ids, got {preds.dtype}")
    if len(labels) and (labels.min() < 0 or (c is not None and labels.max() >= c)):
        bad = int(np.flatnonzero((labels < 0) | ((labels >= c) if c else False))[0])
        raise MetricInputError(
            f"labels: expected class indices in [0, {c}), got {labels[bad]} at row {bad}"
        )
    return preds, labels


def _real_correct(
    preds: np.ndarray,
    real_labels: Sequence[Sequence[int]],
    topk: Sequence[int],
    ties: str,
    num_classes: int | None,
) -> tuple[list[int], int]:
    if len(real_labels) != len(preds):
        raise MetricInputError(
            f"real_labels: expected {len(preds)} label sets (one per row of preds), "
            f"got {len(real_labels)}"
        )
    if num_classes is None:
        num_classes = int(
            max(
                [int(np.max(preds, initial=-1)) + 1] + [max(s, default=-1) + 1 for s in real_labels]
            )
        )
    valid = np.zeros((len(preds), num_classes), bool)
    for i, labels in enumerate(real_labels):
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
            raise MetricInputError(
                f"real_labels[{i}]: expected a sequence of class indices, got {labels!r}"
            )
        for lab in labels:
            if not 0 <= int(lab) < num_classes:
                raise MetricInputError(
                    f"real_labels[{i}]: expected class indices in [0, {num_classes}), got {lab}"
                )
        valid[i, list(map(int, labels))] = True
    kept = valid.any(axis=1)
    rank = target_rank(preds[kept], valid[kept], ties=ties)
    per_sample = np.full(len(preds), -1, np.int64)
    per_sample[kept] = rank
    return [int(np.count_nonzero(rank < k)) for k in topk], int(kept.sum()), per_sample
