"""Paired significance tests between runs: ``bench compare RUN_A RUN_B [RUN_C ...]``.

The first run is the baseline; every other run is compared with it on the samples both
scored (COCO: the common image ids; other tasks: the same sample list -- same dataset
fingerprint and sample count), per headline metric. Two tests, with sacreBLEU's
conventions (``sacrebleu --paired-bs`` / ``--paired-ar``, ``sacrebleu/significance.py``):

* paired bootstrap: ``B`` resamples of the common samples, the same draws for both runs
  (``default_rng(seed).choice(m, (B, m))``); p = (#{ |d*_j| - mean|d*| > |d| } + 1) / (B + 1)
  where d is the observed difference and d*_j the replicate differences. The interval of
  the difference is the percentile interval of d*.
* approximate randomisation: ``trials`` times, each sample's statistics are swapped
  between the two runs with probability 1/2 (``default_rng(seed).integers(2, (T, m),
  dtype=bool)``); p = (#{ |X_j - Y_j| > |d| } + 1) / (T + 1).

For sacreBLEU the replicate scores are computed exactly as sacreBLEU computes them
(float32 sums of the per-caption statistics for the bootstrap, integer sums for the
randomisation), so the p-values equal sacreBLEU's for the same seed and sample count
(the default seed, 12345, is sacreBLEU's). Every other metric is rescored from the
per-sample statistics stored with each record (``<run_id>.samples.npz``, written by
``bench run`` / ``bench eval``); no predictions are re-read.

One deviation: when the observed difference is exactly zero, both p-values are 1.
sacreBLEU's counting (strictly greater, plus one) would give two identical systems the
smallest p-value, ``1 / (n + 1)``, i.e. call them significantly different; whenever
the systems differ, the p-values are sacreBLEU's.

Refused with one line: runs on different datasets (fingerprint), with different metric
signatures, without stored per-sample statistics, or without common samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import RunError

__all__ = ["compare_runs", "load_run", "format_comparison", "rank_groups", "SACREBLEU_SEED"]

SACREBLEU_SEED = 12345


def load_run(ref: str, results: Any = None) -> dict[str, Any]:
    """A run record by run id (under ``<results>/records``) or by the path of its JSON."""
    from visionbench.engine.records import results_dir

    p = Path(ref)
    if p.suffix != ".json" or not p.exists():
        p = results_dir(results) / "records" / f"{ref}.json"
    if not p.exists():
        raise RunError(f"compare: no run record {ref!r} (looked for {p})")
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"compare: cannot read run record {p}: {e}") from None
    rec["_dir"] = str(p.parent)
    return rec


def compare_runs(
    records: list[dict[str, Any]],
    *,
    metrics: list[str] | None = None,
    B: int = 1000,
    trials: int = 1000,
    seed: int = SACREBLEU_SEED,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Paired tests of every run against the first, per metric.

    Returns:
        rows ``{"baseline", "run", "metric", "baseline_value", "value", "difference",
        "ci_low", "ci_high", "p_bootstrap", "p_randomization", "samples", "B", "trials",
        "seed"}``; ``difference`` = run - baseline.
    """
    if len(records) < 2:
        raise RunError("compare: give at least two runs")
    base = records[0]
    for r in records[1:]:
        _check_comparable(base, r)
    base_table = _table(base)
    if metrics:
        names = list(metrics)
    else:  # the headline metrics the per-sample statistics can rescore
        scorable = set(base_table.metrics(np.ones((1, len(base_table)), np.int64)))
        names = [m for m in _headline(base) if m in scorable]
        if not names:
            raise RunError(f"compare: no metric of {base['run_id']} can be rescored per sample")
    rows = []
    for r in records[1:]:
        table = _table(r)
        ta, tb = _aligned(base, base_table, r, table)
        for name in names:
            if name not in base["metrics"] or name not in r["metrics"]:
                raise RunError(f"compare: metric {name!r} is not in both runs")
        rows += _test_pair(base, r, ta, tb, names, B=B, trials=trials, seed=seed, level=level)
    return rows


def format_comparison(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Table cells: run, metric, baseline, value, difference [interval], p (bs), p (ar)."""

    def f(v: Any) -> str:
        return "-" if v is None or not np.isfinite(v) else f"{v:.4g}"

    out = []
    for r in rows:
        out.append(
            [
                r["run"], r["metric"], f(r["baseline_value"]), f(r["value"]),
                f"{f(r['difference'])} [{f(r['ci_low'])}, {f(r['ci_high'])}]",
                f(r["p_bootstrap"]), f(r["p_randomization"]),
            ]
        )  # fmt: skip
    return out


# -- checks ---------------------------------------------------------------------------
def _check_comparable(a: dict[str, Any], b: dict[str, Any]) -> None:
    da, db = a.get("dataset", {}), b.get("dataset", {})
    if da.get("fingerprint") != db.get("fingerprint"):
        raise RunError(
            f"compare: {a['run_id']} and {b['run_id']} were scored on different ground truth "
            f"({da.get('name')} {da.get('fingerprint')} vs {db.get('name')} {db.get('fingerprint')})"
        )
    sa = {m.get("signature") for m in a["metrics"].values()}
    sb = {m.get("signature") for m in b["metrics"].values()}
    if sa != sb:
        raise RunError(
            f"compare: {a['run_id']} and {b['run_id']} use different protocols "
            f"({sorted(map(str, sa))} vs {sorted(map(str, sb))})"
        )


def _headline(rec: dict[str, Any]) -> list[str]:
    head = (rec.get("protocol") or {}).get("headline")
    if head:
        return [m for m in head if m in rec["metrics"]]
    with_ci = [m for m, v in rec["metrics"].items() if "ci" in v]
    return with_ci or list(rec["metrics"])


def _table(rec: dict[str, Any]) -> Any:
    from visionbench.engine.intervals import load_sample_table

    t = load_sample_table(rec, Path(rec["_dir"]).parent) if rec.get("_dir") else None
    if t is None:
        raise RunError(
            f"compare: run {rec['run_id']} has no stored per-sample statistics "
            "(records written before per-sample statistics, or with VISIONBENCH_BOOTSTRAP_B=0); "
            "re-score it with bench eval / bench run"
        )
    return t


def _aligned(a: dict, ta: Any, b: dict, tb: Any) -> tuple[Any, Any]:
    ia, ib = np.asarray(ta.sample_ids), np.asarray(tb.sample_ids)
    positional = type(ta).__name__ != "CocoSampleTable"
    if positional:
        if len(ia) != len(ib):
            raise RunError(
                f"compare: {a['run_id']} scored {len(ia)} samples and {b['run_id']} {len(ib)}; "
                "paired tests need the same samples"
            )
        return ta, tb
    common, pa, pb = np.intersect1d(ia, ib, return_indices=True)
    if len(common) == 0:
        raise RunError(f"compare: {a['run_id']} and {b['run_id']} have no image in common")
    if len(common) == len(ia) == len(ib):
        return ta.take(np.sort(pa)), tb.take(np.sort(pb))
    return ta.take(pa), tb.take(pb)


# -- the tests ------------------------------------------------------------------------
def _test_pair(
    base: dict, run: dict, ta: Any, tb: Any, names: list[str], *, B: int, trials: int,
    seed: int, level: float,
) -> list[dict[str, Any]]:  # fmt: skip
    from visionbench.metrics.bootstrap import percentile_interval, resample_weights

    m = len(ta)
    ones = np.ones((1, m), np.int64)
    va = {k: float(v[0]) for k, v in _scores(ta, names, ones, "ar").items()}
    vb = {k: float(v[0]) for k, v in _scores(tb, names, ones, "ar").items()}
    diff = {k: abs(va[k] - vb[k]) for k in names}
    # paired bootstrap: the same draws for both runs
    sa: dict[str, list[np.ndarray]] = {k: [] for k in names}
    sb: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for w in resample_weights(m, B, seed):
        for k, v in _scores(ta, names, w, "bs").items():
            sa[k].append(v)
        for k, v in _scores(tb, names, w, "bs").items():
            sb[k].append(v)
    # approximate randomisation: swap each sample's statistics with probability 1/2
    ar: dict[str, float] = dict.fromkeys(names, float("nan"))
    if trials > 0:
        stacked = ta.stacked(tb)
        rng = np.random.default_rng(seed)
        pos = rng.integers(2, size=(trials, m), dtype=bool)
        x = _scores(stacked, names, np.concatenate([pos, ~pos], axis=1).astype(np.int64), "ar")
        y = _scores(stacked, names, np.concatenate([~pos, pos], axis=1).astype(np.int64), "ar")
        for k in names:
            ar[k] = (np.sum(np.abs(x[k] - y[k]) > diff[k]).item() + 1) / (trials + 1)
            if diff[k] == 0:
                ar[k] = 1.0
    rows = []
    for k in names:
        a_, b_ = np.concatenate(sa[k]), np.concatenate(sb[k])
        sample_diffs = np.abs(b_ - a_)
        stats = sample_diffs - sample_diffs.mean()
        p_bs = (np.sum(stats > diff[k]).item() + 1) / (len(stats) + 1)
        if diff[k] == 0:  # identical scores: no evidence of a difference (see module doc)
            p_bs = 1.0
        lo, hi = percentile_interval(b_ - a_, level)
        rows.append(
            {
                "baseline": base["run_id"], "run": run["run_id"], "metric": k,
                "baseline_value": va[k], "value": vb[k], "difference": vb[k] - va[k],
                "ci_low": lo, "ci_high": hi, "level": level, "p_bootstrap": p_bs,
                "p_randomization": ar[k], "samples": m, "B": B, "trials": trials, "seed": seed,
            }
        )  # fmt: skip
    return rows


def _scores(table: Any, names: list[str], w: np.ndarray, test: str) -> dict[str, np.ndarray]:
    """name -> [b] values of each weighted replicate; sacreBLEU's own arithmetic for
    ``sacrebleu`` (float32 sums in the bootstrap, integer sums in the randomisation)."""
    w = np.asarray(w, np.int64)
    out: dict[str, np.ndarray] = {}
    rest = list(names)
    if "sacrebleu" in names and type(table).__name__ == "CaptionTable":
        out["sacrebleu"] = _sacrebleu_scores(table, w, test)
        rest.remove("sacrebleu")
    if rest:
        got = table.metrics(w)
        for k in rest:
            if k not in got:
                raise RunError(
                    f"compare: metric {k!r} cannot be rescored from per-sample statistics"
                )
            out[k] = got[k]
    return out


def _sacrebleu_scores(table: Any, w: np.ndarray, test: str) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    c = table.config
    bleu = BLEU(
        tokenize=c["sacrebleu_tokenize"], lowercase=c["lowercase"],
        smooth_method=c["smooth_method"], smooth_value=c["smooth_value"],
        effective_order=c["effective_order"],
    )  # fmt: skip
    sums = w @ table.columns["sacre"].astype(np.int64)
    if test == "bs":
        if sums.max(initial=0) >= 2**24:  # sacreBLEU's float32 sums would round
            raise RunError("compare: corpus too large for sacreBLEU's float32 statistics")
        sums = sums.astype(np.float32)
    return np.array([bleu._compute_score_from_stats(s).score for s in sums])


def rank_groups(
    records: list[dict[str, Any]],
    metric: str,
    *,
    alpha: float = 0.05,
    test: str = "p_randomization",
    B: int = 1000,
    trials: int = 1000,
    seed: int = SACREBLEU_SEED,
) -> list[dict[str, Any]]:
    """Rank runs on one metric and mark those not significantly different from the run
    ranked above them (for the leaderboard's rank groups).

    Runs are sorted by value (``higher_is_better`` of the metric entry, default True);
    each is tested against the run above it (paired, on their common samples); a p-value
    >= ``alpha`` or a zero difference keeps it in the group of the run above.

    Returns:
        rows ``{"run_id", "value", "rank", "group", "p_vs_above", "test"}`` in rank order;
        ``group`` starts at 1 and grows by one at each significant step.
    """
    if test not in ("p_randomization", "p_bootstrap"):
        raise RunError(f"rank_groups: test must be p_randomization or p_bootstrap, got {test!r}")
    rows = [r for r in records if (r["metrics"].get(metric) or {}).get("value") is not None]
    if not rows:
        return []
    hib = bool(rows[0]["metrics"][metric].get("higher_is_better", True))
    rows.sort(key=lambda r: r["metrics"][metric]["value"], reverse=hib)
    out = []
    group = 1
    for i, r in enumerate(rows):
        p = None
        if i:
            res = compare_runs([rows[i - 1], r], metrics=[metric], B=B, trials=trials, seed=seed)
            p = res[0][test]
            if res[0]["difference"] != 0 and p < alpha:
                group += 1
        out.append(
            {
                "run_id": r["run_id"], "value": r["metrics"][metric]["value"], "rank": i + 1,
                "group": group, "p_vs_above": p,
                "test": "approximate randomisation" if test == "p_randomization" else "paired bootstrap",
            }
        )  # fmt: skip
    return out
