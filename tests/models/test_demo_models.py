"""The built-in demo segmenter and detector.

The metric thresholds below are regression checks of the *shipped* weights: they were
measured once on the mini val splits (demo-segnet mIoU 0.907 on cityscapes-mini val;
demo-detector AP 0.576 / AP50 0.961 on coco-mini val2017) and are set with a margin. They
fail if the weights, the architecture, the preprocessing or the postprocessing geometry
drift; they say nothing about real Cityscapes or COCO.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionbench.engine.run import RunOptions, run
from visionbench.errors import WeightsError
from visionbench.models import demo_detection as dd
from visionbench.models.demo_detection import CATEGORY_IDS, build_demo_detector
from visionbench.models.demo_segmentation import build_demo_segnet
from visionbench.models.demo_training.detection import centernet_targets, train_demo_detector
from visionbench.models.demo_training.segmentation import train_demo_segnet
from visionbench.registry import datasets, models
from visionbench.tasks import Batch
from visionbench.types import DetectionPrediction, SegmentationPrediction


def _opts(tmp_path):
    return RunOptions(workers=0, progress=False, results=tmp_path, command=["test"])


def _batch(model, images, ids):
    xs, metas = [], []
    for img, sid in zip(images, ids):
        x, meta = model.preprocess(img)
        xs.append(x)
        metas.append(meta | {"sample_id": sid})
    return Batch(torch.stack(xs), metas)


@pytest.mark.parametrize(
    ("name", "factory", "label_space", "task"),
    [
        ("demo-segnet", build_demo_segnet, "cityscapes19", "semantic_segmentation"),
        ("demo-detector", build_demo_detector, "coco91", "detection"),
    ],
)
def test_shipped_weights_load_and_are_registered(name, factory, label_space, task):
    model = factory()
    assert model.name == name
    assert model.label_space.name == label_space
    assert model.task.value == task
    assert len(model.weights["sha256"]) == 64
    entry = models.entry(name)
    assert entry.info["task"] == task and entry.info["label_space"] == label_space
    assert type(models.get(name)()) is type(model)
    # trained, not freshly initialised: every BatchNorm has moved off its init statistics
    bns = [m for m in model.module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(float(m.running_var.sub(1).abs().max()) > 1e-3 for m in bns)


def test_wrong_weights_are_refused(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        build_demo_segnet(str(tmp_path / "nope.pt"))
    seg_state = build_demo_segnet().module.state_dict()
    path = tmp_path / "seg.pt"
    torch.save(seg_state, path)
    with pytest.raises(WeightsError, match="does not fit DemoDetNet: 52 missing keys"):
        build_demo_detector(str(path))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        build_demo_segnet(str(tmp_path / "junk.pt"))


def test_demo_segnet_on_cityscapes_mini_val(tmp_path):
    ds = datasets.get("cityscapes-mini")(root=None, split="val")
    record, _ = run(build_demo_segnet(), ds, _opts(tmp_path))
    assert record["metrics"]["miou"]["value"] > 0.80  # measured 0.907


def test_demo_detector_on_coco_mini_val(tmp_path):
    ds = datasets.get("coco-mini")(root=None, split="val2017")
    record, _ = run(build_demo_detector(), ds, _opts(tmp_path))
    assert record["metrics"]["AP"]["value"] > 0.45  # measured 0.576
    assert record["metrics"]["AP50"]["value"] > 0.85  # measured 0.961


def test_segnet_masks_are_trainids_at_the_original_resolution():
    model = build_demo_segnet()
    ds = datasets.get("cityscapes-mini")(root=None, split="val")
    s = ds[0]
    image = s.image.load()
    odd = torch.randint(
        0, 256, (3, 50, 90), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    (pred,) = model.predict(_batch(model, [image], [s.sample_id]))
    (pred_odd,) = model.predict(_batch(model, [odd], ["odd"]))
    assert isinstance(pred, SegmentationPrediction)
    assert pred.mask.shape == tuple(image.shape[-2:]) == (128, 256)
    assert pred_odd.mask.shape == (50, 90)
    assert pred.sample_id == s.sample_id
    assert pred.mask.dtype == np.uint8 and pred.mask.max() <= 18
    # the frame's road (trainId 0, labelId 7) is mostly found
    gt = ds[0].target.mask  # labelIds
    assert (pred.mask[gt == 7] == 0).mean() > 0.8


def test_detector_predictions_are_in_original_pixels():
    model = build_demo_detector()
    ds = datasets.get("coco-mini")(root=None, split="val2017")
    samples = [ds[i] for i in range(4)]
    images = [s.image.load() for s in samples]
    preds = [model.predict(_batch(model, [im], [s.sample_id]))[0] for im, s in zip(images, samples)]
    for im, s, p in zip(images, samples, preds):
        assert isinstance(p, DetectionPrediction) and p.sample_id == s.sample_id
        h, w = im.shape[-2:]
        assert len(p) > 0
        assert (p.boxes[:, [0, 2]] <= w).all() and (p.boxes[:, [1, 3]] <= h).all()
        assert (p.boxes >= 0).all() and (p.boxes[:, 2:] >= p.boxes[:, :2]).all()
        assert set(p.labels.tolist()) <= set(CATEGORY_IDS)
        assert ((p.scores > 0) & (p.scores <= 1)).all()
        # every non-crowd object is found with IoU > 0.5 and its category (original pixels)
        t = s.target
        for box, lab in zip(t.boxes[~t.iscrowd.astype(bool)], t.labels[~t.iscrowd.astype(bool)]):
            same = p.boxes[p.labels == lab]
            assert len(same) and _iou(box, same).max() > 0.5, (s.sample_id, box, lab)


def test_decode_inverts_the_training_targets():
    """Targets made from known boxes, read back as a perfect network output, decode to
    exactly those boxes and labels."""
    boxes = torch.tensor([[20.0, 30.0, 60.0, 110.0], [100.0, 40.0, 180.0, 80.0]])
    labels = torch.tensor([0, 5])
    heat, reg, centre = centernet_targets(boxes, labels, len(CATEGORY_IDS))
    assert int(centre.sum()) == 2 and heat.max() == 1.0
    logits = torch.logit(heat.clamp(1e-6, 1 - 1e-6))
    out = torch.cat([logits, reg])[None]
    (res,) = dd.decode(out, score_threshold=0.5)
    order = res["labels"].argsort()
    assert res["labels"][order].tolist() == [0, 5]
    torch.testing.assert_close(res["boxes"][order], boxes, atol=1e-4, rtol=0)


def test_decode_of_one_peak_gives_its_box():
    n, c = dd.INPUT // dd.STRIDE, len(CATEGORY_IDS)
    out = torch.full((1, c + 4, n, n), -10.0)
    out[0, c:] = 0.0
    out[0, 3, 5, 7] = 2.0  # class 3, cell (y=5, x=7), score sigmoid(2)
    out[0, c : c + 2, 5, 7] = torch.tensor([math.log(4.0), math.log(2.0)])  # 32 x 16 px
    out[0, c + 2 :, 5, 7] = torch.tensor([0.5, 0.25])  # centre (7.5, 5.25) cells
    (res,) = dd.decode(out)
    assert res["labels"].tolist() == [3]
    assert res["scores"].item() == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-6)
    torch.testing.assert_close(res["boxes"], torch.tensor([[44.0, 34.0, 76.0, 50.0]]))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / (area(box) + area(boxes) - inter)


@pytest.mark.slow
@pytest.mark.parametrize(
    "train",
    [
        lambda: train_demo_segnet(epochs=2),
        lambda: train_demo_detector(epochs=1),
    ],
    ids=["segnet", "detector"],
)
def test_training_is_deterministic(train):
    """Two short trainings give bit-identical weights (the shipped ones are regenerated by
    the full recipe the same way; bit-exactness across CPUs and torch builds is not
    promised). The thread count is left as it was."""
    threads = torch.get_num_threads()
    a, b = train().state_dict(), train().state_dict()
    assert torch.get_num_threads() == threads
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
