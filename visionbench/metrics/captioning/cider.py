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

__all__ = [
    "CIDER_N",
    "CIDER_SIGMA",
    "CiderWeighted",
    "cider_d",
    "cider_d_from_counts",
    "cider_ngram_counts",
    "cider_sample_statistics",
]

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


# -- bootstrap: CIDEr-D of weighted caption sets, vectorised -------------------------------


def cider_sample_statistics(
    hyp_counts: Sequence[NgramCounts], ref_counts: Sequence[Sequence[NgramCounts]]
) -> dict:
    """Per-caption CIDEr-D statistics with integer n-gram ids, for :func:`cider_d_weighted`.

    Returns:
        ``vocab`` (list of n-grams as space-joined strings; an n-gram's order is its number
        of tokens), ``hyp`` (``offsets [N + 1]``, ``[M, 2]`` rows: n-gram id, count),
        ``ref`` (``offsets [N + 1]``, ``[M', 3]`` rows: reference index within the image,
        n-gram id, count), ``ref_len`` (``offsets [N + 1]``, ``[R]`` bigram counts of each
        reference), ``hyp_len`` ([N] bigram counts), ``nrefs`` ([N]).
    """
    vocab: dict[tuple[str, ...], int] = {}
    hyp_rows: list[tuple[int, int]] = []
    ref_rows: list[tuple[int, int, int]] = []
    hyp_off, ref_off, rlen_off = [0], [0], [0]
    hyp_len, ref_len, nrefs = [], [], []
    for test, refs in zip(hyp_counts, ref_counts, strict=True):
        for g, tf in test.items():
            hyp_rows.append((vocab.setdefault(g, len(vocab)), tf))
        hyp_len.append(sum(tf for g, tf in test.items() if len(g) == 2))
        for j, ref in enumerate(refs):
            for g, tf in ref.items():
                ref_rows.append((j, vocab.setdefault(g, len(vocab)), tf))
            ref_len.append(sum(tf for g, tf in ref.items() if len(g) == 2))
        hyp_off.append(len(hyp_rows))
        ref_off.append(len(ref_rows))
        rlen_off.append(len(ref_len))
        nrefs.append(len(refs))
    i64 = np.int64
    return {
        "vocab": [" ".join(g) for g in vocab],
        "hyp": (np.array(hyp_off, i64), np.array(hyp_rows, i64).reshape(-1, 2)),
        "ref": (np.array(ref_off, i64), np.array(ref_rows, i64).reshape(-1, 3)),
        "ref_len": (np.array(rlen_off, i64), np.array(ref_len, i64)),
        "hyp_len": np.array(hyp_len, i64),
        "nrefs": np.array(nrefs, i64),
    }


class CiderWeighted:
    """CIDEr-D of weighted caption sets from :func:`cider_sample_statistics`.

    ``scores(w)`` for draw counts ``w [B, N]`` gives the corpus CIDEr-D of each set where
    image ``i`` appears ``w[b, i]`` times: the document frequencies and ``log N`` are those
    of the weighted reference corpus (``df_w(g) = sum_i w_i [g in the references of i]``,
    ``N_w = sum_i w_i``), as a full evaluation of the duplicated set computes them.

    The n-gram vectors are ``tf * idf``, so ``|v|^2 = sum tf^2 idf^2`` and the clipped dot
    product ``sum min(tf_h idf, tf_r idf) tf_r idf = sum min(tf_h, tf_r) tf_r idf^2``
    (idf >= 0): per replicate one sparse product of ``idf^2 [G]`` with fixed integer
    matrices gives every norm and every dot product of every caption. Same arithmetic as
    :func:`cider_d_from_counts` up to the order of the float additions (equal to ~1e-15
    relative, not bit for bit).
    """

    def __init__(self, stats: dict, *, n: int = CIDER_N, sigma: float = CIDER_SIGMA) -> None:
        from scipy import sparse

        self.n_order = n
        hyp_off, hyp = stats["hyp"]
        ref_off, ref = stats["ref"]
        rlen_off, ref_len = stats["ref_len"]
        hyp_len, nrefs = np.asarray(stats["hyp_len"]), np.asarray(stats["nrefs"])
        N = len(nrefs)
        G = len(stats["vocab"])
        order = np.array([g.count(" ") for g in stats["vocab"]], np.int64)  # k = len - 1
        self.N, self.nrefs = N, nrefs
        hyp_img = np.repeat(np.arange(N), np.diff(hyp_off))
        ref_img = np.repeat(np.arange(N), np.diff(ref_off))
        ref_global = rlen_off[ref_img] + ref[:, 0]  # the reference's index over the corpus
        R = int(rlen_off[-1])
        self.ref_image = np.repeat(np.arange(N), np.diff(rlen_off))
        self.ref_starts = rlen_off[:-1]
        # document incidence [G, N]: n-gram g in some reference of image i
        key = np.unique(ref_img * max(G, 1) + ref[:, 1])
        self.incidence = sparse.csr_matrix(
            (np.ones(len(key)), (key % max(G, 1), key // max(G, 1))), shape=(G, N)
        )
        # squared norms: row c * n + k, c = image i (hypothesis) or N + r (reference r)
        rows = np.concatenate([hyp_img * n + order[hyp[:, 0]],
                               (N + ref_global) * n + order[ref[:, 1]]])  # fmt: skip
        cols = np.concatenate([hyp[:, 0], ref[:, 1]])
        tf2 = np.concatenate([hyp[:, 1], ref[:, 2]]).astype(np.float64) ** 2
        self.norm_m = sparse.csr_matrix((tf2, (rows, cols)), shape=((N + R) * n, G))
        # clipped dot products: row r * n + k, n-grams in both the hypothesis and reference r
        hkey = hyp_img * max(G, 1) + hyp[:, 0]
        horder = np.argsort(hkey, kind="stable")
        rkey = ref_img * max(G, 1) + ref[:, 1]
        if len(hkey):
            pos = np.minimum(np.searchsorted(hkey[horder], rkey), len(hkey) - 1)
            both = hkey[horder][pos] == rkey
        else:
            pos, both = np.zeros(len(rkey), np.int64), np.zeros(len(rkey), bool)
        tf_h = hyp[horder][pos[both], 1]
        tf_r = ref[both, 2]
        self.dot_m = sparse.csr_matrix(
            (np.minimum(tf_h, tf_r).astype(np.float64) * tf_r,
             (ref_global[both] * n + order[ref[both, 1]], ref[both, 1])),
            shape=(R * n, G),
        )  # fmt: skip
        # length penalty per reference, as the reference computes it (Python floats)
        den = 2 * sigma**2
        delta = (hyp_len[self.ref_image] - ref_len).astype(np.int64)
        table = {int(d): np.e ** (-(float(d) ** 2) / den) for d in np.unique(delta)}
        self.penalty = np.array([table[int(d)] for d in delta], np.float64)

    def scores(self, w: np.ndarray) -> np.ndarray:
        """[B] corpus CIDEr-D of the weighted sets (NaN for an empty set)."""
        w = np.asarray(w, dtype=np.int64)
        n, N = self.n_order, self.N
        n_w = w.sum(axis=1).astype(np.float64)  # [B]
        df = np.asarray(self.incidence @ w.T.astype(np.float64))  # [G, B]
        with np.errstate(divide="ignore", invalid="ignore"):
            idf = np.log(n_w)[None, :] - np.log(np.maximum(1.0, df))
        idf *= idf
        norm = np.sqrt(np.asarray(self.norm_m @ idf)).reshape(-1, n, len(w))
        dot = np.asarray(self.dot_m @ idf).reshape(-1, n, len(w))
        den = norm[self.ref_image] * norm[N:]
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.where(den != 0, dot / den, dot)
        val *= self.penalty[:, None, None]
        per_ref = val.sum(axis=1)  # [R, B]
        per_image = np.add.reduceat(per_ref, self.ref_starts, axis=0) if N else per_ref[:0]
        per_image = per_image / n / self.nrefs[:, None] * 10.0  # [N, B]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.einsum("bi,ib->b", w.astype(np.float64), per_image) / n_w
