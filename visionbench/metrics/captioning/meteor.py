"""METEOR 1.5's corpus score from its per-segment statistics (pure numpy, no Java).

pycocoevalcap's METEOR (``meteor/meteor.py``) asks ``meteor-1.5.jar -stdio -l en -norm``
for one ``SCORE`` line per caption, which returns that caption's statistics (the best
reference's alignment), and then sends all of them on one ``EVAL`` line. The jar
(``Meteor.scoreStdio``, read with ``javap -c``) parses each statistics string
(``MeteorStats(String)``), prints its own score, adds it into one total
(``MeteorStats.addStats``: a field-by-field sum) and prints
``MeteorScorer.computeMetrics(total).score``: the corpus score is a function of the *sum*
of the per-caption statistics, not a mean of the per-caption scores.

So the corpus METEOR of any multiset of the captions -- a bootstrap replicate drawing
caption ``i`` ``w_i`` times -- is ``meteor_from_statistics(w @ S)`` with ``S`` the [N, 23]
statistics of the captions: exact, because a caption's statistics depend on that caption and
its references only (the aligner keeps no state across segments) and every field is an
integer count kept in a double, so the sums are exact in any order.

The statistics string (``MeteorStats.toString``, 23 numbers): test length, reference length,
test function words, reference function words; per matcher stage (exact, stem, synonym,
paraphrase) test content matches, reference content matches, test function matches,
reference function matches; chunks, test word matches, reference word matches.

:func:`meteor_from_statistics` repeats ``computeMetrics``' double operations in the
bytecode's order with the ``-l en`` parameters the jar prints (``Parameters: 0.85 0.2 0.6
0.75``, ``Weights: 1.0 0.6 0.8 0.6``, task "rank"). The one operation whose last bit is not
pinned by IEEE 754 is ``Math.pow(frag, beta)``: HotSpot's intrinsic and the C library's
``pow`` (numpy) round differently for about 5 % of arguments (measured: 163 of 3,000
fragmentation values), so a score can differ from the jar's in its last bits: on 400 random
sums of statistics, 21 differed, by 1-3 ulp (about 1e-16 relative); the tests bound it at
8 ulp against pycocoevalcap on explicitly duplicated sets. The decomposition itself is
exact; only that last rounding is not reproduced.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METEOR_ALPHA",
    "METEOR_BETA",
    "METEOR_GAMMA",
    "METEOR_DELTA",
    "METEOR_MODULE_WEIGHTS",
    "METEOR_STATS_WIDTH",
    "meteor_from_statistics",
    "parse_meteor_statistics",
]

METEOR_ALPHA = 0.85
METEOR_BETA = 0.2
METEOR_GAMMA = 0.6
METEOR_DELTA = 0.75
METEOR_MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)  # exact, stem, synonym, paraphrase
_STAGES = len(METEOR_MODULE_WEIGHTS)
METEOR_STATS_WIDTH = 4 + 4 * _STAGES + 3


def parse_meteor_statistics(line: str) -> np.ndarray:
    """One ``SCORE`` answer of the jar (23 numbers separated by spaces) as float64 [23]."""
    values = np.array([float(v) for v in line.split()], dtype=np.float64)
    if values.shape != (METEOR_STATS_WIDTH,):
        raise ValueError(f"METEOR statistics: expected {METEOR_STATS_WIDTH} numbers, got {line!r}")
    return values


def meteor_from_statistics(totals: np.ndarray) -> np.ndarray:
    """METEOR scores of summed statistics (``MeteorScorer.computeMetrics``), vectorised.

    Args:
        totals: [..., 23] sums of per-caption statistics (:func:`parse_meteor_statistics`).

    Returns:
        [...] float64 scores, 0-1 (0 where the jar's score is NaN, e.g. no words at all).
    """
    t = np.asarray(totals, dtype=np.float64)
    if t.shape[-1] != METEOR_STATS_WIDTH:
        raise ValueError(f"METEOR statistics: expected [..., {METEOR_STATS_WIDTH}], got {t.shape}")
    alpha, beta, gamma, delta = METEOR_ALPHA, METEOR_BETA, METEOR_GAMMA, METEOR_DELTA
    test_len, ref_len, test_fn, ref_fn = (t[..., k] for k in range(4))
    stage = t[..., 4 : 4 + 4 * _STAGES].reshape(*t.shape[:-1], _STAGES, 4)
    chunks, test_words, ref_words = (t[..., 4 + 4 * _STAGES + k] for k in range(3))
    # MeteorStats(String): the total matches, summed stage by stage (content, then function)
    test_total = np.zeros(t.shape[:-1])
    ref_total = np.zeros(t.shape[:-1])
    for i in range(_STAGES):
        test_total = test_total + stage[..., i, 0]
        ref_total = ref_total + stage[..., i, 1]
        test_total = test_total + stage[..., i, 2]
        ref_total = ref_total + stage[..., i, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        test_wlen = delta * (test_len - test_fn) + (1.0 - delta) * test_fn
        ref_wlen = delta * (ref_len - ref_fn) + (1.0 - delta) * ref_fn
        test_wm = np.zeros(t.shape[:-1])
        ref_wm = np.zeros(t.shape[:-1])
        for i, mw in enumerate(METEOR_MODULE_WEIGHTS):
            test_wm = test_wm + (stage[..., i, 0] * mw) * delta
        for i, mw in enumerate(METEOR_MODULE_WEIGHTS):
            ref_wm = ref_wm + (stage[..., i, 1] * mw) * delta
        for i, mw in enumerate(METEOR_MODULE_WEIGHTS):
            test_wm = test_wm + (stage[..., i, 2] * mw) * (1.0 - delta)
        for i, mw in enumerate(METEOR_MODULE_WEIGHTS):
            ref_wm = ref_wm + (stage[..., i, 3] * mw) * (1.0 - delta)
        precision = test_wm / test_wlen
        recall = ref_wm / ref_wlen
        f_mean = 1.0 / ((1.0 - alpha) / precision + alpha / recall)
        perfect = (test_total == test_len) & (ref_total == ref_len) & (chunks == 1.0)
        frag = np.where(perfect, 0.0, chunks / ((test_words + ref_words) / 2.0))
        penalty = gamma * np.power(frag, beta)
        score = f_mean * (1.0 - penalty)
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))
