"""The FREQ and FREQ+OVERLAP scene-graph baselines (Zellers et al., "Neural Motifs", CVPR 2018).

Statistics (REFERENCE.md §5, Neural Motifs ``get_counts``) over a training split:

* ``fg[s, o, p]``: number of training relations with subject class ``s``, object class
  ``o`` and predicate ``p`` (duplicates counted, as the reference does);
* ``bg[s, o]``: number of ordered box pairs ``(i, j)``, ``i != j``, with those classes —
  with ``must_overlap`` (the reference's default) only pairs whose boxes intersect with
  positive area (no +1 pixel), falling back to all pairs in an image where none overlap.

Class and predicate ids are 1-based (VG-150: objects 1..150, predicates 1..50); index 0 is
the background. The predicate distribution is ``P = fg`` with ``P[:, :, 0] = bg + 1``,
normalised over predicates. For every ordered pair of the given objects the prediction
carries the full distribution ``P[label_s, label_o, :]`` as ``rel_scores`` (column 0 the
background); the evaluator takes the argmax non-background predicate and scores the triplet
``obj_s · obj_o · p``. Pairs are ordered by that triplet score, best first. FREQ+OVERLAP
predicts for intersecting pairs only.

Modes: PredCls (ground-truth boxes and labels, object scores 1), SGCls (ground-truth boxes,
predicted labels and scores), SGDet (detected boxes, labels and scores) — the model is the
same; only the objects given to :meth:`FreqPredictor.predict_graph` differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from visionbench.errors import ContractError, WeightsError
from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.tasks import Batch
from visionbench.types import Prediction, SceneGraphPrediction, SceneGraphTarget, Task

__all__ = [
    "FreqStatistics",
    "compute_freq_statistics",
    "FreqPredictor",
    "FreqAdapter",
    "overlapping_pairs",
    "build_freq",
    "freq",
    "freq_overlap",
]

_FORMAT = 1


@dataclass
class FreqStatistics:
    """Counts of a training split.

    Attributes:
        fg: [C+1, C+1, P+1] int64, relation counts by (subject class, object class, predicate).
        bg: [C+1, C+1] int64, ordered-pair counts by (subject class, object class).
        must_overlap: whether ``bg`` counted intersecting pairs only.
    """

    fg: np.ndarray
    bg: np.ndarray
    must_overlap: bool = True

    @property
    def num_obj_classes(self) -> int:
        return self.fg.shape[0] - 1

    @property
    def num_predicates(self) -> int:
        return self.fg.shape[2] - 1

    def probabilities(self) -> np.ndarray:
        """[C+1, C+1, P+1] float64: ``fg`` with column 0 = ``bg + 1``, normalised."""
        p = self.fg.astype(np.float64)
        p[:, :, 0] = self.bg + 1
        return p / p.sum(axis=2, keepdims=True)

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (``fg``, ``bg``, ``must_overlap``, ``format``); atomic."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            fg=self.fg,
            bg=self.bg,
            must_overlap=np.array(self.must_overlap),
            format=np.array(_FORMAT),
        )
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> FreqStatistics:
        """Read statistics written by :meth:`save`.

        Raises:
            WeightsError: missing or unreadable file, missing arrays, inconsistent shapes.
        """
        p = Path(path)
        if not p.is_file():
            raise WeightsError(f"FREQ statistics file {str(p)!r} does not exist")
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:
            raise WeightsError(
                f"cannot read FREQ statistics {str(p)!r}: {type(e).__name__}: {e}"
            ) from None
        missing = {"fg", "bg", "must_overlap"} - set(arrays)
        if missing:
            raise WeightsError(f"FREQ statistics {str(p)!r} lack arrays {sorted(missing)}")
        fg, bg = arrays["fg"], arrays["bg"]
        if fg.ndim != 3 or fg.shape[0] != fg.shape[1] or bg.shape != fg.shape[:2]:
            raise WeightsError(
                f"FREQ statistics {str(p)!r}: expected fg [C+1, C+1, P+1] and bg [C+1, C+1], "
                f"got fg {list(fg.shape)} and bg {list(bg.shape)}"
            )
        return cls(fg.astype(np.int64), bg.astype(np.int64), bool(arrays["must_overlap"]))


def overlapping_pairs(boxes: np.ndarray) -> np.ndarray:
    """[N, N] bool: boxes ``i`` and ``j`` (xyxy) intersect with positive area, ``i != j``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    out = (w > 0) & (h > 0)
    np.fill_diagonal(out, False)
    return out


def compute_freq_statistics(
    train: Iterable[SceneGraphTarget | tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    num_obj_classes: int = 150,
    num_predicates: int = 50,
    must_overlap: bool = True,
) -> FreqStatistics:
    """Count ``fg`` and ``bg`` over training images.

    Args:
        train: per image a :class:`SceneGraphTarget` or ``(boxes [N, 4] xyxy, labels [N]
            1..C, relations [R, 3] (subject index, object index, predicate 1..P))``.
        num_obj_classes, num_predicates: C and P (VG-150: 150, 50).
        must_overlap: count only intersecting pairs in ``bg`` (Neural Motifs' default).

    Raises:
        ContractError: a label or predicate outside 1..C / 1..P.
    """
    fg = np.zeros((num_obj_classes + 1, num_obj_classes + 1, num_predicates + 1), np.int64)
    bg = np.zeros((num_obj_classes + 1, num_obj_classes + 1), np.int64)
    for n, item in enumerate(train):
        if isinstance(item, SceneGraphTarget):
            boxes, labels, rels, sid = item.boxes, item.labels, item.relations, item.sample_id
        else:
            boxes, labels, rels = (np.asarray(a) for a in item)
            sid = n
        labels = np.asarray(labels, dtype=np.int64)
        rels = np.asarray(rels, dtype=np.int64).reshape(-1, 3)
        if labels.size and (labels.min() < 1 or labels.max() > num_obj_classes):
            raise ContractError(f"object labels must be in 1..{num_obj_classes} (sample_id={sid})")
        if rels.size and (rels[:, 2].min() < 1 or rels[:, 2].max() > num_predicates):
            raise ContractError(f"predicates must be in 1..{num_predicates} (sample_id={sid})")
        if rels.size:
            np.add.at(fg, (labels[rels[:, 0]], labels[rels[:, 1]], rels[:, 2]), 1)
        if len(labels) > 1:
            ok = overlapping_pairs(boxes) if must_overlap else np.zeros((len(labels),) * 2, bool)
            if not ok.any():
                ok = ~np.eye(len(labels), dtype=bool)
            i, j = np.nonzero(ok)
            np.add.at(bg, (labels[i], labels[j]), 1)
    return FreqStatistics(fg, bg, must_overlap)


class FreqPredictor:
    """Predict relations from class-pair statistics.

    Args:
        stats: training statistics.
        overlap: FREQ+OVERLAP (predict for intersecting pairs only).
    """

    def __init__(self, stats: FreqStatistics, *, overlap: bool = False) -> None:
        self.stats = stats
        self.overlap = overlap
        self.probs = stats.probabilities()

    def predict_graph(
        self,
        boxes: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray | None = None,
        *,
        sample_id: Any = None,
    ) -> SceneGraphPrediction:
        """Relations for the objects of one image.

        Args:
            boxes: [N, 4] xyxy pixels; labels: [N] 1..C; scores: [N] object scores (1 when
                None: PredCls).

        Returns:
            SceneGraphPrediction with ``rel_pairs`` [R, 2] ordered by ``obj_s·obj_o·max p``
            (descending, stable) and ``rel_scores`` [R, P+1] the class-pair distribution.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        labels = np.asarray(labels, dtype=np.int64)
        n = len(labels)
        scores = np.ones(n) if scores is None else np.asarray(scores, dtype=np.float64)
        if labels.size and (labels.min() < 1 or labels.max() > self.stats.num_obj_classes):
            raise ContractError(
                f"object labels must be in 1..{self.stats.num_obj_classes}, got "
                f"{labels.min()}..{labels.max()} (sample_id={sample_id})"
            )
        mask = overlapping_pairs(boxes) if self.overlap else ~np.eye(n, dtype=bool)
        subj, obj = np.nonzero(mask)
        rel = self.probs[labels[subj], labels[obj]]  # [R, P+1]
        triplet = scores[subj] * scores[obj] * rel[:, 1:].max(axis=1)
        order = np.argsort(-triplet, kind="stable")
        return SceneGraphPrediction(
            boxes=boxes,
            labels=labels,
            scores=scores,
            rel_pairs=np.stack([subj[order], obj[order]], axis=1).reshape(-1, 2),
            rel_scores=rel[order].reshape(-1, self.probs.shape[2]),
            sample_id=sample_id,
        )


class _StatsModule(nn.Module):
    """Holds the distribution as a buffer (no parameters); forward is the identity."""

    def __init__(self, probs: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("probs", torch.from_numpy(probs))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images


class FreqAdapter(ModelAdapter):
    """FREQ as a model adapter (task ``scene_graph``, objects in ``vg150``).

    The objects come from each sample's meta: ``boxes`` [N, 4] xyxy original pixels,
    ``labels`` [N], optional ``scores`` [N] (the engine puts ground-truth boxes and labels
    there for PredCls, ground-truth boxes with classifier labels for SGCls); or, when
    ``detector`` is given and the meta has no boxes, from ``detector.predict(batch)`` (SGDet;
    the adapter then declares the detector's preprocessing).
    """

    def __init__(
        self,
        name: str,
        predictor: FreqPredictor,
        *,
        detector: ModelAdapter | None = None,
        weights: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name,
            Task.SCENE_GRAPH,
            get_label_space("vg150"),
            _StatsModule(predictor.probs),
            # FREQ sees no pixels; with a detector, the batch is the detector's input
            Preprocess(mode="none") if detector is None else detector.preprocess_config,
            weights=weights,
        )
        if detector is not None and detector.label_space.name != "vg150":
            raise ContractError(
                f"{name}: the SGDet detector must output vg150 labels, got {detector.label_space.name!r}"
            )
        self.predictor = predictor
        self.detector = detector

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        """``outputs`` (the module's identity forward) is unused: FREQ sees no pixels."""
        dets = None
        if self.detector is not None and any("boxes" not in m for m in batch.metas):
            dets = self.detector.predict(batch)
        out = []
        for i, meta in enumerate(batch.metas):
            sid = meta.get("sample_id")
            if "boxes" in meta:
                boxes, labels, scores = meta["boxes"], meta["labels"], meta.get("scores")
            elif dets is not None:
                boxes, labels, scores = dets[i].boxes, dets[i].labels, dets[i].scores
            else:
                raise ContractError(
                    f"{self.name}: sample {sid!r} has no objects: FREQ needs `boxes` and "
                    f"`labels` in the batch meta (PredCls/SGCls) or a detector (SGDet)"
                )
            out.append(self.predictor.predict_graph(boxes, labels, scores, sample_id=sid))
        return out


def build_freq(
    weights: str | None = None, *, overlap: bool = False, detector: ModelAdapter | None = None
) -> FreqAdapter:
    """FREQ (``overlap=False``) or FREQ+OVERLAP from a statistics ``.npz``.

    Args:
        weights: statistics saved by :meth:`FreqStatistics.save` (a path, cache name or
            URL, see :func:`~visionbench.models.weights.resolve_weights`), or ``"random"``
            for empty statistics (every pair predicts background; smoke tests only).
        overlap: FREQ+OVERLAP.
        detector: a vg150 detector for SGDet.

    Raises:
        WeightsError: no statistics given, or an unreadable file.
    """
    name = "freq_overlap" if overlap else "freq"
    if weights is None:
        raise WeightsError(
            f"{name} needs training statistics: compute them with "
            f"visionbench.models.scene_graph_freq.compute_freq_statistics(...).save('stats.npz') "
            f"and pass --weights stats.npz (or --weights random for empty statistics)"
        )
    from visionbench.models.weights import (
        is_random,
        random_init_info,
        resolve_weights,
        sha256_file,
    )

    if is_random(weights):
        stats = FreqStatistics(np.zeros((151, 151, 51), np.int64), np.zeros((151, 151), np.int64))
        info = random_init_info()
    else:
        path = resolve_weights(weights)
        stats = FreqStatistics.load(path)
        info = {"name": weights, "path": str(path), "sha256": sha256_file(path)}
    return FreqAdapter(name, FreqPredictor(stats, overlap=overlap), detector=detector, weights=info)


def freq(weights: str | None = None, **kw: Any) -> FreqAdapter:
    """FREQ: every ordered pair of objects."""
    return build_freq(weights, overlap=False, **kw)


def freq_overlap(weights: str | None = None, **kw: Any) -> FreqAdapter:
    """FREQ+OVERLAP: intersecting pairs only."""
    return build_freq(weights, overlap=True, **kw)
