"""FREQ / FREQ+OVERLAP on a hand-made training set, with hand-computed statistics and
predictions (Neural Motifs' counting rules, REFERENCE.md §5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from visionbench.errors import ContractError, WeightsError
from visionbench.label_spaces import get_label_space
from visionbench.models.preprocess import Preprocess
from visionbench.models.scene_graph_freq import (
    FreqPredictor,
    FreqStatistics,
    build_freq,
    compute_freq_statistics,
    overlapping_pairs,
)
from visionbench.models.task_adapters import DetectionAdapter
from visionbench.tasks import Batch
from visionbench.types import SceneGraphTarget

# Image A: box 0 (class 1) and box 1 (class 2) overlap, box 2 (class 3) is alone.
# Relations: (0 -1-> 1) twice (duplicates count), (1 -2-> 0).
# Image B: boxes touch at x=10 (zero-area intersection: no overlap) -> every pair counts in bg.
TRAIN = [
    SceneGraphTarget(
        boxes=np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30.0]]),
        labels=np.array([1, 2, 3]),
        relations=np.array([[0, 1, 1], [0, 1, 1], [1, 0, 2]]),
        sample_id="A",
    ),
    (np.array([[0, 0, 10, 10], [10, 0, 20, 10.0]]), np.array([1, 2]), np.array([[0, 1, 2]])),
]


def _stats(**kw: object) -> FreqStatistics:
    return compute_freq_statistics(TRAIN, num_obj_classes=3, num_predicates=2, **kw)


def test_counts_by_hand() -> None:
    s = _stats()
    fg = np.zeros((4, 4, 3), int)
    fg[1, 2, 1], fg[1, 2, 2], fg[2, 1, 2] = 2, 1, 1
    np.testing.assert_array_equal(s.fg, fg)
    bg = np.zeros((4, 4), int)
    bg[1, 2] = bg[2, 1] = 2  # A: the overlapping pair both ways; B: fallback, both ways
    np.testing.assert_array_equal(s.bg, bg)

    s_all = _stats(must_overlap=False)
    bg_all = np.zeros((4, 4), int)
    for a, b in [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2), (1, 2), (2, 1)]:
        bg_all[a, b] += 1
    np.testing.assert_array_equal(s_all.bg, bg_all)


def test_probabilities_by_hand() -> None:
    p = _stats().probabilities()
    np.testing.assert_allclose(p[1, 2], [3 / 6, 2 / 6, 1 / 6])  # [bg+1, fg1, fg2] / sum
    np.testing.assert_allclose(p[2, 1], [3 / 4, 0, 1 / 4])
    np.testing.assert_allclose(p[1, 1], [1, 0, 0])  # unseen pair: background only
    np.testing.assert_allclose(p.sum(axis=2), 1.0)


# Test image: object 0 (class 1, score .9) and object 1 (class 2, .5) overlap; object 2
# (class 1, .8) is alone. Triplet score = s_subj * s_obj * max non-background p:
#   (0,1): .9*.5/3 = .15   (2,1): .8*.5/3 = .1333   (1,0): .5*.9/4 = .1125
#   (1,2): .5*.8/4 = .1    (0,2) and (2,0): class pair (1,1) never seen -> 0
BOXES = np.array([[0, 0, 10, 10], [2, 2, 8, 8], [50, 50, 60, 60.0]])
LABELS = np.array([1, 2, 1])
SCORES = np.array([0.9, 0.5, 0.8])


def test_freq_predictions_by_hand() -> None:
    pred = FreqPredictor(_stats()).predict_graph(BOXES, LABELS, SCORES, sample_id=5)
    assert pred.sample_id == 5
    assert pred.rel_pairs.tolist() == [[0, 1], [2, 1], [1, 0], [1, 2], [0, 2], [2, 0]]
    np.testing.assert_allclose(pred.rel_scores[0], [1 / 2, 1 / 3, 1 / 6])
    np.testing.assert_allclose(pred.rel_scores[2], [3 / 4, 0, 1 / 4])
    triplet = (
        SCORES[pred.rel_pairs[:, 0]] * SCORES[pred.rel_pairs[:, 1]] * pred.rel_scores[:, 1:].max(1)
    )
    np.testing.assert_allclose(triplet, [0.15, 0.4 / 3, 0.1125, 0.1, 0, 0])
    assert pred.rel_scores[:2, 1:].argmax(1).tolist() == [0, 0]  # predicate 1 for (1, 2)
    assert pred.rel_scores[2:4, 1:].argmax(1).tolist() == [1, 1]  # predicate 2 for (2, 1)


def test_freq_overlap_keeps_intersecting_pairs() -> None:
    pred = FreqPredictor(_stats(), overlap=True).predict_graph(BOXES, LABELS, SCORES)
    assert pred.rel_pairs.tolist() == [[0, 1], [1, 0]]


def test_predcls_scores_default_to_one_and_empty_image() -> None:
    pred = FreqPredictor(_stats()).predict_graph(BOXES[:2], LABELS[:2])
    assert pred.scores.tolist() == [1.0, 1.0] and pred.rel_pairs.tolist() == [[0, 1], [1, 0]]
    empty = FreqPredictor(_stats()).predict_graph(np.zeros((0, 4)), np.zeros(0, int))
    assert empty.rel_pairs.shape == (0, 2) and empty.rel_scores.shape == (0, 3)


def test_overlap_is_strict_without_plus_one() -> None:
    ov = overlapping_pairs(np.array([[0, 0, 10, 10], [10, 0, 20, 10], [9.5, 0, 12, 1.0]]))
    assert ov.tolist() == [[False, False, True], [False, False, True], [True, True, False]]


def test_save_load_roundtrip_and_errors(tmp_path: Path) -> None:
    s = _stats()
    path = s.save(tmp_path / "stats.npz")
    t = FreqStatistics.load(path)
    np.testing.assert_array_equal(t.fg, s.fg)
    np.testing.assert_array_equal(t.bg, s.bg)
    assert t.must_overlap is True
    with pytest.raises(WeightsError, match="does not exist"):
        FreqStatistics.load(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", fg=np.zeros((3, 3, 2)), bg=np.zeros((2, 2)), must_overlap=True)
    with pytest.raises(WeightsError, match=r"got fg \[3, 3, 2\] and bg \[2, 2\]"):
        FreqStatistics.load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(WeightsError, match="cannot read FREQ statistics"):
        FreqStatistics.load(tmp_path / "junk.npz")


def test_bad_labels() -> None:
    with pytest.raises(ContractError, match=r"object labels must be in 1\.\.3 \(sample_id=A\)"):
        compute_freq_statistics(
            [SceneGraphTarget(np.zeros((1, 4)), np.array([4]), np.zeros((0, 3)), sample_id="A")],
            num_obj_classes=3,
            num_predicates=2,
        )
    with pytest.raises(ContractError, match=r"predicates must be in 1\.\.2"):
        compute_freq_statistics(
            [(np.zeros((2, 4)), np.array([1, 2]), np.array([[0, 1, 3]]))],
            num_obj_classes=3,
            num_predicates=2,
        )


def test_adapter_needs_statistics_and_uses_meta_or_detector(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="needs training statistics"):
        build_freq(None)
    stats = compute_freq_statistics(TRAIN, num_obj_classes=150, num_predicates=50)
    path = stats.save(tmp_path / "vg.npz")
    a = build_freq(str(path), overlap=False)
    assert a.weights["sha256"] and a.label_space.name == "vg150"
    batch = Batch(
        torch.zeros(1, 3, 8, 8),
        [{"sample_id": 1, "orig_size": (8, 8), "boxes": BOXES, "labels": LABELS, "scores": SCORES}],
    )
    (p,) = a.predict(batch)
    assert p.rel_pairs.tolist() == [[0, 1], [2, 1], [1, 0], [1, 2], [0, 2], [2, 0]]
    with pytest.raises(ContractError, match="FREQ needs `boxes`"):
        a.predict(Batch(torch.zeros(1, 3, 8, 8), [{"sample_id": 2, "orig_size": (8, 8)}]))

    class FixedDet(nn.Module):
        def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
            return [
                {
                    "boxes": torch.tensor(BOXES, dtype=torch.float32),
                    "labels": torch.tensor([0, 1, 0]),
                    "scores": torch.tensor(SCORES),
                }
            ]

    vg = get_label_space("vg150")
    det = DetectionAdapter("det", vg, FixedDet(), Preprocess(mode="none"), class_ids=[1, 2])
    sgdet = build_freq(str(path), overlap=True, detector=det)
    (p,) = sgdet.predict(
        Batch(torch.zeros(1, 3, 80, 80), [{"sample_id": 3, "orig_size": (80, 80)}])
    )
    assert p.labels.tolist() == [1, 2, 1] and p.rel_pairs.tolist() == [[0, 1], [1, 0]]


def test_sgdet_uses_the_detectors_preprocessing(tmp_path: Path) -> None:
    class NoDet(nn.Module):
        def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
            return [
                {
                    "boxes": torch.zeros(0, 4),
                    "labels": torch.zeros(0, dtype=torch.long),
                    "scores": torch.zeros(0),
                }
            ]

    pre = Preprocess(mode="letterbox", size=32, mean=None, std=None)
    det = DetectionAdapter("det", get_label_space("vg150"), NoDet(), pre, class_ids=[1])
    a = build_freq("random", detector=det)
    assert a.preprocess_config == pre
    x, meta = a.preprocess(torch.zeros(3, 20, 10, dtype=torch.uint8))
    assert x.shape == (3, 32, 32)
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 1}]))
    assert len(p.labels) == 0 and p.rel_pairs.shape == (0, 2)
