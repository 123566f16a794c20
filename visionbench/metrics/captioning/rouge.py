"""ROUGE-L as the COCO-caption evaluation computes it (pycocoevalcap ``Rouge``).

Per image (``rouge/rouge.py``; Lin 2004): the longest common subsequence (LCS) of the
hypothesis with each reference, tokens being the caption split on single spaces
(``str.split(" ")``, so an empty caption is one empty token, as in the reference);
``P = max_r LCS / len(hyp)``, ``R = max_r LCS / len(ref)`` (each maximised separately over
the references), ``F = (1 + beta^2) P R / (R + beta^2 P)`` with beta = 1.2, 0 when P or R is
0; corpus score the mean over images. Same float operations as the reference, so the numbers
are bit-identical. Scale 0-1, higher is better.

Sufficient statistics: the per-image score (it depends on that image alone); the corpus
score is their mean, so shards merge exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ROUGE_BETA", "lcs_length", "rouge_l", "rouge_l_sentence"]

ROUGE_BETA = 1.2


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def rouge_l_sentence(
    hypothesis: str, references: Sequence[str], *, beta: float = ROUGE_BETA
) -> float:
    """ROUGE-L F-score of one tokenised hypothesis against its tokenised references.

    Args:
        hypothesis: tokens separated by single spaces.
        references: at least one reference, tokens separated by single spaces.
        beta: recall weight (1.2 in COCO-caption).

    Raises:
        ValueError: no references.
    """
    if len(references) == 0:
        raise ValueError("ROUGE-L needs at least one reference")
    token_c = hypothesis.split(" ")
    prec, rec = [], []
    for reference in references:
        token_r = reference.split(" ")
        lcs = lcs_length(token_r, token_c)
        prec.append(lcs / float(len(token_c)))
        rec.append(lcs / float(len(token_r)))
    prec_max, rec_max = max(prec), max(rec)
    if prec_max != 0 and rec_max != 0:
        return ((1 + beta**2) * prec_max * rec_max) / float(rec_max + beta**2 * prec_max)
    return 0.0


def rouge_l(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], *, beta: float = ROUGE_BETA
) -> tuple[float, np.ndarray]:
    """Corpus ROUGE-L of tokenised captions (pycocoevalcap ``Rouge().compute_score``).

    Returns:
        ``(score, per_caption)``: the mean and the [N] float64 per-image F-scores (0-1).
        An empty corpus gives ``(nan, [])``.
    """
    per_caption = np.array(
        [rouge_l_sentence(h, r, beta=beta) for h, r in zip(hypotheses, references, strict=True)],
        dtype=np.float64,
    )
    if per_caption.size == 0:
        return float("nan"), per_caption
    return float(np.mean(per_caption)), per_caption
