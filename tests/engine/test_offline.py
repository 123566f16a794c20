"""bench eval: predictions made elsewhere -> a run record, equal to the reference tools."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from visionbench.engine.offline import evaluate_predictions
from visionbench.errors import AnnotationError
from visionbench.registry import datasets


@pytest.fixture(scope="module")
def coco_mini():
    return datasets.get("coco-mini")(root=None, split="val2017")


def _results_from_gt(ann_file, seed):
    """Noisy detections derived from the gt: jittered boxes, some dropped, some extra."""
    rng = np.random.default_rng(seed)
    gt = json.loads(Path(ann_file).read_text())
    out = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        x, y, w, h = a["bbox"]
        j = rng.normal(0, 0.08, 4) * [w, h, w, h]
        out.append(
            {
                "image_id": a["image_id"],
                "category_id": a["category_id"],
                "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])],
                "score": float(rng.random()),
            }
        )
    for im in gt["images"][:5]:
        out.append(
            {
                "image_id": im["id"],
                "category_id": gt["categories"][0]["id"],
                "bbox": [1.0, 1.0, 20.0, 20.0],
                "score": 0.99,
            }
        )
    return out


def _pycocotools_stats(ann_file, results):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_results_json_equals_pycocotools(tmp_path, coco_mini, seed):
    ann = coco_mini.ground_truth().files["annotations"]
    results = _results_from_gt(ann, seed)
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(results))
    record, _ = evaluate_predictions(coco_mini, path, results=tmp_path, command=["t"])
    ref = _pycocotools_stats(ann, results)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    ours = [record["metrics"][n]["value"] for n in names]
    ours = [-1.0 if v is None else v for v in ours]
    assert np.array_equal(np.array(ours), ref), (ours, ref.tolist())


def test_perfect_detections_give_ap_one(tmp_path, coco_mini):
    ann = json.loads(Path(coco_mini.ground_truth().files["annotations"]).read_text())
    res = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": 1.0,
        }
        for a in ann["annotations"]
        if not a["iscrowd"]
    ]
    p = tmp_path / "perfect.json"
    p.write_text(json.dumps(res))
    record, _ = evaluate_predictions(coco_mini, p, results=tmp_path, command=["t"])
    assert record["metrics"]["AP"]["value"] == pytest.approx(1.0)


def test_results_for_unknown_images_are_named(tmp_path, coco_mini):
    p = tmp_path / "bad.json"
    p.write_text(
        json.dumps([{"image_id": 999999999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}])
    )
    # the columnar library path names the row, the field and the id
    with pytest.raises(
        AnnotationError, match=r"'image_id' = 999999999 is not an image of the ground"
    ):
        evaluate_predictions(coco_mini, p, results=tmp_path)
    p.write_text(
        json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, float("nan"), 1], "score": 1}])
    )
    with pytest.raises(AnnotationError, match="field .bbox. must be finite"):
        evaluate_predictions(coco_mini, p, results=tmp_path)


def test_classification_csv(tmp_path):
    ds = datasets.get("imagenet-mini")(root=None, split="val")
    gt = ds.ground_truth()
    rows = ["sample_id,top1,top2"]
    for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets)):
        first = (
            t.label if i % 4 else (t.label + 1) % 1000
        )  # every 4th wrong at top-1, right at top-2
        rows.append(f"{sid},{first},{t.label}")
    p = tmp_path / "preds.csv"
    p.write_text("\n".join(rows) + "\n")
    record, _ = evaluate_predictions(
        ds, p, results=tmp_path, scorer_options={"topk": (1, 2)}, command=["t"]
    )
    n = len(gt)
    assert record["metrics"]["top1"]["value"] == pytest.approx(
        100.0 * (n - len(range(0, n, 4))) / n
    )
    assert record["metrics"]["top2"]["value"] == pytest.approx(100.0)


def test_cityscapes_result_pngs(tmp_path):
    """Ground truth written back as result PNGs scores mIoU 1; one wrong frame lowers it."""
    import shutil

    ds = datasets.get("cityscapes-mini")(root=None, split="val")
    gt = ds.ground_truth()
    out = tmp_path / "results"
    out.mkdir()
    for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets)):
        # <frame>*.png, as cityscapesScripts' getPrediction: no separator needed
        shutil.copy(t.mask_path, out / f"{sid}{'pred' if i == 1 else '_pred'}.png")
    record, _ = evaluate_predictions(ds, out, results=tmp_path, command=["t"])
    assert record["metrics"]["miou"]["value"] == pytest.approx(1.0)
    (out / f"{gt.sample_ids[0]}_pred.png").unlink()
    with pytest.raises(
        AnnotationError,
        match=f"1 frames without exactly one result PNG: {gt.sample_ids[0]} \\(none\\)",
    ):
        evaluate_predictions(ds, out, results=tmp_path)


def test_caption_results_equal_the_caption_metric(tmp_path):
    from visionbench.metrics.captioning.bleu import coco_bleu

    ds = datasets.get("coco-mini-captions")(root=None, split="val2017")
    gt = ds.ground_truth()
    rows = [
        {"image_id": sid, "caption": t.captions[0] if i % 2 else "a photo of something"}
        for i, (sid, t) in enumerate(zip(gt.sample_ids, gt.targets))
    ]
    p = tmp_path / "caps.json"
    p.write_text(json.dumps(rows))
    record, _ = evaluate_predictions(ds, p, results=tmp_path, command=["t"])
    ref = coco_bleu([r["caption"] for r in rows], [list(t.captions) for t in gt.targets])
    assert record["metrics"]["bleu4"]["value"] == ref.metrics["bleu4"]
    assert 0 < record["metrics"]["bleu4"]["value"] < 1
