"""The COCO loaders' Arrow cache: a reopen gives exactly the targets of a load without the
cache, on the repaired real excerpts and on coco-mini; a changed source or a damaged
entry is rebuilt; checks, warnings and problems are the same on every open."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests.loaders._loader_fixtures import load, repaired_coco
from visionbench.errors import AnnotationError
from visionbench.loaders import coco_tables
from visionbench.loaders.coco import COCOCaptions, COCODetection, COCOKeypoints

CASES = [
    (COCODetection, "instances_val2017_excerpt.json", {"masks": True}),
    (COCODetection, "instances_val2014_excerpt.json", {"masks": True}),
    (COCOKeypoints, "person_keypoints_val2017_excerpt.json", {"masks": True}),
    (COCOCaptions, "captions_val2017_excerpt.json", {}),
]


@pytest.fixture
def builds(monkeypatch):
    """Counts calls of the table builder (a reopen from the cache makes none)."""
    calls: list[str] = []
    real = coco_tables.build_tables

    def counting(path, kind, **kw):
        calls.append(path)
        return real(path, kind, **kw)

    monkeypatch.setattr(coco_tables, "build_tables", counting)
    return calls


def _open(cls, path, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = cls(path, **kw)
    return ds, [str(x.message) for x in w]


def _assert_same(a, b) -> None:
    """Every sample, target array (values and dtype), mask, caption and problem equal."""
    assert len(a) == len(b) and a.image_ids == b.image_ids
    assert a.problems == b.problems and a.categories == b.categories
    assert a.label_space == b.label_space and a.has_annotations == b.has_annotations
    for i in range(len(a)):
        sa, sb = a[i], b[i]
        assert sa.sample_id == sb.sample_id and sa.image == sb.image and sa.meta == sb.meta
        ta, tb = sa.target, sb.target
        if hasattr(ta, "captions"):
            assert ta.captions == tb.captions and ta.sample_id == tb.sample_id
            continue
        for f in ("boxes", "labels", "iscrowd", "area", "ann_ids", "keypoints"):
            xa, xb = getattr(ta, f), getattr(tb, f)
            assert (xa is None) == (xb is None), f
            if xa is not None:
                assert xa.dtype == xb.dtype and xa.shape == xb.shape, f
                np.testing.assert_array_equal(xa, xb, err_msg=f)
        assert ta.masks == tb.masks and ta.sample_id == tb.sample_id


@pytest.mark.parametrize("cls,name,kw", CASES)
def test_reopen_equals_a_load_without_cache(tmp_path, builds, cls, name, kw):
    path = repaired_coco(tmp_path, name)
    cache = tmp_path / "cache"
    ref, ref_warn = _open(cls, path, cache=False, **kw)
    assert builds == [str(path)] and not cache.exists()
    first, first_warn = _open(cls, path, cache_dir=cache, **kw)
    again, again_warn = _open(cls, path, cache_dir=cache, **kw)
    assert len(builds) == 2  # the reopen built nothing
    assert len(list(cache.glob("coco-*/annotations.arrow"))) == 1
    assert ref_warn == first_warn == again_warn  # e.g. val2014's zero-height box 918
    _assert_same(again, ref)
    _assert_same(first, ref)
    targets = again.ground_truth().targets
    assert sum(len(getattr(t, "captions", t)) for t in targets) >= 100


def test_segmentation_and_categories_kept_losslessly(tmp_path):
    path = repaired_coco(tmp_path)
    raw = load("instances_val2017_excerpt.json")
    t = coco_tables.coco_tables(path, "instances", cache_dir=tmp_path / "c")
    anns = t["annotations"].to_pydict()
    by_id = {a["id"]: a for a in raw["annotations"]}
    assert len(anns["id"]) == len(by_id) == 100
    for aid, seg, x, w in zip(anns["id"], anns["segmentation"], anns["x"], anns["w"]):
        assert json.loads(seg) == by_id[aid]["segmentation"]
        assert [x, w] == [by_id[aid]["bbox"][0], by_id[aid]["bbox"][2]]
    cats = [json.loads(j) for j in t["categories"].column("json").to_pylist()]
    assert cats == raw["categories"]
    # rows are stably sorted by image id; `row` gives back the file order
    assert anns["image_id"] == sorted(anns["image_id"])
    order = np.argsort(anns["row"])
    assert [anns["id"][k] for k in order] == [a["id"] for a in raw["annotations"]]


@pytest.fixture(scope="module")
def coco_mini_root(tmp_path_factory):
    from visionbench import synth

    return synth.generate("coco-mini", tmp_path_factory.mktemp("cm") / "coco-mini")


def test_coco_mini_reopen_equals_no_cache(coco_mini_root, tmp_path, builds):
    from visionbench.loaders.coco_format import coco_annotation_file

    inst = coco_annotation_file(coco_mini_root, "val2017")
    caps = coco_annotation_file(coco_mini_root, "val2017", "captions")
    for cls, path, kw in [(COCODetection, inst, {"masks": True}), (COCOCaptions, caps, {})]:
        cls(path, cache_dir=tmp_path, **kw)
        n = len(builds)
        again = cls(path, cache_dir=tmp_path, **kw)
        assert len(builds) == n
        _assert_same(again, cls(path, cache=False, **kw))
        if cls is COCODetection:  # crowd annotations (uncompressed RLE) came through
            assert sum(int(t.iscrowd.sum()) for t in again.ground_truth().targets) > 0


def test_modified_source_rebuilds_and_drops_the_stale_entry(tmp_path, builds):
    path = repaired_coco(tmp_path)
    cache = tmp_path / "cache"
    ds = COCODetection(path, cache_dir=cache)
    i = ds.image_ids.index(289343)
    k = int(np.flatnonzero(ds[i].target.ann_ids == 1768)[0])
    assert ds[i].target.boxes[k, 0] == pytest.approx(473.07)
    doc = json.loads(path.read_text())
    for a in doc["annotations"]:
        if a["id"] == 1768:
            a["bbox"][0] = 400.5
    path.write_text(json.dumps(doc))
    before = sorted(p.name for p in cache.iterdir())
    ds2 = COCODetection(path, cache_dir=cache)
    assert len(builds) == 2
    assert ds2[i].target.boxes[k].tolist() == pytest.approx([400.5, 395.93, 439.15, 424.60])
    after = sorted(p.name for p in cache.iterdir())
    assert len(before) == len(after) == 1 and before != after


@pytest.mark.parametrize("damage", ["truncate", "delete", "garbage"])
def test_damaged_entry_is_rebuilt(tmp_path, builds, damage):
    path = repaired_coco(tmp_path, "person_keypoints_val2017_excerpt.json")
    cache = tmp_path / "cache"
    COCOKeypoints(path, cache_dir=cache)
    (entry,) = cache.iterdir()
    f = entry / "annotations.arrow"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "delete":
        f.unlink()
    else:
        f.write_bytes(b"not arrow at all" * 100)
    ds = COCOKeypoints(path, cache_dir=cache)
    assert len(builds) == 2
    again = COCOKeypoints(path, cache_dir=cache)
    assert len(builds) == 2  # the rebuilt entry is reused: no third build
    _assert_same(ds, COCOKeypoints(path, cache=False))
    _assert_same(again, ds)


def test_bad_file_is_never_cached_and_fails_alike_every_time(tmp_path, builds):
    doc = {"images": [{"id": 1, "width": 4, "height": 4}], "categories": [{"id": 1, "name": "a"}],
           "annotations": [{"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 2]}]}  # fmt: skip
    path = tmp_path / "instances_x.json"
    path.write_text(json.dumps(doc))
    msgs = []
    for cache in (False, True, True):
        with pytest.raises(AnnotationError, match="negative width or height") as e:
            COCODetection(path, cache=cache, cache_dir=tmp_path / "c")
        msgs.append(str(e.value))
    assert len(set(msgs)) == 1 and len(builds) == 3
    assert not list((tmp_path / "c").glob("coco-*/*.arrow"))


def test_dangling_decided_on_every_open(tmp_path, builds):
    path = tmp_path / "instances_val2017.json"
    path.write_text(json.dumps(load("instances_val2017_excerpt.json")))
    cache = tmp_path / "cache"
    with pytest.raises(AnnotationError) as plain:
        COCODetection(path, cache=False)
    dropped, w1 = _open(COCODetection, path, drop_dangling=True, cache_dir=cache)
    assert any("dropped 99 annotations reference 83 image ids" in m for m in w1)
    # the cache holds the dropped annotations; an open without drop_dangling still refuses
    with pytest.raises(AnnotationError) as cached:
        COCODetection(path, cache_dir=cache)
    assert str(cached.value) == str(plain.value) and "drop_dangling=True" in str(cached.value)
    again, w2 = _open(COCODetection, path, drop_dangling=True, cache_dir=cache)
    assert len(builds) == 2 and w1 == w2 and len(again.problems) == 99
    _assert_same(again, dropped)
    with pytest.warns(UserWarning, match="dropped 99 annotations"):
        plain_dropped = COCODetection(path, drop_dangling=True, cache=False)
    _assert_same(again, plain_dropped)


def test_cache_false_writes_nothing_and_home_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    path = repaired_coco(tmp_path, "captions_val2017_excerpt.json")
    with pytest.warns(UserWarning, match="have no caption"):
        COCOCaptions(path, cache=False)
    assert not (tmp_path / "home").exists()
    with pytest.warns(UserWarning, match="have no caption"):
        COCOCaptions(path)
    assert len(list((tmp_path / "home" / "arrow").glob("coco-captions-*/annotations.arrow"))) == 1


def test_nan_literal_file_round_trips_through_the_stdlib_parser(tmp_path):
    # orjson refuses NaN literals; the file is read by json and written back by json.dumps
    doc = {"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1, "name": "a"}],
           "annotations": [{"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2],
                            "area": float("nan"), "segmentation": [[1, 1, 3, 1, 3, 3]]}]}  # fmt: skip
    path = tmp_path / "instances_nan.json"
    path.write_text(json.dumps(doc))
    t = COCODetection(path, cache_dir=tmp_path / "c", masks=True)[0].target
    assert t.area.tolist() == [4.0]  # NaN area: the box areas stand in, as without the cache
    _assert_same(COCODetection(path, cache_dir=tmp_path / "c", masks=True),
                 COCODetection(path, cache=False, masks=True))  # fmt: skip


def test_json_column_equals_one_dumps_per_value():
    import orjson

    from visionbench.loaders.coco_tables import _json_column

    values = [
        [[1.5, 2.25, 3, 4, 5.125, 6]],
        {"size": [8, 10], "counts": 'a\\b"c}{][,\\\\'},  # compressed RLE uses [ \ ] chars
        None,
        [],
        {"size": [2, 2], "counts": [0, 4]},
        "ünïcode }",
        [[0.1, 1e-7, 123456789.125]],
    ]
    values.append('a string holding {"s": 1}')  # escaped in JSON: not a cut point
    got = _json_column(values, orjson.dumps).to_pylist()
    assert got == [orjson.dumps(v).decode() for v in values]
    assert [orjson.loads(g) for g in got] == values
    # a value that is an object with an "s" key: one dumps per value instead
    odd = [{"s": [1, 2]}, [[1.0, 2.0]], {"x": {"s": None}}]
    assert _json_column(odd, orjson.dumps).to_pylist() == [orjson.dumps(v).decode() for v in odd]
    assert _json_column([None], orjson.dumps).to_pylist() == ["null"]
