"""CIDEr-D as the COCO-caption evaluation computes it (pycocoevalcap ``Cider``).

pycocoevalcap's ``Cider`` scorer (``cider/cider_scorer.py``; Vedantam et al. 2015) is the
CIDEr-D variant that every captioning paper reports as "CIDEr": per image, n-gram TF-IDF
vectors for n = 1..4 of the hypothesis and of each reference; document frequencies ``df``
counted over the references of the *evaluated corpus* (an n-gram counts once per image);
``idf = log(N) - log(max(1, df))`` with N the number of images; per n the clipped cosine
``sum_g min(h_g, r_g) * r_g / (|h| |r|)`` times the Gaussian length penalty
``exp(-(l_h - l_r)^2 / (2 sigma^2))``, sigma = 6; mean over n, mean over references, x10;
corpus score the mean over images. Two details of the reference are kept because they
change numbers: the "length" in the penalty is the number of *bigrams* of a caption (the
reference counts ``term_freq`` where ``len(ngram) - 1 == 1``), and the idf of an n-gram that
no reference of the corpus holds is ``log(N)``.

The same float operations in the same order as the reference (n-gram dictionaries in
insertion order, numpy scalars where it uses them), so the numbers are bit-identical.
Input captions are already tokenised (tokens separated by whitespace);
:class:`visionbench.metrics.captioning.evaluator.CaptionEvaluator` tokenises raw captions first.

Sufficient statistics: per caption the n-gram counts (:func:`cider_ngram_counts`) of the
hypothesis and of each reference. The document frequencies depend on the whole corpus, so
they are computed only in :func:`cider_d_from_counts`, from the merged counts: shards merge
exactly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

__all__ = ["CIDER_N", "CIDER_SIGMA", "cider_d", "cider_d_from_counts", "cider_ngram_counts"]

CIDER_N = 4
CIDER_SIGMA = 6.0

NgramCounts = dict[tuple[str, ...], int]


def cider_ngram_counts(caption: str, n: int = CIDER_N) -> NgramCounts:
    """n-gram counts (n = 1..``n``) of one tokenised caption, in pycocoevalcap's order.

    Args:
        caption: tokens separated by whitespace.
        n: highest n-gram order.

    Returns:
        ``{(token, ...): count}``: all 1-grams in order of first occurrence, then 2-grams, ...
    """
    words = caption.split()
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


def cider_d(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n: int = CIDER_N,
    sigma: float = CIDER_SIGMA,
) -> tuple[float, np.ndarray]:
    """Corpus CIDEr-D of tokenised captions (pycocoevalcap ``Cider().compute_score``).

    Args:
        hypotheses: N tokenised captions.
        references: N lists of tokenised references, ``references[i]`` for ``hypotheses[i]``
            (at least one each).
        n, sigma: n-gram order and length-penalty width (4 and 6 in COCO-caption).

    Returns:
        ``(score, per_caption)``: the corpus score (mean of ``per_caption``) and [N] float64
        per-image scores. Scale: 0 .. 10 * (in practice below 10); higher is better.
    """
    hyp_counts = [cider_ngram_counts(h, n) for h in hypotheses]
    ref_counts = [[cider_ngram_counts(r, n) for r in refs] for refs in references]
    return cider_d_from_counts(hyp_counts, ref_counts, n=n, sigma=sigma)


def cider_d_from_counts(
    hyp_counts: Sequence[NgramCounts],
    ref_counts: Sequence[Sequence[NgramCounts]],
    *,
    n: int = CIDER_N,
    sigma: float = CIDER_SIGMA,
) -> tuple[float, np.ndarray]:
    """CIDEr-D from per-caption n-gram counts (:func:`cider_ngram_counts`).

    The document frequencies are taken from ``ref_counts``, i.e. from this corpus.

    Returns:
        As :func:`cider_d`. An empty corpus gives ``(nan, [])``.
    """
    if len(hyp_counts) != len(ref_counts):
        raise ValueError(f"{len(hyp_counts)} hypotheses but {len(ref_counts)} reference lists")
    if not hyp_counts:
        return float("nan"), np.zeros(0, dtype=np.float64)
    document_frequency: dict[tuple[str, ...], float] = defaultdict(float)
    for refs in ref_counts:
        for ngram in {ngram for ref in refs for ngram in ref}:
            document_frequency[ngram] += 1
    ref_len = np.log(float(len(ref_counts)))
    penalty_den = 2 * sigma**2

    def counts2vec(cnts: NgramCounts) -> tuple[list[dict], list, int]:
        vec: list[dict[tuple[str, ...], float]] = [defaultdict(float) for _ in range(n)]
        length = 0
        norm = [0.0 for _ in range(n)]
        for ngram, term_freq in cnts.items():
            df = np.log(max(1.0, document_frequency.get(ngram, 0.0)))
            k = len(ngram) - 1
            vec[k][ngram] = float(term_freq) * (ref_len - df)
            norm[k] += pow(vec[k][ngram], 2)
            if k == 1:  # sic: the reference counts bigrams as the caption length
                length += term_freq
        return vec, [np.sqrt(v) for v in norm], length

    scores = []
    for test, refs in zip(hyp_counts, ref_counts, strict=True):
        vec, norm, length = counts2vec(test)
        score = np.array([0.0 for _ in range(n)])
        for ref in refs:
            vec_ref, norm_ref, length_ref = counts2vec(ref)
            delta = float(length - length_ref)
            val = np.array([0.0 for _ in range(n)])
            for k in range(n):
                for ngram in vec[k]:
                    r = vec_ref[k].get(ngram, 0.0)
                    val[k] += min(vec[k][ngram], r) * r
                if (norm[k] != 0) and (norm_ref[k] != 0):
                    val[k] /= norm[k] * norm_ref[k]
                if math.isnan(val[k]):
                    raise ValueError("CIDEr-D: NaN similarity")  # the reference asserts too
                val[k] *= np.e ** (-(delta**2) / penalty_den)
            score += val
        score_avg = np.mean(score)
        score_avg /= len(refs)
        score_avg *= 10.0
        scores.append(score_avg)
    per_caption = np.array(scores, dtype=np.float64)
    return float(np.mean(per_caption)), per_caption
