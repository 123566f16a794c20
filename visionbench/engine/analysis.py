"""Error analysis for a run record, from the evaluator's state (no re-inference).

:func:`attach_analysis` is called once at record assembly (``bench run`` and
``bench eval``, beside :func:`~visionbench.engine.intervals.attach_intervals`) and fills
``record["analysis"]`` with what the protocol declares (``Protocol.per_sample``,
``Protocol.analyses_for()``; the engine never branches on a task):

- ``worst`` (every protocol with a per-sample score): the ``k`` worst samples by
  ``Protocol.per_sample_scores(result)``; ``direction`` says which way is better
  (``"higher"``: the worst are the lowest); samples whose score is undefined (NaN) are
  not listed;
- ``confused_pairs`` (``"confused_pairs"``): the largest off-diagonal cells of the
  result's confusion matrix (``Draws.confusion``), ``fraction`` = count / samples (pixels)
  of the true class;
- ``calibration`` (``"calibration"``): ECE / MCE with 15 equal-width bins, as torchmetrics'
  ``MulticlassCalibrationError`` (:mod:`visionbench.metrics.calibration`), and the
  reliability diagram's 15 bins (torchmetrics' extra bin of confidences exactly 1.0 is
  folded into the last one for the diagram only; ECE / MCE are torchmetrics');
- ``per_sample`` (``"per_sample"``): quantiles and a 10-bin histogram of the per-sample
  score (per-frame mIoU for segmentation);
- ``threshold_sweep`` (``"threshold_sweep"``): ``Protocol.threshold_sweep(result)``;
- ``tide`` (``"tide"``): ``Protocol.tide(result)``.

Every key is optional. A failure never fails the run: the piece is left out and a
warning names the reason. ``VISIONBENCH_ANALYSIS=0`` turns the whole analysis off.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

__all__ = ["attach_analysis", "build_analysis", "K_WORST", "N_BINS"]

K_WORST = 10
N_BINS = 15  # calibration bins (torchmetrics' default)
_QUANTILES = {"p05": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}


def attach_analysis(
    record: dict[str, Any], result: Any, protocol: Any, *, k: int = K_WORST, evaluator: Any = None
) -> None:
    """Fill ``record["analysis"]`` (see the module docstring); never raises.

    ``evaluator``: the scorer's evaluator, for results that do not carry theirs."""
    if result is None or protocol is None:
        return
    if os.environ.get("VISIONBENCH_ANALYSIS", "1").strip() in ("0", "false", "no", "off"):
        return
    try:
        if getattr(result, "evaluator", None) is None and evaluator is not None:
            import dataclasses

            result = dataclasses.replace(result, evaluator=evaluator)
        analysis = build_analysis(result, protocol, k=k)
    except Exception as e:  # noqa: BLE001 - the analysis must never fail a run
        warnings.warn(f"no error analysis for this run: {type(e).__name__}: {e}", stacklevel=2)
        return
    if analysis:
        record["analysis"] = analysis


def build_analysis(result: Any, protocol: Any, *, k: int = K_WORST) -> dict[str, Any]:
    """The analysis dict (JSON values; NaN as None); a failing piece is left out with a
    warning."""
    out: dict[str, Any] = {}
    declared = tuple(protocol.analyses_for())
    per_sample = None
    if getattr(protocol, "per_sample", None) is not None:
        per_sample = _piece("worst", lambda: protocol.per_sample_scores(result))
        if per_sample is not None:
            out["worst"] = _worst(*per_sample, k=k)
    steps = {
        "confused_pairs": lambda: _confused_pairs(result, protocol, k),
        "calibration": lambda: _calibration(result),
        "per_sample": lambda: _distribution(*per_sample) if per_sample is not None else None,
        "threshold_sweep": lambda: protocol.threshold_sweep(result),
        "tide": lambda: _tide(protocol.tide(result)),
    }
    for name in declared:
        if name in steps:
            value = _piece(name, steps[name])
            if value is not None:
                out[name] = value
    return _jsonable(out)


def _piece(name: str, fn: Any) -> Any:
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        warnings.warn(f"error analysis {name!r} left out: {type(e).__name__}: {e}", stacklevel=3)
        return None


def _worst(what: Any, ids: Any, scores: Any, *, k: int) -> dict[str, Any]:
    from visionbench.metrics.error_analysis import worst_samples

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ids = list(ids)
    if len(ids) != len(s):
        raise ValueError(f"{len(ids)} sample ids for {len(s)} scores")
    finite = np.flatnonzero(np.isfinite(s))
    key = s[finite] if what.higher_is_better else -s[finite]
    rows = worst_samples(key, finite, k=k)
    return {
        "by": what.name,
        "direction": "higher" if what.higher_is_better else "lower",
        "k": int(k),
        "samples": [
            {"id": ids[int(r["sample_id"])], "score": float(s[int(r["sample_id"])])} for r in rows
        ],  # fmt: skip
    }


def _distribution(what: Any, ids: Any, scores: Any) -> dict[str, Any] | None:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return None
    q = np.percentile(s, list(_QUANTILES.values()))
    lo, hi = (0.0, 1.0) if s.min() >= 0 and s.max() <= 1 else (float(s.min()), float(s.max()))
    counts, edges = np.histogram(s, bins=10, range=(lo, hi))
    return {
        "metric": what.name,
        "n": int(len(s)),
        "quantiles": {name: float(v) for name, v in zip(_QUANTILES, q)},
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _confused_pairs(result: Any, protocol: Any, k: int) -> list[dict[str, Any]] | None:
    from visionbench.metrics.error_analysis import most_confused_pairs

    draws = protocol.draws_for()
    if not draws.confusion or draws.confusion not in result.arrays:
        return None
    conf = np.asarray(result.arrays[draws.confusion])
    names = list(draws.confusion_names or getattr(protocol.label_space, "names", ()) or ())
    if len(names) != conf.shape[0]:
        names = [str(i) for i in range(conf.shape[0])]
    rows = most_confused_pairs(conf, k=k, names=names)
    return [
        {"true": r["true"], "pred": r["predicted"], "count": r["count"], "fraction": r["share"]}
        for r in rows
    ]


def _calibration(result: Any) -> dict[str, Any] | None:
    from visionbench.metrics.calibration import calibration_error

    ev = result.evaluator
    probs = getattr(ev, "probabilities", None)
    p = probs() if callable(probs) else None
    if p is None:
        return None
    c = calibration_error(p["confidence"], p["correct"], n_bins=N_BINS)
    count = c["bin_count"].astype(np.int64)
    conf_sum = c["bin_confidence"].astype(np.float64) * count
    acc_sum = c["bin_accuracy"].astype(np.float64) * count
    # the diagram: torchmetrics' bin of confidences == 1.0 folded into the last bin
    count = np.r_[count[: N_BINS - 1], count[N_BINS - 1 :].sum()]
    conf_sum = np.r_[conf_sum[: N_BINS - 1], conf_sum[N_BINS - 1 :].sum()]
    acc_sum = np.r_[acc_sum[: N_BINS - 1], acc_sum[N_BINS - 1 :].sum()]
    with np.errstate(invalid="ignore", divide="ignore"):
        conf_bin = np.where(count > 0, conf_sum / np.maximum(count, 1), np.nan)
        acc_bin = np.where(count > 0, acc_sum / np.maximum(count, 1), np.nan)
    return {
        "ece": c["ece"],
        "mce": c["mce"],
        "n_bins": N_BINS,
        "bins": {
            "edges": np.linspace(0.0, 1.0, N_BINS + 1).tolist(),
            "confidence": conf_bin.tolist(),
            "accuracy": acc_bin.tolist(),
            "count": count.tolist(),
        },
    }


def _tide(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("dAP", "special", "ap", "counts", "pos_threshold", "bg_threshold", "max_dets",
            "definition")  # fmt: skip
    return {key: t[key] for key in keys if key in t}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
