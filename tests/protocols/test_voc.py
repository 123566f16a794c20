"""The VOC protocol on voc-mini against the reference ``voc_eval`` (``tests/voc_reference.py``,
a port of py-faster-rcnn / detectron2 with its file reading) on the same devkit files: the
XML annotations, the image set and the per-class results files the protocol writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.voc_reference import ref_voc_eval_files as ref_voc_eval
from visionbench import synth
from visionbench.errors import AnnotationError
from visionbench.label_spaces import VOC_CLASSES, get_label_space, label_map
from visionbench.loaders.mini import voc_mini
from visionbench.protocols import dataset_protocol
from visionbench.protocols.options import OptionError
from visionbench.types import DetectionPrediction

# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voc_root(tmp_path_factory) -> Path:
    return synth.generate("voc-mini", tmp_path_factory.mktemp("voc") / "root")


def random_predictions(rng: np.random.Generator, ds) -> list[DetectionPrediction]:
    """Detections near the ground truth (some of another class, some duplicates) plus
    random boxes, in 0-based corners and voc20 labels, as a detector gives them."""
    out = []
    gt = ds.ground_truth()
    for sid, t in zip(gt.sample_ids, gt.targets):
        w, h = ds[gt.sample_ids.index(sid)].image.width, ds[gt.sample_ids.index(sid)].image.height
        boxes, labels = [], []
        for b, c in zip(t.boxes.tolist(), t.labels.tolist()):
            for _ in range(int(rng.integers(0, 3))):
                size = np.array([b[2] - b[0], b[3] - b[1]] * 2)
                boxes.append(np.asarray(b) + rng.normal(0, 0.12, 4) * size)
                labels.append(c if rng.random() < 0.85 else int(rng.integers(1, 21)))
        for _ in range(int(rng.integers(0, 4))):
            x0, y0 = rng.uniform(0, w - 4), rng.uniform(0, h - 4)
            boxes.append(np.array([x0, y0, rng.uniform(x0, w), rng.uniform(y0, h)]))
            labels.append(int(rng.integers(1, 21)))
        bx = np.asarray(boxes, np.float64).reshape(-1, 4)
        bx[:, 2:] = np.maximum(bx[:, 2:], bx[:, :2])
        out.append(
            DetectionPrediction(boxes=bx, labels=labels, scores=rng.random(len(bx)), sample_id=sid)
        )
    return out


@pytest.mark.parametrize(("year", "split", "seed"), [(2007, "test", 0), (2007, "test", 1), (2007, "trainval", 2),
                                                     (2012, "val", 3), (2012, "trainval", 4)])  # fmt: skip
def test_protocol_equals_voc_eval_on_the_devkit_files(
    voc_root, tmp_path, year, split, seed
) -> None:
    ds = voc_mini(voc_root, split, year=year)
    protocol = dataset_protocol(ds)
    use07 = year < 2010
    assert protocol.opts["ap_method"] == ("11point" if use07 else "allpoint")
    preds = random_predictions(np.random.default_rng(seed), ds)
    out = protocol.write_predictions(preds, tmp_path / "results", gt=ds.ground_truth())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"comp4_det_{split}_{c}.txt" for c in VOC_CLASSES
    )

    from_files = protocol.evaluate_file(out, ds)  # bench eval's path
    scored = protocol.score(preds, [ds[i].target for i in range(len(ds))])  # bench run's path
    reread = protocol.score(
        protocol.read_predictions(out, ds.ground_truth()), ds.ground_truth().targets
    )
    base = ds.voc_dir
    aps = []
    for cls in VOC_CLASSES:
        _, _, ap, npos = ref_voc_eval(
            str(out / f"comp4_det_{split}_{{}}.txt"), str(base / "Annotations" / "{}.xml"),
            str(base / "ImageSets" / "Main" / f"{split}.txt"), cls, 0.5, use07,
        )  # fmt: skip
        for res in (from_files, scored):
            if npos == 0:
                assert np.isnan(res.metrics[f"AP_{cls}"])
            else:
                assert res.metrics[f"AP_{cls}"] == ap, cls
        assert reread.metrics[f"AP_{cls}"] == pytest.approx(
            from_files.metrics[f"AP_{cls}"], abs=1e-12, nan_ok=True
        )
        if npos:
            aps.append(ap)
    assert (
        from_files.metrics["mAP"] == scored.metrics["mAP"] == pytest.approx(np.mean(aps), rel=1e-15)
    )
    assert 0.05 < from_files.metrics["mAP"] < 0.95  # a non-trivial problem
    assert (
        from_files.signature
        == f"voc|iou>0.5|ap={protocol.opts['ap_method']}|box=+1px|difficult=ignored|classes=20|v0.1.0"
    )


def test_perfect_detections_score_one_and_difficult_is_ignored(voc_root) -> None:
    ds = voc_mini(voc_root)
    gt = ds.ground_truth()
    perfect = [DetectionPrediction(boxes=t.boxes[~t.difficult], labels=t.labels[~t.difficult],
                                   scores=np.ones((~t.difficult).sum()), sample_id=s)
               for s, t in zip(gt.sample_ids, gt.targets)]  # fmt: skip
    p = dataset_protocol(ds, {"ap_method": "allpoint"})
    assert p.score(perfect, gt.targets).metrics["mAP"] == 1.0
    # with use_difficult the missed difficult objects now count: recall < 1 where they exist
    hard = dataset_protocol(ds, {"ap_method": "allpoint", "use_difficult": True})
    res = hard.score(perfect, gt.targets)
    assert (
        "|difficult=counted|" in res.signature
        and "|difficult=ignored|" in p.score(perfect, gt.targets).signature
    )
    with_difficult = {int(c) for t in gt.targets for c in t.labels[t.difficult]}
    for c, name in zip(ds.label_space.ids, ds.label_space.names):
        assert (res.metrics[f"AP_{name}"] < 1.0) == (c in with_difficult), name


def test_coco_detector_scored_through_the_coco_to_voc_map(voc_root) -> None:
    """A detector in coco91: the engine maps its labels with label_map(coco91, voc20);
    detections of non-VOC categories become IGNORE and the protocol drops them."""
    ds = voc_mini(voc_root)
    gt = ds.ground_truth()
    rng = np.random.default_rng(9)
    voc_preds = random_predictions(rng, ds)
    voc_to_coco = {v: k for k, v in label_map("coco91", "voc20").table.items() if v != 255}
    non_voc = [
        c for c in get_label_space("coco91").ids if label_map("coco91", "voc20").table[c] == 255
    ]
    m = label_map("coco91", "voc20")
    mapped = []
    for p in voc_preds:
        extra = int(rng.integers(0, 4))
        coco_labels = np.concatenate([[voc_to_coco[c] for c in p.labels.tolist()],
                                      rng.choice(non_voc, extra)]).astype(np.int64)  # fmt: skip
        boxes = np.concatenate([p.boxes, np.tile([[0.0, 0.0, 20.0, 20.0]], (extra, 1))])
        scores = np.concatenate([p.scores, np.full(extra, 0.99)])
        mapped.append(DetectionPrediction(boxes=boxes, labels=m.apply(coco_labels), scores=scores,
                                          sample_id=p.sample_id))  # fmt: skip
    p = dataset_protocol(ds)
    a = p.score(voc_preds, gt.targets)
    b = p.score(mapped, gt.targets)
    assert a.metrics == b.metrics


def test_shards_merge_through_the_scorer(voc_root) -> None:
    ds = voc_mini(voc_root)
    targets = [ds[i].target for i in range(len(ds))]
    preds = random_predictions(np.random.default_rng(5), ds)
    p = dataset_protocol(ds)
    whole = p.score(preds, targets)
    a, b = p.scorer(), p.scorer()
    a.update(preds[:11], targets[:11])
    b.update(preds[11:], targets[11:])
    c = p.scorer()
    c.load_state_dict(b.state_dict())
    a.merge(c)
    assert a.compute().metrics == whole.metrics


def test_options_and_bad_files(voc_root, tmp_path) -> None:
    ds = voc_mini(voc_root)
    with pytest.raises(OptionError, match="did you mean 'ap_method'"):
        dataset_protocol(ds, {"ap_metod": "11point"})
    with pytest.raises(OptionError, match="expected one of 11point, allpoint"):
        dataset_protocol(ds, {"ap_method": "07"})
    p = dataset_protocol(ds)
    d = tmp_path / "res"
    d.mkdir()
    (d / "comp4_det_test_dog.txt").write_text("000033 0.9 1 2 30 40\n999999 0.5 1 2 3 4\n")
    with pytest.raises(
        AnnotationError,
        match=r"line 2: image '999999' is not in the evaluated split.*comp4_det_test_dog\.txt",
    ):
        p.evaluate_file(d, ds)
    (d / "comp4_det_test_dog.txt").write_text("000033 0.9 1 2 30\n")
    with pytest.raises(AnnotationError, match=r"line 1: expected '<image id> <score> <xmin>"):
        p.evaluate_file(d, ds)
    (d / "comp4_det_test_dog.txt").write_text("000033 0.9 40 2 30 50\n")
    with pytest.raises(AnnotationError, match="xmax >= xmin - 1"):
        p.evaluate_file(d, ds)
    (d / "comp4_det_test_dog.txt").unlink()
    (d / "comp4_det_test_doggo.txt").write_text("")
    with pytest.raises(
        AnnotationError, match="cannot tell the class of results file 'comp4_det_test_doggo.txt'"
    ):
        p.evaluate_file(d, ds)
    with pytest.raises(AnnotationError, match="predictions not found"):
        p.evaluate_file(tmp_path / "nothing", ds)


def test_degenerate_boxes_round_trip(voc_root, tmp_path) -> None:
    """A zero-width detection x1 == x2 is written as xmin = x1 + 1, which may exceed
    xmax + 1 by a rounding error; it reads back (found at scale on 495,200 detections)."""
    ds = voc_mini(voc_root)
    gt = ds.ground_truth()
    x = 7.149713555212201  # 8.149713555212202 - 1.0 > x in floats
    assert (x + 1.0) - 1.0 > x
    preds = [DetectionPrediction(boxes=[[x, 2.0, x, 40.0], [x, 3.0, 30.0, 3.0]], labels=[1, 2],
                                 scores=[0.5, 0.4], sample_id=s) for s in gt.sample_ids]  # fmt: skip
    p = dataset_protocol(ds)
    folder = p.write_predictions(preds, tmp_path / "res", gt=gt)
    back = p.read_predictions(folder, gt)
    np.testing.assert_allclose(back[0].boxes, preds[0].boxes, rtol=0, atol=1e-12)
    assert p.evaluate_file(folder, ds).metrics == p.score(preds, gt.targets).metrics
