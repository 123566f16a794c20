"""VOC bootstrap replicates: each equals VOCEvaluator.compute() on the explicitly
resampled image set (images duplicated under new ids, copies adjacent), on random cases
with tied scores; the per-image state survives merge and state_dict."""

from __future__ import annotations

import numpy as np
import pytest

from tests.metrics.test_voc import CLASSES, feed, random_problem
from visionbench.metrics.bootstrap import bootstrap_intervals, sample_table
from visionbench.metrics.detection.voc import VOCEvaluator
from visionbench.metrics.sample_tables import table_from_arrays


def _evaluator(method: str) -> VOCEvaluator:
    return VOCEvaluator(range(1, len(CLASSES) + 1), ap_method=method, class_names=CLASSES)


def _tied(images, rng):
    """Round scores to 1 decimal: many ties inside and across images."""
    return [
        (n, db, dl, [round(s, 1) for s in ds], gb, gl, gd) for n, db, dl, ds, gb, gl, gd in images
    ]


@pytest.mark.parametrize("method", ["11point", "allpoint"])
@pytest.mark.parametrize("seed", range(6))
def test_replicate_equals_the_duplicated_set(method, seed):
    rng = np.random.default_rng(seed)
    _, _, images = random_problem(rng, int(rng.integers(3, 25)))
    if seed % 2:
        images = _tied(images, rng)
    ev = feed(_evaluator(method), images)
    table = sample_table(ev)
    assert list(table.sample_ids) == [im[0] for im in images]
    weights = rng.multinomial(len(images), np.full(len(images), 1 / len(images)), size=5)
    weights[0] = 1  # the identity draw is the evaluation itself
    got = table.metrics(weights)
    for b, w in enumerate(weights):
        dup = []
        for im, k in zip(images, w):
            dup += [(f"{im[0]}#{c}", *im[1:]) for c in range(k)]
        want = feed(_evaluator(method), dup).compute().metrics
        for name, v in want.items():
            assert (np.isnan(v) and np.isnan(got[name][b])) or got[name][b] == v, (b, name)


def test_state_dict_merge_and_storage_keep_the_per_image_statistics():
    rng = np.random.default_rng(7)
    _, _, images = random_problem(rng, 30)
    whole = feed(_evaluator("allpoint"), images)
    a, b = feed(_evaluator("allpoint"), images[:12]), feed(_evaluator("allpoint"), images[12:])
    a.merge(b)
    restored = _evaluator("allpoint")
    restored.load_state_dict(a.state_dict())
    w = rng.multinomial(30, np.full(30, 1 / 30), size=4)
    ref = sample_table(whole).metrics(w)
    for ev in (a, restored):
        t = sample_table(ev)
        again = table_from_arrays(t.to_arrays())
        for got in (t.metrics(w), again.metrics(w)):
            assert got.keys() == ref.keys()
            for k in ref:
                np.testing.assert_array_equal(got[k], ref[k])
    ci = bootstrap_intervals(whole, B=200, seed=0, metrics=["mAP"])["mAP"]
    assert ci["low"] <= ci["high"] and ci["B"] == 200
