"""BLEU for captions, in the two conventions in use: COCO-caption and sacreBLEU.

**COCO-caption BLEU-1..4** (:func:`coco_bleu`, metric names ``bleu1`` .. ``bleu4``, scale
0-1) reproduces pycocoevalcap's ``Bleu(4)`` scorer (``bleu/bleu_scorer.py``) exactly:
captions are split on whitespace; per caption, ``testlen``, the *closest* reference length
(ties to the shorter), ``guess_k = max(0, testlen-k+1)`` and clipped matches ``correct_k``;
corpus score ``prod_k (correct_k + 1e-15)/(guess_k + 1e-9)`` to the power ``1/n`` for
BLEU-n, times ``exp(1 - 1/ratio)`` when ``ratio = (testlen+1e-15)/(reflen+1e-9) < 1``; no
smoothing. The same float operations in the same order, so the numbers are bit-identical.
pycocoevalcap first runs the Java PTB tokenizer; here ``tokenize="ptb"`` (the default) runs
the pure-Python approximation :func:`visionbench.metrics.ptb_tokenizer.ptb_tokenize`
(its docstring lists where it may differ) and ``tokenize="none"`` takes captions that are
already tokenised (lower-cased, punctuation removed, tokens separated by spaces).

**sacreBLEU** (:func:`sacrebleu_corpus`, :func:`sacrebleu_sentence`, metric name
``sacrebleu``, scale 0-100) is computed by the ``sacrebleu`` package itself (tokenizer
``13a``, ``exp`` smoothing, case-sensitive by default); its own signature string
(``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.x.y``) is kept verbatim inside ours.

Both are corpus metrics built from per-caption integer sufficient statistics that add up,
so :class:`CaptionEvaluator` shards and merges exactly.

Argument convention everywhere here: ``references[i]`` is the list of reference captions of
``hypotheses[i]`` (one list per image, any number >= 1 of references). This is the
transpose of sacrebleu's own "reference streams" argument.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.ptb_tokenizer import ptb_tokenize

__all__ = [
    "CaptionEvaluator",
    "coco_bleu",
    "coco_bleu_statistics",
    "sacrebleu_corpus",
    "sacrebleu_sentence",
]

_ORDER = 4  # BLEU-1..4
_SMALL = 1e-9  # pycocoevalcap's constants, same names
_TINY = 1e-15
_TOKENIZERS = ("ptb", "none")


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
        tokenize: ``"ptb"`` (pure-Python PTB tokenizer, for raw captions) or ``"none"``
            (captions already tokenised; split on whitespace only).

    Returns:
        ``MetricResult`` with ``bleu1`` .. ``bleu4`` (0-1, higher is better) and arrays
        ``statistics`` [N, 10] int64 (see :func:`coco_bleu_statistics`) and
        ``bleu1_per_caption`` .. ``bleu4_per_caption`` [N] (pycocoevalcap's per-image scores).

    Raises:
        MetricInputError: counts differ, a reference list is empty, an item is not a str,
            or the corpus is empty.
    """
    evaluator = CaptionEvaluator(tokenize=tokenize, sacrebleu=False)
    evaluator.update(hypotheses, references)
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
    guess = [max(0, testlen - k + 1) for k in range(1, _ORDER + 1)]
    correct = [0] * _ORDER
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
    evaluator = CaptionEvaluator(
        coco=False,
        sacrebleu_tokenize=tokenize,
        lowercase=lowercase,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        effective_order=effective_order,
    )
    evaluator.update(hypotheses, references)
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


class CaptionEvaluator:
    """Mergeable captioning evaluator: COCO-caption BLEU-1..4 and sacreBLEU.

    State: per caption, the 10 integer statistics of each convention (see
    :func:`coco_bleu_statistics` and :func:`sacrebleu_corpus`) and the number of references.
    Corpus scores depend only on the column sums, so merged shards equal one pass.

    Args:
        tokenize: COCO-caption tokenisation, ``"ptb"`` or ``"none"`` (see :func:`coco_bleu`).
        coco: compute ``bleu1`` .. ``bleu4`` (0-1).
        sacrebleu: compute ``sacrebleu`` (0-100).
        sacrebleu_tokenize, lowercase, smooth_method, smooth_value, effective_order:
            sacreBLEU options (``sacrebleu.BLEU``'s; defaults are ``corpus_bleu``'s).

    Example:
        >>> ev = CaptionEvaluator()
        >>> ev.update(["A dog runs."], [["A dog runs.", "The dog is running."]])
        >>> r = ev.compute()
        >>> r["bleu4"], r["sacrebleu"]  # (1.0 up to float rounding, 100.0)
    """

    def __init__(
        self,
        *,
        tokenize: str = "ptb",
        coco: bool = True,
        sacrebleu: bool = True,
        sacrebleu_tokenize: str = "13a",
        lowercase: bool = False,
        smooth_method: str = "exp",
        smooth_value: float | None = None,
        effective_order: bool = False,
    ) -> None:
        if tokenize not in _TOKENIZERS:
            raise MetricInputError(f"tokenize: expected one of {_TOKENIZERS}, got {tokenize!r}")
        if not (coco or sacrebleu):
            raise MetricInputError("CaptionEvaluator: enable at least one of coco / sacrebleu")
        self.config: dict[str, Any] = {
            "tokenize": tokenize,
            "coco": bool(coco),
            "sacrebleu": bool(sacrebleu),
            "sacrebleu_tokenize": sacrebleu_tokenize,
            "lowercase": bool(lowercase),
            "smooth_method": smooth_method,
            "smooth_value": smooth_value,
            "effective_order": bool(effective_order),
        }
        self._extractor = None
        if sacrebleu:
            from sacrebleu.metrics import BLEU

            if smooth_method not in BLEU.SMOOTH_DEFAULTS:
                raise MetricInputError(
                    f"smooth_method: expected one of {sorted(BLEU.SMOOTH_DEFAULTS)}, "
                    f"got {smooth_method!r}"
                )
            # Statistics do not depend on smoothing or effective order; 'none' smoothing
            # keeps sacrebleu from modifying the counts it returns.
            self._extractor = BLEU(
                tokenize=sacrebleu_tokenize,
                lowercase=lowercase,
                smooth_method="none",
                effective_order=True,
            )
        self.reset()

    def reset(self) -> None:
        """Drop all statistics."""
        self._coco: list[np.ndarray] = []
        self._sacre: list[np.ndarray] = []
        self._nrefs: list[np.ndarray] = []

    @property
    def signature(self) -> str:
        """Protocol string; with sacrebleu on it ends with sacrebleu's own signature."""
        parts = ["bleu"]
        if self.config["coco"]:
            parts.append(f"coco=bleu1-4,ref=closest,tok={_tok_name(self.config['tokenize'])}")
        if self.config["sacrebleu"]:
            parts.append("sacrebleu=" + self.sacrebleu_signature)
        return "|".join([*parts, f"v{VERSION}"])

    @property
    def sacrebleu_signature(self) -> str:
        """sacrebleu's own signature (``nrefs:...|case:...|eff:...|tok:...|smooth:...|version:...``)."""
        from sacrebleu.metrics import BLEU

        scorer = BLEU(
            tokenize=self.config["sacrebleu_tokenize"],
            lowercase=self.config["lowercase"],
            smooth_method=self.config["smooth_method"],
            smooth_value=self.config["smooth_value"],
            effective_order=self.config["effective_order"],
        )
        counts = np.unique(np.concatenate(self._nrefs)) if self._nrefs else np.array([1])
        scorer.num_refs = int(counts[0]) if counts.size == 1 else -1  # as sacrebleu sets it
        return str(scorer.get_signature())

    def update(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        """Add captions.

        Args:
            hypotheses: N generated captions.
            references: N lists of reference captions, ``references[i]`` for
                ``hypotheses[i]``, each with at least one ``str``.

        Raises:
            MetricInputError: counts differ, a reference list is empty, an item is not a str.
        """
        _check_inputs(hypotheses, references)
        n = len(hypotheses)
        if n == 0:
            return
        self._nrefs.append(np.array([len(r) for r in references], dtype=np.int64))
        if self.config["coco"]:
            tok = ptb_tokenize if self.config["tokenize"] == "ptb" else _identity
            rows = [
                coco_bleu_statistics(tok(h), [tok(r) for r in refs])
                for h, refs in zip(hypotheses, references, strict=True)
            ]
            self._coco.append(np.asarray(rows, dtype=np.int64).reshape(n, 2 + 2 * _ORDER))
        if self.config["sacrebleu"]:
            rows = []
            for h, refs in zip(hypotheses, references, strict=True):
                s = self._extractor.sentence_score(h, list(refs))
                rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
            self._sacre.append(np.asarray(rows, dtype=np.int64).reshape(n, 2 + 2 * _ORDER))

    def merge(self, other: CaptionEvaluator) -> None:
        """Append another evaluator's statistics (same configuration required)."""
        if not isinstance(other, CaptionEvaluator) or other.config != self.config:
            raise MetricInputError(
                f"merge: expected a CaptionEvaluator with config {self.config}, got "
                f"{getattr(other, 'config', type(other).__name__)}"
            )
        self._coco.extend(other._coco)
        self._sacre.extend(other._sacre)
        self._nrefs.extend(other._nrefs)

    def compute(self) -> MetricResult:
        """Corpus scores.

        Returns:
            ``MetricResult``: ``bleu1`` .. ``bleu4`` (0-1) and/or ``sacrebleu`` (0-100);
            arrays ``coco_statistics`` / ``sacrebleu_statistics`` [N, 10] int64,
            ``bleuK_per_caption`` [N] (pycocoevalcap's per-image BLEU-K) and ``nrefs`` [N].

        Raises:
            MetricInputError: no captions were added.
        """
        if not self._nrefs:
            raise MetricInputError("CaptionEvaluator.compute: no captions were added (N=0)")
        metrics: dict[str, float] = {}
        arrays: dict[str, np.ndarray] = {"nrefs": np.concatenate(self._nrefs)}
        if self.config["coco"]:
            stats = np.concatenate(self._coco)
            arrays["coco_statistics"] = stats
            total = [int(v) for v in stats.sum(axis=0)]
            for k, value in enumerate(_coco_scores(total)):
                metrics[f"bleu{k + 1}"] = value
            per_caption = np.array([_coco_scores([int(v) for v in row]) for row in stats])
            for k in range(_ORDER):
                arrays[f"bleu{k + 1}_per_caption"] = per_caption[:, k]
        if self.config["sacrebleu"]:
            from sacrebleu.metrics import BLEU

            stats = np.concatenate(self._sacre)
            arrays["sacrebleu_statistics"] = stats
            total = [int(v) for v in stats.sum(axis=0)]
            score = BLEU.compute_bleu(
                correct=total[2 : 2 + _ORDER],
                total=total[2 + _ORDER :],
                sys_len=total[0],
                ref_len=total[1],
                smooth_method=self.config["smooth_method"],
                smooth_value=self.config["smooth_value"],
                effective_order=self.config["effective_order"],
                max_ngram_order=_ORDER,
            )
            metrics["sacrebleu"] = float(score.score)
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays=arrays,
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    def state_dict(self) -> dict[str, Any]:
        """Statistics and configuration as numpy arrays and plain values."""
        empty = np.zeros((0, 2 + 2 * _ORDER), dtype=np.int64)
        return {
            "config": dict(self.config),
            "coco_statistics": np.concatenate(self._coco) if self._coco else empty,
            "sacrebleu_statistics": np.concatenate(self._sacre) if self._sacre else empty,
            "nrefs": np.concatenate(self._nrefs) if self._nrefs else np.zeros(0, np.int64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the statistics with ``state`` (from :meth:`state_dict`, same config)."""
        if dict(state["config"]) != self.config:
            raise MetricInputError(
                f"load_state_dict: config {state['config']} differs from {self.config}"
            )
        self.reset()
        nrefs = np.asarray(state["nrefs"], dtype=np.int64)
        if nrefs.size:
            self._nrefs.append(nrefs)
            if self.config["coco"]:
                self._coco.append(np.asarray(state["coco_statistics"], dtype=np.int64))
            if self.config["sacrebleu"]:
                self._sacre.append(np.asarray(state["sacrebleu_statistics"], dtype=np.int64))


def _coco_scores(stats: list[int]) -> list[float]:
    """BLEU-1..4 from ``[testlen, reflen, guess_1..4, correct_1..4]``, pycocoevalcap's arithmetic."""
    testlen, reflen = stats[0], stats[1]
    guess, correct = stats[2 : 2 + _ORDER], stats[2 + _ORDER :]
    scores = []
    bleu = 1.0
    for k in range(_ORDER):
        bleu *= float(correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(bleu ** (1.0 / (k + 1)))
    ratio = (testlen + _TINY) / (reflen + _SMALL)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def _ngrams(words: list[str]) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, _ORDER + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


def _identity(text: str) -> str:
    return text


def _tok_name(tokenize: str) -> str:
    return "ptb-py" if tokenize == "ptb" else "none"


def _check_inputs(hypotheses: Any, references: Any) -> None:
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
