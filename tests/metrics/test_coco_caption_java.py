"""The Java tools of COCO-caption (PTB tokenizer, METEOR, SPICE): equal to pycocoevalcap where
Java is here, one-line errors where it is not."""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.captioning import java_tools as java
from visionbench.metrics.captioning.evaluator import CaptionEvaluator
from visionbench.metrics.captioning.ptb_tokenizer import ptb_tokenize
from visionbench.metrics.errors import MetricUnavailableError

FIXTURE = Path(__file__).parents[1] / "data/fixtures/coco/annotations/captions_val2017_excerpt.json"
needs_java = pytest.mark.skipif(java.java_ptb_missing() is not None, reason="no Java runtime")

RAW = ["A", "man's", "dog,", "running.", "(big)", "cat", ":)", "j.", "Mr.", "U.S.", "don't",
       "\"hi\"", "--", "...", "can't", "3.5", "1,000", "colour", "e-mail", "www.x.com", "it's",
       "A/B", "5*", "&", "cafés", "naïve", "Dogs'", "'quoted'", "ok!", "why?", "x;y", "{a}"]  # fmt: skip


def _coco_fixture():
    """Real COCO val2017 captions: per image its captions (100 captions in the excerpt)."""
    doc = json.loads(FIXTURE.read_text())
    by_image: dict[int, list[str]] = defaultdict(list)
    for a in doc["annotations"]:
        by_image[a["image_id"]].append(a["caption"])
    return [caps for caps in by_image.values() if len(caps) >= 2]


def _raw_corpus(seed: int, n: int):
    rng = random.Random(seed)

    def cap():
        return " ".join(rng.choice(RAW) for _ in range(rng.randint(0, 10)))

    return [cap() for _ in range(n)], [[cap() for _ in range(rng.randint(1, 4))] for _ in range(n)]


def _pycoco_tokenize(hyps, refs):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": c} for c in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    return gts, res


# ---------------------------------------------------------------- PTB tokenizer


@needs_java
def test_java_ptb_equals_pycocoevalcap_tokenizer():
    reference_module("pycocoevalcap")
    groups = _coco_fixture()
    hyps = [g[0] for g in groups]
    refs = [g[1:] for g in groups]
    raw_h, raw_r = _raw_corpus(3, 40)
    hyps, refs = hyps + raw_h, refs + raw_r
    gts, res = _pycoco_tokenize(hyps, refs)
    flat_refs = [r for rs in refs for r in rs]
    tok_refs, tok_hyps = java.ptb_tokenize_java(flat_refs, hyps)
    assert tok_hyps == [res[i][0] for i in range(len(hyps))]
    it = iter(tok_refs)
    assert [[next(it) for _ in rs] for rs in refs] == [gts[i] for i in range(len(refs))]
    # the Python port differs on some of these (brackets, emoticons, initials): the reason
    # the Java path exists
    assert any(ptb_tokenize(c) != t for c, t in zip(hyps, tok_hyps))


@needs_java
def test_evaluator_with_java_ptb_equals_pycocoevalcap_pipeline():
    """Raw captions in, pycocoevalcap's tokenizer + Bleu + Rouge + Cider out, bit for bit."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    groups = _coco_fixture()
    rng = random.Random(0)
    hyps = [g[0] if rng.random() < 0.5 else rng.choice(groups)[0] for g in groups]
    refs = [g[1:] for g in groups]
    gts, res = _pycoco_tokenize(hyps, refs)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, cider_per = Cider().compute_score(gts, res)

    ev = CaptionEvaluator(tokenize="ptb-java")
    half = len(hyps) // 2
    ev.update(predictions=hyps[:half], targets=refs[:half])  # two updates: one JVM at compute
    ev.update(predictions=hyps[half:], targets=refs[half:])
    got = ev.compute()
    assert [got[f"bleu{k}"] for k in range(1, 5)] == bleu
    assert got["rouge_l"] == rouge
    assert got["cider_d"] == cider
    np.testing.assert_array_equal(got.arrays["cider_d_per_caption"], cider_per)
    assert "tok=ptb-java" in got.signature


@needs_java
def test_java_ptb_state_dict_and_merge_equal_one_pass():
    hyps, refs = _raw_corpus(11, 30)
    whole = CaptionEvaluator(tokenize="ptb-java")
    whole.update(predictions=hyps, targets=refs)
    a, b = CaptionEvaluator(tokenize="ptb-java"), CaptionEvaluator(tokenize="ptb-java")
    a.update(predictions=hyps[:7], targets=refs[:7])
    b.update(predictions=hyps[7:], targets=refs[7:])
    restored = CaptionEvaluator(tokenize="ptb-java")
    restored.load_state_dict(b.state_dict())  # tokenises b's captions
    a.merge(restored)
    assert a.compute().metrics == whole.compute().metrics


@needs_java
def test_ptb_auto_picks_java_and_says_so():
    ev = CaptionEvaluator()
    assert ev.config["tokenize"] == "ptb-java"
    ev.update(predictions=["A dog."], targets=[["A dog."]])
    assert "tok=ptb-java" in ev.compute().signature
    assert "tok=ptb-py" in CaptionEvaluator(tokenize="ptb-py").signature


# ---------------------------------------------------------------- METEOR


@needs_java
@pytest.mark.slow
def test_meteor_equals_pycocoevalcap():
    from pycocoevalcap.meteor.meteor import Meteor

    groups = _coco_fixture()
    rng = random.Random(1)
    hyps = [g[0] if rng.random() < 0.6 else rng.choice(groups)[0] for g in groups]
    refs = [g[1:] for g in groups]
    raw_h, raw_r = _raw_corpus(5, 10)
    hyps, refs = hyps + raw_h + ["", "a dog"], refs + raw_r + [["a dog"], ["a  dog ||| x"]]
    gts, res = _pycoco_tokenize(hyps, refs)
    expected, expected_per = Meteor().compute_score(gts, res)

    ev = CaptionEvaluator(tokenize="ptb-java", meteor=True)
    ev.update(predictions=hyps, targets=refs)
    got = ev.compute()
    assert got["meteor"] == expected
    np.testing.assert_array_equal(got.arrays["meteor_per_caption"], np.array(expected_per))
    assert 0.05 < got["meteor"] < 1  # a real number, not a zero compared with a zero
    assert list(got.metrics)[:6] == ["bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l"]


# ---------------------------------------------------------------- without Java / models


@pytest.fixture
def no_java(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert java.java_executable() is None


def test_without_java_ptb_falls_back_to_python(no_java):
    ev = CaptionEvaluator(meteor="auto", spice="auto")
    assert ev.config["tokenize"] == "ptb-py"
    assert not ev.config["meteor"] and not ev.config["spice"]
    ev.update(predictions=["A (big) dog."], targets=[["A big dog."]])
    got = ev.compute()
    assert "tok=ptb-py" in got.signature
    assert "meteor" not in got.metrics
    assert got["cider_d"] == 0.0  # one image: every idf is 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"meteor": True},
            r"^meteor=True: METEOR needs a Java runtime \(java on the PATH or \$JAVA_HOME\); none was found$",
        ),
        ({"spice": True}, r"^spice=True: SPICE needs a Java runtime"),
        (
            {"tokenize": "ptb-java"},
            r"^tokenize='ptb-java': the Java PTB tokenizer needs a Java runtime",
        ),
    ],
)
def test_without_java_asking_for_java_is_a_one_line_error(no_java, kwargs, match):
    with pytest.raises(MetricUnavailableError, match=match) as e:
        CaptionEvaluator(**kwargs)
    assert "\n" not in str(e.value)


@needs_java
def test_spice_without_corenlp_models_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    base = java.pycocoevalcap_dir()
    if base is not None and all(
        (base / "spice/lib" / j).is_file() for j in java.SPICE_CORENLP_JARS
    ):
        pytest.skip("CoreNLP 3.6.0 is installed inside pycocoevalcap here")
    with pytest.raises(MetricUnavailableError) as e:
        CaptionEvaluator(spice=True)
    msg = str(e.value)
    assert "\n" not in msg
    assert "stanford-corenlp-3.6.0.jar and stanford-corenlp-3.6.0-models.jar" in msg
    assert f"into {tmp_path / 'spice' / 'lib'}/" in msg
    assert not CaptionEvaluator(spice="auto").config["spice"]


def test_availability_values_are_checked():
    from visionbench.metrics.errors import MetricInputError

    with pytest.raises(MetricInputError, match="meteor: expected True, False or 'auto', got 'yes'"):
        CaptionEvaluator(meteor="yes")
    with pytest.raises(MetricInputError, match="tokenize: expected one of"):
        CaptionEvaluator(tokenize="java")


@needs_java
def test_java_tokens_depend_on_the_next_line_so_shards_keep_raw_captions():
    # CoreNLP decides whether "j." ends a sentence by looking at the next line
    (together,), (alone,) = java.ptb_tokenize_java(["a photo by j.", "A dog"]), java.ptb_tokenize_java(["a photo by j."])  # fmt: skip
    assert together == ["a photo by j", "a dog"] and alone == ["a photo by j."]
    hyps = ["a photo by j.", "A dog", "a cat"]
    refs = [["a photo by j", "a photo"], ["a dog"], ["a cat", "A cat."]]
    whole = CaptionEvaluator(tokenize="ptb-java", sacrebleu=False)
    whole.update(predictions=hyps, targets=refs)
    a = CaptionEvaluator(tokenize="ptb-java", sacrebleu=False)
    b = CaptionEvaluator(tokenize="ptb-java", sacrebleu=False)
    a.update(predictions=hyps[:1], targets=refs[:1])  # the shard boundary right after "j."
    b.update(predictions=hyps[1:], targets=refs[1:])
    a.compute()  # shards may be computed on their own first
    b.compute()
    a.merge(b)
    got, expected = a.compute(), whole.compute()
    assert got.metrics == expected.metrics
    np.testing.assert_array_equal(
        got.arrays["bleu1_per_caption"], expected.arrays["bleu1_per_caption"]
    )
    assert got.arrays["bleu1_per_caption"][0] > 0.99  # "a photo by j" matched its reference


# ---------------------------------------------------------------- METEOR bootstrap

# Under CI a missing Java fails these tests (MetricUnavailableError) instead of skipping them.
needs_meteor = pytest.mark.skipif(
    java.meteor_missing() is not None and not os.environ.get("CI"), reason="no Java runtime"
)
_METEOR_WORDS = ["a", "the", "dog", "dogs", "cat", "cats", "runs", "running", "run", "sits",
                 "sitting", "on", "mat", "big", "large", "small", "little", "park", "man",
                 "men", "is", "are", "of", "in", "grass", "street", "car", "automobile"]  # fmt: skip


def _ulps(a, b) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)))


@needs_meteor
@pytest.mark.slow
def test_meteor_replicates_equal_pycocoevalcap_on_the_duplicated_sets():
    """A METEOR replicate (the jar's corpus formula on the summed per-caption statistics)
    equals pycocoevalcap's ``Meteor().compute_score`` of the resampled set built explicitly
    (images duplicated under new ids), to the last bits Java's ``Math.pow`` rounds
    differently from C's ``pow``; and the port of ``computeMetrics`` equals the jar's
    ``EVAL`` answers on many random sums of statistics to the same few ulps."""
    reference_module("pycocoevalcap")
    from pycocoevalcap.meteor.meteor import Meteor

    from visionbench.metrics.bootstrap import sample_table
    from visionbench.metrics.captioning.meteor import meteor_from_statistics

    rng = np.random.default_rng(5)

    def cap():
        return " ".join(rng.choice(_METEOR_WORDS, int(rng.integers(0, 12))))

    n = 40
    hyps = [cap() for _ in range(n)]
    refs = [[cap() or "a" for _ in range(int(rng.integers(1, 5)))] for _ in range(n)]
    opts = dict(tokenize="none", meteor=True, coco=False, cider_d=False, rouge_l=False,
                sacrebleu=False)  # fmt: skip
    ev = CaptionEvaluator(**opts)
    ev.update(predictions=hyps, targets=refs)
    corpus = ev.compute()["meteor"]
    table = sample_table(ev, metrics=["meteor"])
    w = rng.multinomial(n, np.ones(n) / n, size=8)
    w[0] = 1  # the evaluated set itself
    reps = table.metrics(w)["meteor"]
    assert reps[0] == corpus
    m = Meteor()
    for j in range(len(w)):
        idx = np.repeat(np.arange(n), w[j])
        gts = {k: refs[i] for k, i in enumerate(idx)}
        res = {k: [hyps[i]] for k, i in enumerate(idx)}
        expected, _ = m.compute_score(gts, res)
        assert _ulps(reps[j], expected) <= 8, (j, reps[j], expected)
    # the port against the jar's own EVAL on 600 random sums of statistics
    S = ev.meteor_statistics()
    ours, jar = [], []
    for _ in range(600):
        idx = rng.integers(0, n, int(rng.integers(1, 60)))
        line = "EVAL ||| " + " ||| ".join(" ".join(repr(float(v)) for v in S[i]) for i in idx)
        m.meteor_p.stdin.write((line + "\n").encode())
        m.meteor_p.stdin.flush()
        for _ in idx:
            m.meteor_p.stdout.readline()
        jar.append(float(m.meteor_p.stdout.readline()))
        ours.append(float(meteor_from_statistics(S[idx].sum(axis=0))))
    u = _ulps(ours, jar)
    assert u.max() <= 8, u.max()
    assert (u == 0).mean() > 0.8  # mostly bit for bit: only pow's last bit differs
