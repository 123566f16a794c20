"""COCO loader tests on the real excerpts (repaired: image records added for the ids the
annotations reference, see _loader_fixtures.py) and on files made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.loaders._loader_fixtures import COCO, load, repaired_coco, write_image
from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import label_map
from visionbench.loaders.coco import COCOCaptions, COCODetection, COCOKeypoints
from visionbench.loaders.factories import coco, coco_captions, coco_keypoints
from visionbench.types import Task

INSTANCES = COCO / "instances_val2017_excerpt.json"


def _raw_dangling(name: str) -> tuple[int, list[int]]:
    doc = load(name)
    known = {im["id"] for im in doc["images"]}
    bad = [a["image_id"] for a in doc["annotations"] if a["image_id"] not in known]
    return len(bad), sorted(set(bad))


# ---------------------------------------------------------------------------------------
# Dangling image ids: the unrepaired excerpts


@pytest.mark.parametrize(
    "cls,name",
    [
        (COCODetection, "instances_val2017_excerpt.json"),
        (COCODetection, "instances_val2014_excerpt.json"),
        (COCOCaptions, "captions_val2017_excerpt.json"),
        (COCOKeypoints, "person_keypoints_val2017_excerpt.json"),
    ],
)
def test_excerpt_with_dangling_ids_is_refused_naming_them(cls, name):
    n_bad, ids = _raw_dangling(name)
    with pytest.raises(AnnotationError) as e:
        cls(COCO / name)
    msg = str(e.value)
    assert f"{n_bad} annotations reference {len(ids)} image ids" in msg
    assert str(ids[0]) in msg and name in msg and "annotations.image_id" in msg
    assert "drop_dangling=True" in msg


def test_drop_dangling_warns_with_count_and_keeps_the_rest():
    n_bad, ids = _raw_dangling("instances_val2017_excerpt.json")
    assert (n_bad, len(ids)) == (99, 83)  # fixtures README: 1 of 100 annotations is consistent
    with pytest.warns(UserWarning, match="dropped 99 annotations reference 83 image ids"):
        ds = COCODetection(INSTANCES, drop_dangling=True)
    assert len(ds) == 100  # all images, most without annotations
    assert len(ds.problems) == 99 and {p.kind for p in ds.problems} == {"dangling"}
    gt = ds.ground_truth()
    assert sum(len(t) for t in gt.targets) == 1


# ---------------------------------------------------------------------------------------
# Instances


@pytest.fixture
def instances(tmp_path):
    return COCODetection(repaired_coco(tmp_path), tmp_path / "val2017")


def test_known_annotation_bbox_converted_by_hand(instances):
    # instances_val2017_excerpt.json annotation id 1768: image 289343, category 18 (dog),
    # bbox [473.07, 395.93, 38.65, 28.67] -> xyxy [473.07, 395.93, 511.72, 424.60].
    i = instances.image_ids.index(289343)
    t = instances[i].target
    k = int(np.flatnonzero(t.ann_ids == 1768)[0])
    np.testing.assert_allclose(t.boxes[k], [473.07, 395.93, 511.72, 424.60], atol=1e-9)
    assert t.labels[k] == 18 and instances.label_space.name_of(18) == "dog"
    assert t.area[k] == pytest.approx(702.1057499999998)
    assert not t.iscrowd[k]


def test_instances_match_pycocotools(instances):
    from pycocotools.coco import COCO as RefCOCO

    ref = RefCOCO(instances.annotation_file)
    assert instances.image_ids == sorted(ref.getImgIds())
    gt = instances.ground_truth()
    assert gt.files["annotations"] == instances.annotation_file and gt.task is Task.DETECTION
    assert sum(len(t) for t in gt.targets) == len(ref.getAnnIds()) == 100
    for sid, t in zip(gt.sample_ids, gt.targets):
        anns = ref.loadAnns(ref.getAnnIds(imgIds=[sid]))
        xywh = np.array([a["bbox"] for a in anns]).reshape(-1, 4)
        np.testing.assert_array_equal(t.ann_ids, [a["id"] for a in anns])
        np.testing.assert_array_equal(t.boxes[:, :2], xywh[:, :2])
        np.testing.assert_allclose(t.boxes[:, 2:] - t.boxes[:, :2], xywh[:, 2:], atol=1e-9)
        np.testing.assert_array_equal(t.labels, [a["category_id"] for a in anns])


def test_label_space_is_coco91_with_coco80_map(instances):
    assert instances.label_space.name == "coco91"
    labels = np.concatenate([t.labels for t in instances.ground_truth().targets])
    c80 = label_map("coco91", "coco80").apply(labels)
    # category id 18 (dog) is the 17th of the 80 contiguous classes (ids 12 is a gap).
    assert c80[labels == 18].tolist() == [16] * int((labels == 18).sum())
    assert c80.min() >= 0 and c80.max() < 80


def test_masks_equal_pycocotools_annToRLE(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO as RefCOCO

    path = repaired_coco(tmp_path)
    ds = COCODetection(path, masks=True)
    ref = RefCOCO(str(path))
    n = 0
    for t in ds.ground_truth().targets:
        for aid, rle in zip(t.ann_ids, t.masks):
            expected = ref.annToRLE(ref.anns[int(aid)])
            assert isinstance(rle["counts"], str)
            assert rle["counts"].encode() == expected["counts"] and rle["size"] == list(
                expected["size"]
            )
            assert mask_utils.area(rle) == mask_utils.area(expected)
            n += 1
    assert n == 100


def _random_segmentation(rng: np.random.Generator, h: int, w: int):
    """A polygon list (3 to 8 points each, partly outside the image), an uncompressed RLE,
    or a compressed RLE (str or bytes counts)."""
    from pycocotools import mask as mask_utils

    kind = int(rng.integers(0, 4))
    if kind == 0:
        return [
            rng.uniform(-0.5 * w, 1.5 * w, 2 * int(rng.integers(3, 9))).round(2).tolist()
            for _ in range(int(rng.integers(1, 4)))
        ]
    m = np.asfortranarray(rng.random((h, w)) < rng.uniform(0.05, 0.9), dtype=np.uint8)
    rle = mask_utils.encode(m)
    if kind == 1:
        flat = m.ravel(order="F")
        edges = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.r_[0, edges, flat.size]).tolist()
        return {"size": [h, w], "counts": ([0] if flat[0] else []) + runs}
    return {"size": [h, w], "counts": rle["counts"].decode() if kind == 2 else rle["counts"]}


@pytest.mark.parametrize("seed", range(4))
def test_the_one_rle_conversion_equals_pycocotools_annToRLE(seed):
    """loaders' segmentation_to_rle and the metrics' segm_to_rle (the one conversion it
    calls) give annToRLE's bytes for random polygons, uncompressed and compressed RLE."""
    from pycocotools.coco import COCO as RefCOCO

    from visionbench.loaders.coco_format import segmentation_to_rle
    from visionbench.metrics.detection.coco_masks import segm_to_rle

    rng = np.random.default_rng(seed)
    ref = RefCOCO()
    for n in range(60):
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        ref.imgs = {1: {"id": 1, "height": h, "width": w}}
        seg = _random_segmentation(rng, h, w)
        expected = ref.annToRLE({"image_id": 1, "segmentation": seg})
        want = expected["counts"]  # compressed input passes through, str or bytes
        want = want.encode() if isinstance(want, str) else want
        got = segmentation_to_rle(seg, h, w, ann_id=n, path="x.json")
        assert got["counts"].encode() == want, (n, seg)
        assert got["size"] == [int(v) for v in expected["size"]] == [h, w]
        core = segm_to_rle(seg, h, w)["counts"]
        assert (core.encode() if isinstance(core, str) else core) == want
    # a first polygon of 2 points: frPyObjects takes it for a box and raises TypeError
    box_like = [[1.0, 1.0, 5.0, 5.0], [0.0, 0.0, 4.0, 0.0, 4.0, 4.0]]
    with pytest.raises(TypeError):
        ref.annToRLE({"image_id": 1, "segmentation": box_like})
    with pytest.raises(AnnotationError, match=r"malformed segmentation.*field=segmentation, id=7"):
        segmentation_to_rle(box_like, 10, 10, ann_id=7, path="x.json")


def _tiny_coco(tmp_path: Path, anns: list[dict], images=None, cats=None) -> Path:
    doc = {
        "images": images
        if images is not None
        else [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 8}],
        "annotations": anns,
        "categories": cats
        if cats is not None
        else [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
    }
    p = tmp_path / "instances_x.json"
    p.write_text(json.dumps(doc))
    return p


def _ann(**kw):
    a = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 3], "area": 12.0, "iscrowd": 0,
         "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]}  # fmt: skip
    a.update(kw)
    return a


def test_zero_size_box_of_the_official_val2014_file_is_kept_with_a_warning(tmp_path):
    # instances_val2014.json annotation 918 has bbox [296.65, 388.33, 1.03, 0.0]: real data
    path = repaired_coco(tmp_path, "instances_val2014_excerpt.json")
    with pytest.warns(UserWarning, match=r"1 boxes have zero width or height .* \[918\]"):
        ds = COCODetection(path)
    assert [p.kind for p in ds.problems] == ["degenerate_box"]
    t = ds[ds.image_ids.index(ds.problems[0].sample_id)].target
    k = int(np.flatnonzero(t.ann_ids == 918)[0])
    np.testing.assert_allclose(t.boxes[k], [296.65, 388.33, 296.65 + 1.03, 388.33])


def test_crowd_uncompressed_rle_kept_and_converted(tmp_path):
    # a 10x8 image, crowd region = column-major run: 16 zeros then 8 ones (columns 2 and 3).
    rle = {"size": [8, 10], "counts": [16, 16, 48]}
    p = _tiny_coco(
        tmp_path,
        [
            _ann(),
            _ann(id=2, category_id=3, iscrowd=1, segmentation=rle, bbox=[2, 0, 2, 8], area=16.0),
        ],
    )
    t = COCODetection(p, masks=True)[0].target
    assert t.iscrowd.tolist() == [False, True]
    from pycocotools import mask as mask_utils

    m = mask_utils.decode(t.masks[1])
    expected = np.zeros((8, 10), np.uint8)
    expected[:, 2:4] = 1
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_array_equal(t.boxes[1], [2, 0, 4, 8])
    assert mask_utils.area(t.masks[0]) > 0


@pytest.mark.parametrize(
    "anns,images,cats,field,fragment",
    [
        ([_ann(), _ann()], None, None, "annotations.id", "1 duplicate ids"),
        ([_ann(id=0)], None, None, "annotations.id", "0 or negative"),
        ([_ann(bbox=[1, 1, -1, 3])], None, None, "annotations.bbox", "negative width or height"),
        ([_ann(bbox=[1, 1, 4, -2])], None, None, "annotations.bbox", "negative width or height"),
        ([_ann(bbox=[1, 1, 4])], None, None, "annotations.bbox", "4 numbers"),
        ([_ann(category_id=7)], None, None, "annotations.category_id", "[7]"),
        ([_ann(image_id=5)], None, None, "annotations.image_id", "[5]"),
        (
            [_ann()],
            [{"id": 1, "width": 1, "height": 1}, {"id": 1, "width": 1, "height": 1}],
            None,
            "images.id",
            "duplicate",
        ),
        ([_ann()], [{"id": 1, "width": 0, "height": 1}], None, "images.width", "non-positive"),
        (
            [{"id": 1, "image_id": 1, "bbox": [1, 1, 2, 2]}],
            None,
            None,
            "annotations.category_id",
            "has no",
        ),
    ],
)
def test_validation_errors_name_file_field_and_ids(tmp_path, anns, images, cats, field, fragment):
    p = _tiny_coco(tmp_path, anns, images, cats)
    with pytest.raises(AnnotationError) as e:
        COCODetection(p)
    assert fragment in str(e.value) and f"field={field}" in str(e.value) and str(p) in str(e.value)


def test_nan_box_is_refused(tmp_path):
    p = tmp_path / "nan.json"
    # JSON has no NaN, but Python's json writes (and some tools emit) the literal
    p.write_text(json.dumps({"images": [{"id": 1, "width": 10, "height": 10}],
                             "annotations": [_ann(id=4, bbox=[float("nan"), 1, 2, 2])],
                             "categories": [{"id": 1, "name": "person"}]}))  # fmt: skip
    with pytest.raises(AnnotationError, match=r"NaN or inf: annotation ids \[4\]"):
        COCODetection(p)


def test_not_json_and_missing_lists(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        COCODetection(tmp_path / "bad.json")
    (tmp_path / "nolist.json").write_text(json.dumps({"images": []}))
    with pytest.raises(AnnotationError, match="'annotations'"):
        COCODetection(tmp_path / "nolist.json")


def test_custom_categories_get_their_own_label_space(tmp_path):
    p = _tiny_coco(tmp_path, [_ann(category_id=2)], cats=[{"id": 2, "name": "widget"}])
    ds = COCODetection(p)
    assert ds.label_space.name != "coco91" and ds.label_space.name_of(2) == "widget"


# ---------------------------------------------------------------------------------------
# Captions and keypoints


def test_captions_repaired(tmp_path):
    path = repaired_coco(tmp_path, "captions_val2017_excerpt.json")
    raw = json.loads(path.read_text())
    per_image: dict[int, list[str]] = {}
    for a in raw["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a["caption"])
    with_caps = [im["id"] for im in raw["images"] if im["id"] in per_image]
    # the excerpt's own 100 images mostly have no caption among its first 100 annotations
    n_without = len(raw["images"]) - len(with_caps)
    with pytest.warns(
        UserWarning, match=f"{n_without} of {len(raw['images'])} images have no caption"
    ):
        ds = COCOCaptions(path)
    assert ds.task is Task.CAPTIONING and len(ds) == len(with_caps)
    gt = ds.ground_truth()
    got = dict(zip(gt.sample_ids, (t.captions for t in gt.targets)))
    assert got == {k: tuple(v) for k, v in per_image.items()}
    assert "A black Honda motorcycle parked in front of a garage." in got[179765]


def test_captions_images_without_caption_are_left_out_with_warning(tmp_path):
    doc = load("captions_val2017_excerpt.json")
    known = {im["id"] for im in doc["images"]}
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] in known]
    n_with = len({a["image_id"] for a in doc["annotations"]})
    p = tmp_path / "captions_val2017.json"
    p.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match=f"{100 - n_with} of 100 images have no caption"):
        ds = COCOCaptions(p)
    assert len(ds) == n_with


def test_keypoints_known_values(tmp_path):
    ds = COCOKeypoints(repaired_coco(tmp_path, "person_keypoints_val2017_excerpt.json"))
    assert len(ds.keypoint_names) == 17 and ds.keypoint_names[0] == "nose"
    t = ds[ds.image_ids.index(425226)].target
    k = int(np.flatnonzero(t.ann_ids == 183126)[0])
    assert t.keypoints.shape[1:] == (17, 3)
    # the annotation's keypoints list starts with 5 zero triplets, then (142, 309, 1)
    np.testing.assert_array_equal(t.keypoints[k, 5], [142, 309, 1])
    np.testing.assert_array_equal(t.keypoints[k, 0], [0, 0, 0])
    np.testing.assert_allclose(t.boxes[k], [73.35, 206.02, 73.35 + 300.58, 206.02 + 372.5])


# ---------------------------------------------------------------------------------------
# Layouts: 2014 / 2017 naming through the factories


def test_factories_2014_naming_and_images(tmp_path):
    repaired_coco(tmp_path, "instances_val2014_excerpt.json")
    raw = json.loads((tmp_path / "annotations" / "instances_val2014.json").read_text())
    first = raw["images"][0]
    assert first["file_name"].startswith("COCO_val2014_")
    write_image(tmp_path / "val2014" / first["file_name"], first["width"], first["height"])
    with pytest.warns(UserWarning, match="zero width or height"):
        ds = coco(tmp_path, "val", year=2014)
    assert ds.split == "val2014"
    s = ds[ds.image_ids.index(first["id"])]
    assert s.image.path == str(tmp_path / "val2014" / first["file_name"])
    assert tuple(s.image.load().shape) == (3, first["height"], first["width"])
    assert (s.image.width, s.image.height) == (first["width"], first["height"])


def test_factories_2017_captions_and_keypoints(tmp_path):
    repaired_coco(tmp_path, "captions_val2017_excerpt.json")
    repaired_coco(tmp_path, "person_keypoints_val2017_excerpt.json")
    assert coco_captions(tmp_path).split == "val2017"
    assert coco_keypoints(tmp_path, "val2017").task is Task.DETECTION
    with pytest.raises(DatasetNotFoundError, match="instances_val2017.json.*cocodataset.org"):
        coco(tmp_path)


# ---------------------------------------------------------------------------------------
# coco-mini (visionbench.synth) through the catalog's factory


@pytest.fixture(scope="module")
def coco_mini_root(tmp_path_factory):
    from visionbench import synth

    return synth.generate("coco-mini", tmp_path_factory.mktemp("cm") / "coco-mini")


def test_coco_mini_matches_pycocotools_including_crowd_rle(coco_mini_root):
    from pycocotools.coco import COCO as RefCOCO

    from visionbench.loaders.mini import coco_mini, coco_mini_captions
    from visionbench.loaders.verify import verify_dataset

    ds = coco_mini(coco_mini_root, masks=True)
    ref = RefCOCO(ds.annotation_file)
    gt = ds.ground_truth()
    assert gt.sample_ids == sorted(ref.getImgIds()) and ds.name == "coco-mini"
    n_crowd = 0
    for sid, t in zip(gt.sample_ids, gt.targets):
        anns = ref.loadAnns(ref.getAnnIds(imgIds=[sid]))
        assert t.ann_ids.tolist() == [a["id"] for a in anns]
        assert t.iscrowd.tolist() == [bool(a["iscrowd"]) for a in anns]
        for a, rle in zip(anns, t.masks):
            assert rle["counts"].encode() == ref.annToRLE(a)["counts"]
        n_crowd += int(t.iscrowd.sum())
    assert n_crowd == sum(a["iscrowd"] for a in ref.anns.values()) > 0
    assert verify_dataset(ds) == []  # every image exists and has its recorded size
    caps = coco_mini_captions(coco_mini_root)
    assert len(caps) == len(ds) and all(len(t.captions) >= 1 for t in caps.ground_truth().targets)


def test_test_dev_image_info_has_images_and_no_annotations(tmp_path):
    # image_info_test-dev2017.json: images + categories, no `annotations` key; images in test2017/
    doc = load("instances_val2017_excerpt.json")
    info = {"images": doc["images"][:3], "categories": doc["categories"], "info": doc["info"]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps(info))
    ds = coco(tmp_path, "test-dev2017")
    assert len(ds) == 3 and not ds.has_annotations
    assert all(len(t) == 0 for t in ds.ground_truth().targets)
    assert ds[0].image.path.startswith(str(tmp_path / "test2017"))
    # an instances file without annotations is still refused
    bad = tmp_path / "annotations" / "instances_val2017.json"
    bad.write_text(json.dumps(info))
    with pytest.raises(AnnotationError, match="expected a list under 'annotations'"):
        coco(tmp_path)
