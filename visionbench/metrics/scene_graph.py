"""Scene-graph generation recall: R@K, ngR@K, mR@K and zero-shot R@K (Scene-Graph-Benchmark).

Ported from Scene-Graph-Benchmark.pytorch ``sgg_eval.py`` / ``vg_eval.py`` (itself from
Neural Motifs). Per image:

* **Triplets** (:func:`relation_triplets`): a relation ``(subj, obj, pred)`` indexes two
  boxes; its triplet is ``(label[subj], pred, label[obj])`` with the 8-vector of both boxes.
* **Matching** (:func:`match_triplets`): a predicted triplet hits a ground-truth one when
  the three labels are equal and the subject boxes and the object boxes each have
  IoU >= 0.5, IoU with the +1-pixel convention (``area = (x2-x1+1)*(y2-y1+1)``), computed
  in float32 like the reference's ``BoxList``. Phrase detection (``mode="phrdet"``)
  instead compares the union boxes of subject and object.
* **Graph-constrained R@K**: one predicate per predicted pair, the argmax over the
  non-background columns of ``rel_scores``; the pairs ranked by
  ``max_rel_score * obj_score[subj] * obj_score[obj]``; R@K = (number of gt relations hit by
  the top K) / (number of gt relations).
* **No-graph-constraint ngR@K**: every (pair, predicate) scored by
  ``obj_score[subj] * obj_score[obj] * rel_score``, the top 100 kept, then the top K.
* **mR@K**: per image and per predicate present, hits / count; per predicate the mean over
  the images where it occurs; then the mean over all ``num_predicates`` predicates, a
  predicate absent from every image counting 0.
* **zsR@K** (needs ``train_triplets``): recall over the gt relations whose
  (subject label, object label, predicate) never occurs in training, averaged over the
  images that have at least one; NaN when no image has one.

R@K, ngR@K and zsR@K are means over images of per-image recalls (not pooled), all on a
0-1 scale (papers print them x100). Modes: ``predcls`` (gt boxes and labels are used as the
predicted objects, object scores 1), ``sgcls`` (gt boxes, predicted labels), ``sgdet`` and
``phrdet`` (predicted boxes).

Documented choices:

* Images without gt relations are skipped: they add nothing to any mean (as in the
  reference).
* An image with gt relations but no predicted pair counts as recall 0. The reference
  skips such images entirely (``evaluate_relation_of_one_image`` returns early);
  ``skip_images_without_predictions=True`` reproduces that (and says so in the signature).
* The reference takes predicted relations in the order given, trusting its post-processor
  to have sorted them by the score above; here they are sorted by that score with a stable
  sort, which is the identity on input already sorted that way. ngR ties are broken
  stably too (the reference's ``np.argsort`` default is not stable), so results can differ
  only where scores tie exactly at a cut-off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult, check_mergeable, extend_lists
from visionbench.metrics.errors import MetricInputError

__all__ = [
    "SceneGraphEvaluator",
    "match_triplets",
    "relation_triplets",
    "scene_graph_recall",
]

MODES = ("predcls", "sgcls", "sgdet", "phrdet")
_NEVER = np.iinfo(np.int64).max  # rank of a gt relation that no prediction hits


def relation_triplets(
    relations: np.ndarray, labels: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Build (subject label, predicate, object label) triplets and their box pairs.

    Args:
        relations: [R, 3] int ``(subject index, object index, predicate)``.
        labels: [N] int object labels.
        boxes: [N, 4] xyxy, pixels.

    Returns:
        ``triplets`` [R, 3] int64 ``(label[subj], pred, label[obj])`` and ``triplet_boxes``
        [R, 8] ``(subject box, object box)``.
    """
    relations = np.asarray(relations).reshape(-1, 3)
    subj, obj, pred = relations[:, 0], relations[:, 1], relations[:, 2]
    triplets = np.column_stack((labels[subj], pred, labels[obj])).astype(np.int64, copy=False)
    return triplets, np.column_stack((boxes[subj], boxes[obj]))


def match_triplets(
    gt_triplets: np.ndarray,
    pred_triplets: np.ndarray,
    gt_triplet_boxes: np.ndarray,
    pred_triplet_boxes: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    phrase: bool = False,
) -> np.ndarray:
    """Which predicted triplet hits which gt triplet.

    Args:
        gt_triplets: [G, 3] labels; pred_triplets: [P, 3].
        gt_triplet_boxes: [G, 8] xyxy subject then object box, pixels; pred_triplet_boxes: [P, 8].
        iou_threshold: minimum IoU (+1-pixel convention, float32), inclusive.
        phrase: compare the union boxes of subject and object (phrase detection) instead
            of the two boxes separately.

    Returns:
        [P, G] bool, True where prediction p hits gt g.
    """
    gt_triplets = np.asarray(gt_triplets).reshape(-1, 3)
    pred_triplets = np.asarray(pred_triplets).reshape(-1, 3)
    hits = (pred_triplets[:, None, :] == gt_triplets[None, :, :]).all(axis=2)
    p_idx, g_idx = np.nonzero(hits)
    if p_idx.size == 0:
        return hits
    gt_b = np.asarray(gt_triplet_boxes, dtype=np.float32).reshape(-1, 8)[g_idx]
    pr_b = np.asarray(pred_triplet_boxes, dtype=np.float32).reshape(-1, 8)[p_idx]
    if phrase:
        ok = _paired_iou(_union(gt_b), _union(pr_b)) >= iou_threshold
    else:
        ok = (_paired_iou(gt_b[:, :4], pr_b[:, :4]) >= iou_threshold) & (
            _paired_iou(gt_b[:, 4:], pr_b[:, 4:]) >= iou_threshold
        )
    hits[p_idx[~ok], g_idx[~ok]] = False
    return hits


def scene_graph_recall(
    images: Iterable[Mapping[str, Any]],
    *,
    num_predicates: int,
    mode: str = "sgdet",
    **options: Any,
) -> MetricResult:
    """R@K / ngR@K / mR@K (/ zsR@K) over images given as dicts of ``update`` arguments.

    Args:
        images: one mapping per image with the keyword arguments of
            :meth:`SceneGraphEvaluator.update`.
        num_predicates: number of predicate classes without background (VG-150: 50).
        mode: ``predcls``, ``sgcls``, ``sgdet`` or ``phrdet``.
        **options: other :class:`SceneGraphEvaluator` keyword arguments.

    Returns:
        ``SceneGraphEvaluator.compute()``.
    """
    evaluator = SceneGraphEvaluator(num_predicates=num_predicates, mode=mode, **options)
    for image in images:
        evaluator.update(**image)
    return evaluator.compute()


class SceneGraphEvaluator:
    """Mergeable scene-graph recall evaluator (see the module docstring for the protocol).

    State, per gt relation of every evaluated image: its predicate, the rank of the first
    graph-constrained and no-graph-constraint prediction that hits it, and whether it is
    zero-shot; plus the number of gt relations per image. Recalls at any K follow from the
    ranks, and shards concatenate exactly.

    Args:
        num_predicates: predicate classes without background; ``rel_scores`` has
            ``num_predicates + 1`` columns, column 0 the background.
        mode: ``predcls``, ``sgcls``, ``sgdet`` or ``phrdet``.
        ks: the K of R@K (default 20, 50, 100).
        iou_threshold: box IoU needed for a hit (0.5).
        ng_top: predictions kept for ngR (100, as in the reference).
        train_triplets: [T, 3] ``(subject label, object label, predicate)`` seen in
            training; enables zsR@K.
        skip_images_without_predictions: reproduce the reference's skipping of images
            with no predicted pair (default False: they count as recall 0).
    """

    def __init__(
        self,
        *,
        num_predicates: int,
        mode: str = "sgdet",
        ks: Iterable[int] = (20, 50, 100),
        iou_threshold: float = 0.5,
        ng_top: int = 100,
        train_triplets: np.ndarray | None = None,
        skip_images_without_predictions: bool = False,
    ) -> None:
        if mode not in MODES:
            raise MetricInputError(f"mode: expected one of {MODES}, got {mode!r}")
        if int(num_predicates) < 1:
            raise MetricInputError(f"num_predicates: expected >= 1, got {num_predicates}")
        self.mode = mode
        self.num_predicates = int(num_predicates)
        self.ks = tuple(sorted({int(k) for k in ks}))
        if not self.ks or self.ks[0] < 1:
            raise MetricInputError(f"ks: expected positive integers, got {ks}")
        self.iou_threshold = float(iou_threshold)
        self.ng_top = int(ng_top)
        self.skip_images_without_predictions = bool(skip_images_without_predictions)
        self._train_keys: np.ndarray | None = None
        self._train_digest = ""
        if train_triplets is not None:
            t = np.asarray(train_triplets, dtype=np.int64)
            if t.ndim != 2 or t.shape[1] != 3:
                raise MetricInputError(
                    f"train_triplets: expected [T, 3] (subject label, object label, "
                    f"predicate), got shape {t.shape}"
                )
            self._train_keys = np.unique(_keys(t))
            digest = hashlib.sha1(self._train_keys.tobytes()).hexdigest()[:8]
            self._train_digest = f"{self._train_keys.size}:{digest}"
        self.reset()

    def reset(self) -> None:
        """Drop all statistics."""
        self._n_rels: list[int] = []
        self._predicate: list[np.ndarray] = []
        self._gc_rank: list[np.ndarray] = []
        self._ng_rank: list[np.ndarray] = []
        self._zero_shot: list[np.ndarray] = []
        self._image_ids: list[Any] = []  # the ``image_id`` of each image kept

    @property
    def signature(self) -> str:
        """Protocol string, e.g. ``sgg|mode=sgdet|iou=0.5+1px|k=20,50,100|...|v0.1.0``."""
        parts = [
            "sgg",
            f"mode={self.mode}",
            f"iou={self.iou_threshold:g}+1px",
            "k=" + ",".join(map(str, self.ks)),
            f"ng_top={self.ng_top}",
            f"predicates={self.num_predicates}",
        ]
        if self._train_keys is not None:
            parts.append(f"zs_train={self._train_digest}")
        if self.skip_images_without_predictions:
            parts.append("skip_empty_pred=yes")
        return "|".join([*parts, f"v{VERSION}"])

    def update(
        self,
        *,
        pred_boxes: np.ndarray | None = None,
        pred_labels: np.ndarray | None = None,
        pred_scores: np.ndarray | None = None,
        rel_pairs: np.ndarray | None = None,
        rel_scores: np.ndarray | None = None,
        gt_boxes: np.ndarray,
        gt_labels: np.ndarray,
        gt_relations: np.ndarray,
        image_id: Any = None,
    ) -> None:
        """Add one image (keyword arguments only, as every evaluator's ``update``:
        predictions, then ground truth).

        Args:
            pred_boxes: [M, 4] xyxy pixels (sgdet/phrdet; sgcls: defaults to gt_boxes;
                predcls: ignored, the gt boxes are used).
            pred_labels: [M] int (sgcls/sgdet/phrdet; ignored in predcls).
            pred_scores: [M] object scores (sgcls/sgdet/phrdet; predcls uses 1).
            rel_pairs: [P, 2] int ``(subject index, object index)`` into the predicted
                objects (the gt objects in predcls/sgcls).
            rel_scores: [P, num_predicates + 1], column 0 the background.
            gt_boxes: [N, 4] xyxy, pixels.
            gt_labels: [N] int object labels.
            gt_relations: [R, 3] int ``(subject index, object index, predicate)``,
                predicate in ``1..num_predicates``.
            image_id: used only in error messages.

        Raises:
            MetricInputError: a shape, index or value is out of contract.
        """
        where = f" (image {image_id})" if image_id is not None else ""
        gt_boxes = _boxes(gt_boxes, "gt_boxes", where)
        n_gt = gt_boxes.shape[0]
        gt_labels = _ints(gt_labels, "gt_labels", where, shape=(n_gt,))
        gt_rels = _ints(gt_relations, "gt_relations", where, cols=3)
        _check_index(gt_rels[:, :2], n_gt, "gt_relations", where)
        if gt_rels.size and (gt_rels[:, 2].min() < 1 or gt_rels[:, 2].max() > self.num_predicates):
            raise MetricInputError(
                f"gt_relations{where}: predicate must be in 1..{self.num_predicates}, got "
                f"{gt_rels[:, 2].min()}..{gt_rels[:, 2].max()}"
            )
        if gt_rels.shape[0] == 0:
            return  # images without gt relations are skipped

        boxes, labels, scores = self._pred_objects(
            gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores, where
        )
        pairs = _ints(
            np.zeros((0, 2), np.int64) if rel_pairs is None else rel_pairs,
            "rel_pairs",
            where,
            cols=2,
        )
        _check_index(pairs, boxes.shape[0], "rel_pairs", where)
        n_cols = self.num_predicates + 1
        rel = np.zeros((0, n_cols)) if rel_scores is None else np.asarray(rel_scores)
        if rel.ndim != 2 or rel.shape != (pairs.shape[0], n_cols):
            raise MetricInputError(
                f"rel_scores{where}: expected [{pairs.shape[0]}, {n_cols}] "
                f"(one row per rel_pairs row, background + {self.num_predicates} predicates), "
                f"got shape {rel.shape}"
            )
        if not np.all(np.isfinite(rel)):
            raise MetricInputError(f"rel_scores{where}: expected finite values, got NaN/inf")
        if pairs.shape[0] == 0 and self.skip_images_without_predictions:
            return

        gt_triplets, gt_tboxes = relation_triplets(gt_rels, gt_labels, gt_boxes)
        phrase = self.mode == "phrdet"
        gc_rank = np.full(gt_rels.shape[0], _NEVER, dtype=np.int64)
        ng_rank = gc_rank.copy()
        if pairs.shape[0]:
            # graph constrained: one predicate per pair, pairs ranked by the triple score
            pred = rel[:, 1:].argmax(axis=1) + 1
            best = rel[:, 1:].max(axis=1)
            order = np.argsort(-(best * scores[pairs[:, 0]] * scores[pairs[:, 1]]), kind="stable")
            rels = np.column_stack((pairs[order], pred[order]))
            gc_rank = _first_hit(self._hits(rels, labels, boxes, gt_triplets, gt_tboxes, phrase))
            # no graph constraint: every (pair, predicate), top ng_top overall
            overall = (scores[pairs[:, 0]] * scores[pairs[:, 1]])[:, None] * rel[:, 1:]
            row, col = np.unravel_index(_top_stable(overall.ravel(), self.ng_top), overall.shape)
            ng_rels = np.column_stack((pairs[row], col + 1))
            ng_rank = _first_hit(self._hits(ng_rels, labels, boxes, gt_triplets, gt_tboxes, phrase))

        zero_shot = np.zeros(gt_rels.shape[0], dtype=bool)
        if self._train_keys is not None:
            seen = np.column_stack((gt_triplets[:, 0], gt_triplets[:, 2], gt_triplets[:, 1]))
            zero_shot = ~np.isin(_keys(seen), self._train_keys)
        self._n_rels.append(int(gt_rels.shape[0]))
        self._image_ids.append(image_id)
        self._predicate.append(gt_rels[:, 2].astype(np.int64))
        self._gc_rank.append(gc_rank)
        self._ng_rank.append(ng_rank)
        self._zero_shot.append(zero_shot)

    def merge(self, other: SceneGraphEvaluator) -> None:
        """Append another evaluator's images (same signature required)."""
        check_mergeable(self, other, "signature")
        extend_lists(
            self,
            other,
            ("_n_rels", "_image_ids", "_predicate", "_gc_rank", "_ng_rank", "_zero_shot"),
        )

    def compute(self) -> MetricResult:
        """R@K, ngR@K, mR@K (and zsR@K with ``train_triplets``), each 0-1.

        Returns:
            ``MetricResult`` with metrics ``R@K``, ``ngR@K``, ``mR@K``, ``zsR@K`` and arrays
            ``R@K_per_image`` [I], ``ngR@K_per_image`` [I], ``mR@K_per_predicate``
            [num_predicates] (index p-1 for predicate p), ``num_gt_relations`` [I].
            Values are NaN when no image was evaluated.
        """
        state = self.state_dict()
        n_rels = state["num_gt_relations"]
        n_img = n_rels.size
        image_of = np.repeat(np.arange(n_img), n_rels)
        predicate = state["predicate"]
        zs = state["zero_shot"]
        metrics: dict[str, float] = {}
        arrays: dict[str, np.ndarray] = {"num_gt_relations": n_rels}
        n_cols = self.num_predicates + 1
        key = image_of * n_cols + predicate
        count = np.bincount(key, minlength=n_img * n_cols).reshape(n_img, n_cols)
        zs_count = np.bincount(image_of, weights=zs, minlength=n_img)
        for k in self.ks:
            for name, rank in (("R", state["gc_rank"]), ("ngR", state["ng_rank"])):
                hit = rank < k
                per_image = np.bincount(image_of, weights=hit, minlength=n_img) / n_rels
                arrays[f"{name}@{k}_per_image"] = per_image
                metrics[f"{name}@{k}"] = float(np.mean(per_image)) if n_img else float("nan")
            hit = state["gc_rank"] < k
            hits = np.bincount(key, weights=hit, minlength=n_img * n_cols).reshape(n_img, n_cols)
            per_predicate = []
            sum_recall = 0.0
            for p in range(1, n_cols):
                present = count[:, p] > 0
                recall = (
                    float(np.mean(hits[present, p] / count[present, p])) if present.any() else 0.0
                )
                per_predicate.append(recall)
                sum_recall += recall
            arrays[f"mR@{k}_per_predicate"] = np.array(per_predicate)
            metrics[f"mR@{k}"] = sum_recall / float(self.num_predicates) if n_img else float("nan")
            if self._train_keys is not None:
                zs_hits = np.bincount(image_of, weights=hit & zs, minlength=n_img)
                has = zs_count > 0
                metrics[f"zsR@{k}"] = (
                    float(np.mean(zs_hits[has] / zs_count[has])) if has.any() else float("nan")
                )
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays=arrays,
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """Per-image counts and per-gt-relation ranks (numpy arrays) plus the signature."""

        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

        return {
            "signature": self.signature,
            "num_gt_relations": np.asarray(self._n_rels, dtype=np.int64),
            "predicate": cat(self._predicate, np.int64),
            "gc_rank": cat(self._gc_rank, np.int64),
            "ng_rank": cat(self._ng_rank, np.int64),
            "zero_shot": cat(self._zero_shot, bool),
        } | ({"image_ids": np.asarray(self.image_ids())} if self.image_ids() else {})

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the statistics with ``state`` (from :meth:`state_dict`, same signature)."""
        if state["signature"] != self.signature:
            raise MetricInputError(
                f"load_state_dict: signature {state['signature']} differs from {self.signature}"
            )
        self.reset()
        n_rels = np.asarray(state["num_gt_relations"], dtype=np.int64)
        if n_rels.size == 0:
            return
        bounds = np.cumsum(n_rels)[:-1]
        self._n_rels = [int(n) for n in n_rels]
        self._predicate = np.split(np.asarray(state["predicate"], np.int64), bounds)
        self._gc_rank = np.split(np.asarray(state["gc_rank"], np.int64), bounds)
        self._ng_rank = np.split(np.asarray(state["ng_rank"], np.int64), bounds)
        self._zero_shot = np.split(np.asarray(state["zero_shot"], bool), bounds)
        ids = state.get("image_ids")
        if ids is not None and len(ids) == len(n_rels):
            self._image_ids = np.asarray(ids).tolist()
        else:
            self._image_ids = [None] * len(n_rels)

    def image_ids(self) -> list[Any] | None:
        """The ``image_id`` of each image in the statistics (images without gt relations
        are not kept), in order; None when some were not given."""
        ids = self._image_ids
        if len(ids) != len(self._n_rels) or any(i is None for i in ids):
            return None
        return list(ids)

    # ------------------------------------------------------------------ helpers

    def _pred_objects(self, gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores, where):
        """The predicted objects the relation indices refer to, per mode."""
        if self.mode == "predcls":
            return gt_boxes, gt_labels, np.ones(gt_boxes.shape[0])
        if pred_boxes is None and self.mode == "sgcls":
            pred_boxes = gt_boxes
        for name, value in (("pred_boxes", pred_boxes), ("pred_labels", pred_labels)):
            if value is None:
                raise MetricInputError(f"{name}{where}: required in mode {self.mode!r}, got None")
        boxes = _boxes(pred_boxes, "pred_boxes", where)
        if self.mode == "sgcls" and boxes.shape[0] != gt_boxes.shape[0]:
            raise MetricInputError(
                f"pred_boxes{where}: sgcls predicts labels for the {gt_boxes.shape[0]} gt "
                f"boxes, got {boxes.shape[0]} boxes"
            )
        labels = _ints(pred_labels, "pred_labels", where, shape=(boxes.shape[0],))
        if pred_scores is None:
            raise MetricInputError(f"pred_scores{where}: required in mode {self.mode!r}, got None")
        scores = np.asarray(pred_scores)
        if scores.shape != (boxes.shape[0],) or not np.all(np.isfinite(scores)):
            raise MetricInputError(
                f"pred_scores{where}: expected [{boxes.shape[0]}] finite scores, got shape "
                f"{scores.shape}"
            )
        return boxes, labels, scores

    def _hits(self, rels, labels, boxes, gt_triplets, gt_tboxes, phrase) -> np.ndarray:
        triplets, tboxes = relation_triplets(rels, labels, boxes)
        return match_triplets(
            gt_triplets,
            triplets,
            gt_tboxes,
            tboxes,
            iou_threshold=self.iou_threshold,
            phrase=phrase,
        )


def _top_stable(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest values, descending, ties in index order.

    Equal to ``np.argsort(-values, kind="stable")[:n]`` in O(len(values)) plus a sort of
    the candidates: everything above the n-th largest value, and the ties with it.
    """
    neg = -values
    if neg.size > n:
        kth = np.partition(neg, n - 1)[n - 1]
        candidates = np.flatnonzero(neg <= kth)
        return candidates[np.argsort(neg[candidates], kind="stable")][:n]
    return np.argsort(neg, kind="stable")


def _first_hit(hits: np.ndarray) -> np.ndarray:
    """[P, G] hit matrix in rank order -> [G] rank of the first hit (``_NEVER`` if none)."""
    any_hit = hits.any(axis=0)
    return np.where(any_hit, hits.argmax(axis=0), _NEVER).astype(np.int64)


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of [n, 4] xyxy float32 boxes, +1-pixel convention, float32 arithmetic."""
    one = np.float32(1)
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, 2:], b[:, 2:])
    wh = np.maximum(rb - lt + one, np.float32(0))
    inter = wh[:, 0] * wh[:, 1]
    return inter / (area_a + area_b - inter)


def _union(pair_boxes: np.ndarray) -> np.ndarray:
    """[n, 8] subject+object boxes -> [n, 4] their union box."""
    s, o = pair_boxes[:, :4], pair_boxes[:, 4:]
    return np.concatenate((np.minimum(s[:, :2], o[:, :2]), np.maximum(s[:, 2:], o[:, 2:])), axis=1)


def _keys(triplets: np.ndarray) -> np.ndarray:
    """[T, 3] small non-negative ints -> [T] int64 keys (labels < 2**20)."""
    t = np.asarray(triplets, dtype=np.int64)
    return (t[:, 0] << 40) | (t[:, 1] << 20) | t[:, 2]


def _boxes(value: Any, name: str, where: str) -> np.ndarray:
    boxes = np.asarray(value, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise MetricInputError(f"{name}{where}: expected [N, 4] xyxy, got shape {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise MetricInputError(f"{name}{where}: expected finite coordinates, got NaN/inf")
    return boxes


def _ints(
    value: Any, name: str, where: str, *, cols: int | None = None, shape: tuple | None = None
) -> np.ndarray:
    arr = np.asarray(value)
    if cols is not None and arr.size == 0:
        arr = arr.reshape(0, cols)
    expected = shape if shape is not None else f"[R, {cols}]"
    if (shape is not None and arr.shape != shape) or (
        cols is not None and (arr.ndim != 2 or arr.shape[1] != cols)
    ):
        raise MetricInputError(f"{name}{where}: expected shape {expected}, got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise MetricInputError(f"{name}{where}: expected integers, got {arr.dtype} values")
    return arr.astype(np.int64, copy=False)


def _check_index(index: np.ndarray, n: int, name: str, where: str) -> None:
    if index.size and (index.min() < 0 or index.max() >= n):
        raise MetricInputError(
            f"{name}{where}: object indices must be in 0..{n - 1}, got {index.min()}..{index.max()}"
        )
