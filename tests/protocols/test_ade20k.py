"""ADE20K through its declared protocol (semantic, reduce_zero_label) on ade20k-mini, against
a per-pixel reference loop and hotcoco's ``SemanticEval`` (mmsegmentation's protocol)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.shared_fixtures import reference_module
from visionbench import synth
from visionbench.loaders.mini import ade20k_mini
from visionbench.protocols import dataset_protocol
from visionbench.types import SegmentationPrediction


@pytest.fixture(scope="module")
def ade_root(tmp_path_factory) -> Path:
    return synth.generate("ade20k-mini", tmp_path_factory.mktemp("ade") / "root")


def reference_loop(gts: list[np.ndarray], preds: list[np.ndarray], num_classes: int = 150):
    """Per pixel, as the benchmark defines it: gt 0 is not evaluated, gt v is class v - 1."""
    tp = [0] * num_classes
    n_gt = [0] * num_classes
    n_pred = [0] * num_classes
    evaluated = correct = 0
    for gt, pred in zip(gts, preds):
        for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
            if g == 0:
                continue
            c = g - 1
            evaluated += 1
            n_gt[c] += 1
            n_pred[p] += 1
            if p == c:
                tp[c] += 1
                correct += 1
    iou = np.array([t / (a + b - t) if a + b - t else np.nan for t, a, b in zip(tp, n_gt, n_pred)])
    return iou, float(np.nanmean(iou)), correct / evaluated


def predictions(rng: np.random.Generator, gts: list[np.ndarray], ids: list[str]):
    """Mostly right (gt - 1), with blocks of confusion and random pixels anywhere (also on
    "other" pixels, which must not count)."""
    out = []
    for gt, sid in zip(gts, ids):
        pred = np.where(gt > 0, gt.astype(np.int64) - 1, rng.integers(0, 150, gt.shape))
        noise = rng.random(gt.shape) < 0.25
        pred[noise] = rng.integers(0, 150, int(noise.sum()))
        y, x = int(rng.integers(0, gt.shape[0] - 20)), int(rng.integers(0, gt.shape[1] - 20))
        pred[y : y + 20, x : x + 20] = int(rng.integers(0, 150))
        out.append(SegmentationPrediction(mask=pred.astype(np.uint8), sample_id=sid))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ade20k_equals_reference_loop_and_hotcoco(
    ade_root: Path, tmp_path: Path, seed: int
) -> None:
    ds = ade20k_mini(ade_root)
    protocol = dataset_protocol(ds)
    assert protocol.name == "semantic" and protocol.opts["reduce_zero_label"] is True
    gt = ds.ground_truth()
    gts = [ds[i].target.mask for i in range(len(ds))]
    preds = predictions(np.random.default_rng(seed), gts, gt.sample_ids)

    res = protocol.score(preds, gt.targets)  # targets by path: the PNGs are read
    res_arrays = protocol.score(preds, [ds[i].target for i in range(len(ds))])
    iou, miou, pixel_acc = reference_loop(gts, [p.mask for p in preds])
    for r in (res, res_arrays):
        np.testing.assert_allclose(r.arrays["iou"], iou, rtol=1e-15, atol=0)
        assert np.isnan(r.arrays["iou"]).tolist() == np.isnan(iou).tolist()
        assert r.metrics["miou"] == pytest.approx(miou, rel=1e-14)
        assert r.metrics["pixel_acc"] == pytest.approx(pixel_acc, rel=1e-14)
    assert 0.05 < res.metrics["miou"] < 0.95 and 0.5 < res.metrics["pixel_acc"] < 0.95

    hotcoco = reference_module("hotcoco.semantic")
    ev = hotcoco.SemanticEval(150, reduce_zero_label=True)
    for g, p in zip(gts, preds):
        ev.update(g, p.mask)
    h = ev.results()
    h_iou = np.array([c["IoU"] for c in h["per_class"]], np.float64)
    present = ~np.isnan(iou)
    np.testing.assert_allclose(h_iou[present], iou[present], rtol=1e-12)
    assert h["mIoU"] == pytest.approx(res.metrics["miou"], rel=1e-12)
    assert h["aAcc"] == pytest.approx(res.metrics["pixel_acc"], rel=1e-12)
    np.testing.assert_array_equal(ev.confusion(), res.arrays["confusion"][:, :150])

    # bench eval's path: a folder of prediction PNGs named by sample id
    folder = protocol.write_predictions(preds, tmp_path / "pred", gt=gt)
    from_files = protocol.evaluate_file(folder, ds)
    assert from_files.metrics == pytest.approx(res.metrics, nan_ok=True, rel=0, abs=0)
    ev2 = hotcoco.SemanticEval(150, reduce_zero_label=True)
    ev2.update_folders(str(Path(gt.files["gt"])), str(folder))
    assert ev2.results()["mIoU"] == pytest.approx(res.metrics["miou"], rel=1e-12)


def test_other_pixels_are_free(ade_root: Path) -> None:
    """Whatever is predicted on gt 0 ("other") changes nothing."""
    ds = ade20k_mini(ade_root)
    gts = [ds[i].target.mask for i in range(len(ds))]
    ids = ds.ground_truth().sample_ids
    right = [SegmentationPrediction(mask=np.where(g > 0, g - 1, 0).astype(np.uint8), sample_id=s)
             for g, s in zip(gts, ids)]  # fmt: skip
    other = [SegmentationPrediction(mask=np.where(g > 0, g - 1, 149).astype(np.uint8), sample_id=s)
             for g, s in zip(gts, ids)]  # fmt: skip
    p = dataset_protocol(ds)
    targets = [ds[i].target for i in range(len(ds))]
    a, b = p.score(right, targets), p.score(other, targets)
    assert a.metrics["miou"] == b.metrics["miou"] == a.metrics["pixel_acc"] == 1.0
    assert Image.open(ds.ground_truth().targets[0].mask_path).mode == "L"
