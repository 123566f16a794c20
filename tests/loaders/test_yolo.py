"""Ultralytics/YOLO datasets and YOLO txt predictions, end to end through `bench eval`.

The reference: the same boxes written as COCO JSON (pixels, xywh) by the test and scored
with pycocotools. Image sizes are powers of two and boxes integer pixels, so every
normalised coordinate is exact in binary and the two paths see identical numbers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.metrics._coco_gen import pycocotools_eval
from visionbench.errors import AnnotationError
from visionbench.label_spaces import get_label_space
from visionbench.loaders.yolo import YOLODetection, image_to_label_path

COCO = get_label_space("coco91")
SIZES = [(64, 32), (128, 64), (32, 32), (64, 128)]  # (w, h)


def make_yolo(tmp_path: Path, *, names, seed=0, n_img=6, list_file=False, numeric=True):
    """Write images/, labels/, data.yaml and YOLO txt predictions; return the COCO reference
    problem (gt dict with the dataset's category ids, results list) built independently."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = tmp_path / "ds"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    pred_dir = tmp_path / "preds"
    pred_dir.mkdir()
    nc = len(names)
    cat_of = _cat_ids(names)
    images, anns, res = [], [], []
    aid = 1
    for i in range(n_img):
        w, h = SIZES[i % len(SIZES)]
        stem = f"{1000 + i * 3:012d}" if numeric else f"img_{i}"
        iid = int(stem) if numeric else i
        Image.new("RGB", (w, h), (i * 20 % 255, 80, 120)).save(
            root / "images" / "val" / f"{stem}.png"
        )
        images.append({"id": iid, "width": w, "height": h, "file_name": f"{stem}.png"})
        lines, plines = [], []
        gts = []
        for _ in range(int(rng.integers(0, 5))):
            bw, bh = int(rng.integers(1, w // 2)), int(rng.integers(1, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            c = int(rng.integers(0, nc))
            lines.append(f"{c} {(x + bw / 2) / w!r} {(y + bh / 2) / h!r} {bw / w!r} {bh / h!r}")
            anns.append({
                "id": aid, "image_id": iid, "category_id": cat_of[c], "bbox": [x, y, bw, bh],
                "area": float(bw * bh), "iscrowd": 0,
            })  # fmt: skip
            aid += 1
            gts.append((x, y, bw, bh, c))
        for _ in range(int(rng.integers(0, 7))):
            if gts and rng.random() < 0.7:
                x, y, bw, bh, c = gts[int(rng.integers(len(gts)))]
                x = min(max(x + int(rng.integers(-2, 3)), 0), w - bw)
                y = min(max(y + int(rng.integers(-2, 3)), 0), h - bh)
                bw = max(1, bw + int(rng.integers(-2, 2)))
                bh = max(1, min(bh + int(rng.integers(-2, 2)), h - y))
            else:
                bw, bh = int(rng.integers(1, w // 2)), int(rng.integers(1, h // 2))
                x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
                c = int(rng.integers(0, nc))
            conf = float(rng.choice([0.25, 0.5, float(np.round(rng.random(), 4))]))
            plines.append(
                f"{c} {(x + bw / 2) / w!r} {(y + bh / 2) / h!r} {bw / w!r} {bh / h!r} {conf!r}"
            )
            res.append(
                {"image_id": iid, "category_id": cat_of[c], "bbox": [x, y, bw, bh], "score": conf}
            )
        if lines or rng.random() < 0.5:  # some images without a label file at all
            (root / "labels" / "val" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
        if plines:
            (pred_dir / f"{stem}.txt").write_text("\n".join(plines) + "\n")
    val = "val.txt" if list_file else "images/val"
    if list_file:
        files = sorted((root / "images" / "val").iterdir())
        (root / "val.txt").write_text("".join(f"./images/val/{f.name}\n" for f in files))
    names_yaml = (
        "\n".join(f"  {k}: {n}" for k, n in enumerate(names))
        if isinstance(names, list) and len(names) < 10
        else "[" + ", ".join(f"'{n}'" for n in names) + "]"
    )
    sep = "\n" if names_yaml.startswith("  ") else " "
    (root / "data.yaml").write_text(
        f"path: .\ntrain: images/val\nval: {val}\nnames:{sep}{names_yaml}\n"
    )
    cats = [{"id": cat_of[k], "name": n} for k, n in enumerate(names)]
    return root, pred_dir, {"images": images, "annotations": anns, "categories": cats}, res


def _cat_ids(names):
    by_name = dict(zip(COCO.names, COCO.ids))
    if all(n in by_name for n in names):
        return [by_name[n] for n in names]
    return list(range(len(names)))


def _bench(args, tmp_path):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    return subprocess.run(["bench", *args], capture_output=True, text=True, env=env, timeout=600)


def _record(out: Path) -> dict:
    return json.loads(next((out / "records").glob("*.json")).read_text())


@pytest.mark.parametrize(
    "names, list_file, numeric",
    [
        (list(COCO.names), False, True),  # ultralytics coco.yaml: the 80 names -> coco91 ids
        (["person", "car", "dog"], True, True),  # a subset of COCO names -> COCO ids
        (["widget", "gadget", "sprocket"], False, False),  # own classes, non-numeric stems
    ],
)
def test_bench_eval_yolo_txt_equals_pycocotools(tmp_path, names, list_file, numeric):
    root, preds, gt, res = make_yolo(tmp_path, names=names, list_file=list_file, numeric=numeric)
    ref = pycocotools_eval(gt, res) if res else None
    out = tmp_path / "out"
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root / "data.yaml"),
         "--predictions", str(preds), "--results", str(out)], tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    rec = _record(out)
    if ref is None:
        return
    for name, want in zip(["AP", "AP50", "AP75", "APs", "APm", "APl"], ref.stats[:6]):
        got = rec["metrics"][name]["value"]
        assert (got is None or np.isnan(got)) if want == -1 else got == want, name
    space = YOLODetection(root / "data.yaml").label_space.name
    assert space == ("coco91" if len(names) == 80 else "yolo:data")


def test_loader_boxes_label_space_and_label_paths(tmp_path):
    root, _, gt, _ = make_yolo(tmp_path, names=["person", "car", "dog"])
    ds = YOLODetection(root / "data.yaml")
    assert ds.label_space.ids == (1, 3, 18) and ds.label_space.names == ("person", "car", "dog")
    assert ds.image_ids == sorted(im["id"] for im in gt["images"])
    by_img = {}
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        by_img.setdefault(a["image_id"], []).append([x, y, x + w, y + h, a["category_id"]])
    for i in range(len(ds)):
        t = ds[i].target
        want = by_img.get(ds.image_ids[i], [])
        got = [list(b) + [int(c)] for b, c in zip(t.boxes.tolist(), t.labels)]
        assert got == want
    assert image_to_label_path("/d/images/val/images/a.b.jpg") == "/d/images/val/labels/a.b.txt"


def test_coco80_indices_in_coco_json_are_named_in_a_warning(tmp_path):
    root, _, gt, res = make_yolo(tmp_path, names=list(COCO.names), seed=4)
    index_of = {c: k for k, c in enumerate(COCO.ids)}
    bad = [dict(r, category_id=index_of[r["category_id"]]) for r in res]
    bad.append(
        {"image_id": gt["images"][0]["id"], "category_id": 0, "bbox": [0, 0, 2, 2], "score": 0.1}
    )
    (tmp_path / "dets.json").write_text(json.dumps(bad))
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root), "--predictions",
         str(tmp_path / "dets.json"), "--results", str(tmp_path / "out")], tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "COCO-80 class indices" in p.stderr and "label_map('coco80', 'coco91')" in p.stderr
    # the right ids: no warning, and the numbers of pycocotools
    (tmp_path / "good.json").write_text(json.dumps(res))
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root), "--predictions",
         str(tmp_path / "good.json"), "--results", str(tmp_path / "out2")], tmp_path,
    )  # fmt: skip
    assert p.returncode == 0 and "COCO-80" not in p.stderr
    assert (
        _record(tmp_path / "out2")["metrics"]["AP"]["value"] == pycocotools_eval(gt, res).stats[0]
    )


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 0.5 0.5 0.2", "line 2: expected 5 fields (class cx cy w h), got 4"),
        ("0 1.5 0.5 0.2 0.2", "line 2: field 'cx' = 1.5 is not normalised to [0, 1]"),
        ("7 0.5 0.5 0.2 0.2", "line 2: field 'class' = 7 is not a class index 0..2"),
        ("0 0.5 abc 0.2 0.2", "line 2: field 'cy' = 'abc' is not a finite number"),
    ],
)
def test_bad_label_line_is_one_line_naming_file_line_field(tmp_path, line, message):
    root, preds, _, _ = make_yolo(tmp_path, names=["a", "b", "c"], numeric=False)
    f = sorted((root / "labels" / "val").glob("*.txt"))[0]
    f.write_text("0 0.5 0.5 0.1 0.1\n" + line + "\n")
    with pytest.raises(AnnotationError, match=re.escape(message)):
        YOLODetection(root / "data.yaml").ground_truth()
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root), "--predictions", str(preds)],
        tmp_path,
    )
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and str(f) in err[0], err


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("path: .\nval: images/val\n", "'names' must be a list or a dict"),
        ("path: .\nval: images/val\nnames: [a, b]\nnc: 3\n", "nc = 3 but 'names' has 2"),
        ("path: .\nval: nowhere\nnames: [a]\n", "nowhere is neither an image folder"),
        ("path: .\ntrain: images/val\nnames: [a]\n", "no 'val' split"),
        ("path: .\nval: [images/val\nnames: [a]\n", "not valid YAML"),
    ],
)
def test_bad_yaml(tmp_path, yaml_text, message):
    root, _, _, _ = make_yolo(tmp_path, names=["a"], n_img=1)
    (root / "data.yaml").write_text(yaml_text)
    with pytest.raises(AnnotationError, match=re.escape(message)):
        YOLODetection(root / "data.yaml")


def test_prediction_line_without_conf_is_refused(tmp_path):
    root, preds, _, _ = make_yolo(tmp_path, names=["a", "b"], seed=2)
    f = sorted(preds.glob("*.txt"))[0]
    f.write_text("0 0.5 0.5 0.1 0.1\n")
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root), "--predictions", str(preds)],
        tmp_path,
    )
    assert (
        p.returncode == 2 and "line 1: expected 6 fields (class cx cy w h conf), got 5" in p.stderr
    )


def test_ultralytics_class_plus_one_json_is_named_in_a_warning(tmp_path):
    root, _, gt, res = make_yolo(tmp_path, names=["widget", "gadget", "sprocket"], seed=8)
    plus_one = [dict(r, category_id=r["category_id"] + 1) for r in res]
    plus_one.append(
        {"image_id": gt["images"][0]["id"], "category_id": 3, "bbox": [0, 0, 2, 2], "score": 0.1}
    )
    (tmp_path / "pred.json").write_text(json.dumps(plus_one))
    p = _bench(
        ["eval", "--dataset", "yolo", "--data-root", str(root), "--predictions",
         str(tmp_path / "pred.json"), "--results", str(tmp_path / "out")], tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "class index + 1" in p.stderr
