"""from_torchvision: CocoDetection, ImageFolder/ImageNet, Cityscapes, VOCDetection objects."""

from __future__ import annotations

import csv
import json
import os
import subprocess

import numpy as np
import pytest
import torchvision.datasets as tvd
from PIL import Image

from tests.metrics._coco_gen import pycocotools_eval
from visionbench import synth
from visionbench.errors import ContractError
from visionbench.label_spaces import get_label_space
from visionbench.loaders.cityscapes import CityscapesSemantic
from visionbench.loaders.coco import COCODetection
from visionbench.loaders.torchvision_datasets import from_torchvision
from visionbench.protocols import dataset_protocol


@pytest.fixture(scope="module")
def coco_mini(tmp_path_factory):
    return synth.generate("coco-mini", tmp_path_factory.mktemp("coco") / "coco-mini")


def _bench(args, tmp_path, pythonpath):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run(["bench", *args], capture_output=True, text=True, env=env, timeout=600)


def test_coco_detection_equals_our_loader_and_scores_through_bench(tmp_path, coco_mini):
    ann = coco_mini / "annotations" / "instances_val2017.json"
    tv = tvd.CocoDetection(str(coco_mini / "val2017"), str(ann))
    ds = from_torchvision(tv)
    ours = COCODetection(ann, coco_mini / "val2017", cache=False)
    assert ds.label_space.name == "coco91" and len(ds) == len(ours)
    a, b = ds.ground_truth(), ours.ground_truth()
    assert a.sample_ids == b.sample_ids
    for x, y in zip(a.targets, b.targets):
        assert np.array_equal(x.boxes, y.boxes) and np.array_equal(x.labels, y.labels)
        assert np.array_equal(x.iscrowd, y.iscrowd) and np.array_equal(x.ann_ids, y.ann_ids)
    assert ds[0].image.path == ours[0].image.path
    # end to end: a user factory module reached by `bench eval --dataset module:factory`
    (tmp_path / "tvfactory.py").write_text(
        "import torchvision.datasets as tvd\n"
        "from visionbench.loaders.torchvision_datasets import from_torchvision\n"
        "def coco(root, split):\n"
        f"    return from_torchvision(tvd.CocoDetection({str(coco_mini / 'val2017')!r}, {str(ann)!r}))\n"
    )
    gt = json.loads(ann.read_text())
    rng = np.random.default_rng(0)
    res = []
    for x in gt["annotations"]:
        bx = [v + float(rng.integers(-3, 4)) for v in x["bbox"]]
        bx[2], bx[3] = max(bx[2], 1.0), max(bx[3], 1.0)
        res.append({"image_id": x["image_id"], "category_id": x["category_id"], "bbox": bx,
                    "score": float(rng.random())})  # fmt: skip
    (tmp_path / "dets.json").write_text(json.dumps(res))
    out = tmp_path / "out"
    p = _bench(["eval", "--dataset", "tvfactory:coco", "--predictions", str(tmp_path / "dets.json"),
                "--results", str(out)], tmp_path, tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((out / "records").glob("*.json")).read_text())
    assert rec["metrics"]["AP"]["value"] == pycocotools_eval(gt, res).stats[0]


def test_transforms_are_refused(coco_mini):
    ann = coco_mini / "annotations" / "instances_val2017.json"
    tv = tvd.CocoDetection(str(coco_mini / "val2017"), str(ann), transform=lambda x: x)
    with pytest.raises(ContractError, match="transform=function"):
        from_torchvision(tv)
    assert len(from_torchvision(tv, ignore_transforms=True)) == len(tv)
    with pytest.raises(ContractError, match="not supported"):
        from_torchvision(tvd.FakeData(size=2))


def test_image_folder_wnids_map_to_imagenet(tmp_path):
    for wnid, n in (("n01443537", 2), ("n01440764", 3)):  # goldfish = 1, tench = 0
        (tmp_path / "val" / wnid).mkdir(parents=True)
        for k in range(n):
            Image.new("RGB", (8, 8)).save(tmp_path / "val" / wnid / f"{wnid}_{k}.JPEG")
    ds = from_torchvision(tvd.ImageFolder(str(tmp_path / "val")))
    assert ds.label_space.name == "imagenet1k" and ds.task.value == "classification"
    got = {s: t.label for s, t in zip(ds.ground_truth().sample_ids, ds.ground_truth().targets)}
    assert got == {
        **{f"n01443537_{k}": 1 for k in range(2)},
        **{f"n01440764_{k}": 0 for k in range(3)},
    }
    (tmp_path / "other" / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "other" / "cats" / "a.png")
    own = from_torchvision(tvd.ImageFolder(str(tmp_path / "other")))
    assert own.label_space.names == ("cats",)
    # through bench eval (top-5 CSV in imagenet1k ids)
    (tmp_path / "tvfolder.py").write_text(
        "import torchvision.datasets as tvd\n"
        "from visionbench.loaders.torchvision_datasets import from_torchvision\n"
        f"def build(root, split):\n    return from_torchvision(tvd.ImageFolder({str(tmp_path / 'val')!r}))\n"
    )
    with open(tmp_path / "top5.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample_id", "top1", "top2", "top3", "top4", "top5"])
        for sid, lab in got.items():
            w.writerow([sid, 999 if sid.endswith("_0") else lab, lab, 5, 6, 7])
    out = tmp_path / "out"
    p = _bench(["eval", "--dataset", "tvfolder:build", "--predictions", str(tmp_path / "top5.csv"),
                "--results", str(out)], tmp_path, tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((out / "records").glob("*.json")).read_text())
    assert rec["metrics"]["top1"]["value"] == pytest.approx(60.0)  # 3 of 5 right
    assert rec["metrics"]["top5"]["value"] == pytest.approx(100.0)


def test_cityscapes_equals_our_loader(tmp_path):
    root = synth.generate("cityscapes-mini", tmp_path / "cs")
    tv = tvd.Cityscapes(str(root), split="val", mode="fine", target_type=["semantic", "instance"])
    ds = from_torchvision(tv)
    ours = CityscapesSemantic(root, "val")
    a, b = ds.ground_truth(), ours.ground_truth()
    assert a.sample_ids == b.sample_ids and ds.label_space.name == "cityscapes34"
    for x, y in zip(a.targets, b.targets):
        assert os.path.samefile(x.mask_path, y.mask_path)
        assert os.path.samefile(x.instances_path, y.instances_path)
    with pytest.raises(ContractError, match="needs 'semantic'"):
        from_torchvision(tvd.Cityscapes(str(root), split="val", target_type="color"))


def test_voc_detection_targets(tmp_path):
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    for d in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (voc / d).mkdir(parents=True)
    objs = {
        "2012_000001": [("dog", 10, 20, 50, 60, 0), ("person", 1, 1, 30, 40, 1)],
        "2012_000002": [("tvmonitor", 5, 5, 9, 9, 0)],
    }
    for stem, lst in objs.items():
        Image.new("RGB", (64, 48)).save(voc / "JPEGImages" / f"{stem}.jpg")
        xml = "".join(
            f"<object><name>{n}</name><difficult>{d}</difficult><bndbox><xmin>{x0}</xmin>"
            f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for n, x0, y0, x1, y1, d in lst
        )
        (voc / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><size><width>64</width><height>48</height></size>{xml}</annotation>"
        )
    (voc / "ImageSets" / "Main" / "val.txt").write_text("\n".join(objs) + "\n")
    ds = from_torchvision(tvd.VOCDetection(str(tmp_path), year="2012", image_set="val"))
    gt = ds.ground_truth()
    voc20 = get_label_space("voc20")
    assert gt.sample_ids == ["2012_000001", "2012_000002"] and ds.label_space == voc20
    t = gt.targets[0]
    assert t.boxes.tolist() == [[9.0, 19.0, 50.0, 60.0], [0.0, 0.0, 30.0, 40.0]]
    ids = dict(zip(voc20.names, voc20.ids))
    assert t.labels.tolist() == [ids["dog"], ids["person"]]
    assert t.difficult.tolist() == [False, True] and not t.iscrowd.any()
    assert gt.targets[1].labels.tolist() == [ids["tvmonitor"]]
    proto = dataset_protocol(ds)
    assert proto.name == "voc" and proto.opts["ap_method"] == "allpoint"


def test_unknown_user_factory_is_one_line(tmp_path):
    p = _bench(
        ["eval", "--dataset", "nosuchmod:build", "--predictions", str(tmp_path)], tmp_path, tmp_path
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "nosuchmod" in p.stderr
