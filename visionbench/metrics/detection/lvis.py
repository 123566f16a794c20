"""LVIS v1 evaluation (the federated protocol), identical to ``lvis`` 0.5.3's ``LVISEval``.

Two entry points share one implementation:

* :func:`lvis_evaluate` -- an LVIS annotation file in (``lvis_v1_val.json``), LVIS/COCO
  results (file or list) in, :class:`~visionbench.metrics.base.MetricResult` out.
* :class:`LvisEvaluator` -- columnar arrays in, image by image, with mergeable
  sufficient statistics (any split of the images into shards gives the same arrays).

The protocol, as ``LVISEval`` runs it (REFERENCE.md §11):

* each image keeps its ``max_dets`` (300) highest-scoring results over all categories
  (ties: file order), before anything else is dropped;
* annotations and results with ``area`` not strictly inside (0, inf) are dropped
  (``get_ann_ids``); results of categories not in the file are dropped;
* federated: on an image, a category is evaluated only when the image has a ground
  truth of it or lists it in ``neg_category_ids``; other results on that image are dropped;
* matching is COCO's greedy matching (no crowd regions: LVIS has none; an annotation's
  optional ``ignore`` flag is honoured), reusing the COCO core's kernels;
* a result of a category in the image's ``not_exhaustive_category_ids`` that matches no
  ground truth is ignored (neither true nor false positive);
* AP is accumulated over all of a category's results (no per-category maxDets cut), as
  COCO's with the same ``np.spacing(1)``; APr / APc / APf average the categories of
  each ``frequency`` group.

The result holds ``AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300, ARs@300,
ARm@300, ARl@300`` (fractions in [0, 1]; NaN where ``LVISEval`` gives -1), the full
``precision`` [T, R, K, A] and ``recall`` [T, K, A] arrays (-1 where undefined, as
``LVISEval.eval``), per-category AP / AR, and a signature; its ``evaluator`` (the match
state) gives bootstrap intervals (:func:`lvis_sample_table`: a COCO sample table with
LVIS's 13 stats, APr / APc / APf over their frequency group) and the per-image analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import MetricResult, check_mergeable
from visionbench.metrics.detection.coco_columns import AnnTable, load_results
from visionbench.metrics.detection.coco_evaluation import (
    MatchState,
    accumulate,
    match_tables,
    state_from_dict,
    state_to_dict,
    summary_result,
)
from visionbench.metrics.detection.coco_from_arrays import columns_from_image
from visionbench.metrics.detection.coco_params import CocoParams, _grid
from visionbench.metrics.detection.lvis_ground_truth import (
    FREQUENCY_GROUPS,
    LvisGroundTruth,
    load_lvis_ground_truth,
)
from visionbench.metrics.errors import MetricInputError

__all__ = ["lvis_evaluate", "LvisEvaluator", "LVIS_MAX_DETS", "lvis_sample_table"]

#: Results kept per image by the official protocol (``LVISResults(max_dets=300)``).
LVIS_MAX_DETS = 300
_IGNORED = np.uint8(2)
_MATCHED = np.uint8(1)


def lvis_evaluate(
    gt: Any,
    results: Any,
    *,
    iou_type: str = "bbox",
    max_dets: int = LVIS_MAX_DETS,
) -> MetricResult:
    """Evaluate results against an LVIS annotation file, as ``LVISEval(...).run()``.

    Args:
        gt: ``lvis_v1_val.json``: a path, its bytes, the parsed dict, or an
            :class:`~visionbench.metrics.detection.lvis_ground_truth.LvisGroundTruth`.
        results: a results JSON file / bytes / list of dicts (``image_id``,
            ``category_id``, ``score``, ``bbox`` [x, y, w, h] px and/or
            ``segmentation`` RLE), read like ``LVISResults``; or an ``AnnTable``.
        iou_type: ``"bbox"`` or ``"segm"``.
        max_dets: results kept per image (the official 300).

    Returns:
        MetricResult: ``metrics`` (see module doc), ``arrays`` (``precision``, ``recall``,
        ``stats``, ``category_ids``, ``frequency``, ``ap_per_category``,
        ``ar_per_category``), ``signature``.
    """
    g = gt if isinstance(gt, LvisGroundTruth) else load_lvis_ground_truth(gt, iou_type=iou_type)
    dt = load_results(results, g.table, iou_type=iou_type)
    ev = LvisEvaluator(
        g.table.cat_ids,
        g.frequency,
        iou_type=iou_type,
        max_dets=max_dets,
        cat_names=dict(zip(g.table.cat_ids.tolist(), g.table.cat_names)),
    )
    ev._add(
        g.table.anns,
        g.ignore,
        dt,
        np.unique(g.table.image_ids),
        (g.neg_image_id, g.neg_cat_id),
        (g.nel_image_id, g.nel_cat_id),
        image_size=g.table.image_size if iou_type == "segm" else None,
    )
    return ev.compute()


class LvisEvaluator:
    """Mergeable LVIS evaluator fed image by image.

    Args:
        cat_ids: the dataset's category ids (K, any order; evaluated sorted).
        frequency: the frequency group (``"r"``, ``"c"``, ``"f"``) of each of ``cat_ids``,
            same order (a sequence, a string of K letters, or a dict id -> group).
        iou_type: ``"bbox"`` or ``"segm"``.
        max_dets: results kept per image (300).
        cat_names: optional category id -> name.
    """

    def __init__(
        self,
        cat_ids: Sequence[int],
        frequency: Sequence[str] | str | dict[int, str],
        *,
        iou_type: str = "bbox",
        max_dets: int = LVIS_MAX_DETS,
        cat_names: dict[int, str] | None = None,
    ) -> None:
        if iou_type not in ("bbox", "segm"):
            raise MetricInputError(f"iou_type: LVIS evaluates 'bbox' or 'segm', got {iou_type!r}")
        if int(max_dets) < 1:
            raise MetricInputError(f"max_dets: expected a positive integer, got {max_dets!r}")
        ids = np.asarray(list(cat_ids), dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise MetricInputError("cat_ids: duplicate category ids")
        if isinstance(frequency, dict):
            freq = [frequency.get(int(c)) for c in ids.tolist()]
        else:
            freq = list(frequency)
        if len(freq) != len(ids):
            raise MetricInputError(
                f"frequency: expected one group per category ({len(ids)}), got {len(freq)}"
            )
        bad = [(int(c), f) for c, f in zip(ids.tolist(), freq) if f not in FREQUENCY_GROUPS]
        if bad:
            raise MetricInputError(
                f"frequency: category id {bad[0][0]}: expected one of {list(FREQUENCY_GROUPS)}, got {bad[0][1]!r}"
            )
        order = np.argsort(ids, kind="stable")
        self.cat_ids = ids[order]
        self.frequency = [freq[i] for i in order.tolist()]
        self.cat_names = dict(cat_names or {})
        self.iou_type = iou_type
        self.max_dets = int(max_dets)
        self.params = CocoParams(iou_type=iou_type, max_dets=[self.max_dets])
        self.signature = lvis_signature(self.params)
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self._states: list[MatchState] = []
        self._pending: list[tuple[AnnTable, np.ndarray, AnnTable, int, Any, Any]] = []
        self._seen: set[int] = set()

    # -- feeding --------------------------------------------------------------------
    def update(
        self,
        *,
        image_id: int,
        dt_boxes: Any,
        dt_labels: Any,
        dt_scores: Any,
        dt_masks: Any = None,
        dt_area: Any = None,
        gt_boxes: Any,
        gt_labels: Any,
        neg_category_ids: Any,
        not_exhaustive_category_ids: Any,
        gt_area: Any = None,
        gt_ann_ids: Any = None,
        gt_ignore: Any = None,
        gt_masks: Any = None,
        box_format: str = "xyxy",
    ) -> None:
        """Add one image (keyword arguments only, as every evaluator's ``update``).

        Args:
            image_id: the image id (each image once per evaluator).
            dt_boxes [D, 4], dt_labels [D], dt_scores [D]: every result of the image (the
                per-image cut to ``max_dets`` happens here).
            gt_boxes: [G, 4] boxes, pixels, ``box_format`` ``"xyxy"`` or ``"xywh"``.
            gt_labels: [G] category ids.
            neg_category_ids, not_exhaustive_category_ids: the image's LVIS lists.
            gt_area: [G] annotation areas, pixels² (default the box / mask area).
            gt_ignore: [G] bool, the optional ``ignore`` flag.
            gt_masks, dt_masks: segm only: binary [N, H, W] arrays or RLE dicts.
            dt_area: [D] (default box area; segm: mask area).
        """
        iid = int(image_id)
        if iid in self._seen:
            raise MetricInputError(f"update: image id {iid} was already added to this evaluator")
        g, d = columns_from_image(
            iid, self.iou_type, gt_boxes, gt_labels, dt_boxes, dt_labels, dt_scores,
            gt_area=gt_area, gt_ann_ids=gt_ann_ids, box_format=box_format,
            gt_masks=gt_masks, dt_masks=dt_masks, dt_area=dt_area,
        )  # fmt: skip
        ig = (
            np.zeros(len(g), bool) if gt_ignore is None else np.asarray(gt_ignore, bool).reshape(-1)
        )
        if len(ig) != len(g):
            raise MetricInputError(
                f"image id {iid}: gt_ignore: expected {len(g)} values, got {len(ig)}"
            )
        neg = _ids(neg_category_ids, f"image id {iid}: neg_category_ids")
        nel = _ids(not_exhaustive_category_ids, f"image id {iid}: not_exhaustive_category_ids")
        self._pending.append((g, ig, d, iid, neg, nel))
        self._seen.add(iid)

    def _flush(self) -> None:
        if not self._pending:
            return
        p, self._pending = self._pending, []
        g = AnnTable.concat([x[0] for x in p])
        ig = np.concatenate([x[1] for x in p])
        d = AnnTable.concat([x[2] for x in p])
        neg = _pairs([(x[3], x[4]) for x in p])
        nel = _pairs([(x[3], x[5]) for x in p])
        ids = np.unique(np.array([x[3] for x in p], dtype=np.int64))
        self._add(g, ig, d, ids, neg, nel, image_size=None, record=False)

    def _add(
        self,
        gt: AnnTable,
        gt_ignore: np.ndarray,
        dt: AnnTable,
        img_ids: np.ndarray,
        neg: tuple[np.ndarray, np.ndarray],
        nel: tuple[np.ndarray, np.ndarray],
        *,
        image_size: Any,
        record: bool = True,
    ) -> None:
        state = federated_match(
            gt, gt_ignore, dt, img_ids, self.cat_ids, neg, nel, self.params, image_size=image_size
        )
        self._states.append(state)
        if record:
            self._seen.update(img_ids.tolist())

    # -- mergeable state ------------------------------------------------------------
    def merge(self, other: LvisEvaluator) -> None:
        """Add another evaluator's images (same parameters and categories, disjoint images)."""
        check_mergeable(self, other, "signature", quote=True, article="an")
        if not np.array_equal(other.cat_ids, self.cat_ids) or other.frequency != self.frequency:
            raise MetricInputError("merge: the evaluators have different categories")
        both = self._seen & other._seen
        if both:
            raise MetricInputError(
                f"merge: image ids present in both evaluators: {sorted(both)[:10]}"
            )
        self._flush()
        other._flush()
        self._states.extend(other._states)
        self._seen |= other._seen

    def state_dict(self) -> dict[str, Any]:
        """Sufficient statistics as plain arrays."""
        d = state_to_dict(self._state())
        d["signature"] = self.signature
        d["cat_ids"] = self.cat_ids.copy()
        d["frequency"] = np.array(self.frequency)
        return d

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this evaluator's statistics by ``state`` (from :meth:`state_dict`)."""
        if str(state["signature"]) != self.signature:
            raise MetricInputError(
                f"load_state_dict: signature {state['signature']!r} differs from {self.signature!r}"
            )
        if not np.array_equal(np.asarray(state["cat_ids"]), self.cat_ids):
            raise MetricInputError("load_state_dict: the state has different cat_ids")
        s = state_from_dict(state)
        self._states = [s]
        self._pending = []
        self._seen = set(s.image_ids.tolist())

    def _state(self) -> MatchState:
        self._flush()
        if not self._states:
            return MatchState.empty(len(self.params.area_rng), len(self.params.iou_thrs))
        s = MatchState.concat(self._states)
        self._states = [s]
        return s

    # -- result ---------------------------------------------------------------------
    def compute(self) -> MetricResult:
        """Accumulate and summarize (``LVISEval.accumulate`` + ``summarize``)."""
        p = self.params
        arrays = accumulate(self._state(), p, self.cat_ids)
        precision = arrays["precision"][..., 0]
        recall = arrays["recall"][..., 0]
        groups = [
            np.array([k for k, f in enumerate(self.frequency) if f == g], dtype=np.int64)
            for g in FREQUENCY_GROUPS
        ]
        stats, names = summarize_lvis(precision, recall, p, groups)
        out = {
            "precision": precision,
            "recall": recall,
            "category_ids": self.cat_ids.copy(),
            "frequency": np.array(self.frequency),
            "iou_thrs": p.iou_thrs.copy(),
            "rec_thrs": p.rec_thrs.copy(),
            "area_rng": np.asarray(p.area_rng, dtype=np.float64),
            "max_dets": np.int64(self.max_dets),
        }
        return summary_result(
            stats, names, precision[..., 0], recall[..., 0], out, self.signature, evaluator=self
        )

    def category_groups(self) -> np.ndarray:
        """[K] the frequency group of each category (sorted ids) as 0 r, 1 c, 2 f."""
        return np.array([FREQUENCY_GROUPS.index(f) for f in self.frequency], dtype=np.int64)


def lvis_stat_specs(
    params: CocoParams,
) -> tuple[list[tuple[bool, float | None, int, int, int]], list[str]]:
    """:func:`summarize_lvis`'s 13 stats as bootstrap specs ``(is_ap, iou_thr, area index,
    maxDet index, group)`` (group: 0 r, 1 c, 2 f for APr / APc / APf, else -1) and names."""
    lbl = list(params.area_lbl)
    m = len(params.max_dets) - 1
    a_all, a_s, a_m, a_l = (lbl.index(x) for x in ("all", "small", "medium", "large"))
    specs = [
        (True, None, a_all, m, -1), (True, 0.5, a_all, m, -1), (True, 0.75, a_all, m, -1),
        (True, None, a_s, m, -1), (True, None, a_m, m, -1), (True, None, a_l, m, -1),
        (True, None, a_all, m, 0), (True, None, a_all, m, 1), (True, None, a_all, m, 2),
        (False, None, a_all, m, -1), (False, None, a_s, m, -1), (False, None, a_m, m, -1),
        (False, None, a_l, m, -1),
    ]  # fmt: skip
    md = params.max_dets[-1]
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf"]
    return specs, names + [f"AR@{md}", f"ARs@{md}", f"ARm@{md}", f"ARl@{md}"]


def lvis_sample_table(evaluator: LvisEvaluator) -> Any:
    """The evaluator's images as a bootstrap table: a replicate with draw counts ``w``
    equals :meth:`LvisEvaluator.compute` on the set where image i appears ``w_i`` times
    (copies under new ids, in the order of the original ids); NaN where LVIS gives -1."""
    from visionbench.metrics.detection.coco_bootstrap import CocoSampleTable

    specs, names = lvis_stat_specs(evaluator.params)
    return CocoSampleTable(
        evaluator._state(), evaluator.params, evaluator.cat_ids, compat=False, specs=specs,
        names=names, cat_group=evaluator.category_groups(),
    )  # fmt: skip


def lvis_signature(params: CocoParams) -> str:
    """e.g. ``lvis|bbox|iou=.50:.05:.95|area=all,s,m,l|maxdets=300|federated|v0.1.0``."""
    from visionbench.metrics.base import VERSION

    return (
        f"lvis|{params.iou_type}|iou={_grid(params.iou_thrs)}|area=all,s,m,l|"
        f"maxdets={params.max_dets[-1]}|federated|v{VERSION}"
    )


def federated_match(
    gt: AnnTable,
    gt_ignore: np.ndarray,
    dt: AnnTable,
    img_ids: np.ndarray,
    cat_ids: np.ndarray,
    neg: tuple[np.ndarray, np.ndarray],
    nel: tuple[np.ndarray, np.ndarray],
    params: CocoParams,
    *,
    image_size: Any = None,
) -> MatchState:
    """``LVISEval.evaluate`` for the images ``img_ids``: the COCO match state, federated.

    Args:
        gt, dt: annotations and results of any images (rows of other images are left out).
        gt_ignore: [len(gt)] bool ``ignore`` flags.
        img_ids: [I] sorted unique image ids. cat_ids: [K] sorted category ids.
        neg, nel: (image ids, category ids) pairs of ``neg_category_ids`` and
            ``not_exhaustive_category_ids``.
        params: COCO parameters with ``max_dets = [max_dets]``.
    """
    n_img, n_cat = len(img_ids), len(cat_ids)
    if n_img == 0:
        return MatchState.empty(len(params.area_rng), len(params.iou_thrs))
    max_dets = params.max_dets[-1]

    def key(image_id: np.ndarray, cat_id: np.ndarray) -> np.ndarray:
        """(image, category) -> image index * K + category index; -1 outside img/cat ids."""
        ii = np.minimum(np.searchsorted(img_ids, image_id), n_img - 1)
        kk = np.minimum(np.searchsorted(cat_ids, cat_id), max(n_cat - 1, 0))
        ok = (img_ids[ii] == image_id) & (cat_ids[kk] == cat_id if n_cat else False)
        return np.where(ok, ii * max(n_cat, 1) + kk, -1)

    # ground truth: get_ann_ids keeps 0 < area < inf of known images and categories
    g_key = key(gt.image_id, gt.category_id)
    g_keep = (g_key >= 0) & (gt.area > 0) & (gt.area < np.inf)
    g = gt.take(np.flatnonzero(g_keep))
    g.iscrowd = np.zeros(len(g), dtype=bool)
    ig = np.asarray(gt_ignore, dtype=bool)[g_keep]
    if ig.any():  # ignored in every area range (the ranges start at >= 0)
        g.area = np.where(ig, -np.inf, g.area)
    # results: the image's max_dets best over all categories first (LVISResults)
    d_img = dt.image_id
    in_img = np.isin(d_img, img_ids)
    rows = np.flatnonzero(in_img)
    if len(rows):
        o = rows[np.lexsort((rows, -dt.score[rows], d_img[rows]))]
        first = np.r_[True, d_img[o][1:] != d_img[o][:-1]]
        starts = np.flatnonzero(first)
        rank = np.arange(len(o)) - np.repeat(starts, np.diff(np.r_[starts, len(o)]))
        rows = np.sort(o[rank < max_dets])
    d_key = key(d_img[rows], dt.category_id[rows])
    d_area = dt.area[rows]
    ok = (d_key >= 0) & (d_area > 0) & (d_area < np.inf)
    # federated: the category has a gt on the image, or is verified absent there
    allowed = np.union1d(key(g.image_id, g.category_id), key(*neg))
    ok &= np.isin(d_key, allowed)
    d = dt.take(rows[ok])
    state = match_tables(g, d, params, cat_ids, img_ids, image_size=image_size)
    # an unmatched result of a not-exhaustively annotated category is ignored
    nel_keys = key(*nel)
    if len(state.dt_flags) and (nel_keys >= 0).any():
        in_nel = np.isin(key(state.dt_image_id, state.dt_cat), nel_keys[nel_keys >= 0])
        f = state.dt_flags
        sel = in_nel[:, None, None] & ((f & _MATCHED) == 0)
        f[sel] |= _IGNORED
    return state


def summarize_lvis(
    precision: np.ndarray, recall: np.ndarray, params: CocoParams, groups: list[np.ndarray]
) -> tuple[np.ndarray, list[str]]:
    """``LVISEval.summarize``: 13 stats (-1 where no cell is defined) and their names.

    Args:
        precision: [T, R, K, A]. recall: [T, K, A].
        groups: category indices of the r, c, f groups.
    """
    p = params
    md = p.max_dets[-1]

    def s_(ap: bool, iou_thr: float | None = None, area: str = "all", group: int | None = None):
        aind = [i for i, lbl in enumerate(p.area_lbl) if lbl == area]
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == p.iou_thrs)[0]]
        if ap:
            s = s[:, :, groups[group]][..., aind] if group is not None else s[..., aind]
        else:
            s = s[..., aind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    stats = [
        s_(True), s_(True, 0.5), s_(True, 0.75),
        s_(True, area="small"), s_(True, area="medium"), s_(True, area="large"),
        s_(True, group=0), s_(True, group=1), s_(True, group=2),
        s_(False), s_(False, area="small"), s_(False, area="medium"), s_(False, area="large"),
    ]  # fmt: skip
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf"]
    names += [f"AR@{md}", f"ARs@{md}", f"ARm@{md}", f"ARl@{md}"]
    return np.array(stats), names


def _ids(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray([] if x is None else x, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise MetricInputError(
            f"{name}: expected a list of integer category ids, got {x!r}"
        ) from None


def _pairs(items: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not items:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy()
    imgs = np.concatenate([np.full(len(c), i, dtype=np.int64) for i, c in items])
    cats = np.concatenate([c for _, c in items])
    return imgs, cats
