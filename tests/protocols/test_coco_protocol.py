"""COCO protocol: mask AP from a results file with RLE masks equals pycocotools, by the
library path (the annotation file) and by per-sample objects; ``--gt`` files; export
round trip."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from visionbench.engine.offline import evaluate_predictions
from visionbench.protocols import dataset_protocol
from visionbench.protocols.coco import CocoGroundTruthFile
from visionbench.registry import datasets

STATS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


@pytest.fixture(scope="module")
def coco_mini_masks():
    return datasets.get("coco-mini")(root=None, split="val2017", masks=True)


def segm_results(ann_file, seed):
    """RLE mask results from the gt: shifted / shrunk rectangles and blobs, some dropped,
    some false positives, random scores (ties included)."""
    from pycocotools import mask as M

    rng = np.random.default_rng(seed)
    gt = json.loads(Path(ann_file).read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    cats = [c["id"] for c in gt["categories"]]
    out = []

    def rle(m):
        r = M.encode(np.asfortranarray(m.astype(np.uint8)))
        r["counts"] = r["counts"].decode()
        return r

    for a in gt["annotations"]:
        if rng.random() < 0.2:
            continue
        h, w = sizes[a["image_id"]]
        x, y, bw, bh = a["bbox"]
        m = np.zeros((h, w), bool)
        dx, dy = rng.integers(-4, 5, 2)
        sx, sy = rng.uniform(0.6, 1.2, 2)
        x0, y0 = int(max(0, x + dx)), int(max(0, y + dy))
        m[y0 : int(y0 + bh * sy), x0 : int(x0 + bw * sx)] = True
        out.append({"image_id": a["image_id"], "category_id": a["category_id"],
                    "segmentation": rle(m), "score": float(np.round(rng.random(), 1))})  # fmt: skip
    for im in gt["images"][: 1 + seed % 5]:
        h, w = im["height"], im["width"]
        m = rng.random((h, w)) < 0.02
        out.append({"image_id": im["id"], "category_id": int(rng.choice(cats)),
                    "segmentation": rle(m), "score": float(rng.random())})  # fmt: skip
    return out


def pycocotools_stats(ann_file, results, iou_type):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def ours(record_or_result):
    m = record_or_result["metrics"] if isinstance(record_or_result, dict) else None
    if m is not None:
        return np.array([-1.0 if m[n]["value"] is None else m[n]["value"] for n in STATS])
    r = record_or_result.metrics
    return np.array([-1.0 if np.isnan(r[n]) else r[n] for n in STATS])


@pytest.mark.parametrize("seed", range(6))
def test_segm_results_file_equals_pycocotools(tmp_path, coco_mini_masks, seed):
    ann = coco_mini_masks.annotation_file
    results = segm_results(ann, seed)
    path = tmp_path / "segm.json"
    path.write_text(json.dumps(results))
    ref = pycocotools_stats(ann, results, "segm")
    # bench eval's path: the library reads the annotation file and the results file
    record, _ = evaluate_predictions(
        coco_mini_masks, path, results=tmp_path, metric_options={"iou_type": "segm"}, command=["t"]
    )
    assert np.array_equal(ours(record), ref), (ours(record).tolist(), ref.tolist())
    assert record["protocol"]["name"] == "coco"
    assert record["protocol"]["options"]["iou_type"] == "segm"
    assert record["metrics"]["AP"]["unit"] == "fraction"
    # per-sample objects (the engine's path): gt masks from the loader, dt RLE from the file
    proto = dataset_protocol(coco_mini_masks, {"iou_type": "segm"})
    gt = coco_mini_masks.ground_truth()
    res = proto.score(proto.read_predictions(path, gt), gt.targets)
    assert np.array_equal(ours(res), ref)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_gt_file_without_a_dataset(tmp_path, coco_mini_masks, iou_type):
    ann = coco_mini_masks.annotation_file
    results = segm_results(ann, 11)
    for r in results:  # boxes of the masks, as detectors write them
        from pycocotools import mask as M

        r["bbox"] = [float(v) for v in M.toBbox(r["segmentation"])]
    path = tmp_path / "res.json"
    path.write_text(json.dumps(results))
    src = CocoGroundTruthFile(ann)
    assert len(src) == len(coco_mini_masks)
    from visionbench.protocols import get_protocol

    proto = get_protocol("coco", src.label_space, {"iou_type": iou_type}, dataset=src)
    record, _ = evaluate_predictions(src, path, results=tmp_path, protocol=proto, command=["t"])
    assert np.array_equal(ours(record), pycocotools_stats(ann, results, iou_type))
    assert record["dataset"]["num_samples"] == len(coco_mini_masks)


def test_segm_without_gt_masks_is_a_clear_error(coco_mini_masks):
    from visionbench.errors import ContractError

    plain = datasets.get("coco-mini")(root=None, split="val2017")
    proto = dataset_protocol(plain, {"iou_type": "segm"})
    gt = plain.ground_truth()
    from visionbench.types import DetectionPrediction

    pred = DetectionPrediction(np.zeros((0, 4)), np.zeros(0), np.zeros(0), masks=[],
                               sample_id=gt.sample_ids[0])  # fmt: skip
    with pytest.raises(
        ContractError, match=r"masks in the ground truth \(dataset option masks=true\)"
    ):
        proto.score([pred], gt.targets[:1])


def test_scorer_reset_forgets_every_image(tmp_path, coco_mini_masks):
    """``reset()`` on every evaluator: after it, the same images give the same numbers."""
    proto = dataset_protocol(coco_mini_masks)
    gt = coco_mini_masks.ground_truth()
    path = tmp_path / "r.json"
    path.write_text(json.dumps(segm_results(coco_mini_masks.annotation_file, 2)))
    # bbox results from the masks' boxes
    from pycocotools import mask as M

    rows = json.loads(path.read_text())
    for r in rows:
        r["bbox"] = [float(v) for v in M.toBbox(r["segmentation"])]
    path.write_text(json.dumps(rows))
    preds = proto.read_predictions(path, gt)
    s = proto.scorer()
    s.update(preds, gt.targets)
    first = s.compute()
    s.reset()
    s.update(preds, gt.targets)  # no "image id already added"
    assert np.array_equal(ours(s.compute()), ours(first))


def _keypoint_problem(tmp_path, seed):
    rng = np.random.default_rng(seed)
    images, anns, res = [], [], []
    aid = 1
    for i in range(6):
        iid = 10 + i
        images.append({"id": iid, "width": 200, "height": 160, "file_name": f"{iid}.jpg"})
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 100, 2)
            w, h = rng.uniform(20, 90, 2)
            kp = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17),
                           rng.integers(0, 3, 17)], 1)  # fmt: skip
            kp[kp[:, 2] == 0, :2] = 0
            anns.append({"id": aid, "image_id": iid, "category_id": 1, "iscrowd": 0,
                         "bbox": [x, y, w, h], "area": float(w * h * 0.6),
                         "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum())})  # fmt: skip
            aid += 1
            if rng.random() < 0.8:
                d = kp.copy()
                d[:, :2] += rng.normal(0, 3, (17, 2))
                d[:, 2] = rng.random(17)
                res.append({"image_id": iid, "category_id": 1, "keypoints": d.ravel().tolist(),
                            "score": float(rng.random()), "bbox": [x, y, w, h]})  # fmt: skip
    cats = [{"id": 1, "name": "person", "supercategory": "person",
             "keypoints": [f"k{j}" for j in range(17)], "skeleton": []}]  # fmt: skip
    ann = tmp_path / "annotations" / "person_keypoints_val2017.json"
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(res))
    return ann, path, res


@pytest.mark.parametrize("seed", range(4))
def test_keypoints_equal_pycocotools(tmp_path, seed):
    from visionbench.loaders.coco import COCOKeypoints
    from visionbench.protocols import get_protocol

    ann, path, res = _keypoint_problem(tmp_path, seed)
    ref = pycocotools_stats(str(ann), res, "keypoints")
    names = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]

    def vec(metrics):
        return np.array([-1.0 if np.isnan(metrics[n]) else metrics[n] for n in names])

    src = CocoGroundTruthFile(ann, name="coco-keypoints")
    proto = get_protocol("coco", src.label_space, {"iou_type": "keypoints"}, dataset=src)
    assert np.array_equal(vec(proto.evaluate_file(path, src).metrics), ref)
    ds = COCOKeypoints(ann, None, name="coco-keypoints", split="val2017", cache=False)
    proto = dataset_protocol(ds)
    assert proto.opts["iou_type"] == "keypoints"
    gt = ds.ground_truth()
    assert np.array_equal(
        vec(proto.score(proto.read_predictions(path, gt), gt.targets).metrics), ref
    )
