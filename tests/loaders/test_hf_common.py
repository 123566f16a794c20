"""`--dataset hf:PATH`: Hub-schema datasets (save_to_disk and Parquet) end to end."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

import numpy as np
import pytest

from tests.shared_fixtures import reference_module

hf = reference_module("datasets")
from PIL import Image  # noqa: E402

from tests.metrics._coco_gen import pycocotools_eval  # noqa: E402
from visionbench.errors import AnnotationError  # noqa: E402
from visionbench.loaders.hf_common import hf_dataset  # noqa: E402
from visionbench.registry import datasets  # noqa: E402


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _rgb(rng, h=24, w=32):
    return {"bytes": _png(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), "path": None}


def _write(ds, tmp_path, how):
    if how == "disk":
        out = tmp_path / "saved"
        hf.DatasetDict({"validation": ds}).save_to_disk(str(out))
        return out
    out = tmp_path / "pq" / "data"
    out.mkdir(parents=True)
    ds.to_parquet(str(out / "validation-00000-of-00001.parquet"))
    return tmp_path / "pq"


def _bench(args, tmp_path):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    return subprocess.run(["bench", *args], capture_output=True, text=True, env=env, timeout=600)


def _record(out):
    return json.loads(next((out / "records").glob("*.json")).read_text())


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, want_space, want_ids",
    [
        (["n01443537", "n01440764"], "imagenet1k", [1, 0]),  # WNIDs (sorted-WNID indices)
        (["goldfish, Carassius auratus", "tench, Tinca tinca"], "imagenet1k", [1, 0]),
        (["goldfish", "tench"], "imagenet1k", [1, 0]),  # first synonym
        (["cat", "dog"], None, [0, 1]),  # own classes
    ],
)
@pytest.mark.parametrize("how", ["disk", "parquet"])
def test_classification_end_to_end(tmp_path, names, want_space, want_ids, how):
    rng = np.random.default_rng(0)
    labels = [int(v) for v in rng.integers(0, 2, 10)]
    feats = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=names)})
    ds = hf.Dataset.from_dict(
        {"image": [_rgb(rng) for _ in labels], "label": labels}, features=feats
    )
    path = _write(ds, tmp_path, how)
    d = datasets.get(f"hf:{path}")(root=None, split="")
    assert d.task.value == "classification" and len(d) == 10
    if want_space:
        assert d.label_space.name == want_space
    else:
        assert d.label_space.names == ("cat", "dog")
    gt = d.ground_truth()
    assert [t.label for t in gt.targets] == [want_ids[v] for v in labels]
    # predictions: right for the first 7 rows, wrong for the last 3 -> top-1 = 70 %
    pred = tmp_path / "top1.csv"
    with open(pred, "w", newline="") as f:
        w = csv.writer(f)
        k = 5 if want_space else 1  # top-5 needs 5 ids; a 2-class space scores top-1 only
        w.writerow(["sample_id"] + [f"top{j}" for j in range(1, k + 1)])
        for i, v in enumerate(labels):
            first = want_ids[v] if i < 7 else want_ids[1 - v]
            w.writerow([i, first] + [500 + j for j in range(k - 1)])
    out = tmp_path / "out"
    p = _bench(
        ["eval", "--dataset", f"hf:{path}", "--predictions", str(pred), "--results", str(out)],
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    rec = _record(out)
    assert rec["metrics"]["top1"]["value"] == pytest.approx(70.0)
    if want_space:
        assert rec["metrics"]["top5"]["value"] == pytest.approx(70.0)


def test_unlabelled_rows_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    feats = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=["a", "b"])})
    ds = hf.Dataset.from_dict({"image": [_rgb(rng), _rgb(rng)], "label": [0, -1]}, features=feats)
    path = _write(ds, tmp_path, "disk")
    with pytest.raises(AnnotationError, match=r"label -1 is not a class index.*id=1"):
        hf_dataset(str(path)).ground_truth()


# -- detection -----------------------------------------------------------------------------


def _detection(rng, names, n_img=6, fmt="xywh"):
    rows, gt_anns, res, images = [], [], [], []
    aid = 1
    for i in range(n_img):
        h, w = 48, 64
        boxes, cats, ids, areas = [], [], [], []
        for _ in range(int(rng.integers(0, 5))):
            bw, bh = int(rng.integers(2, 30)), int(rng.integers(2, 20))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            c = int(rng.integers(0, len(names)))
            boxes.append([x, y, bw, bh] if fmt == "xywh" else [x, y, x + bw, y + bh])
            cats.append(c)
            ids.append(aid)
            areas.append(float(bw * bh))
            gt_anns.append({"id": aid, "image_id": 100 + i, "category_id": c, "bbox": [x, y, bw, bh],
                            "area": float(bw * bh), "iscrowd": 0})  # fmt: skip
            aid += 1
            for _ in range(int(rng.integers(0, 3))):
                dx, dy = int(rng.integers(-2, 3)), int(rng.integers(-2, 3))
                res.append({"image_id": 100 + i, "category_id": c, "score": float(rng.random()),
                            "bbox": [max(0, x + dx), max(0, y + dy), bw, bh]})  # fmt: skip
        rows.append({"image_id": 100 + i, "image": _rgb(rng, h, w), "width": w, "height": h,
                     "objects": {"id": ids, "area": areas, "bbox": boxes, "category": cats}})  # fmt: skip
        images.append({"id": 100 + i, "height": h, "width": w})
    feats = hf.Features({
        "image_id": hf.Value("int64"), "image": hf.Image(), "width": hf.Value("int32"),
        "height": hf.Value("int32"),
        "objects": hf.Sequence({"id": hf.Value("int64"), "area": hf.Value("float64"),
                                "bbox": hf.Sequence(hf.Value("float32"), length=4),
                                "category": hf.ClassLabel(names=names)}),
    })  # fmt: skip
    ds = hf.Dataset.from_list(rows, features=feats)
    cats = [{"id": k, "name": n} for k, n in enumerate(names)]
    return ds, {"images": images, "annotations": gt_anns, "categories": cats}, res


@pytest.mark.parametrize("how", ["disk", "parquet"])
def test_detection_end_to_end_equals_pycocotools(tmp_path, how):
    rng = np.random.default_rng(5)
    names = ["coverall", "face_shield", "gloves", "goggles", "mask"]  # cppe-5
    ds, gt, res = _detection(rng, names)
    path = _write(ds, tmp_path, how)
    (tmp_path / "dets.json").write_text(json.dumps(res))
    out = tmp_path / "out"
    p = _bench(
        ["eval", "--dataset", f"hf:{path}", "--predictions", str(tmp_path / "dets.json"),
         "--results", str(out)], tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    ref = pycocotools_eval(gt, res)
    rec = _record(out)
    for name, want in zip(["AP", "AP50", "AP75"], ref.stats[:3]):
        assert rec["metrics"][name]["value"] == want, name


def test_detection_xyxy_and_coco_names(tmp_path):
    rng = np.random.default_rng(6)
    ds, gt, _ = _detection(rng, ["person", "car"], fmt="xyxy")
    path = _write(ds, tmp_path, "disk")
    d = hf_dataset(str(path), bbox_format="xyxy")
    assert d.label_space.ids == (1, 3)  # COCO category ids of person, car
    t = {s: t for s, t in zip(d.ground_truth().sample_ids, d.ground_truth().targets)}
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        tgt = t[a["image_id"]]
        assert [x, y, x + w, y + h] in tgt.boxes.tolist()
    with pytest.raises(AnnotationError, match="bbox_format must be xywh or xyxy"):
        hf_dataset(str(path), bbox_format="cxcywh")
    # through the CLI: perfect detections score AP 1 only when read as xyxy
    cats = {0: 1, 1: 3}
    res = [{"image_id": a["image_id"], "category_id": cats[a["category_id"]], "bbox": a["bbox"],
            "score": 0.9} for a in gt["annotations"]]  # fmt: skip
    (tmp_path / "dets.json").write_text(json.dumps(res))
    args = ["eval", "--dataset", f"hf:{path}", "--predictions", str(tmp_path / "dets.json")]
    p = _bench([*args, "-D", "bbox_format=xyxy", "--results", str(tmp_path / "o1")], tmp_path)
    assert p.returncode == 0, p.stderr
    assert _record(tmp_path / "o1")["metrics"]["AP"]["value"] == 1.0
    p = _bench([*args, "-D", "bbox_format=xywh", "--results", str(tmp_path / "o2")], tmp_path)
    assert p.returncode in (0, 2)
    if p.returncode == 0:
        assert _record(tmp_path / "o2")["metrics"]["AP"]["value"] < 1.0
    p = _bench([*args, "-D", "bbox_fromat=xyxy"], tmp_path)
    assert p.returncode == 2 and "bbox_format" in p.stderr  # did-you-mean


# -- semantic segmentation -----------------------------------------------------------------


def test_segmentation_end_to_end_miou(tmp_path):
    rng = np.random.default_rng(7)
    masks = [rng.integers(0, 3, (16, 20), dtype=np.uint8) for _ in range(4)]
    masks[0][0, :5] = 255  # ignored pixels
    preds = [
        np.where(rng.random(m.shape) < 0.8, m, rng.integers(0, 3, m.shape)).astype(np.uint8)
        for m in masks
    ]
    feats = hf.Features({"image": hf.Image(), "annotation": hf.Image()})
    ds = hf.Dataset.from_dict(
        {
            "image": [_rgb(rng, 16, 20) for _ in masks],
            "annotation": [{"bytes": _png(m), "path": None} for m in masks],
        },
        features=feats,
    )
    path = _write(ds, tmp_path, "parquet")
    pdir = tmp_path / "preds"
    pdir.mkdir()
    for i, m in enumerate(preds):
        Image.fromarray(m).save(pdir / f"{i}.png")
    out = tmp_path / "out"
    p = _bench(
        ["eval", "--dataset", f"hf:{path}", "--predictions", str(pdir), "--results", str(out)],
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    conf = np.zeros((3, 3), np.int64)
    for g, q in zip(masks, preds):
        v = g != 255
        np.add.at(conf, (g[v], q[v]), 1)
    iou = np.diag(conf) / (conf.sum(0) + conf.sum(1) - np.diag(conf))
    assert _record(out)["metrics"]["miou"]["value"] == pytest.approx(float(iou.mean()), abs=1e-12)


def test_missing_path_and_bad_columns_are_one_line(tmp_path):
    p = _bench(
        ["eval", "--dataset", f"hf:{tmp_path / 'nope'}", "--predictions", str(tmp_path)], tmp_path
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "not found" in p.stderr
    rng = np.random.default_rng(0)
    ds = hf.Dataset.from_dict(
        {"picture": [_rgb(rng)], "y": [1]},
        features=hf.Features({"picture": hf.Image(), "y": hf.Value("int64")}),
    )
    path = _write(ds, tmp_path, "disk")
    with pytest.raises(AnnotationError, match="no image column 'image'"):
        hf_dataset(str(path))
    with pytest.raises(AnnotationError, match="cannot tell the task"):
        hf_dataset(str(path), image="picture")
