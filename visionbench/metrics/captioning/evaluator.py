"""The captioning evaluator: COCO-caption BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, sacreBLEU.

What every captioning paper reports is pycocoevalcap's ``COCOEvalCap``: PTB-tokenise hypotheses
and references with Stanford CoreNLP, then BLEU-1..4 (:mod:`.bleu`), METEOR 1.5 and SPICE
(:mod:`.coco_caption_java`), ROUGE-L (:mod:`.rouge`) and CIDEr-D (:mod:`.cider`).
:class:`CaptionEvaluator` computes the same numbers, bit for bit where pycocoevalcap computes
in Python, and through the very jars pycocoevalcap ships where it runs Java.

Tokenisation (``tokenize``): ``"ptb-java"`` is CoreNLP's tokenizer exactly as pycocoevalcap
runs it (needs a Java runtime; one JVM for all captions, started at :meth:`compute`);
``"ptb-py"`` the pure-Python approximation :func:`~visionbench.metrics.captioning.ptb_tokenizer.ptb_tokenize`
(its docstring lists where it differs); ``"ptb"`` picks ``ptb-java`` when Java and the jar
are found, else ``ptb-py``; ``"none"`` takes captions already tokenised. The signature names
the tokenizer that ran (``tok=ptb-java`` / ``tok=ptb-py``), so numbers from the two never
share a leaderboard column.

State (all mergeable; shards merge exactly): the tokenised captions and, per caption, the
BLEU statistics, the CIDEr-D n-gram counts and the ROUGE-L score. CIDEr-D's document
frequencies come from the whole evaluated corpus, so they are computed only in
:meth:`~CaptionEvaluator.compute`, from the merged counts. METEOR and SPICE run at
:meth:`~CaptionEvaluator.compute` over all captions (as pycocoevalcap does); what they
answered per caption (METEOR's statistics, SPICE's F-scores) is kept until the captions
change, for the bootstrap intervals (:func:`visionbench.metrics.bootstrap.sample_table`,
which resamples every metric: see :class:`~visionbench.metrics.sample_tables.CaptionTable`).

With ``ptb-java`` the state is the raw captions themselves: CoreNLP's tokens of a caption can
depend on the caption after it in the same call (a final ``"j."`` before a capitalised
line), so tokenising shards separately could differ from one pass. :meth:`compute`
tokenises the whole merged corpus as pycocoevalcap does (one call for all references, one
for all hypotheses, in parallel JVMs) and then computes the statistics above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.metrics.base import VERSION, MetricResult, check_mergeable, extend_lists
from visionbench.metrics.captioning import java_tools as java
from visionbench.metrics.captioning.bleu import (
    ORDER,
    check_caption_inputs,
    coco_bleu_statistics,
    coco_scores,
)
from visionbench.metrics.captioning.cider import (
    CIDER_N,
    CIDER_SIGMA,
    cider_d_from_counts,
    cider_ngram_counts,
)
from visionbench.metrics.captioning.ptb_tokenizer import ptb_tokenize
from visionbench.metrics.captioning.rouge import ROUGE_BETA, rouge_l_sentence
from visionbench.metrics.errors import MetricInputError, MetricUnavailableError

__all__ = ["CaptionEvaluator", "resolve_tokenizer"]

TOKENIZERS = ("ptb", "ptb-java", "ptb-py", "none")
_WIDTH = 2 + 2 * ORDER


def resolve_tokenizer(tokenize: str) -> str:
    """``"ptb"`` -> ``"ptb-java"`` when Java and the CoreNLP jar are found, else ``"ptb-py"``.

    Raises:
        MetricInputError: an unknown name.
        MetricUnavailableError: ``"ptb-java"`` without Java or the jar.
    """
    if tokenize not in TOKENIZERS:
        raise MetricInputError(f"tokenize: expected one of {TOKENIZERS}, got {tokenize!r}")
    if tokenize == "ptb":
        return "ptb-py" if java.java_ptb_missing() else "ptb-java"
    if tokenize == "ptb-java":
        reason = java.java_ptb_missing()
        if reason:
            raise MetricUnavailableError(f"tokenize='ptb-java': {reason}")
    return tokenize


class CaptionEvaluator:
    """Mergeable captioning evaluator, pycocoevalcap's metrics plus sacreBLEU.

    Metric names and scales: ``bleu1`` .. ``bleu4``, ``meteor``, ``rouge_l``, ``spice`` on
    0-1; ``cider_d`` on pycocoevalcap's scale (x10: 0-10, typically 0-1.5 on COCO);
    ``sacrebleu`` on 0-100. All higher is better (:attr:`units` gives the units).

    Args:
        tokenize: ``"ptb"`` (Java CoreNLP if found, else the Python port), ``"ptb-java"``,
            ``"ptb-py"`` or ``"none"`` (already tokenised); used by every metric but sacreBLEU.
        coco: BLEU-1..4 (COCO-caption convention).
        cider_d: CIDEr-D (n = 1..4, sigma = 6, document frequencies of this corpus).
        rouge_l: ROUGE-L (beta = 1.2).
        meteor: METEOR 1.5 through pycocoevalcap's jar: ``True`` (error without Java),
            ``False``, or ``"auto"`` (when Java is found).
        spice: SPICE 1.0: ``True`` (error when Java or the CoreNLP 3.6.0 jars are missing,
            saying where to put them), ``False``, or ``"auto"`` (when all are present).
        sacrebleu: sacreBLEU on the raw captions.
        sacrebleu_tokenize, lowercase, smooth_method, smooth_value, effective_order:
            sacreBLEU options (``sacrebleu.BLEU``'s; defaults are ``corpus_bleu``'s).

    Raises:
        MetricInputError: unknown options; MetricUnavailableError: a metric asked for
            with ``True`` (or ``tokenize="ptb-java"``) cannot run here.

    Example:
        >>> ev = CaptionEvaluator()
        >>> ev.update(predictions=["A dog runs."], targets=[["A dog runs.", "The dog is running."]])
        >>> r = ev.compute()
        >>> r["bleu4"], r["cider_d"], r["sacrebleu"]
    """

    #: Unit of each metric (the run-record contract's ``unit`` values).
    units: dict[str, str] = {
        **{f"bleu{k}": "fraction" for k in range(1, ORDER + 1)},
        "meteor": "fraction",
        "rouge_l": "fraction",
        "cider_d": "unbounded",
        "spice": "fraction",
        "sacrebleu": "percent",
    }
    higher_is_better = True

    def __init__(
        self,
        *,
        tokenize: str = "ptb",
        coco: bool = True,
        cider_d: bool = True,
        rouge_l: bool = True,
        meteor: bool | str = False,
        spice: bool | str = False,
        sacrebleu: bool = True,
        sacrebleu_tokenize: str = "13a",
        lowercase: bool = False,
        smooth_method: str = "exp",
        smooth_value: float | None = None,
        effective_order: bool = False,
    ) -> None:
        meteor_on = _availability("meteor", meteor, java.meteor_missing)
        spice_on = _availability("spice", spice, java.spice_missing)
        if not (coco or cider_d or rouge_l or meteor_on or spice_on or sacrebleu):
            raise MetricInputError("CaptionEvaluator: enable at least one metric")
        self.config: dict[str, Any] = {
            "tokenize": resolve_tokenizer(tokenize),
            "coco": bool(coco),
            "cider_d": bool(cider_d),
            "rouge_l": bool(rouge_l),
            "meteor": meteor_on,
            "spice": spice_on,
            "sacrebleu": bool(sacrebleu),
            "sacrebleu_tokenize": sacrebleu_tokenize,
            "lowercase": bool(lowercase),
            "smooth_method": smooth_method,
            "smooth_value": smooth_value,
            "effective_order": bool(effective_order),
        }
        self._needs_tokens = any(
            self.config[k] for k in ("coco", "cider_d", "rouge_l", "meteor", "spice")
        )
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
        self._raw_hyps: list[str] = []  # ptb-java: the state is the raw captions
        self._raw_refs: list[list[str]] = []
        self._sacre: list[np.ndarray] = []
        self._nrefs: list[np.ndarray] = []
        self._clear_tokenized()

    def _clear_java(self) -> None:
        """Drop what the Java tools answered (METEOR statistics, SPICE scores)."""
        self._java: dict[str, np.ndarray] = {}

    def _clear_tokenized(self) -> None:
        """Drop what is derived from tokenised captions."""
        self._clear_java()
        self._hyp_tok: list[str] = []
        self._ref_tok: list[list[str]] = []
        self._coco: list[np.ndarray] = []
        self._cider_hyp: list[dict] = []
        self._cider_ref: list[list[dict]] = []
        self._rouge: list[float] = []

    # ------------------------------------------------------------------ signature

    @property
    def signature(self) -> str:
        """Protocol string: tokenizer, the fixed COCO-caption parameters, sacreBLEU's signature.

        It does not depend on which of the COCO-caption metrics are switched on (their
        parameters are fixed), so BLEU-4 with and without METEOR share a leaderboard column.
        """
        parts = ["coco-caption"]
        if self._needs_tokens:
            parts.append(
                f"tok={self.config['tokenize']},bleu=closest,meteor=1.5:en:norm,"
                f"rouge-l=beta{ROUGE_BETA},cider-d=n{CIDER_N}:sigma{CIDER_SIGMA:g}:df=corpus,spice=1.0"
            )
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

    # ------------------------------------------------------------------ update / merge

    def update(self, *, predictions: Sequence[str], targets: Sequence[Sequence[str]]) -> None:
        """Add captions (keyword arguments only, as every evaluator's ``update``).

        Args:
            predictions: N generated captions (raw text unless ``tokenize="none"``).
            targets: N lists of reference captions, ``targets[i]`` for
                ``predictions[i]``, each with at least one ``str``.

        Raises:
            MetricInputError: counts differ, a reference list is empty, an item is not a str.
        """
        hypotheses, references = predictions, targets
        check_caption_inputs(hypotheses, references)
        n = len(hypotheses)
        if n == 0:
            return
        self._clear_java()
        hyps, refs = list(hypotheses), [list(r) for r in references]
        self._nrefs.append(np.array([len(r) for r in refs], dtype=np.int64))
        if self.config["sacrebleu"]:
            rows = []
            for h, rs in zip(hyps, refs, strict=True):
                s = self._extractor.sentence_score(h, rs)
                rows.append([s.sys_len, s.ref_len, *s.counts, *s.totals])
            self._sacre.append(np.asarray(rows, dtype=np.int64).reshape(n, _WIDTH))
        if not self._needs_tokens:
            return
        tok = self.config["tokenize"]
        if tok == "ptb-java":
            self._raw_hyps.extend(hyps)
            self._raw_refs.extend(refs)
        elif tok == "ptb-py":
            self._add_tokenized(
                [ptb_tokenize(h) for h in hyps], [[ptb_tokenize(r) for r in rs] for rs in refs]
            )
        else:
            self._add_tokenized(hyps, refs)

    def merge(self, other: CaptionEvaluator) -> None:
        """Append another evaluator's statistics (same configuration required)."""
        check_mergeable(self, other, "config")
        extend_lists(self, other, ("_sacre", "_nrefs"))
        self._clear_java()
        if self.config["tokenize"] == "ptb-java":
            # tokens of either side came from a call without the other's captions:
            # tokenise the merged corpus again at compute()
            extend_lists(self, other, ("_raw_hyps", "_raw_refs"))
            self._clear_tokenized()
            return
        extend_lists(
            self, other, ("_hyp_tok", "_ref_tok", "_coco", "_cider_hyp", "_cider_ref", "_rouge")
        )

    # ------------------------------------------------------------------ compute

    def compute(self) -> MetricResult:
        """Corpus scores.

        Returns:
            ``MetricResult`` with the enabled metrics (see the class docstring) in
            pycocoevalcap's order, then ``sacrebleu``; arrays ``nrefs`` [N],
            ``coco_statistics`` / ``sacrebleu_statistics`` [N, 10] int64,
            ``bleuK_per_caption``, ``meteor_per_caption``, ``rouge_l_per_caption``,
            ``cider_d_per_caption``, ``spice_per_caption`` [N] float64 (pycocoevalcap's
            per-image scores).

        Raises:
            MetricInputError: no captions were added.
            MetricUnavailableError: a Java tool failed.
        """
        if not self._nrefs:
            raise MetricInputError("CaptionEvaluator.compute: no captions were added (N=0)")
        self._tokenize_raw()
        metrics: dict[str, float] = {}
        arrays: dict[str, np.ndarray] = {"nrefs": np.concatenate(self._nrefs)}
        if self.config["coco"]:
            stats = np.concatenate(self._coco)
            arrays["coco_statistics"] = stats
            total = [int(v) for v in stats.sum(axis=0)]
            for k, value in enumerate(coco_scores(total)):
                metrics[f"bleu{k + 1}"] = value
            per_caption = np.array([coco_scores([int(v) for v in row]) for row in stats])
            for k in range(ORDER):
                arrays[f"bleu{k + 1}_per_caption"] = per_caption[:, k]
        if self.config["meteor"]:
            metrics["meteor"], arrays["meteor_per_caption"], self._java["meteor"] = (
                java.meteor_scores(self._hyp_tok, self._ref_tok, statistics=True)
            )
        if self.config["rouge_l"]:
            arrays["rouge_l_per_caption"] = np.array(self._rouge, dtype=np.float64)
            metrics["rouge_l"] = float(np.mean(arrays["rouge_l_per_caption"]))
        if self.config["cider_d"]:
            metrics["cider_d"], arrays["cider_d_per_caption"] = cider_d_from_counts(
                self._cider_hyp, self._cider_ref
            )
        if self.config["spice"]:
            metrics["spice"], arrays["spice_per_caption"] = java.spice_scores(
                self._hyp_tok, self._ref_tok
            )
            self._java["spice"] = arrays["spice_per_caption"]
        if self.config["sacrebleu"]:
            from sacrebleu.metrics import BLEU

            stats = np.concatenate(self._sacre)
            arrays["sacrebleu_statistics"] = stats
            total = [int(v) for v in stats.sum(axis=0)]
            score = BLEU.compute_bleu(
                correct=total[2 : 2 + ORDER],
                total=total[2 + ORDER :],
                sys_len=total[0],
                ref_len=total[1],
                smooth_method=self.config["smooth_method"],
                smooth_value=self.config["smooth_value"],
                effective_order=self.config["effective_order"],
                max_ngram_order=ORDER,
            )
            metrics["sacrebleu"] = float(score.score)
        return MetricResult(
            metrics=metrics,
            signature=self.signature,
            arrays=arrays,
            higher_is_better=dict.fromkeys(metrics, True),
            evaluator=self,
        )

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Configuration, captions and sacreBLEU statistics (plain lists and arrays).

        The captions are tokenised (``captions: "tokenized"``), except with ``ptb-java``,
        where they are the raw captions (``captions: "raw"``; see the module docstring).
        """
        raw = self.config["tokenize"] == "ptb-java"
        return {
            "config": dict(self.config),
            "captions": "raw" if raw else "tokenized",
            "hypotheses": list(self._raw_hyps if raw else self._hyp_tok),
            "references": [list(r) for r in (self._raw_refs if raw else self._ref_tok)],
            "sacrebleu_statistics": np.concatenate(self._sacre)
            if self._sacre
            else np.zeros((0, _WIDTH), dtype=np.int64),
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
        if not nrefs.size:
            return
        self._nrefs.append(nrefs)
        if self.config["sacrebleu"]:
            self._sacre.append(np.asarray(state["sacrebleu_statistics"], dtype=np.int64))
        hyps = list(state["hypotheses"])
        refs = [list(r) for r in state["references"]]
        if state["captions"] == "raw":
            self._raw_hyps, self._raw_refs = hyps, refs
        elif self._needs_tokens:
            self._add_tokenized(hyps, refs)

    # ------------------------------------------------------------------ per caption

    def meteor_statistics(self) -> np.ndarray:
        """[N, 23] METEOR statistics per caption (the jar's ``SCORE`` answers; see
        :mod:`.meteor`), from the last :meth:`compute`, else by running the jar now."""
        if not self.config["meteor"]:
            raise MetricInputError("meteor_statistics: METEOR is not enabled")
        if "meteor" not in self._java:
            self._tokenize_raw()
            _, _, self._java["meteor"] = java.meteor_scores(
                self._hyp_tok, self._ref_tok, statistics=True
            )
        return self._java["meteor"]

    def spice_per_caption(self) -> np.ndarray:
        """[N] SPICE F-scores per caption (NaN where SPICE gives none), from the last
        :meth:`compute`, else by running SPICE now."""
        if not self.config["spice"]:
            raise MetricInputError("spice_per_caption: SPICE is not enabled")
        if "spice" not in self._java:
            self._tokenize_raw()
            _, self._java["spice"] = java.spice_scores(self._hyp_tok, self._ref_tok)
        return self._java["spice"]

    # ------------------------------------------------------------------ helpers

    def _tokenize_raw(self) -> None:
        """``ptb-java``: tokenise all raw captions as pycocoevalcap does (unless done already)."""
        if self.config["tokenize"] != "ptb-java" or len(self._raw_hyps) == len(self._hyp_tok):
            return
        flat_refs = [r for rs in self._raw_refs for r in rs]
        tok_refs_flat, tok_hyps = java.ptb_tokenize_java(flat_refs, self._raw_hyps)
        it = iter(tok_refs_flat)
        tok_refs = [[next(it) for _ in rs] for rs in self._raw_refs]
        self._clear_tokenized()
        self._add_tokenized(tok_hyps, tok_refs)

    def _add_tokenized(self, hyps: list[str], refs: list[list[str]]) -> None:
        n = len(hyps)
        self._hyp_tok.extend(hyps)
        self._ref_tok.extend(refs)
        if self.config["coco"]:
            rows = [coco_bleu_statistics(h, rs) for h, rs in zip(hyps, refs, strict=True)]
            self._coco.append(np.asarray(rows, dtype=np.int64).reshape(n, _WIDTH))
        if self.config["cider_d"]:
            self._cider_hyp.extend(cider_ngram_counts(h) for h in hyps)
            self._cider_ref.extend([cider_ngram_counts(r) for r in rs] for rs in refs)
        if self.config["rouge_l"]:
            self._rouge.extend(rouge_l_sentence(h, rs) for h, rs in zip(hyps, refs, strict=True))


def _availability(name: str, value: bool | str, missing: Any) -> bool:
    if value == "auto":
        return missing() is None
    if value not in (True, False):
        raise MetricInputError(f"{name}: expected True, False or 'auto', got {value!r}")
    if value:
        reason = missing()
        if reason:
            raise MetricUnavailableError(f"{name}=True: {reason}")
    return bool(value)
