"""BLEU for captions, in the two conventions in use: COCO-caption and sacreBLEU.

**COCO-caption BLEU-1..4** (:func:`coco_bleu`, metric names ``bleu1`` .. ``bleu4``, scale
0-1) reproduces pycocoevalcap's ``Bleu(4)`` scorer (``bleu/bleu_scorer.py``) exactly:
captions are split on whitespace; per caption, ``testlen``, the *closest* reference length
(ties to the shorter), ``guess_k = max(0, testlen-k+1)`` and clipped matches ``correct_k``;
corpus score ``prod_k (correct_k + 1e-15)/(guess_k + 1e-9)`` to the power ``1/n`` for
BLEU-n, times ``exp(1 - 1/ratio)`` when ``ratio = (testlen+1e-15)/(reflen+1e-9) < 1``; no
smoothing. The same float operations in the same order, so the numbers are bit-identical.
pycocoevalcap first runs the Java PTB tokenizer; here ``tokenize="ptb"`` (the default) runs
that same tokenizer when a Java runtime is found and otherwise the pure-Python
approximation :func:`visionbench.metrics.captioning.ptb_tokenizer.ptb_tokenize` (its docstring lists
where it may differ); ``"ptb-java"`` / ``"ptb-py"`` choose one, and ``tokenize="none"`` takes
captions that are already tokenised (lower-cased, punctuation removed, tokens separated by
spaces). The signature says which ran (``tok=ptb-java`` / ``tok=ptb-py``).

**sacreBLEU** (:func:`sacrebleu_corpus`, :func:`sacrebleu_sentence`, metric name
``sacrebleu``, scale 0-100) is computed by the ``sacrebleu`` package itself (tokenizer
``13a``, ``exp`` smoothing, case-sensitive by default); its own signature string
(``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.x.y``) is kept verbatim inside ours.

Both are corpus metrics built from per-caption integer sufficient statistics that add up,
so :class:`~visionbench.metrics.captioning.evaluator.CaptionEvaluator` (which also computes METEOR,
ROUGE-L, CIDEr-D and SPICE) shards and merges exactly.

Argument convention everywhere here: ``references[i]`` is the list of reference captions of
``hypotheses[i]`` (one list per image, any number >= 1 of references). This is the
transpose of sacrebleu's own "reference streams" argument.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from visionbench.metrics.base import MetricResult
from visionbench.metrics.errors import MetricInputError

__all__ = [  # and CaptionEvaluator, lazily (see __getattr__)
    "check_caption_inputs",
    "coco_bleu",
    "coco_bleu_statistics",
    "coco_scores",
    "sacrebleu_corpus",
    "sacrebleu_sentence",
]

ORDER = 4  # BLEU-1..4
_SMALL = 1e-9  # pycocoevalcap's constants, same names
_TINY = 1e-15


def coco_bleu(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    tokenize: str = "ptb",
) -> MetricResult:
    """COCO-caption BLEU-1..4 over a corpus (pycocoevalcap ``Bleu(4)``, option ``closest``).

    Args:
        hypotheses: N generated captions (``str``).
        references: N lists of reference captions; ``references[i]`` belongs to
            ``hypotheses[i]`` and holds at least one ``str``.
        tokenize: ``"ptb"`` (the Java PTB tokenizer when Java is found, else the pure-Python
            one), ``"ptb-java"``, ``"ptb-py"``, or ``"none"`` (captions already tokenised;
            split on whitespace only).

    Returns:
        ``MetricResult`` with ``bleu1`` .. ``bleu4`` (0-1, higher is better) and arrays
        ``statistics`` [N, 10] int64 (see :func:`coco_bleu_statistics`) and
        ``bleu1_per_caption`` .. ``bleu4_per_caption`` [N] (pycocoevalcap's per-image scores).

    Raises:
        MetricInputError: counts differ, a reference list is empty, an item is not a str,
            or the corpus is empty.
    """
    from visionbench.metrics.captioning.evaluator import CaptionEvaluator

    evaluator = CaptionEvaluator(tokenize=tokenize, sacrebleu=False, cider_d=False, rouge_l=False)
    evaluator.update(predictions=hypotheses, targets=references)
    return evaluator.compute()


def coco_bleu_statistics(hypothesis: str, references: Sequence[str]) -> list[int]:
    """Per-caption sufficient statistics of COCO-caption BLEU on tokenised text.

    Args:
        hypothesis: one tokenised caption (tokens separated by whitespace).
        references: its tokenised references (at least one).

    Returns:
        ``[testlen, reflen, guess_1..4, correct_1..4]`` (10 ints): hypothesis length, the
        closest reference length (ties to the shorter), the number of hypothesis k-grams and
        the number of them matched, clipped by the maximum count in any one reference.
    """
    words = hypothesis.split()
    testlen = len(words)
    max_ref: dict[tuple[str, ...], int] = {}
    ref_lens = []
    for ref in references:
        ref_words = ref.split()
        ref_lens.append(len(ref_words))
        for ngram, count in _ngrams(ref_words).items():
            if count > max_ref.get(ngram, 0):
                max_ref[ngram] = count
    reflen = min((abs(length - testlen), length) for length in ref_lens)[1]
    guess = [max(0, testlen - k + 1) for k in range(1, ORDER + 1)]
    correct = [0] * ORDER
    for ngram, count in _ngrams(words).items():
        correct[len(ngram) - 1] += min(max_ref.get(ngram, 0), count)
    return [testlen, reflen, *guess, *correct]


def sacrebleu_corpus(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = False,
) -> MetricResult:
    """Corpus sacreBLEU (``sacrebleu.corpus_bleu`` defaults), computed by sacrebleu.

    Args:
        hypotheses: N detokenised captions.
        references: N lists of references (``references[i]`` for ``hypotheses[i]``);
            the number of references may vary (sacrebleu's ``nrefs:var``).
        tokenize, lowercase, smooth_method, smooth_value, effective_order: as in
            ``sacrebleu.BLEU``.

    Returns:
        ``MetricResult`` with ``sacrebleu`` (0-100) and array ``statistics`` [N, 10]
        (``sys_len, ref_len, correct_1..4, total_1..4`` per caption, sacrebleu's order);
        the signature ends with sacrebleu's own signature string.
    """
    from visionbench.metrics.captioning.evaluator import CaptionEvaluator

    evaluator = CaptionEvaluator(
        coco=False,
        cider_d=False,
        rouge_l=False,
        sacrebleu_tokenize=tokenize,
        lowercase=lowercase,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        effective_order=effective_order,
    )
    evaluator.update(predictions=hypotheses, targets=references)
    return evaluator.compute()


def sacrebleu_sentence(
    hypothesis: str,
    references: Sequence[str],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = True,
) -> MetricResult:
    """Sentence-level sacreBLEU (``sacrebleu.sentence_bleu`` defaults: effective order on).

    Args:
        hypothesis: one detokenised caption.
        references: its references (at least one).

    Returns:
        ``MetricResult`` with ``sacrebleu`` (0-100).
    """
    return sacrebleu_corpus(
        [hypothesis],
        [references],
        tokenize=tokenize,
        lowercase=lowercase,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        effective_order=effective_order,
    )


def coco_scores(stats: list[int]) -> list[float]:
    """BLEU-1..4 from ``[testlen, reflen, guess_1..4, correct_1..4]``, pycocoevalcap's arithmetic."""
    testlen, reflen = stats[0], stats[1]
    guess, correct = stats[2 : 2 + ORDER], stats[2 + ORDER :]
    scores = []
    bleu = 1.0
    for k in range(ORDER):
        bleu *= float(correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(bleu ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def _ngrams(words: list[str]) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, ORDER + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


def check_caption_inputs(hypotheses: Any, references: Any) -> None:
    if isinstance(hypotheses, str) or not isinstance(hypotheses, Sequence):
        raise MetricInputError(
            f"hypotheses: expected a list of str, got {type(hypotheses).__name__}"
        )
    if isinstance(references, str) or not isinstance(references, Sequence):
        raise MetricInputError(
            f"references: expected a list of lists of str, got {type(references).__name__}"
        )
    if len(hypotheses) != len(references):
        raise MetricInputError(
            f"hypotheses and references: expected one reference list per hypothesis, got "
            f"{len(hypotheses)} hypotheses and {len(references)} reference lists"
        )
    for i, (hyp, refs) in enumerate(zip(hypotheses, references, strict=True)):
        if not isinstance(hyp, str):
            raise MetricInputError(f"hypotheses[{i}]: expected str, got {type(hyp).__name__}")
        if isinstance(refs, str) or not isinstance(refs, Sequence):
            raise MetricInputError(
                f"references[{i}]: expected a list of str, got {type(refs).__name__}"
            )
        if len(refs) == 0:
            raise MetricInputError(f"references[{i}]: expected at least one reference, got none")
        for j, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise MetricInputError(
                    f"references[{i}][{j}]: expected str, got {type(ref).__name__}"
                )


def __getattr__(name: str) -> Any:
    """``CaptionEvaluator`` moved to :mod:`visionbench.metrics.captioning.evaluator`; still importable here."""
    if name == "CaptionEvaluator":
        from visionbench.metrics.captioning.evaluator import CaptionEvaluator

        return CaptionEvaluator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
