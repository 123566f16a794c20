"""BLEU: equality with pycocoevalcap's Bleu(4) scorer and with sacrebleu itself."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.captioning.bleu import (
    CaptionEvaluator,
    coco_bleu,
    coco_bleu_statistics,
    sacrebleu_corpus,
    sacrebleu_sentence,
)
from visionbench.metrics.captioning.ptb_tokenizer import ptb_tokenize
from visionbench.metrics.errors import MetricInputError

sacrebleu = reference_module("sacrebleu")
bleu_ref = reference_module("pycocoevalcap.bleu.bleu")

VOCAB = [
    "a",
    "the",
    "dog",
    "cat",
    "man",
    "woman",
    "on",
    "in",
    "of",
    "is",
    "sitting",
    "riding",
    "horse",
    "grass",
    "red",
    "blue",
]
RAW_VOCAB = [*VOCAB, "Dog", "A", "dog.", "cat,", "don't", "man's", "(big)", "!", "--", '"hi"']


def _caption(rng: random.Random, vocab: list[str], max_len: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, max_len)))


def _corpus(seed: int, vocab: list[str] = VOCAB, n: int = 20, max_refs: int = 5, max_len: int = 12):
    rng = random.Random(seed)
    hyps = [_caption(rng, vocab, max_len) for _ in range(n)]
    refs = [
        [_caption(rng, vocab, max_len) for _ in range(rng.randint(1, max_refs))] for _ in range(n)
    ]
    return hyps, refs


def _pycoco(hyps, refs):
    gts = {i: list(r) for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    return bleu_ref.Bleu(4).compute_score(gts, res, verbose=0)


def _streams(refs):
    """Our per-hypothesis reference lists -> sacrebleu's reference streams (None = missing)."""
    width = max(len(r) for r in refs)
    return [[r[j] if j < len(r) else None for r in refs] for j in range(width)]


# ---------------------------------------------------------------- COCO-caption convention

EDGE_CASES = [
    # (hypotheses, references)
    (["a dog"], [["a dog"]]),  # shorter than 4 tokens, perfect unigram/bigram
    ([""], [["a dog on the grass"]]),  # empty hypothesis
    (["a dog on the grass"], [[""]]),  # empty reference
    ([""], [[""]]),  # both empty
    (["a a a a a a"], [["a a", "a"]]),  # clipping by max count over references
    (["x y z w v"], [["a b c d", "a b c d e f"]]),  # closest length tie -> shorter (4 vs 6)
    (["the cat sat on the mat"], [["the cat sat on the mat"]]),  # identical
    (["the cat sat on the mat", "dog"], [["the cat is on the mat", "a cat"], ["a dog runs"]]),
    (["one two three four five six seven eight"], [["one two", "three"]]),  # longer than refs
]


@pytest.mark.parametrize(("hyps", "refs"), EDGE_CASES)
def test_coco_bleu_equals_pycocoevalcap_edge_cases(hyps, refs):
    expected, expected_per_image = _pycoco(hyps, refs)
    result = coco_bleu(hyps, refs, tokenize="none")
    assert [result[f"bleu{k}"] for k in range(1, 5)] == expected
    for k in range(4):
        assert result.arrays[f"bleu{k + 1}_per_caption"].tolist() == expected_per_image[k]


@pytest.mark.parametrize("seed", range(25))
def test_coco_bleu_equals_pycocoevalcap_random(seed):
    hyps, refs = _corpus(seed, n=1 + seed * 3, max_refs=1 + seed % 6, max_len=2 + seed % 15)
    expected, expected_per_image = _pycoco(hyps, refs)
    result = coco_bleu(hyps, refs, tokenize="none")
    assert [result[f"bleu{k}"] for k in range(1, 5)] == expected  # bit for bit
    for k in range(4):
        np.testing.assert_array_equal(
            result.arrays[f"bleu{k + 1}_per_caption"], np.array(expected_per_image[k])
        )


@pytest.mark.parametrize("seed", range(10))
def test_coco_bleu_equals_pycocoevalcap_near_copies(seed):
    # hypotheses that are edited copies of a reference: BLEU-4 far from 0
    rng = random.Random(400 + seed)
    hyps, refs = _corpus(400 + seed, n=40, max_refs=5, max_len=15)
    for i, rs in enumerate(refs):
        words = rng.choice(rs).split()
        for _ in range(rng.randint(0, 3)):
            if words and rng.random() < 0.5:
                words.pop(rng.randrange(len(words)))
            else:
                words.insert(rng.randint(0, len(words)), rng.choice(VOCAB))
        hyps[i] = " ".join(words)
    expected, expected_per_image = _pycoco(hyps, refs)
    result = coco_bleu(hyps, refs, tokenize="none")
    assert result["bleu4"] > 0.3
    assert [result[f"bleu{k}"] for k in range(1, 5)] == expected
    assert result.arrays["bleu4_per_caption"].tolist() == expected_per_image[3]


@pytest.mark.parametrize("seed", range(5))
def test_coco_bleu_ptb_equals_pycocoevalcap_on_our_tokens(seed):
    hyps, refs = _corpus(100 + seed, vocab=RAW_VOCAB, n=15)
    tok_hyps = [ptb_tokenize(h) for h in hyps]
    tok_refs = [[ptb_tokenize(r) for r in rs] for rs in refs]
    expected, _ = _pycoco(tok_hyps, tok_refs)
    result = coco_bleu(hyps, refs, tokenize="ptb-py")
    assert [result[f"bleu{k}"] for k in range(1, 5)] == expected
    assert "tok=ptb-py" in result.signature


def test_coco_bleu_hand_computed():
    # hyp "a b c d" vs ref "a b c e": p1=3/4, p2=2/3, p3=1/2, p4=0 (tiny), equal lengths.
    result = coco_bleu(["a b c d"], [["a b c e"]], tokenize="none")
    assert result["bleu1"] == pytest.approx(0.75, rel=1e-9)
    assert result["bleu2"] == pytest.approx(math.sqrt(0.75 * 2 / 3), rel=1e-9)
    assert result["bleu3"] == pytest.approx((0.75 * 2 / 3 * 0.5) ** (1 / 3), rel=1e-9)
    assert result["bleu4"] < 1e-3
    assert coco_bleu_statistics("a b c d", ["a b c e", "x"]) == [4, 4, 4, 3, 2, 1, 3, 2, 1, 0]


def test_coco_bleu_brevity_penalty():
    result = coco_bleu(["a b"], [["a b c d"]], tokenize="none")
    assert result["bleu1"] == pytest.approx(math.exp(1 - 4 / 2), rel=1e-6)


# ---------------------------------------------------------------- sacreBLEU convention

SACRE_OPTIONS = [
    {},
    {"tokenize": "none"},
    {"tokenize": "intl"},
    {"tokenize": "char"},
    {"lowercase": True},
    {"smooth_method": "floor"},
    {"smooth_method": "add-k", "smooth_value": 2},
    {"smooth_method": "none"},
    {"effective_order": True},
]


@pytest.mark.parametrize("options", SACRE_OPTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_sacrebleu_corpus_equals_sacrebleu(options, seed):
    hyps, refs = _corpus(200 + seed, vocab=RAW_VOCAB, n=12, max_refs=1 + seed)
    kw = dict(options)
    if "effective_order" in kw:
        kw["use_effective_order"] = kw.pop("effective_order")
    expected = sacrebleu.corpus_bleu(hyps, _streams(refs), **kw)
    result = sacrebleu_corpus(hyps, refs, **options)
    assert result["sacrebleu"] == expected.score
    bleu = sacrebleu.BLEU(
        **{k: v for k, v in options.items() if k != "effective_order"},
        effective_order=options.get("effective_order", False),
    )
    bleu.corpus_score(hyps, _streams(refs))
    assert result.signature.endswith(f"sacrebleu={bleu.get_signature()}|v0.1.0")


@pytest.mark.parametrize("seed", range(10))
def test_sacrebleu_sentence_equals_sacrebleu(seed):
    hyps, refs = _corpus(300 + seed, vocab=RAW_VOCAB, n=1, max_refs=4)
    expected = sacrebleu.sentence_bleu(hyps[0], refs[0])
    assert sacrebleu_sentence(hyps[0], refs[0])["sacrebleu"] == expected.score


def test_sacrebleu_signature_fixed_refs():
    result = sacrebleu_corpus(["a dog runs ."], [["a dog runs .", "the dog runs ."]])
    assert "sacrebleu=nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" in result.signature
    assert result["sacrebleu"] == pytest.approx(100.0)


# ---------------------------------------------------------------- evaluator


def test_evaluator_merge_and_state_dict_equal_one_pass():
    hyps, refs = _corpus(7, vocab=RAW_VOCAB, n=30, max_refs=5)
    whole = CaptionEvaluator()
    whole.update(predictions=hyps, targets=refs)
    expected = whole.compute()

    a, b = CaptionEvaluator(), CaptionEvaluator()
    a.update(predictions=hyps[:11], targets=refs[:11])
    b.update(predictions=hyps[11:20], targets=refs[11:20])
    b.update(predictions=hyps[20:], targets=refs[20:])
    a.merge(b)
    restored = CaptionEvaluator()
    restored.load_state_dict(a.state_dict())
    for ev in (a, restored):
        got = ev.compute()
        assert got.metrics == expected.metrics
        assert got.signature == expected.signature
        np.testing.assert_array_equal(
            got.arrays["coco_statistics"], expected.arrays["coco_statistics"]
        )

    streams = _streams(refs)
    assert expected["sacrebleu"] == sacrebleu.corpus_bleu(hyps, streams).score
    assert set(expected.metrics) == {
        *("bleu1", "bleu2", "bleu3", "bleu4"),
        *("rouge_l", "cider_d", "sacrebleu"),
    }
    assert all(expected.higher_is_better.values())


def test_evaluator_merge_refuses_other_config():
    with pytest.raises(MetricInputError, match="config"):
        CaptionEvaluator().merge(CaptionEvaluator(tokenize="none"))


@pytest.mark.parametrize(
    ("hyps", "refs", "match"),
    [
        (["a", "b"], [["a"]], "2 hypotheses and 1 reference lists"),
        (["a"], [[]], r"references\[0\]: expected at least one reference"),
        ([3], [["a"]], r"hypotheses\[0\]: expected str, got int"),
        (["a"], [["a", None]], r"references\[0\]\[1\]: expected str, got NoneType"),
        (["a"], ["a"], r"references\[0\]: expected a list of str, got str"),
        ("a", [["a"]], "hypotheses: expected a list of str"),
    ],
)
def test_evaluator_input_errors(hyps, refs, match):
    with pytest.raises(MetricInputError, match=match):
        CaptionEvaluator().update(predictions=hyps, targets=refs)


def test_compute_without_data_raises():
    with pytest.raises(MetricInputError, match="no captions"):
        CaptionEvaluator().compute()


# ---------------------------------------------------------------- PTB tokenizer

TOKENIZER_CASES = [
    ("A man's dog, running.", "a man 's dog running"),
    ("I don't know; can't, won't!", "i do n't know ca n't wo n't"),
    ("He cannot go -- gonna stay", "he can not go gon na stay"),
    ('"Hello" she said...', "hello she said"),
    ("The U.S. flag at 10:30, 1,000 people.", "the u.s. flag at 10:30 1,000 people"),
    ("dogs' toys (red) [x] {y}", "dogs toys red x y"),
    ("Mr. Smith's car costs $5, 50%", "mr. smith 's car costs $ 5 50 %"),
    ("a black-and-white photo - nice", "a black-and-white photo nice"),
    ("A \u201ccurly\u201d quote \u2014 dash\u2026", "a curly quote dash"),
    ("two\nlines", "two lines"),
    ("3.5 inches. End", "3.5 inches end"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "tokens"), TOKENIZER_CASES)
def test_ptb_tokenize(raw, tokens):
    assert ptb_tokenize(raw) == tokens


def test_ptb_tokenize_rejects_non_str():
    with pytest.raises(TypeError, match="expects a str"):
        ptb_tokenize(None)  # type: ignore[arg-type]
