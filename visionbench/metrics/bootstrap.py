"""Bootstrap confidence intervals of any evaluator's metrics, from its sufficient statistics.

``bootstrap_intervals(evaluator)`` resamples the evaluator's samples with replacement --
images (COCO, LVIS, scene graphs), frames (Cityscapes, semantic segmentation), samples
(classification), captions (BLEU, METEOR, ROUGE-L, CIDEr-D, SPICE) -- ``B`` times (1000 by default) from a seeded
``numpy.random.default_rng(seed)``, scores every replicate from the per-sample statistics
the evaluator already keeps (no re-inference, no re-matching) and returns percentile
intervals. A replicate equals the full evaluation of the resampled set built explicitly
(sample ``i`` drawn ``w_i`` times = ``w_i`` copies under new ids, in the original order),
which the tests check for every task.

Determinism: the draws are made over the samples sorted by their identity (COCO image
id; elsewhere the arrival position, which contiguous shards merged in rank order keep), so
one pass and merged shards give the same intervals. Replicates where a metric is
undefined (NaN, e.g. no ground truth drawn for a class) are left out of its interval.

Every interval carries its method in the run-record form
``{"low", "high", "level", "method": "percentile-bootstrap", "B", "seed"}`` and
:func:`bootstrap_signature` names it (``ci=percentile-bootstrap|B=1000|seed=0|level=0.95``).

``method="basic"`` gives the basic (reverse-percentile) bootstrap interval instead,
``[2 t - q_hi, 2 t - q_lo]`` around the full-set value ``t`` (scipy.stats.bootstrap's
``method="basic"``): it corrects a replicate distribution that sits off the estimate, as
interpolated COCO AP's does (its precision envelope is a running maximum, biased upward
under resampling, so the percentile interval can lie above the estimate). The default stays
the percentile interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = [
    "DEFAULT_B",
    "METHOD",
    "METHODS",
    "basic_interval",
    "bootstrap_intervals",
    "bootstrap_signature",
    "percentile_interval",
    "resample_weights",
    "sample_table",
]

DEFAULT_B = 1000
METHOD = "percentile-bootstrap"
#: ``bootstrap_intervals(method=...)`` -> the method's name in the record and signature
METHODS = {"percentile": METHOD, "basic": "basic-bootstrap"}
_CHUNK = 64  # replicates drawn and scored at a time (bounds memory on 50k-sample sets)


def bootstrap_signature(
    *, B: int = DEFAULT_B, seed: int = 0, level: float = 0.95, method: str = "percentile"
) -> str:
    """``ci=percentile-bootstrap|B=1000|seed=0|level=0.95``."""
    return f"ci={_method_name(method)}|B={int(B)}|seed={int(seed)}|level={level:g}"


def _method_name(method: str) -> str:
    if method not in METHODS:
        raise MetricInputError(f"method: expected one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method]


def sample_table(evaluator: Any, *, metrics: Iterable[str] | None = None) -> Any:
    """The per-sample statistics of an evaluator as a sample table (see ``sample_tables``).

    Raises:
        MetricInputError: an evaluator without per-sample statistics (e.g. a state loaded
            from an older record), or of an unknown kind.
    """
    from visionbench.metrics import sample_tables as T

    name = type(evaluator).__name__
    if name == "CocoEvaluator":
        from visionbench.metrics.detection.coco_bootstrap import CocoSampleTable

        return CocoSampleTable(
            evaluator._state(), evaluator.params, evaluator.cat_ids,
            compat=evaluator.compat is not None,
        )  # fmt: skip
    if name == "LvisEvaluator":
        from visionbench.metrics.detection.lvis import lvis_sample_table

        return lvis_sample_table(evaluator)
    if name == "ClassificationEvaluator":
        s = evaluator.samples()
        if s is None:
            raise MetricInputError("bootstrap: this classification state has no per-sample ranks")
        return T.ClassificationTable(
            {k: v for k, v in s.items()},
            config={
                "topk": evaluator.topk,
                "num_classes": evaluator.num_classes,
                # the macro / micro scores need a C x C matrix per replicate: only on request
                "with_confusion": metrics is None
                or any(not m.startswith(("top", "real_top")) for m in metrics),
            },
        )
    if name == "SegmentationEvaluator":
        cells = evaluator.frame_cells()
        if cells is None:
            raise MetricInputError("bootstrap: this segmentation state has no per-frame cells")
        off, idx, cnt = cells
        c = evaluator.num_classes
        return T.SegmentationTable(
            {}, {"cells": (off, np.stack([idx, cnt], axis=1))}, config={"shape": (c, c + 1)}
        )
    if name == "CityscapesEvaluator":
        f = evaluator.frames()
        if f is None:
            raise MetricInputError("bootstrap: this Cityscapes state has no per-frame statistics")
        st = evaluator.stats()
        inst = np.stack([st.inst_label, st.inst_size, st.inst_tp, st.inst_cat_tp], axis=1)
        inst_off = np.zeros(len(f["inst_count"]) + 1, np.int64)
        np.cumsum(f["inst_count"], out=inst_off[1:])
        return T.CityscapesTable(
            {"has_instances": f["has_instances"]},
            {
                "cells": (f["offsets"], np.stack([f["cell_index"], f["cell_count"]], axis=1)),
                "instances": (inst_off, inst),
            },
        )
    if name == "CaptionEvaluator":
        return _caption_table(evaluator, metrics)
    if name == "SceneGraphEvaluator":
        st = evaluator.state_dict()
        n_rels = st["num_gt_relations"]
        off = np.zeros(len(n_rels) + 1, np.int64)
        np.cumsum(n_rels, out=off[1:])
        rel = np.stack(
            [st["predicate"], st["gc_rank"], st["ng_rank"], st["zero_shot"].astype(np.int64)],
            axis=1,
        )
        return T.SceneGraphTable(
            {},
            {"relations": (off, rel)},
            config={
                "ks": evaluator.ks,
                "num_predicates": evaluator.num_predicates,
                "zero_shot": evaluator._train_keys is not None,
            },
        )
    table = getattr(evaluator, "sample_table", None)
    if callable(table):
        return table()
    raise MetricInputError(f"bootstrap: no per-sample statistics for a {name}")


def _caption_table(evaluator: Any, metrics: Iterable[str] | None) -> Any:
    """The per-caption statistics of a ``CaptionEvaluator`` (only those of the wanted
    metrics: METEOR / SPICE may run their jar here when :meth:`compute` has not)."""
    from visionbench.metrics import sample_tables as T
    from visionbench.metrics.captioning.bleu import ORDER
    from visionbench.metrics.captioning.cider import cider_sample_statistics

    want = None if metrics is None else set(metrics)

    def wanted(*names: str) -> bool:
        return want is None or any(n in want for n in names)

    ev, c = evaluator, evaluator.config
    ev._tokenize_raw()  # ptb-java states tokenise lazily
    cols: dict[str, np.ndarray] = {}
    ragged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    config = dict(c)
    have_tokens = bool(ev._hyp_tok)
    if c["coco"] and ev._coco and wanted(*(f"bleu{k}" for k in range(1, ORDER + 1))):
        cols["coco"] = np.concatenate(ev._coco)
    if c["sacrebleu"] and ev._sacre and wanted("sacrebleu"):
        cols["sacre"] = np.concatenate(ev._sacre)
    if c["rouge_l"] and have_tokens and wanted("rouge_l"):
        cols["rouge_l"] = np.asarray(ev._rouge, dtype=np.float64)
    if c["meteor"] and have_tokens and wanted("meteor"):
        cols["meteor"] = ev.meteor_statistics()
    if c["spice"] and have_tokens and wanted("spice"):
        cols["spice"] = np.asarray(ev.spice_per_caption(), dtype=np.float64)
    if c["cider_d"] and have_tokens and wanted("cider_d"):
        st = cider_sample_statistics(ev._cider_hyp, ev._cider_ref)
        cols["nrefs"], cols["cider_hyp_len"] = st["nrefs"], st["hyp_len"]
        for k in ("hyp", "ref", "ref_len"):
            ragged[f"cider_{k}"] = st[k]
        config["cider_vocab"] = st["vocab"]
    if not cols:
        raise MetricInputError("bootstrap: no per-caption statistics in this caption state")
    return T.CaptionTable(cols, ragged, config=config)


def resample_weights(n: int, B: int, seed: int, *, chunk: int = _CHUNK) -> Iterable[np.ndarray]:
    """Draw counts ``[b, n]`` (chunks of at most ``chunk`` replicates, ``B`` in all): row j
    counts how often each of the n samples is drawn in replicate j. The draws are
    ``rng.choice(n, size=(b, n), replace=True)`` of one ``default_rng(seed)``, as sacreBLEU
    draws its bootstrap indices."""
    if n < 1:
        raise MetricInputError("bootstrap: no samples to resample")
    rng = np.random.default_rng(seed)
    done = 0
    while done < B:
        b = min(chunk, B - done)
        idx = rng.choice(n, size=(b, n), replace=True)
        rows = np.repeat(np.arange(b), n) * n + idx.ravel()
        yield np.bincount(rows, minlength=b * n).reshape(b, n)
        done += b


def replicates(
    table: Any, *, B: int = DEFAULT_B, seed: int = 0, metrics: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Metric name -> ``[B]`` replicate values (draws over the samples sorted by id)."""
    n = len(table)
    order = np.argsort(np.asarray(table.sample_ids), kind="stable")
    want = None if metrics is None else set(metrics)
    out: dict[str, list[np.ndarray]] = {}
    for w_sorted in resample_weights(n, B, seed):
        w = np.empty_like(w_sorted)
        w[:, order] = w_sorted
        for k, v in table.metrics(w).items():
            if want is None or k in want:
                out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles (linear interpolation)
    of the finite replicate values; NaN when none is finite."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not 0 < level < 1:
        raise MetricInputError(f"level: expected a value in (0, 1), got {level}")
    if v.size == 0:
        return float("nan"), float("nan")
    # rounded: 50 * (1 - 0.95) is 2.5000000000000022 in floating point
    lo, hi = np.percentile(v, [round(50 * (1 - level), 10), round(50 * (1 + level), 10)])
    return float(lo), float(hi)


def basic_interval(values: np.ndarray, estimate: float, level: float = 0.95) -> tuple[float, float]:
    """The basic bootstrap interval ``(2 t - q_hi, 2 t - q_lo)`` of the full-set value
    ``t``, with ``q_lo, q_hi`` the percentiles of :func:`percentile_interval`."""
    lo, hi = percentile_interval(values, level)
    t = float(estimate)
    return 2.0 * t - hi, 2.0 * t - lo


def bootstrap_intervals(
    evaluator: Any,
    *,
    B: int = DEFAULT_B,
    seed: int = 0,
    level: float = 0.95,
    metrics: Iterable[str] | None = None,
    method: str = "percentile",
) -> dict[str, dict[str, Any]]:
    """Bootstrap intervals of an evaluator's metrics (percentile, or basic).

    Args:
        evaluator: any evaluator of the metrics core (or a sample table).
        B: number of replicates. seed: the ``default_rng`` seed. level: coverage.
        metrics: metric names to keep (default: every metric the table scores).
        method: ``"percentile"`` (default) or ``"basic"`` (reverse percentile around the
            full-set value, which the table scores with every sample drawn once).

    Returns:
        name -> ``{"low", "high", "level", "method", "B", "seed", "mean"}`` (the run-record
        ``ci``; ``mean``: of the finite replicate values).
    """
    name_of_method = _method_name(method)
    if int(B) < 1:
        raise MetricInputError(f"B: expected a positive number of replicates, got {B}")
    table = (
        evaluator
        if hasattr(evaluator, "metrics") and hasattr(evaluator, "sample_ids")
        else (sample_table(evaluator, metrics=metrics))
    )
    reps = replicates(table, B=int(B), seed=int(seed), metrics=metrics)
    full = table.metrics(np.ones((1, len(table)), dtype=np.int64)) if method == "basic" else {}
    out = {}
    for name, values in reps.items():
        if method == "basic":
            lo, hi = basic_interval(values, float(full[name][0]), level)
        else:
            lo, hi = percentile_interval(values, level)
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        out[name] = {
            "low": lo, "high": hi, "level": float(level), "method": name_of_method,
            "B": int(B), "seed": int(seed),
            # the replicates' mean: minus the estimate, the bootstrap's bias (interpolated
            # AP is biased upward under resampling, so that its interval can exclude it)
            "mean": float(finite.mean()) if finite.size else float("nan"),
        }  # fmt: skip
    return out
