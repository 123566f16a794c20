"""Calibration error equal to torchmetrics' MulticlassCalibrationError (15 bins)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shared_fixtures import reference_module
from visionbench.metrics.calibration import _linspace_f32, calibration_error, top1_confidence
from visionbench.metrics.errors import MetricInputError

torch = reference_module("torch")
tmc = reference_module("torchmetrics.classification")


def test_bin_edges_are_torch_linspace() -> None:
    for steps in range(2, 300):
        assert np.array_equal(_linspace_f32(steps), torch.linspace(0, 1, steps).numpy()), steps


@pytest.mark.parametrize("seed", range(12))
def test_ece_mce_equal_torchmetrics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(5, 400)), int(rng.integers(2, 12))
    logits = rng.normal(0, rng.uniform(0.5, 4), (n, c)).astype(np.float32)
    labels = rng.integers(0, c, n)
    if seed % 3 == 0:  # probabilities, with exact 1.0 and bin-edge confidences sometimes
        e = np.exp(logits - logits.max(1, keepdims=True))
        scores = (e / e.sum(1, keepdims=True)).astype(np.float32)
        scores[0] = 0
        scores[0, 0] = 1.0
    else:
        scores = logits
    conf, correct = top1_confidence(scores, labels)
    ours = calibration_error(conf, correct, n_bins=15)
    for norm, key in (("l1", "ece"), ("max", "mce")):
        m = tmc.MulticlassCalibrationError(num_classes=c, n_bins=15, norm=norm)
        ref = float(m(torch.from_numpy(scores), torch.from_numpy(labels)))
        assert ours[key] == pytest.approx(ref, rel=1e-6, abs=1e-7), (key, ours[key], ref)
    assert ours["bin_count"].sum() == n


def test_hand_case_and_errors() -> None:
    # two samples at confidence 0.9 (one right), one at 0.3 (right): bins 13 and 4
    r = calibration_error([0.9, 0.9, 0.3], [True, False, True])
    assert r["bin_count"][13] == 2 and r["bin_count"][4] == 1
    assert r["ece"] == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.7, rel=1e-6)
    assert r["mce"] == pytest.approx(0.7, rel=1e-6)
    with pytest.raises(MetricInputError, match="probabilities"):
        calibration_error([1.5], [True])
