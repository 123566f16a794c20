"""visionbench.synth: API, determinism, and each dataset read back by an independent reader."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from visionbench import synth
from visionbench.errors import RegistryError, RunError

REPO = Path(__file__).resolve().parents[2]
CLASSES_TSV = REPO / "visionbench" / "data" / "imagenet1k_classes.tsv"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """Each dataset generated once (seed 0) for the read-back tests of this module."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = synth.generate(name, tmp_path_factory.mktemp(name) / "root")
        return cache[name]

    return get


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- API


def test_unknown_name_lists_the_names(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as err:
        synth.generate("coco-mni", tmp_path / "x")
    for name in synth.SYNTH_NAMES:
        assert name in str(err.value)
    assert "did you mean 'coco-mini'?" in str(err.value)
    with pytest.raises(RegistryError):
        synth.ensure("nope")
    assert not (tmp_path / "x").exists()


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(RunError, match="not an empty directory"):
        synth.generate("imagenet-mini", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_synth_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    assert synth.synth_home() == tmp_path
    monkeypatch.delenv("VISIONBENCH_HOME")
    assert synth.synth_home() == Path.home() / ".cache" / "visionbench"


def test_ensure_caches_and_leaves_no_temp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    root = synth.ensure("vg-mini")
    assert root == tmp_path / "synth" / f"vg-mini-v{synth.SYNTH_VERSION}"
    marker = root / "image_data.json"
    mtime = marker.stat().st_mtime_ns
    assert synth.ensure("vg-mini") == root
    assert marker.stat().st_mtime_ns == mtime  # not regenerated
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]


def test_ensure_removes_stale_temp_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    cache = tmp_path / "synth"
    stale = cache / f".vg-mini-v{synth.SYNTH_VERSION}.tmp-killed"
    fresh = cache / f".vg-mini-v{synth.SYNTH_VERSION}.tmp-running"
    for d in (stale, fresh):
        (d / "images").mkdir(parents=True)
    os.utime(stale, (0, 0))
    root = synth.ensure("vg-mini")
    assert sorted(p.name for p in cache.iterdir()) == sorted([root.name, fresh.name])


def test_ensure_race_two_processes(tmp_path: Path) -> None:
    """Two processes generating the same cache entry at once agree on one complete copy."""
    code = "from visionbench import synth; print(synth.ensure('vg-mini'))"
    env = {**os.environ, "VISIONBENCH_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    root = Path(outs[0])
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]  # loser cleaned up
    assert len(list((root / "images").glob("*.jpg"))) == 60
    assert len(json.loads((root / "image_data.json").read_text())) == 60


@pytest.mark.parametrize(
    "name",
    [n if n in ("cityscapes-mini", "vg-mini") else pytest.param(n, marks=pytest.mark.slow)
     for n in synth.SYNTH_NAMES],
)  # fmt: skip
def test_deterministic(name: str, generated, tmp_path: Path) -> None:
    first = generated(name)
    second = synth.generate(name, tmp_path / "again", seed=0)
    assert _tree_digest(first) == _tree_digest(second)


def test_seed_changes_output(generated, tmp_path: Path) -> None:
    first = _tree_digest(generated("vg-mini"))
    other = _tree_digest(synth.generate("vg-mini", tmp_path / "seed1", seed=1))
    assert first.keys() != other.keys() or first != other
    assert first["image_data.json"] != other["image_data.json"]


# --------------------------------------------------------------------------- imagenet-mini


def _imagenet_features(root: Path, split: str) -> tuple[np.ndarray, list[str]]:
    """Mean colour of the pixels that differ from the border's median colour."""
    feats, labels = [], []
    for path in sorted((root / split).rglob("*.JPEG")):
        a = np.asarray(Image.open(path).convert("RGB"), np.float32)
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        fg = np.abs(a - np.median(border, 0)).max(-1) > 45
        feats.append(a[fg].mean(0))
        labels.append(path.parent.name)
    return np.stack(feats), labels


def test_imagenet_layout_and_devkit(generated) -> None:
    root = generated("imagenet-mini")
    tsv = [line.split("\t") for line in CLASSES_TSV.read_text().splitlines()[1:]]
    words = {wnid: name for _i, wnid, name in tsv}
    wnids = sorted(p.name for p in (root / "train").iterdir())
    assert len(wnids) == 10 and all(w in words for w in wnids)
    assert sorted(p.name for p in (root / "val").iterdir()) == wnids
    for w in wnids:
        train = list((root / "train" / w).iterdir())
        assert len(train) == 60 and all(p.name.startswith(f"{w}_") for p in train)

    gt = [
        int(x)
        for x in (root / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt")
        .read_text()
        .split()
    ]
    assert len(gt) == 100
    synsets = scipy.io.loadmat(root / "ILSVRC2012_devkit_t12/data/meta.mat", squeeze_me=True)[
        "synsets"
    ]
    assert synsets.dtype.names == (
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    )
    leaves = [s for s in synsets if s["num_children"] == 0]
    assert len(leaves) == 10 and len(synsets) > 10
    id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in leaves}
    assert sorted(id_to_wnid) == list(range(1, 11))
    for s in leaves:
        assert s["words"] == words[s["WNID"]]
    # ids are deliberately not the sorted-WNID order: gt-1 would be wrong for every class
    assert all(wnids[i - 1] != w for i, w in id_to_wnid.items())

    # torchvision-style resolution of the val images: file i <-> line i of the gt file
    val = {p.stem: p.parent.name for p in (root / "val").rglob("*.JPEG")}
    assert sorted(val) == [f"ILSVRC2012_val_{i:08d}" for i in range(1, 101)]
    for i, g in enumerate(gt, start=1):
        assert val[f"ILSVRC2012_val_{i:08d}"] == id_to_wnid[g]

    mapping = (root / "LOC_synset_mapping.txt").read_text().splitlines()
    assert mapping == [f"{w} {words[w]}" for w in wnids]
    rows = (root / "LOC_val_solution.csv").read_text().splitlines()
    assert rows[0] == "ImageId,PredictionString"
    for row in rows[1:]:
        image_id, pred = row.split(",")
        tokens = pred.split()
        assert tokens[0] == val[image_id] and len(tokens) % 5 == 0
        x0, y0, x1, y1 = map(int, tokens[1:5])
        with Image.open(root / "val" / val[image_id] / f"{image_id}.JPEG") as im:
            assert im.format == "JPEG" and 96 <= im.width <= 160 and 96 <= im.height <= 160
            assert 0 <= x0 < x1 < im.width and 0 <= y0 < y1 < im.height
    assert len(rows) == 101


def test_imagenet_learnable_by_colour(generated) -> None:
    root = generated("imagenet-mini")
    x, y = _imagenet_features(root, "train")
    xv, yv = _imagenet_features(root, "val")
    classes = sorted(set(y))
    centroids = np.stack([x[np.array(y) == c].mean(0) for c in classes])
    pred = np.array(classes)[((xv[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)]
    assert (pred == np.array(yv)).mean() > 0.9


# --------------------------------------------------------------------------- coco-mini


def _coco(path: Path):
    from pycocotools.coco import COCO

    return COCO(str(path))


def test_coco_instances_read_by_pycocotools(generated) -> None:
    from pycocotools import mask as mask_utils

    from visionbench.synth.coco import DRAWN

    root = generated("coco-mini")
    real = json.loads((REPO / "visionbench/data/coco_categories.json").read_text())
    seen_image_ids: set[int] = set()
    ann_ids: list[int] = []
    n_crowd = 0
    for split, n_images in (("val2017", 24), ("train2017", 160)):
        coco = _coco(root / "annotations" / f"instances_{split}.json")
        assert set(coco.dataset) == {"info", "licenses", "images", "annotations", "categories"}
        assert coco.dataset["categories"] == real["categories"]
        assert len(coco.dataset["categories"]) == 80 and max(coco.getCatIds()) == 90
        assert len(coco.imgs) == n_images and not (seen_image_ids & set(coco.imgs))
        seen_image_ids |= set(coco.imgs)
        assert [i["id"] for i in coco.dataset["images"]] != sorted(coco.imgs)  # unsorted, like COCO
        for img in coco.dataset["images"]:
            assert img["file_name"] == f"{img['id']:012d}.jpg"
            with Image.open(root / split / img["file_name"]) as im:
                assert im.format == "JPEG" and im.size == (img["width"], img["height"])
                pixels = np.asarray(im.convert("RGB"), np.float32)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
            assert 1 <= len(anns) <= 6
            for ann in anns:
                ann_ids.append(ann["id"])
                assert ann["category_id"] in DRAWN
                mask = coco.annToMask(ann)
                assert mask.shape == (img["height"], img["width"])
                assert mask.sum() == ann["area"] > 0
                x, y, w, h = ann["bbox"]
                assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
                if ann["iscrowd"]:
                    n_crowd += 1
                    seg = ann["segmentation"]
                    assert set(seg) == {"counts", "size"} and isinstance(seg["counts"], list)
                    assert seg["size"] == [img["height"], img["width"]]
                    assert sum(seg["counts"]) == img["height"] * img["width"]
                    rle = mask_utils.frPyObjects(seg, img["height"], img["width"])
                    assert ann["bbox"] == mask_utils.toBbox(rle).tolist()
                else:
                    (poly,) = ann["segmentation"]
                    assert isinstance(ann["area"], float) and len(poly) % 2 == 0
                    assert ann["bbox"] == pytest.approx(
                        [
                            min(poly[0::2]),
                            min(poly[1::2]),
                            max(poly[0::2]) - min(poly[0::2]),
                            max(poly[1::2]) - min(poly[1::2]),
                        ],
                        abs=0.011,
                    )
                # the pixels under the mask have the category's colour (class follows from pixels)
                if ann["area"] >= 60:
                    mean = pixels[mask.astype(bool)].mean(0)
                    dist = {
                        c: np.abs(mean - np.asarray(rgb)).max()
                        for c, (_s, _n, rgb) in DRAWN.items()
                    }
                    assert min(dist, key=dist.get) == ann["category_id"]
    assert sorted(ann_ids) == list(range(1, len(ann_ids) + 1))
    assert n_crowd >= 3


def test_coco_area_ranges_and_captions(generated) -> None:
    from visionbench.synth.coco import DRAWN

    root = generated("coco-mini")
    inst = _coco(root / "annotations" / "instances_train2017.json")
    areas = np.array([a["area"] for a in inst.dataset["annotations"] if not a["iscrowd"]])
    # COCO's small / medium / large ranges are all populated
    assert (areas < 32**2).sum() > 20 and ((areas >= 32**2) & (areas < 96**2)).sum() > 20
    assert (areas >= 96**2).sum() > 5

    for split in ("val2017", "train2017"):
        inst = _coco(root / "annotations" / f"instances_{split}.json")
        caps = _coco(root / "annotations" / f"captions_{split}.json")
        assert set(caps.dataset) == {"info", "licenses", "images", "annotations"}
        assert caps.dataset["images"] == inst.dataset["images"]
        for image_id in inst.imgs:
            texts = [a["caption"] for a in caps.imgToAnns[image_id]]
            assert len(texts) == 5 and len(set(texts)) == 5
            (listing,) = [t for t in texts if t.startswith("a picture of ")]
            for ann in inst.imgToAnns[image_id]:
                colour = DRAWN[ann["category_id"]][1]
                noun = inst.cats[ann["category_id"]]["name"]
                plural = "people" if noun == "person" else noun + "s"
                assert f"{colour} {noun}" in listing or f"{colour} {plural}" in listing


# --------------------------------------------------------------------------- cityscapes-mini


def _cityscapes_frames(root: Path, split: str) -> list[tuple[str, str]]:
    return sorted(
        (p.parent.name, p.name[: -len("_leftImg8bit.png")])
        for p in (root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png")
    )


def test_cityscapes_pngs_read_back(generated) -> None:
    from cityscapesscripts.helpers.labels import id2label

    root = generated("cityscapes-mini")
    valid_ids = {i for i in id2label if 0 <= i <= 33}
    train, val = _cityscapes_frames(root, "train"), _cityscapes_frames(root, "val")
    assert len(train) == 40 and len(val) == 10
    assert {c for c, _ in val} == {"frankfurt", "lindau", "munster"}
    assert not {c for c, _ in train} & {c for c, _ in val}
    seen: set[int] = set()
    for split, frames in (("train", train), ("val", val)):
        for city, stem in frames:
            c, seq, frame = stem.split("_")
            assert c == city and len(seq) == 6 and len(frame) == 6 and (seq + frame).isdigit()
            gt = root / "gtFine" / split / city / stem
            with Image.open(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png") as im:
                assert im.mode == "RGB" and im.size == (256, 128)
            with Image.open(f"{gt}_gtFine_labelIds.png") as im:
                assert im.mode == "L"
                labels = np.asarray(im)
            with Image.open(f"{gt}_gtFine_instanceIds.png") as im:
                assert im.mode == "I;16"  # 16-bit grayscale PNG, as the real files
                inst = np.asarray(im).astype(np.int64)
            with Image.open(f"{gt}_gtFine_color.png") as im:
                assert im.mode == "RGBA"
                colour = np.asarray(im)
            assert set(np.unique(labels).tolist()) <= valid_ids
            seen |= set(np.unique(labels).tolist())
            is_inst = inst >= 1000
            assert (inst[~is_inst] == labels[~is_inst]).all()
            assert (inst[is_inst] // 1000 == labels[is_inst]).all()
            assert np.isin(labels[is_inst], list(range(24, 34))).all()
            palette = np.array([(*id2label[i].color, 255) for i in range(34)], np.uint8)
            assert (colour == palette[labels]).all()
    assert {
        7,
        8,
        11,
        17,
        21,
        23,
        24,
        26,
    } <= seen  # road, sidewalk, building, pole, veg., sky, person, car


def test_cityscapes_pngs_match_cityscapesscripts_from_polygons(generated) -> None:
    """json2labelImg / json2instanceImg redraw our polygons files into identical PNGs."""
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    root = generated("cityscapes-mini")
    for city, stem in _cityscapes_frames(root, "val"):
        gt = root / "gtFine" / "val" / city / stem
        ann = Annotation()
        ann.fromJsonFile(f"{gt}_gtFine_polygons.json")
        assert (ann.imgWidth, ann.imgHeight) == (256, 128)
        assert (
            np.asarray(createLabelImage(ann, "ids"))
            == np.asarray(Image.open(f"{gt}_gtFine_labelIds.png"))
        ).all()
        assert (
            np.asarray(createInstanceImage(ann, "ids"))
            == np.asarray(Image.open(f"{gt}_gtFine_instanceIds.png"))
        ).all()
        assert (
            np.asarray(createLabelImage(ann, "color"))
            == np.asarray(Image.open(f"{gt}_gtFine_color.png"))
        ).all()


def test_cityscapes_pixel_classes_learnable(generated) -> None:
    """A nearest-centroid classifier on pixel colour (fit on train) gets > 90% of val pixels."""
    root = generated("cityscapes-mini")

    def pixels(split: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for city, stem in _cityscapes_frames(root, split):
            img = np.asarray(
                Image.open(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            )
            lab = np.asarray(
                Image.open(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png")
            )
            xs.append(img.reshape(-1, 3)[::7].astype(np.float32))
            ys.append(lab.reshape(-1)[::7])
        return np.concatenate(xs), np.concatenate(ys)

    x, y = pixels("train")
    xv, yv = pixels("val")
    classes = np.unique(y)
    centroids = np.stack([x[y == c].mean(0) for c in classes])
    pred = classes[((xv[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)]
    evaluated = np.isin(
        yv, [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    )
    assert (pred[evaluated] == yv[evaluated]).mean() > 0.9


# --------------------------------------------------------------------------- vg-mini

VG_FIXTURE = next(
    (p for p in (REPO / "tests/data/fixtures/visual_genome", Path("/work/shared/fixtures/visual_genome"))
     if (p / "v1.4").is_dir()),
    None,
)  # fmt: skip
_BOX = ("x", "y", "w", "h")
_ENDPOINT_NAME = {"name", "synsets", "object_id", *_BOX}
_ENDPOINT_MERGED = {"names", "merged_object_ids", "synsets", "object_id", *_BOX}
#: REFERENCE.md section 5 and the real v1.4 files: allowed key sets of every record, by path.
V14_RECORDS: dict[str, list[set[str]]] = {
    "image_data:$[]": [{"image_id", "url", "width", "height", "coco_id", "flickr_id"}],
    "objects:$[]": [{"image_id", "objects", "image_url"}],
    "objects:$[].objects[]": [{"object_id", "names", "synsets", "merged_object_ids", *_BOX}],
    "relationships:$[]": [{"image_id", "relationships"}],
    "relationships:$[].relationships[]": [{"relationship_id", "predicate", "synsets", "subject", "object"}],
    "relationships:$[].relationships[].subject": [_ENDPOINT_NAME, _ENDPOINT_MERGED],
    "relationships:$[].relationships[].object": [_ENDPOINT_NAME, _ENDPOINT_MERGED],
    "attributes:$[]": [{"image_id", "attributes"}],
    "attributes:$[].attributes[]": [{"object_id", "names", "synsets", *_BOX},
                                    {"object_id", "names", "synsets", "attributes", *_BOX}],
    "region_descriptions:$[]": [{"id", "regions"}],
    "region_descriptions:$[].regions[]": [{"region_id", "image_id", "phrase", "x", "y", "width", "height"}],
    "question_answers:$[]": [{"id", "qas"}],
    "question_answers:$[].qas[]": [{"qa_id", "image_id", "question", "answer", "q_objects", "a_objects"}],
}  # fmt: skip
#: Leaf types by key name (lists of str / int are checked element-wise).
V14_LEAVES = {
    "int": {"image_id", "object_id", "relationship_id", "region_id", "qa_id", "id", "width", "height", *_BOX},
    "str": {"url", "image_url", "predicate", "name", "phrase", "question", "answer"},
    "list[str]": {"names", "synsets", "attributes"},
    "list[int]": {"merged_object_ids"},
    "list": {"q_objects", "a_objects"},
    "int|None": {"coco_id", "flickr_id"},
}  # fmt: skip
VG_FILES = (
    "image_data",
    "objects",
    "relationships",
    "attributes",
    "region_descriptions",
    "question_answers",
)


def _schema(node, path: str = "$", acc: dict | None = None) -> dict[str, set]:
    """path -> set of shapes: a type name, or ('dict', sorted keys) / 'list'."""
    acc = {} if acc is None else acc
    if isinstance(node, dict):
        acc.setdefault(path, set()).add(("dict", tuple(sorted(node))))
        for k, v in node.items():
            _schema(v, f"{path}.{k}", acc)
    elif isinstance(node, list):
        acc.setdefault(path, set()).add("list")
        for v in node:
            _schema(v, f"{path}[]", acc)
    else:
        acc.setdefault(path, set()).add(type(node).__name__)
    return acc


@pytest.fixture(scope="module")
def vg(generated) -> tuple[Path, dict[str, list]]:
    root = generated("vg-mini")
    return root, {f: json.loads((root / f"{f}.json").read_text()) for f in VG_FILES}


def _check_v14_records(name: str, data: list) -> set[str]:
    """Check every record of one file against V14_RECORDS / V14_LEAVES; return paths seen."""
    seen = set()
    for path, shapes in _schema(data).items():
        if path == "$":
            assert shapes == {"list"}
            continue
        key = path.rsplit(".", 1)[-1].removesuffix("[]")
        kind = next((k for k, keys in V14_LEAVES.items() if key in keys), "records")
        for shape in shapes:
            if isinstance(shape, tuple):  # a record: its key set must be one of the allowed ones
                assert set(shape[1]) in V14_RECORDS[f"{name}:{path}"], (
                    f"{name}: {path} keys {shape[1]}"
                )
                seen.add(f"{name}:{path}")
            elif shape == "list":  # a list of records, or a list-valued leaf
                assert kind == "records" or kind.startswith("list"), f"{name}: {path} is a list"
            elif path.endswith("[]"):  # an element of a list-valued leaf
                assert kind.startswith("list[") and shape == kind[5:-1], f"{name}: {path} {shape}"
            else:
                assert shape in kind.replace("None", "NoneType").split("|"), (
                    f"{name}: {path} {shape}"
                )
    return seen


def test_vg_records_match_reference_v14_schema(vg) -> None:
    _root, files = vg
    seen = set()
    for name, data in files.items():
        seen |= _check_v14_records(name, data)
    assert seen == set(V14_RECORDS)


@pytest.mark.skipif(VG_FIXTURE is None, reason="real Visual Genome excerpts not available")
def test_v14_schema_table_matches_real_excerpts() -> None:
    """The schema table above is itself checked against the real v1.4 excerpts."""
    for name in VG_FILES:
        _check_v14_records(name, json.loads((VG_FIXTURE / "v1.4" / f"{name}.json").read_text()))


@pytest.mark.skipif(VG_FIXTURE is None, reason="real Visual Genome excerpts not available")
def test_vg_schema_matches_real_v14_files(vg) -> None:
    _root, files = vg
    for name, ours in files.items():
        real = _schema(json.loads((VG_FIXTURE / "v1.4" / f"{name}.json").read_text()))
        mine = _schema(ours)
        for path, shapes in mine.items():
            assert path in real, f"{name}: {path} not in the real file"
            # null ids in the real excerpt; ints where VG links to COCO/Flickr
            allowed = real[path] | ({"int"} if path.endswith(("coco_id", "flickr_id")) else set())
            assert shapes <= allowed, f"{name}: {path} is {shapes}, real {real[path]}"
        missing = set(real) - set(mine)
        assert not missing, f"{name}: paths of the real file missing: {missing}"
    # both endpoint shapes and both attribute-record shapes occur
    endpoint_shapes = _schema(files["relationships"])["$[].relationships[].subject"]
    endpoint_shapes |= _schema(files["relationships"])["$[].relationships[].object"]
    assert len(endpoint_shapes) == 2
    assert len(_schema(files["attributes"])["$[].attributes[]"]) == 2


def test_vg_reference_schema_and_alignment(vg) -> None:
    """REFERENCE.md section 5, field by field, and entry i of every file is image i."""
    root, files = vg
    images = files["image_data"]
    assert len(images) == 60
    image_ids = [e["image_id"] for e in images]
    assert len(set(image_ids)) == 60
    assert [e["image_id"] for e in files["objects"]] == image_ids
    assert [e["image_id"] for e in files["relationships"]] == image_ids
    assert [e["image_id"] for e in files["attributes"]] == image_ids
    assert [e["id"] for e in files["region_descriptions"]] == image_ids
    assert [e["id"] for e in files["question_answers"]] == image_ids
    vocab = json.loads((REPO / "visionbench/data/vg150.json").read_text())
    all_ids: list[int] = []
    for img, objs, rels, attrs, regs, qas in zip(*(files[f] for f in VG_FILES), strict=True):
        with Image.open(root / "images" / f"{img['image_id']}.jpg") as im:
            assert im.format == "JPEG" and im.size == (img["width"], img["height"])
        by_id = {}
        for o in objs["objects"]:
            assert {
                "object_id",
                "x",
                "y",
                "w",
                "h",
                "names",
                "synsets",
                "merged_object_ids",
            } == set(o)
            assert o["names"][0] in vocab["objects"] and len(o["names"]) == 1
            assert (
                o["x"] >= 0 and o["x"] + o["w"] <= img["width"] and o["y"] + o["h"] <= img["height"]
            )
            by_id[o["object_id"]] = o
            all_ids += [o["object_id"], *o["merged_object_ids"]]
        assert [a["object_id"] for a in attrs["attributes"]] == list(by_id)
        for a in attrs["attributes"]:
            assert all(x in vocab["attributes"] for x in a.get("attributes", []))
        for r in rels["relationships"]:
            assert r["predicate"] in vocab["predicates"]
            all_ids.append(r["relationship_id"])
            for end in (r["subject"], r["object"]):
                o = by_id[end["object_id"]]
                assert all(end[k] == o[k] for k in "xywh") and end["synsets"] == o["synsets"]
                if o["merged_object_ids"]:
                    assert (
                        end["names"] == o["names"]
                        and end["merged_object_ids"] == o["merged_object_ids"]
                    )
                    assert "name" not in end
                else:
                    assert end["name"] == o["names"][0] and "names" not in end
        for reg in regs["regions"]:
            assert reg["image_id"] == img["image_id"] and reg["phrase"]
            assert (
                reg["x"] + reg["width"] <= img["width"]
                and reg["y"] + reg["height"] <= img["height"]
            )
            all_ids.append(reg["region_id"])
        for qa in qas["qas"]:
            assert qa["image_id"] == img["image_id"] and qa["question"].endswith("?")
            assert qa["q_objects"] == [] and qa["a_objects"] == []
            all_ids.append(qa["qa_id"])
    assert len(all_ids) == len(set(all_ids))


def test_vg_predicates_follow_geometry_and_colours_follow_pixels(vg) -> None:
    root, files = vg
    colours = {
        "red": (210, 40, 40),
        "blue": (40, 70, 210),
        "green": (40, 170, 60),
        "yellow": (235, 215, 40),
        "white": (235, 235, 235),
        "black": (25, 25, 25),
        "brown": (130, 80, 40),
        "orange": (245, 140, 30),
        "purple": (130, 40, 170),
    }
    seen = set()
    n_checked = 0
    for img, rels, attrs in zip(
        files["image_data"], files["relationships"], files["attributes"], strict=True
    ):
        diag = (img["width"] + img["height"]) / 2
        occluded = set()
        for r in rels["relationships"]:
            s, o, pred = r["subject"], r["object"], r["predicate"]
            seen.add(pred)
            x_overlap = min(s["x"] + s["w"], o["x"] + o["w"]) > max(s["x"], o["x"])
            y_overlap = min(s["y"] + s["h"], o["y"] + o["h"]) > max(s["y"], o["y"])
            if pred == "on":
                assert x_overlap and s["y"] + s["h"] == o["y"]
            elif pred in ("behind", "in front of"):
                assert x_overlap and y_overlap
                occluded.add(s["object_id"] if pred == "behind" else o["object_id"])
            elif pred == "above":
                assert x_overlap and s["y"] + s["h"] < o["y"]
            elif pred == "under":
                assert x_overlap and s["y"] > o["y"] + o["h"]
            else:
                assert pred == "near" and not x_overlap
                d = np.hypot(
                    s["x"] + s["w"] / 2 - o["x"] - o["w"] / 2,
                    s["y"] + s["h"] / 2 - o["y"] - o["h"] / 2,
                )
                assert d < 0.35 * diag
        pixels = np.asarray(
            Image.open(root / "images" / f"{img['image_id']}.jpg").convert("RGB"), np.float32
        )
        for a in attrs["attributes"]:
            if "attributes" not in a or a["object_id"] in occluded:
                continue
            cx, cy = a["x"] + a["w"] // 2, a["y"] + a["h"] * 2 // 3  # inside every shape used
            mean = pixels[cy - 1 : cy + 2, cx - 1 : cx + 2].reshape(-1, 3).mean(0)
            nearest = min(colours, key=lambda c: np.abs(mean - np.asarray(colours[c])).max())
            assert nearest == a["attributes"][0]
            n_checked += 1
    assert seen == {"on", "behind", "in front of", "above", "under", "near"}
    assert n_checked > 150
