"""Rank groups of the leaderboard views: which models are not significantly better than
the model ranked above them.

Within each (dataset, split, task) the ranked (full) runs, in rank order, are each tested
against the run above (:func:`~visionbench.leaderboard.compare.chain_tests`: paired
tests on the per-sample statistics stored beside the records, ``bench compare``'s tests
with its defaults); a run stays in the group of the run above when the approximate-
randomisation p-value on the ranking metric is at least :data:`ALPHA` (or the difference
is zero), else it starts the next group. A run without per-sample statistics (records
written before them, or with ``VISIONBENCH_BOOTSTRAP_B=0``) has no group; the next run is
tested against the one above it. Results are cached in
``<results>/paired-tests.cache.json`` (:class:`~visionbench.leaderboard.compare.PairedTestCache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from visionbench.leaderboard.compare import (
    TEST_NAMES,
    PairedTestCache,
    chain_tests,
    groups_from_chain,
    load_run,
    paired_settings,
)

__all__ = ["ALPHA", "TEST", "CACHE_NAME", "rank_group_info", "records_dir_of"]

#: Significance level of the rank groups.
ALPHA = 0.05
#: The test the rank groups use (``compare_runs`` row key).
TEST = "p_randomization"
#: The cache file of the paired tests, in the results directory.
CACHE_NAME = "paired-tests.cache.json"


def records_dir_of(frame: pd.DataFrame, results: Any = None) -> Path:
    """The records folder behind a leaderboard table: ``results`` when given, else the one
    :func:`~visionbench.leaderboard.table.load_long` noted in ``attrs``, else the default."""
    from visionbench.paths import results_dir

    root = results if results is not None else frame.attrs.get("results")
    return results_dir(root) / "records"


def rank_group_info(wide: pd.DataFrame, results: Any = None) -> dict[tuple[str, str, str], Any]:
    """Rank groups of every display group of a pivot with at least two ranked runs.

    Returns ``(dataset, split, task) -> {"column", "metric", "test", "trials", "B", "seed",
    "alpha", "rows": {run_id: {"group", "p", "above", "difference"}}, "chain":
    chain_tests(...), "missing": [run ids without per-sample statistics]}``. Empty with
    ``VISIONBENCH_PAIRED_B=0``. (Not kept in ``wide.attrs``: pandas deep-copies those.)
    """
    settings = paired_settings()
    out: dict[tuple[str, str, str], Any] = {}
    if wide.empty or settings["trials"] == 0:
        return out
    folder = records_dir_of(wide, results)
    cache = PairedTestCache(folder.parent / CACHE_NAME)
    info = wide.attrs["columns"]
    for key, idx in wide.groupby(["task", "dataset", "split"], sort=False).groups.items():
        gkey = (key[1], key[2], key[0])
        col = wide.attrs["rank_by"].get(gkey)
        part = wide.loc[idx]
        ranked = part[part["rank"].notna()]
        if col is None or len(ranked) < 2:
            continue
        records = [_load(folder, str(r)) for r in ranked["run_id"]]
        chain = chain_tests(records, B=settings["B"], trials=settings["trials"],
                            seed=settings["seed"], cache=cache)  # fmt: skip
        metric = info[col]["metric"]
        out[gkey] = {
            "column": col, "metric": metric, "test": TEST_NAMES[TEST], "alpha": ALPHA,
            **settings, "rows": groups_from_chain(chain, metric, alpha=ALPHA, test=TEST),
            "chain": chain,
            "missing": [e["run_id"] for e in chain if e["error"] and "per-sample" in e["error"]],
        }  # fmt: skip
    return out


def _load(folder: Path, run_id: str) -> dict[str, Any]:
    """The record of a run (with ``_dir``); a bare stub when its file cannot be read (it
    then has no per-sample statistics and no group)."""
    from visionbench.errors import RunError

    try:
        return load_run(str(folder / f"{run_id}.json"))
    except RunError:
        return {"run_id": run_id}
