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
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import RunError

__all__ = [
    "compare_runs",
    "load_run",
    "format_comparison",
    "rank_groups",
    "chain_tests",
    "paired_settings",
    "PairedTestCache",
    "SACREBLEU_SEED",
    "TEST_NAMES",
]

SACREBLEU_SEED = 12345

#: The name of each test, as the views print it.
TEST_NAMES = {"p_randomization": "approximate randomisation", "p_bootstrap": "paired bootstrap"}


def load_run(ref: str, results: Any = None) -> dict[str, Any]:
    """A run record by run id (under ``<results>/records``) or by the path of its JSON."""
    from visionbench.paths import records_dir

    p = Path(ref)
    if p.suffix != ".json" or not p.exists():
        p = records_dir(results) / f"{ref}.json"
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
    from visionbench.metrics.sample_tables import table_from_arrays
    from visionbench.records import read_samples

    arrays = read_samples(rec, Path(rec["_dir"]).parent) if rec.get("_dir") else None
    if arrays is None:
        raise RunError(
            f"compare: run {rec['run_id']} has no stored per-sample statistics "
            "(records written before per-sample statistics, or with VISIONBENCH_BOOTSTRAP_B=0); "
            "re-score it with bench eval / bench run"
        )
    return table_from_arrays(arrays)


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


# -- the tests the leaderboard views run ----------------------------------------------
def paired_settings() -> dict[str, int]:
    """Resamples and trials of the paired tests the leaderboard views run (rank groups,
    the report's table of paired differences): ``VISIONBENCH_PAIRED_B`` (default 1000,
    ``bench compare``'s default, so the views' p-values equal its output; 0: no tests)."""
    import os

    raw = os.environ.get("VISIONBENCH_PAIRED_B", "1000").strip()
    try:
        n = max(int(raw), 0)
    except ValueError:
        n = 1000
    return {"B": n, "trials": n, "seed": SACREBLEU_SEED}


class PairedTestCache:
    """Paired-test results on disk (one JSON file), keyed by the sha256 of both runs'
    per-sample statistics files and the test settings, so a view shown again does not
    redo the tests; the results are a function of that key alone. A cache that cannot be
    read or written is ignored (the tests are then run each time)."""

    VERSION = 1

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[str, Any] = {}
        self._dirty = False
        self._digests: dict[str, str | None] = {}
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if isinstance(data, dict) and data.get("version") == self.VERSION:
                    self._data = dict(data.get("entries") or {})
            except (OSError, ValueError):
                self._data = {}

    def digest(self, rec: dict[str, Any]) -> str | None:
        """The sha256 of a record's per-sample statistics file (None: it has none)."""
        import hashlib

        name = rec.get("samples_file")
        if not name or not rec.get("_dir"):
            return None
        p = Path(rec["_dir"]) / Path(name).name
        key = str(p)
        if key not in self._digests:
            try:
                self._digests[key] = hashlib.sha256(p.read_bytes()).hexdigest()
            except OSError:
                self._digests[key] = None
        return self._digests[key]

    def key(self, a: dict[str, Any], b: dict[str, Any], **settings: Any) -> str | None:
        da, db = self.digest(a), self.digest(b)
        if da is None or db is None:
            return None
        parts = [da, db] + [f"{k}={settings[k]}" for k in sorted(settings)]
        return "|".join(parts)

    def get(self, key: str | None) -> Any:
        return None if key is None else self._data.get(key)

    def put(self, key: str | None, value: Any) -> None:
        if key is not None:
            self._data[key] = value
            self._dirty = True

    def save(self) -> None:
        """Write the cache (atomically) when it changed; errors are ignored."""
        if self.path is None or not self._dirty:
            return
        from visionbench.records import atomic_write_bytes

        try:
            text = json.dumps({"version": self.VERSION, "entries": self._data}, allow_nan=True)
            atomic_write_bytes(self.path, text.encode())
            self._dirty = False
        except OSError:
            pass


def chain_tests(
    records: list[dict[str, Any]],
    *,
    B: int = 1000,
    trials: int = 1000,
    seed: int = SACREBLEU_SEED,
    level: float = 0.95,
    cache: PairedTestCache | None = None,
) -> list[dict[str, Any]]:
    """Each run tested against the nearest run above it (in the given order, the
    leaderboard's) that has per-sample statistics, on the headline metrics the statistics
    rescore (:func:`compare_runs` with that run as the baseline).

    Returns:
        one entry per record, in order: ``{"run_id", "above"`` (the run it was tested
        against, None for the first testable one)``, "rows"`` (:func:`compare_runs` rows,
        ``difference`` = run - above; None when not tested)``, "error"`` (why it was not
        tested: no per-sample statistics, a refusal of :func:`compare_runs`; else None)``}``.
        A run that could not be tested is skipped: the next is tested against the run
        above it.
    """
    cache = cache if cache is not None else PairedTestCache(None)
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for rec in records:
        entry: dict[str, Any] = {"run_id": rec["run_id"], "above": None, "rows": None,
                                 "error": None}  # fmt: skip
        out.append(entry)
        if not rec.get("samples_file") or cache.digest(rec) is None:
            entry["error"] = "no per-sample statistics (no samples file)"
            continue
        if prev is None:
            prev = rec
            continue
        entry["above"] = prev["run_id"]
        key = cache.key(prev, rec, B=B, trials=trials, seed=seed, level=level,
                        v=PairedTestCache.VERSION)  # fmt: skip
        got = cache.get(key)
        if got is None:
            try:
                got = {"rows": compare_runs([prev, rec], B=B, trials=trials, seed=seed,
                                            level=level)}  # fmt: skip
            except RunError as e:
                got = {"error": str(e).removeprefix("compare: ")}
                cache.put(key, got)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
                # an unreadable or malformed samples file: this run is not tested (not cached)
                got = {"error": f"unreadable per-sample statistics in {prev['samples_file']} "
                                f"or {rec['samples_file']} ({type(e).__name__})"}  # fmt: skip
            else:
                cache.put(key, got)
        if got.get("error"):
            entry["error"], entry["above"] = got["error"], None
            continue
        entry["rows"] = [{**r, "baseline": prev["run_id"], "run": rec["run_id"]}
                         for r in got["rows"]]  # fmt: skip
        prev = rec
    cache.save()
    return out


def groups_from_chain(
    chain: list[dict[str, Any]], metric: str, *, alpha: float = 0.05, test: str = "p_randomization"
) -> dict[str, dict[str, Any]]:
    """Rank groups from :func:`chain_tests` on one metric: run id -> ``{"group", "p",
    "above", "difference"}`` for every run that took part; the first is in group 1 and a
    run starts a new group when its difference to the run above is not zero and its
    p-value (``test``) is below ``alpha`` -- as :func:`rank_groups`."""
    out: dict[str, dict[str, Any]] = {}
    group = 0
    for e in chain:
        if e["error"]:
            continue
        if e["above"] is None:
            group += 1
            out[e["run_id"]] = {"group": group, "p": None, "above": None, "difference": None}
            continue
        row = next((r for r in e["rows"] if r["metric"] == metric), None)
        if row is None:
            continue
        p = row[test]
        if row["difference"] != 0 and p is not None and p < alpha:
            group += 1
        out[e["run_id"]] = {"group": group, "p": p, "above": e["above"],
                            "difference": row["difference"]}  # fmt: skip
    return out
