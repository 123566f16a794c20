"""VG-150 from small h5 files in the released layout (write_vg150_h5) and the real dicts file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.shared_fixtures import shared_fixtures
from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.vg150 import VG150, cxcywh_to_xyxy, write_vg150_h5
from visionbench.types import Task

_VG150 = shared_fixtures("visual_genome/vg150")
DICTS = (_VG150 or Path("/nonexistent")) / "VG-SGG-dicts-with-attri.json"
pytestmark = pytest.mark.skipif(not DICTS.is_file(), reason="VG-150 dicts fixture not found")

# Six h5 rows; image_data.json also lists 1592 (absent from the h5, as in the release).
IMAGES = [  # (image_id, width, height)
    (10, 800, 600),
    (11, 1024, 768),
    (1592, 500, 500),
    (12, 640, 480),
    (13, 300, 400),
    (14, 1000, 500),
    (15, 512, 512),
]
ROWS = [
    # row 0, image 10 (800x600), train: 2 boxes, 1 rel
    {
        "boxes_1024": [[512, 256, 128, 64], [100, 100, 50, 40]],
        "labels": [78, 22],
        "relations": [[0, 1, 31]],
        "split": 0,
        "attributes": [[3, 7], []],
    },
    # row 1, image 11, train: boxes but no rels -> dropped by filter_empty_rels
    {"boxes_1024": [[50, 60, 20, 10]], "labels": [1], "relations": [], "split": 0},
    # row 2, image 12 (640x480), train: 3 boxes, duplicated pair (0, 2)
    {
        "boxes_1024": [[10, 20, 4, 6], [300, 200, 100, 50], [500, 400, 20, 20]],
        "labels": [5, 6, 7],
        "relations": [[0, 2, 1], [0, 2, 2], [1, 0, 3]],
        "split": 0,
    },
    # row 3, image 13 (300x400), test: 1 box, 1 self-rel
    {"boxes_1024": [[512, 512, 256, 512]], "labels": [150], "relations": [[0, 0, 50]], "split": 2},
    # row 4, image 14, test: no boxes at all -> never in a split
    {"split": 2},
    # row 5, image 15, test: a box but no rels -> only without filter_empty_rels
    {"boxes_1024": [[100, 100, 10, 10]], "labels": [9], "relations": [], "split": 2},
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "vg150"
    d.mkdir()
    write_vg150_h5(d / "VG-SGG-with-attri.h5", ROWS)
    shutil.copy(DICTS, d / "VG-SGG-dicts-with-attri.json")
    (d / "image_data.json").write_text(
        json.dumps(
            [
                {
                    "image_id": i,
                    "width": w,
                    "height": h,
                    "url": f"x/VG_100K/{i}.jpg",
                    "coco_id": None,
                    "flickr_id": None,
                }
                for i, w, h in IMAGES
            ]
        )
    )
    return d


def test_h5_layout_and_dtypes(root: Path) -> None:
    with h5py.File(root / "VG-SGG-with-attri.h5") as f:
        shapes = {k: (f[k].shape, f[k].dtype.str) for k in f}
        assert shapes == {
            "labels": ((8, 1), "<i8"),
            "boxes_1024": ((8, 4), "<i4"),
            "boxes_512": ((8, 4), "<i4"),
            "attributes": ((8, 10), "<i8"),
            "active_object_mask": ((8, 1), "|b1"),
            "img_to_first_box": ((6,), "<i4"),
            "img_to_last_box": ((6,), "<i4"),
            "img_to_first_rel": ((6,), "<i4"),
            "img_to_last_rel": ((6,), "<i4"),
            "relationships": ((5, 2), "<i4"),
            "predicates": ((5, 1), "<i8"),
            "split": ((6,), "<i4"),
        }
        # inclusive ranges, -1 for none; relationships hold global box indices
        assert f["img_to_first_box"][:].tolist() == [0, 2, 3, 6, -1, 7]
        assert f["img_to_last_box"][:].tolist() == [1, 2, 5, 6, -1, 7]
        assert f["img_to_first_rel"][:].tolist() == [0, -1, 1, 4, -1, -1]
        assert f["img_to_last_rel"][:].tolist() == [0, -1, 3, 4, -1, -1]
        assert f["relationships"][:].tolist() == [[0, 1], [3, 5], [3, 5], [4, 3], [6, 6]]
        assert f["predicates"][:, 0].tolist() == [31, 1, 2, 3, 50]
        assert f["split"][:].tolist() == [0, 0, 0, 2, 2, 2]
        assert f["boxes_512"][0].tolist() == [256, 128, 64, 32]
        assert f["attributes"][0].tolist() == [3, 7, 0, 0, 0, 0, 0, 0, 0, 0]


def test_test_split_filters_and_box_conversion(root: Path) -> None:
    ds = VG150(root, "test")
    assert ds.task is Task.SCENE_GRAPH and ds.label_space.name == "vg150"
    assert len(ds) == 1  # row 4 has no box, row 5 no relationship
    s = ds[0]
    assert s.sample_id == 13 and (s.image.width, s.image.height) == (300, 400)
    assert s.image.path == str(root / "VG_100K" / "13.jpg")
    # cx 512, cy 512, w 256, h 512 at 1024 -> (384, 256, 640, 768) -> * 400/1024
    assert s.target.boxes.tolist() == [[150.0, 100.0, 250.0, 300.0]]
    assert s.target.labels.tolist() == [150] and s.target.relations.tolist() == [[0, 0, 50]]
    assert [i.sample_id for i in VG150(root, "test", filter_empty_rels=False)] == [13, 15]


def test_val_is_the_head_of_train(root: Path) -> None:
    val, train = VG150(root, "val", num_val_im=1), VG150(root, "train", num_val_im=1)
    assert [s.sample_id for s in val] == [10] and [s.sample_id for s in train] == [12]
    assert len(VG150(root, "train")) == 0 and len(VG150(root, "val")) == 2  # num_val_im=5000
    t = val[0].target  # image 10 is 800x600: scale 800/1024 = 0.78125
    assert t.boxes.tolist() == [[350.0, 175.0, 450.0, 225.0], [58.59375, 62.5, 97.65625, 93.75]]
    assert t.labels.tolist() == [78, 22] and t.relations.tolist() == [[0, 1, 31]]
    assert t.attributes[:, :3].tolist() == [[3, 7, 0], [0, 0, 0]]
    t = train[0].target  # image 12 is 640x480: scale 0.625; local indices, no de-duplication
    assert t.boxes[0].tolist() == [5.0, 10.625, 7.5, 14.375]
    assert t.relations.tolist() == [[0, 2, 1], [0, 2, 2], [1, 0, 3]]


def test_duplicate_filter_keeps_one_predicate_per_pair(root: Path) -> None:
    rels = VG150(root, "train", num_val_im=1, filter_duplicate_rels=True)[
        0
    ].target.relations.tolist()
    assert len(rels) == 2 and rels[1] == [1, 0, 3]
    assert rels[0][:2] == [0, 2] and rels[0][2] in (1, 2)
    with pytest.raises(ValueError, match="train split only"):
        VG150(root, "test", filter_duplicate_rels=True)


def test_ground_truth(root: Path) -> None:
    gt = VG150(root, "val").ground_truth()
    assert gt.sample_ids == [10, 12] and [len(t.relations) for t in gt.targets] == [1, 3]
    assert gt.files["h5"].endswith("VG-SGG-with-attri.h5")


def test_cxcywh_to_xyxy() -> None:
    assert cxcywh_to_xyxy(np.array([[10, 20, 4, 6]])).tolist() == [[8, 17, 12, 23]]


def test_image_data_must_align_with_the_h5(root: Path) -> None:
    data = json.loads((root / "image_data.json").read_text())
    (root / "image_data.json").write_text(json.dumps(data[:-1]))
    with pytest.raises(
        AnnotationError, match=r"5 images after dropping \[1592, 1722, 4616, 4617\].*6 rows"
    ):
        VG150(root, "test")


def test_vocabulary_must_be_vg150(root: Path) -> None:
    d = json.loads(DICTS.read_text())
    d["idx_to_label"]["3"] = "elbow"
    (root / "VG-SGG-dicts-with-attri.json").write_text(json.dumps(d))
    with pytest.raises(AnnotationError, match=r"index 3.*field=idx_to_label"):
        VG150(root, "test")


def test_missing_files_and_bad_split(root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="VG-SGG-with-attri.h5 is missing"):
        VG150(tmp_path / "nowhere", "test")
    with pytest.raises(DatasetNotFoundError, match="train, val, test"):
        VG150(root, "minival")


def test_missing_dataset_and_bad_boxes(root: Path) -> None:
    h5 = root / "VG-SGG-with-attri.h5"
    with h5py.File(h5, "a") as f:
        f["boxes_1024"][2, 2] = 0
    with pytest.raises(AnnotationError, match=r"box 2 has w or h <= 0"):
        VG150(root, "test")
    with h5py.File(h5, "a") as f:
        del f["predicates"]
    with pytest.raises(AnnotationError, match=r"missing datasets \['predicates'\]"):
        VG150(root, "test")


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda f: _replace(f, "labels", f["labels"][:-1]), r"has \d+ rows, `boxes_1024` has .*field=labels"),
        (lambda f: _replace(f, "predicates", f["predicates"][:-1]), r"`relationships` has .*field=predicates"),
        (lambda f: f["img_to_last_box"].__setitem__(0, 10**6), r"image row 0: .* is not a range"),
        (lambda f: f["img_to_first_rel"].__setitem__(0, -5), r"image row 0: \[-5"),
        (lambda f: f["labels"].__setitem__((0, 0), 151), r"151 is not a VG-150 id \(expected 1\.\.150\)"),
        (lambda f: f["predicates"].__setitem__((0, 0), 0), r"0 is not a VG-150 id \(expected 1\.\.50\)"),
    ],
)  # fmt: skip
def test_h5_cross_lengths_and_ranges(root: Path, damage, match) -> None:
    """Per-box / per-relation datasets of one length, index ranges inside them, ids in the
    VG-150 vocabularies: checked when the file is opened, naming the dataset and row."""
    with h5py.File(root / "VG-SGG-with-attri.h5", "a") as f:
        damage(f)
    with pytest.raises(AnnotationError, match=match):
        VG150(root, "train")


def _replace(f, name: str, data) -> None:
    del f[name]
    f.create_dataset(name, data=data)
