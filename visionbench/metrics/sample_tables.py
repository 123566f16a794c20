"""Per-sample statistics of each evaluator, as tables that bootstrap by integer weights.

A *sample table* holds, per sample (an image, a frame, a caption), the sufficient
statistics its evaluator keeps, and turns a weight matrix ``[B, n]`` (how many times each
sample is drawn) into the metrics of each weighted set: the evaluation of the set where
sample ``i`` appears ``w_i`` times (copies adjacent, in the original order). Every table
offers ``sample_ids`` (the samples' identity for pairing: COCO image ids, else the arrival
position), ``metrics(weights)``, ``take(idx)`` (a subset, for pairing two runs) and
``stacked(other)`` (two runs' samples as one set, for randomisation tests).

Each ``metrics`` uses the evaluator's own scoring function on the weighted totals, so
integer statistics (top-k counts, confusion matrices, BLEU n-gram counts) give the same
bits as the full evaluation of the duplicated set; means of per-sample values (scene-graph
recall) are taken over the expanded per-sample array, in the same order, for the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = [
    "ClassificationTable",
    "SegmentationTable",
    "CityscapesTable",
    "CaptionTable",
    "SceneGraphTable",
    "VOCTable",
    "RowTable",
]


class RowTable:
    """Base: fixed-width per-sample columns plus ragged per-sample blocks.

    Args:
        columns: name -> ``[n, ...]`` array, one row per sample.
        ragged: name -> ``(offsets [n + 1], values [M, ...])``, sample i owns
            ``values[offsets[i]:offsets[i + 1]]``.
        sample_ids: [n] identity of each sample (default 0..n-1).
        config: what the scoring needs beyond the rows (copied into subsets).
    """

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        ragged: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
        *,
        sample_ids: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.columns = {k: np.asarray(v) for k, v in columns.items()}
        self.ragged = dict(ragged or {})
        lens = {len(v) for v in self.columns.values()} | {
            len(o) - 1 for o, _ in self.ragged.values()
        }
        if len(lens) > 1:
            raise MetricInputError(f"sample table: columns of different lengths {sorted(lens)}")
        self.n = lens.pop() if lens else 0
        self.sample_ids = (
            np.arange(self.n, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids)
        )
        self.config = dict(config or {})

    def __len__(self) -> int:
        return self.n

    def _new(self, columns: dict, ragged: dict, sample_ids: np.ndarray) -> RowTable:
        t = object.__new__(type(self))
        RowTable.__init__(t, columns, ragged, sample_ids=sample_ids, config=self.config)
        return t

    def take(self, idx: np.ndarray) -> RowTable:
        """The samples at positions ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        cols = {k: v[idx] for k, v in self.columns.items()}
        rag = {k: _ragged_take(o, v, idx) for k, (o, v) in self.ragged.items()}
        return self._new(cols, rag, self.sample_ids[idx])

    def stacked(self, other: RowTable) -> RowTable:
        """This table's samples, then ``other``'s."""
        cols = {k: np.concatenate([v, other.columns[k]]) for k, v in self.columns.items()}
        rag = {}
        for k, (o, v) in self.ragged.items():
            o2, v2 = other.ragged[k]
            rag[k] = (np.concatenate([o, o[-1] + o2[1:]]), np.concatenate([v, v2]))
        ids = np.concatenate([self.sample_ids, other.sample_ids])
        return self._new(cols, rag, ids)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (config as JSON); inverse: :func:`table_from_arrays`."""
        import json

        out: dict[str, np.ndarray] = {
            "kind": np.array(type(self).__name__),
            "config": np.array(json.dumps(_jsonable(self.config))),
            "sample_ids": self.sample_ids,
        }
        for k, v in self.columns.items():
            out[f"col.{k}"] = v
        for k, (o, v) in self.ragged.items():
            out[f"rag.{k}.offsets"] = o
            out[f"rag.{k}.values"] = v
        return out

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Metric name -> [B] values of each weighted replicate."""
        w = _check_weights(weights, self.n)
        rows = [self.score(w[j]) for j in range(len(w))]
        names = list(rows[0]) if rows else []
        return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in names}

    def score(self, w: np.ndarray) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError


class ClassificationTable(RowTable):
    """Per sample: target rank (capped), label, top-1 class, ReaL rank (-1: none).

    Metrics as :class:`~visionbench.metrics.classification.ClassificationEvaluator`
    (percent): ``top{k}``, ``real_top{k}``, and the macro / micro scores of the weighted
    confusion matrix when ``with_confusion``.
    """

    def score(self, w: np.ndarray) -> dict[str, float]:
        from visionbench.metrics.classification import precision_recall_f1

        rank = self.columns["rank"]
        n = int(w.sum())
        out: dict[str, float] = {}
        for k in self.config["topk"]:
            c = int(w[rank < k].sum())
            out[f"top{k}"] = float(100.0 * c / n) if n else float("nan")
        if "real_rank" in self.columns:
            rr = self.columns["real_rank"]
            kept = rr >= 0
            n_r = int(w[kept].sum())
            for k in self.config["topk"]:
                c = int(w[kept & (rr < k)].sum())
                out[f"real_top{k}"] = float(100.0 * c / n_r) if n_r else float("nan")
        if self.config.get("with_confusion"):
            nc = self.config["num_classes"]
            key = self.columns["label"].astype(np.int64) * nc + self.columns["top1"]
            conf = np.bincount(key, weights=w, minlength=nc * nc).astype(np.int64)
            prf = precision_recall_f1(conf.reshape(nc, nc))
            for name in (
                "acc_macro", "precision_macro", "recall_macro", "f1_macro",
                "precision_micro", "recall_micro", "f1_micro",
            ):  # fmt: skip
                out[name] = prf[name]
        return out


class SegmentationTable(RowTable):
    """Per frame: the sparse confusion cells (ragged ``cells``: flat index, count)."""

    def score(self, w: np.ndarray) -> dict[str, float]:
        from visionbench.metrics.segmentation.semantic import segmentation_scores

        conf = _weighted_confusion(self.ragged["cells"], w, self.config["shape"])
        s = segmentation_scores(conf)
        return {k: s[k] for k in ("miou", "pixel_acc", "mean_class_acc", "fwiou")}


class CityscapesTable(RowTable):
    """Per frame: sparse 34x34 confusion cells, its instances ``[4, m]`` rows (label,
    size, tp, category tp) and whether it came with instanceIds."""

    def score(self, w: np.ndarray) -> dict[str, float]:
        from visionbench.metrics.segmentation.cityscapes import (
            CityscapesFrameStats,
            cityscapes_scores,
        )

        conf = _weighted_confusion(self.ragged["cells"], w, (34, 34))
        off, inst = self.ragged["instances"]
        idx = _expanded_rows(off, w)
        rows = inst[idx]
        s = cityscapes_scores(
            CityscapesFrameStats(conf, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3])
        )
        out = {k: s[k] for k in ("miou", "iiou", "miou_category", "iiou_category")}
        if (w[~self.columns["has_instances"]] > 0).any():
            out["iiou"] = out["iiou_category"] = float("nan")
        return out

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """All replicates at once (:func:`~visionbench.metrics.segmentation.cityscapes.
        cityscapes_replicate_scores`), each bit for bit :meth:`score` of its row: B = 1000
        on 100 frames in ~0.1 s instead of ~2 s."""
        from visionbench.metrics.segmentation.cityscapes import cityscapes_replicate_scores

        w = _check_weights(weights, self.n)
        off, vals = self.ragged["cells"]
        frame = np.repeat(np.arange(self.n), np.diff(off))
        dense = np.zeros((self.n, 34 * 34), np.int64)
        np.add.at(dense, (frame, vals[:, 0].astype(np.int64)), vals[:, 1].astype(np.int64))
        i_off, inst = self.ragged["instances"]
        out = cityscapes_replicate_scores(dense, i_off, inst, w)
        no_inst = (w[:, ~self.columns["has_instances"].astype(bool)] > 0).any(axis=1)
        for k in ("iiou", "iiou_category"):
            out[k] = np.where(no_inst, np.nan, out[k])
        return out


class CaptionTable(RowTable):
    """Per caption (image): the statistics of each COCO-caption metric and of sacreBLEU.

    Columns (each only when its metric is on): ``coco`` / ``sacre`` [10] BLEU counts (ints),
    ``rouge_l`` and ``spice`` (per-caption scores), ``meteor`` [23] (the jar's statistics,
    :mod:`~visionbench.metrics.captioning.meteor`), and for CIDEr-D ``nrefs``,
    ``cider_hyp_len`` with the ragged ``cider_hyp`` / ``cider_ref`` / ``cider_ref_len``
    n-gram counts (:func:`~visionbench.metrics.captioning.cider.cider_sample_statistics`;
    the n-grams themselves in ``config["cider_vocab"]``).

    A weighted set is scored as a full evaluation of the duplicated set scores it:

    * ``bleu1`` .. ``bleu4``, ``sacrebleu``: from the summed integer counts (bit for bit);
    * ``rouge_l``, ``spice``: the mean of the per-caption scores, taken over the expanded
      array in the same order (bit for bit; a caption's score depends on it alone);
    * ``meteor``: METEOR 1.5's own corpus formula on the summed statistics (exact
      decomposition; the last bit can differ from the jar's where Java's ``Math.pow`` and
      the C library's ``pow`` round differently, see :mod:`.meteor`);
    * ``cider_d``: document frequencies and ``log N`` recomputed from the weighted reference
      corpus (:class:`~visionbench.metrics.captioning.cider.CiderWeighted`; equal up to the
      order of float additions, ~1e-15 relative).
    """

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        from visionbench.metrics.captioning.bleu import coco_scores

        w = _check_weights(weights, self.n)
        out: dict[str, Any] = {}
        if "coco" in self.columns:
            totals = w @ self.columns["coco"].astype(np.int64)
            for row in totals:
                for k, v in enumerate(coco_scores([int(x) for x in row])):
                    out.setdefault(f"bleu{k + 1}", []).append(v)
        if "meteor" in self.columns:
            from visionbench.metrics.captioning.meteor import meteor_from_statistics

            totals = w.astype(np.float64) @ self.columns["meteor"].astype(np.float64)
            out["meteor"] = meteor_from_statistics(totals)
        for name in ("rouge_l", "spice"):
            if name in self.columns:
                v = self.columns[name].astype(np.float64)
                out[name] = [float(np.mean(np.repeat(v, row))) if row.sum() else float("nan")
                             for row in w]  # fmt: skip
        if "cider_hyp" in self.ragged:
            out["cider_d"] = self._cider().scores(w)
        if "sacre" in self.columns:
            totals = w @ self.columns["sacre"].astype(np.int64)
            score = sacrebleu_from_totals(self.config)
            out["sacrebleu"] = [score(row) for row in totals]
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}

    def _cider(self) -> Any:
        from visionbench.metrics.captioning.cider import CiderWeighted

        if getattr(self, "_cider_cache", None) is None:
            self._cider_cache = CiderWeighted({
                "vocab": self.config["cider_vocab"],
                "hyp": self.ragged["cider_hyp"],
                "ref": self.ragged["cider_ref"],
                "ref_len": self.ragged["cider_ref_len"],
                "hyp_len": self.columns["cider_hyp_len"],
                "nrefs": self.columns["nrefs"],
            })  # fmt: skip
        return self._cider_cache

    def stacked(self, other: RowTable) -> RowTable:
        """This table's captions, then ``other``'s (CIDEr-D n-gram ids mapped into one
        vocabulary)."""
        if "cider_hyp" not in self.ragged:
            return super().stacked(other)
        vocab = list(self.config["cider_vocab"])
        index = {g: i for i, g in enumerate(vocab)}
        remap = np.empty(len(other.config["cider_vocab"]), np.int64)
        for i, g in enumerate(other.config["cider_vocab"]):
            if g not in index:
                index[g] = len(vocab)
                vocab.append(g)
            remap[i] = index[g]
        rag = dict(other.ragged)
        for name, col in (("cider_hyp", 0), ("cider_ref", 1)):
            off, vals = rag[name]
            vals = vals.copy()
            if len(vals):
                vals[:, col] = remap[vals[:, col]]
            rag[name] = (off, vals)
        moved = other._new(other.columns, rag, other.sample_ids)
        out = super().stacked(moved)
        out.config["cider_vocab"] = vocab
        return out


def sacrebleu_from_totals(config: dict[str, Any]) -> Callable[[Any], float]:
    """``totals [10] -> sacreBLEU score`` with the evaluator's smoothing options."""
    from sacrebleu.metrics import BLEU

    def score(row: Any) -> float:
        t = [int(x) for x in row]
        return float(
            BLEU.compute_bleu(
                correct=t[2:6], total=t[6:10], sys_len=t[0], ref_len=t[1],
                smooth_method=config["smooth_method"], smooth_value=config["smooth_value"],
                effective_order=config["effective_order"], max_ngram_order=4,
            ).score
        )  # fmt: skip

    return score


class SceneGraphTable(RowTable):
    """Per image: ragged per-gt-relation ``predicate``, ``gc_rank``, ``ng_rank``,
    ``zero_shot`` (the evaluator's state), scored as ``SceneGraphEvaluator.compute``."""

    def score(self, w: np.ndarray) -> dict[str, float]:
        off, rel = self.ragged["relations"]  # [M, 4]: predicate, gc_rank, ng_rank, zero_shot
        n_rels = np.diff(off)
        keep = w > 0
        reps = w[keep]
        n_img = int(reps.sum())
        image_of = np.repeat(np.arange(self.n), n_rels)
        n_pred = self.config["num_predicates"]
        n_cols = n_pred + 1
        predicate = rel[:, 0]
        out: dict[str, float] = {}
        key = image_of * n_cols + predicate
        count = np.bincount(key, minlength=self.n * n_cols).reshape(self.n, n_cols)[keep]
        zs = rel[:, 3].astype(bool)
        zs_count = np.bincount(image_of, weights=zs, minlength=self.n)[keep]
        nr = n_rels[keep]
        for k in self.config["ks"]:
            for name, col in (("R", 1), ("ngR", 2)):
                hit = rel[:, col] < k
                per_image = np.bincount(image_of, weights=hit, minlength=self.n)[keep] / nr
                out[f"{name}@{k}"] = (
                    float(np.mean(np.repeat(per_image, reps))) if n_img else float("nan")
                )
            hit = rel[:, 1] < k
            hits = np.bincount(key, weights=hit, minlength=self.n * n_cols).reshape(self.n, n_cols)[
                keep
            ]
            sum_recall = 0.0
            for p in range(1, n_cols):
                present = count[:, p] > 0
                if present.any():
                    vals = hits[present, p] / count[present, p]
                    sum_recall += float(np.mean(np.repeat(vals, reps[present])))
            out[f"mR@{k}"] = sum_recall / float(n_pred) if n_img else float("nan")
            if self.config["zero_shot"]:
                zs_hits = np.bincount(image_of, weights=hit & zs, minlength=self.n)[keep]
                has = zs_count > 0
                out[f"zsR@{k}"] = (
                    float(np.mean(np.repeat(zs_hits[has] / zs_count[has], reps[has])))
                    if has.any()
                    else float("nan")
                )
        return out


class VOCTable(RowTable):
    """Per image: ``npos`` [C] (non-difficult ground truth per class) and ragged ``dets``
    [class position, score, flag (1 tp, -1 fp, 0 difficult hit)] in update order, scored
    as ``VOCEvaluator.compute`` scores the duplicated image set: the detections of the
    expanded set in update order (copies of an image adjacent), ranked per class by
    score with ties in update order (the evaluator's stable sorts), AP by ``voc_ap``."""

    def score(self, w: np.ndarray) -> dict[str, float]:
        from visionbench.metrics.detection.voc import voc_ap

        off, dets = self.ragged["dets"]
        cfg = self.config
        n_cls = len(cfg["class_ids"])
        npos = w @ self.columns["npos"] if self.n else np.zeros(n_cls, np.int64)
        rows = _expanded_rows(off, w)
        k = dets[rows, 0].astype(np.int64)
        s = dets[rows, 1]
        flags = dets[rows, 2]
        by_class = np.argsort(k, kind="stable")
        bounds = np.searchsorted(k[by_class], np.arange(n_cls + 1))
        ap = np.full(n_cls, np.nan)
        for c in range(n_cls):
            sel = by_class[bounds[c] : bounds[c + 1]]
            if npos[c] <= 0:
                continue
            sc, fl = s[sel], flags[sel]
            order = np.argsort(-sc, kind="mergesort")
            ctp = np.cumsum((fl[order] == 1).astype(np.float64))
            cfp = np.cumsum((fl[order] == -1).astype(np.float64))
            rec = ctp / float(npos[c])
            prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
            ap[c] = voc_ap(rec, prec, method=cfg["ap_method"])
        ok = ~np.isnan(ap)
        out = {"mAP": float(ap[ok].mean()) if ok.any() else float("nan")}
        for name, v in zip(cfg["class_names"], ap.tolist()):
            out[f"AP_{name}"] = float(v)
        return out


def table_from_arrays(d: Any) -> Any:
    """A sample table from :meth:`RowTable.to_arrays` / ``CocoSampleTable.to_arrays``."""
    import json

    kind = str(np.asarray(d["kind"]))
    if kind == "CocoSampleTable":
        from visionbench.metrics.detection.coco_bootstrap import CocoSampleTable

        return CocoSampleTable.from_arrays(d)
    classes = {c.__name__: c for c in (ClassificationTable, SegmentationTable, CityscapesTable,
                                      CaptionTable, SceneGraphTable, VOCTable)}  # fmt: skip
    if kind not in classes:
        raise MetricInputError(f"sample statistics: unknown table kind {kind!r}")
    config = json.loads(str(np.asarray(d["config"])))
    for key in ("shape", "topk", "ks"):
        if key in config:
            config[key] = tuple(config[key])
    cols, rag = {}, {}
    for k in d:
        if k.startswith("col."):
            cols[k[4:]] = np.asarray(d[k])
        elif k.startswith("rag.") and k.endswith(".offsets"):
            name = k[4:-8]
            rag[name] = (np.asarray(d[k]), np.asarray(d[f"rag.{name}.values"]))
    return classes[kind](cols, rag, sample_ids=np.asarray(d["sample_ids"]), config=config)


# -- helpers --------------------------------------------------------------------------
def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _check_weights(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.int64)
    if w.ndim != 2 or w.shape[1] != n:
        raise MetricInputError(f"weights: expected [B, {n}] draw counts, got {list(w.shape)}")
    if (w < 0).any():
        raise MetricInputError("weights: expected non-negative draw counts")
    return w


def _ragged_take(
    offsets: np.ndarray, values: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    lens = np.diff(offsets)[idx]
    new_off = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(lens, out=new_off[1:])
    rows = _expanded_rows(offsets, np.bincount(idx, minlength=len(offsets) - 1), order=idx)
    return new_off, values[rows]


def _expanded_rows(
    offsets: np.ndarray, w: np.ndarray, *, order: np.ndarray | None = None
) -> np.ndarray:
    """Row indices of the blocks of samples repeated ``w`` times, each sample's copies
    adjacent (in sample order, or in ``order`` -- each position of it once)."""
    if order is None:
        samples = np.repeat(np.arange(len(w)), w)
    else:
        samples = np.asarray(order, dtype=np.int64)
    lens = offsets[samples + 1] - offsets[samples]
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(offsets[samples] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return np.arange(total, dtype=np.int64) + starts


def _weighted_confusion(
    cells: tuple[np.ndarray, np.ndarray], w: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    off, vals = cells  # vals [M, 2]: flat index, count
    per_row = np.repeat(w, np.diff(off))
    size = int(shape[0]) * int(shape[1])
    flat = np.bincount(vals[:, 0], weights=vals[:, 1] * per_row, minlength=size)
    return np.rint(flat).astype(np.int64).reshape(shape)
