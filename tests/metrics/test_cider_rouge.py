"""CIDEr-D and ROUGE-L: bit-for-bit equality with pycocoevalcap's ``Cider`` and ``Rouge``."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.captioning.cider import cider_d
from visionbench.metrics.captioning.evaluator import CaptionEvaluator
from visionbench.metrics.captioning.rouge import lcs_length, rouge_l, rouge_l_sentence

cider_ref = reference_module("pycocoevalcap.cider.cider")
rouge_ref = reference_module("pycocoevalcap.rouge.rouge")

VOCAB = ["a", "the", "dog", "cat", "man", "on", "in", "of", "is", "sitting", "red", "grass"]


def _caption(rng: random.Random, max_len: int, vocab=VOCAB) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, max_len)))


def _corpus(seed: int, n: int, max_refs: int = 5, max_len: int = 12, vocab=VOCAB):
    rng = random.Random(seed)
    hyps = [_caption(rng, max_len, vocab) for _ in range(n)]
    refs = [
        [_caption(rng, max_len, vocab) for _ in range(rng.randint(1, max_refs))] for _ in range(n)
    ]
    return hyps, refs


def _near_copies(seed: int, n: int):
    """Hypotheses that are edited copies of one of their references: CIDEr-D far from 0."""
    rng = random.Random(seed)
    hyps, refs = _corpus(seed, n, max_refs=5, max_len=14)
    for i, rs in enumerate(refs):
        words = rng.choice(rs).split()
        for _ in range(rng.randint(0, 3)):
            if words and rng.random() < 0.5:
                words.pop(rng.randrange(len(words)))
            else:
                words.insert(rng.randint(0, len(words)), rng.choice(VOCAB))
        hyps[i] = " ".join(words)
    return hyps, refs


def _ref_cider(hyps, refs):
    score, scores = cider_ref.Cider().compute_score(
        {i: list(r) for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)}
    )
    return float(score), np.asarray(scores, dtype=np.float64)


def _ref_rouge(hyps, refs):
    score, scores = rouge_ref.Rouge().compute_score(
        {i: list(r) for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)}
    )
    return float(score), np.asarray(scores, dtype=np.float64)


EDGE_CASES = [
    # (hypotheses, references); pycocoevalcap needs at least one non-empty reference for CIDEr
    (["a dog"], [["a dog"]]),  # one image: idf = log(1) - log(1) = 0 everywhere
    (["a dog", "a cat"], [["a dog"], ["a cat"]]),  # single reference each
    ([""], [["a dog on the grass"]]),  # empty hypothesis, one image
    (["", "the cat"], [["a dog on the grass"], ["the cat", "a cat"]]),  # empty hypothesis
    (["a dog", "cat"], [[""], ["the cat"]]),  # an empty reference
    (["", ""], [["", "a b"], ["c d", ""]]),  # empty hypotheses and references
    (["a a a a a a", "a a"], [["a a", "a"], ["a b a b"]]),  # repeated words: clipping
    (["dog dog dog", "the the"], [["dog"], ["the cat the cat the"]]),
    (["x y z w v", "a"], [["a b c d", "a b c d e f"], ["q"]]),  # nothing in common
    (["the cat sat on the mat"] * 3, [["the cat sat on the mat"], ["a dog"], ["a man"]]),
    (
        ["one two three four five six seven eight nine ten eleven twelve", "one"],
        [["one two"], ["one"]],
    ),
    (["a b c d e f g h i j k l m n o p", "a"], [["a b"], ["a b c d e f g h i j k l m n o p"]]),
]


@pytest.mark.parametrize(("hyps", "refs"), EDGE_CASES)
def test_cider_d_equals_pycocoevalcap_edge_cases(hyps, refs):
    expected, expected_per = _ref_cider(hyps, refs)
    got, per = cider_d(hyps, refs)
    assert got == expected  # bit for bit
    np.testing.assert_array_equal(per, expected_per)


@pytest.mark.parametrize("seed", range(30))
def test_cider_d_equals_pycocoevalcap_random(seed):
    hyps, refs = _corpus(seed, n=1 + seed * 4, max_refs=1 + seed % 6, max_len=2 + seed % 15)
    if not any(r for rs in refs for r in rs):
        pytest.skip("all references empty")
    expected, expected_per = _ref_cider(hyps, refs)
    got, per = cider_d(hyps, refs)
    assert got == expected
    np.testing.assert_array_equal(per, expected_per)


@pytest.mark.parametrize("seed", range(10))
def test_cider_d_equals_pycocoevalcap_near_copies(seed):
    hyps, refs = _near_copies(500 + seed, n=50)
    expected, expected_per = _ref_cider(hyps, refs)
    got, per = cider_d(hyps, refs)
    assert got > 0.5  # far from 0: the comparison is not between zeros
    assert got == expected
    np.testing.assert_array_equal(per, expected_per)


def test_cider_d_all_references_empty_is_zero():
    # pycocoevalcap fails here (max() of no document frequencies); every vector is zero
    with pytest.raises(ValueError):
        _ref_cider(["a dog"], [[""]])
    assert cider_d(["a dog", ""], [[""], [""]]) == (0.0, pytest.approx(np.zeros(2)))


def test_cider_d_hand_computed():
    # two images, one reference each, hypotheses equal to their reference: every n-gram
    # appears in one image of two, idf = log 2; cosine 1, no length penalty -> 10 * 1
    got, per = cider_d(["a b c d e", "f g h i j"], [["a b c d e"], ["f g h i j"]])
    assert per.tolist() == pytest.approx([10.0, 10.0], rel=1e-12)
    # "a" is in every image: idf 0, so it adds nothing; 1- and 2-gram cosines are 1, there
    # are no 3- or 4-grams: mean over n = 2/4, x10 = 5
    got, per = cider_d(["a b", "a c"], [["a b"], ["a c"]])
    assert per.tolist() == pytest.approx([5.0, 5.0], rel=1e-12)


@pytest.mark.parametrize(("hyps", "refs"), EDGE_CASES + [(["a  b", " a"], [["a b ", "a"], ["a"]])])
def test_rouge_l_equals_pycocoevalcap_edge_cases(hyps, refs):
    expected, expected_per = _ref_rouge(hyps, refs)
    got, per = rouge_l(hyps, refs)
    assert got == expected
    np.testing.assert_array_equal(per, expected_per)


@pytest.mark.parametrize("seed", range(30))
def test_rouge_l_equals_pycocoevalcap_random(seed):
    hyps, refs = _corpus(1000 + seed, n=1 + seed * 4, max_refs=1 + seed % 6, max_len=2 + seed % 20)
    expected, expected_per = _ref_rouge(hyps, refs)
    got, per = rouge_l(hyps, refs)
    assert got == expected
    np.testing.assert_array_equal(per, expected_per)


def test_rouge_l_hand_computed():
    # LCS("a b c d", "a c d e") = 3: P = R = 3/4, F = 3/4
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    assert rouge_l_sentence("a b c d", ["a c d e"]) == pytest.approx(0.75)
    # P = 2/2, R = 2/4: F = (1 + 1.44) * 1 * 0.5 / (0.5 + 1.44 * 1)
    assert rouge_l_sentence("a b", ["a x b y"]) == pytest.approx(2.44 * 0.5 / 1.94)
    assert rouge_l_sentence("x", ["a b"]) == 0.0


# ---------------------------------------------------------------- through the evaluator


@pytest.mark.parametrize("seed", range(5))
def test_evaluator_sharded_equals_unsharded_and_pycocoevalcap(seed):
    hyps, refs = _near_copies(700 + seed, n=41)
    whole = CaptionEvaluator(tokenize="none", sacrebleu=False)
    whole.update(predictions=hyps, targets=refs)
    expected = whole.compute()
    assert expected["cider_d"] == _ref_cider(hyps, refs)[0]
    assert expected["rouge_l"] == _ref_rouge(hyps, refs)[0]

    # CIDEr-D's document frequencies depend on the whole corpus: a shard alone differs ...
    part = CaptionEvaluator(tokenize="none", sacrebleu=False)
    part.update(predictions=hyps[:13], targets=refs[:13])
    assert part.compute()["cider_d"] != expected["cider_d"]
    # ... and merged shards (also through state_dict) are exactly one pass
    shards = []
    for lo, hi in ((0, 13), (13, 14), (14, 30), (30, 41)):
        ev = CaptionEvaluator(tokenize="none", sacrebleu=False)
        ev.update(predictions=hyps[lo:hi], targets=refs[lo:hi])
        shards.append(ev)
    merged = CaptionEvaluator(tokenize="none", sacrebleu=False)
    for ev in shards:
        restored = CaptionEvaluator(tokenize="none", sacrebleu=False)
        restored.load_state_dict(ev.state_dict())
        merged.merge(restored)
    got = merged.compute()
    assert got.metrics == expected.metrics
    for name in ("cider_d_per_caption", "rouge_l_per_caption", "coco_statistics"):
        np.testing.assert_array_equal(got.arrays[name], expected.arrays[name])
