"""Visual Genome loaders on the real release excerpts (v1.0, v1.2, v1.4; 100 images each).

Expected values are read by hand from ../shared/fixtures/visual_genome/*/ (entry 0 is
image 1 in every file); see the fixtures README for provenance.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.shared_fixtures import shared_fixtures
from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.label_spaces import get_label_space
from visionbench.loaders.visual_genome import VisualGenome, VisualGenomeFiles, VisualGenomeRegions
from visionbench.loaders.visual_genome_schema import (
    parse_alias_text,
    parse_region_graphs,
    question_type,
)
from visionbench.types import SceneGraphTarget, Task

FIX = shared_fixtures("visual_genome") or Path("/nonexistent")

pytestmark = pytest.mark.skipif(not FIX.is_dir(), reason="VG fixtures not found")


@pytest.fixture(autouse=True)
def _cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))


def vg150_id(name: str) -> int:
    return get_label_space("vg150").names.index(name) + 1


def pred_id(name: str) -> int:
    return get_label_space("vg150_predicates").names.index(name) + 1


def rel_row(table, rel_id: int) -> dict:
    rows = table.to_pylist()
    return next(r for r in rows if r["relationship_id"] == rel_id)


# ---------------------------------------------------------------------------------------
# Release files, per schema


@pytest.mark.parametrize(
    ("version", "subject", "object_"),
    [
        # v1.0: `id` everywhere, endpoints with `name`
        ("v1.0", (38205, "shade", 119, 338, 274, 192), (38204, "street", 77, 328, 714, 262)),
        # v1.2: `object_id`, endpoints with `name`
        ("v1.2", (5045, "shade", 119, 338, 274, 192), (5046, "street", 77, 328, 714, 262)),
        # v1.4: the object is a merged object: `names` + `merged_object_ids` [5046]
        ("v1.4", (5045, "shade", 119, 338, 274, 192), (1058534, "sidewalk", 78, 308, 722, 290)),
    ],
)
def test_relationship_15927_in_every_schema(version, subject, object_) -> None:
    t = VisualGenomeFiles(FIX / version).table("relationships.json", "relationships")
    assert t.num_rows == {"v1.0": 2311, "v1.2": 2615, "v1.4": 2615}[version]
    r = rel_row(t, 15927)
    assert r["image_id"] == 1
    assert r["predicate"] == ("on" if version == "v1.0" else "ON")
    for end, want in (("subject", subject), ("object", object_)):
        got = tuple(r[f"{end}_{k}"] for k in ("id", "name", "x", "y", "w", "h"))
        assert got == want
    assert r["object_merged_object_ids"] == ([5046] if version == "v1.4" else [])
    assert r["synsets"] == ([] if version == "v1.0" else ["along.r.01"])


def test_objects_ids_names_and_merges() -> None:
    v14 = VisualGenomeFiles(FIX / "v1.4").tables("objects.json")
    objs = v14["objects"].slice(0, 2).to_pylist()
    assert objs[0]["object_id"] == 1058549 and objs[0]["names"] == ["trees"]
    assert (objs[0]["x"], objs[0]["y"], objs[0]["w"], objs[0]["h"]) == (0, 0, 799, 557)
    assert objs[1]["object_id"] == 1058534 and objs[1]["merged_object_ids"] == [5046]
    assert v14["objects"].num_rows == 2484
    index = v14["index"].to_pydict()
    assert index["image_id"][:3] == [1, 2, 3] and index["start"][0] == 0
    assert index["stop"][-1] == 2484
    v10 = (
        VisualGenomeFiles(FIX / "v1.0").table("objects.json", "objects").slice(0, 1).to_pylist()[0]
    )
    assert (v10["object_id"], v10["name"], v10["image_id"], v10["synsets"]) == (
        38203,
        "clock",
        1,
        [],
    )


def test_attributes_missing_key_is_null_not_empty() -> None:
    t = VisualGenomeFiles(FIX / "v1.4").table("attributes.json", "attributes").to_pylist()
    by_id = {r["object_id"]: r for r in t if r["image_id"] == 1}
    assert by_id[1058498]["name"] == "clock" and by_id[1058498]["attributes"] == ["green", "tall"]
    assert by_id[5045]["name"] == "shade" and by_id[5045]["attributes"] is None
    assert sum(r["attributes"] is None for r in t) == 1770  # of 3671 objects
    v10 = VisualGenomeFiles(FIX / "v1.0").table("attributes.json", "attributes").slice(0, 1)
    row = v10.to_pylist()[0]  # v1.0: `object_names` and `id`
    assert (row["object_id"], row["name"], row["attributes"]) == (38203, "clock", ["green"])


def test_image_data_v10_uses_id() -> None:
    for version in ("v1.0", "v1.4"):
        row = VisualGenomeFiles(FIX / version).images().slice(0, 1).to_pylist()[0]
        assert (row["image_id"], row["width"], row["height"]) == (1, 800, 600)
        assert row["url"].endswith("VG_100K_2/1.jpg") and row["coco_id"] is None


@pytest.mark.parametrize(("version", "n"), [("v1.0", 6472), ("v1.4", 7278)])
def test_region_descriptions(version: str, n: int) -> None:
    t = VisualGenomeFiles(FIX / version).table("region_descriptions.json", "regions")
    assert t.num_rows == n
    r = t.slice(0, 1).to_pylist()[0]
    assert r == {
        "image_id": 1,
        "region_id": 1382,
        "phrase": "the clock is green in colour",
        "x": 421.0,
        "y": 57.0,
        "w": 82.0,
        "h": 139.0,
    }


def test_question_answers_and_6w_types() -> None:
    t = VisualGenomeFiles(FIX / "v1.4").table("question_answers.json", "qas")
    first = t.slice(0, 1).to_pylist()[0]
    assert first["qa_id"] == 986768 and first["question"] == "What color is the clock?"
    assert first["answer"] == "Green." and first["qtype"] == "what" and first["image_id"] == 1
    counts = dict(
        zip(*np.unique(t.column("qtype").to_numpy(zero_copy_only=False), return_counts=True))
    )
    # first words in the file: What 2002, WhAt 2, Where 672, How 468, Who 112, Why 80, When 57
    assert counts == {"what": 2004, "where": 672, "how": 468, "who": 112, "why": 80, "when": 57}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What color?", "what"),
        ("WHERE is it", "where"),
        ("What's that", "what"),
        ("  how many", "how"),
        ("Who?", "who"),
        ("Which one", None),
        ("Is it red", None),
        ("", None),
        ("Whence", None),
    ],
)
def test_question_type(question: str, expected: str | None) -> None:
    assert question_type(question) == expected


def test_scene_graphs_use_v12_ids() -> None:
    t = VisualGenomeFiles(FIX / "v1.4").tables("scene_graphs.json")
    r = rel_row(t["relationships"], 15927)
    assert (r["subject_id"], r["object_id"], r["predicate"]) == (5045, 5046, "ON")
    assert t["objects"].num_rows == 3671 and t["relationships"].num_rows == 2615
    clock = next(o for o in t["objects"].slice(0, 50).to_pylist() if o["object_id"] == 1058498)
    assert clock["attributes"] == ["green", "tall"]


def test_synsets_and_mappings() -> None:
    f = VisualGenomeFiles(FIX / "v1.4")
    assert (
        f.table("synsets.json", "synsets").slice(0, 1).to_pylist()[0]["synset_name"] == "horse.n.01"
    )
    obj = dict(zip(*f.table("object_synsets.json", "synsets").to_pydict().values()))
    assert obj["bird on left"] == "bird.n.01"
    att = dict(zip(*f.table("attribute_synsets.json", "synsets").to_pydict().values()))
    assert att["raining"] == "rain.v.01"
    m = f.table("qa_to_region_mapping.json", "mapping").to_pydict()
    assert dict(zip(m["qa_id"], m["region_id"]))[986601] == 65722
    assert f.version == "1.4" and VisualGenomeFiles(FIX / "v1.0").version == "1.0"
    assert VisualGenomeFiles(FIX / "v1.2").version == "1.2"


def test_alias_files() -> None:
    f = VisualGenomeFiles(FIX / "v1.4")
    obj = f.aliases("object")
    assert obj["bikes"] == "bike" and obj["bikes are"] == "bike" and obj["shoes"] == "shoe"
    assert "bike" not in obj
    rel = f.aliases("relationship")
    assert rel["next to"] == "near" and rel["inside of"] == "in" and rel["wears a"] == "wears"
    assert parse_alias_text("a,b\nc,b\n") == {"b": "a"}  # first line wins


def test_region_graphs_parser() -> None:
    # No excerpt of region_graphs.json ships; this is one entry in the release's shape.
    data = [
        {
            "image_id": 7,
            "regions": [
                {
                    "region_id": 11,
                    "image_id": 7,
                    "phrase": "a man on a horse",
                    "x": 1,
                    "y": 2,
                    "width": 30,
                    "height": 40,
                    "objects": [
                        {
                            "object_id": 5,
                            "name": "man",
                            "x": 1,
                            "y": 2,
                            "w": 10,
                            "h": 20,
                            "synsets": ["man.n.01"],
                        },
                        {
                            "object_id": 6,
                            "name": "horse",
                            "x": 3,
                            "y": 4,
                            "w": 25,
                            "h": 30,
                            "synsets": [],
                        },
                    ],
                    "relationships": [
                        {
                            "relationship_id": 9,
                            "predicate": "on",
                            "subject_id": 5,
                            "object_id": 6,
                            "synsets": ["along.r.01"],
                        }
                    ],
                    "synsets": [],
                }
            ],
        }
    ]
    t = parse_region_graphs(data, "region_graphs.json")
    assert t["regions"].to_pylist()[0]["w"] == 30.0
    objs = t["region_objects"].to_pydict()
    assert objs["region_id"] == [11, 11] and objs["name"] == ["man", "horse"]
    rel = t["region_relationships"].to_pylist()[0]
    assert (rel["region_id"], rel["subject_id"], rel["object_id"], rel["predicate"]) == (
        11,
        5,
        6,
        "on",
    )


# ---------------------------------------------------------------------------------------
# Errors


def _write(tmp_path: Path, name: str, data) -> Path:
    d = tmp_path / "vg"
    d.mkdir(exist_ok=True)
    (d / name).write_text(json.dumps(data) if not isinstance(data, str) else data)
    return d


def test_missing_object_id_names_file_field_and_image(tmp_path: Path) -> None:
    d = _write(
        tmp_path,
        "objects.json",
        [{"image_id": 3, "objects": [{"x": 0, "y": 0, "w": 1, "h": 1, "names": ["a"]}]}],
    )
    with pytest.raises(AnnotationError, match=r"objects.object_id.*item 0"):
        VisualGenomeFiles(d, cache=False).tables("objects.json")


def test_bad_coordinate_names_the_object(tmp_path: Path) -> None:
    d = _write(
        tmp_path,
        "objects.json",
        [
            {
                "image_id": 3,
                "objects": [
                    {"object_id": 8, "x": 0, "y": 0, "w": 1, "h": 1, "names": ["a"]},
                    {"object_id": 9, "x": "12", "y": 0, "w": 1, "h": 1, "names": ["a"]},
                ],
            }
        ],
    )
    with pytest.raises(AnnotationError, match=r"objects.json.*field=objects.x, id=9"):
        VisualGenomeFiles(d, cache=False).tables("objects.json")


def test_not_a_list_and_invalid_json(tmp_path: Path) -> None:
    d = _write(tmp_path, "objects.json", {"image_id": 1})
    with pytest.raises(AnnotationError, match="expected a JSON list"):
        VisualGenomeFiles(d, cache=False).tables("objects.json")
    d = _write(tmp_path, "relationships.json", "[{")
    with pytest.raises(AnnotationError, match="invalid JSON"):
        VisualGenomeFiles(d, cache=False).tables("relationships.json")


def test_missing_directory_says_where_and_what(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"objects.json.*visualgenome"):
        VisualGenome(tmp_path)


# ---------------------------------------------------------------------------------------
# The scene-graph dataset


def triplet_boxes(t: SceneGraphTarget) -> set[tuple]:
    """{(subject box, subject label, predicate, object box, object label)} of a target."""
    b, lab = t.boxes.tolist(), t.labels.tolist()
    return {(tuple(b[s]), lab[s], p, tuple(b[o]), lab[o]) for s, o, p in t.relations.tolist()}


@pytest.mark.parametrize(
    ("version", "sign", "building"),
    [
        # relationship 15930 "sign ON building": v1.0/1.2 nodes are the objects.json boxes
        # sign (118, 13, w 88, h 182), building (1, 2, w 218, h 536) ...
        ("v1.0", (118, 13, 206, 195), (1, 2, 219, 538)),
        ("v1.2", (118, 13, 206, 195), (1, 2, 219, 538)),
        # ... v1.4's objects.json re-drew both: sign 1058507 (123, 13, w 78, h 179), building
        # 1058508 (1, 0, w 222, h 538); the node takes the objects.json box, not the endpoint's
        ("v1.4", (123, 13, 201, 192), (1, 0, 223, 538)),
    ],
)
def test_scene_graph_sample_sign_on_building(version: str, sign: tuple, building: tuple) -> None:
    ds = VisualGenome(FIX / version)
    assert len(ds) == 100 and ds.task is Task.SCENE_GRAPH and ds.label_space.name == "vg150"
    s = ds[0]
    assert s.sample_id == 1 and isinstance(s.target, SceneGraphTarget)
    t = s.target
    want = (sign, vg150_id("sign"), pred_id("on"), building, vg150_id("building"))
    assert want in triplet_boxes(t)
    assert set(t.labels.tolist()) <= set(range(1, 151))
    assert t.relations[:, 2].min() >= 1 and t.relations[:, 2].max() <= 50


def test_merged_endpoint_maps_to_the_merged_object() -> None:
    ds = VisualGenome(FIX / "v1.4", vocabulary=None)
    t = ds[0].target
    names, preds = ds.label_space.names, ds.predicate_space.names
    # relationship 15927: shade 5045 ON the merged sidewalk 1058534 (merged_object_ids [5046]);
    # objects.json boxes: shade (116, 344, w 274, h 189), sidewalk (78, 308, w 722, h 290)
    want = (
        (116, 344, 390, 533),
        names.index("shade") + 1,
        preds.index("on") + 1,
        (78, 308, 800, 598),
        names.index("sidewalk") + 1,
    )
    assert want in triplet_boxes(t)


def test_old_id_in_an_endpoint_resolves_through_merged_object_ids(tmp_path: Path) -> None:
    d = tmp_path / "vg"
    d.mkdir()
    (d / "objects.json").write_text(
        json.dumps(
            [
                {
                    "image_id": 5,
                    "objects": [
                        {
                            "object_id": 100,
                            "x": 10,
                            "y": 20,
                            "w": 30,
                            "h": 40,
                            "names": ["man"],
                            "synsets": [],
                            "merged_object_ids": [7],
                        },
                        {
                            "object_id": 101,
                            "x": 0,
                            "y": 0,
                            "w": 5,
                            "h": 5,
                            "names": ["hat"],
                            "synsets": [],
                            "merged_object_ids": [],
                        },
                    ],
                }
            ]
        )
    )
    (d / "relationships.json").write_text(
        json.dumps(
            [
                {
                    "image_id": 5,
                    "relationships": [
                        {
                            "relationship_id": 1,
                            "predicate": "wearing",
                            "synsets": [],
                            "subject": {
                                "object_id": 7,
                                "name": "man",
                                "x": 11,
                                "y": 21,
                                "w": 29,
                                "h": 39,
                            },
                            "object": {
                                "object_id": 101,
                                "name": "hat",
                                "x": 0,
                                "y": 0,
                                "w": 5,
                                "h": 5,
                            },
                        }
                    ],
                }
            ]
        )
    )
    t = VisualGenome(d, skip_image_ids=())[0].target
    assert t.boxes.tolist() == [[10, 20, 40, 60], [0, 0, 5, 5]]  # no third node for id 7
    assert t.labels.tolist() == [vg150_id("man"), vg150_id("hat")]
    assert t.relations.tolist() == [[0, 1, pred_id("wearing")]]


def test_aliases_map_shoes_to_shoe() -> None:
    plain, aliased = (
        VisualGenome(FIX / "v1.4")[0].target,
        VisualGenome(FIX / "v1.4", aliases=True)[0].target,
    )
    # relationship 15928: man 1058529 "wears" shoes 1058525 (names ["shoes"]); VG-150 says
    # "shoe", which object_alias.txt's line "shoe,shoes" gives
    man_wears_shoe = (vg150_id("man"), pred_id("wears"), vg150_id("shoe"))

    def triplets(t):
        return {(t.labels[s], p, t.labels[o]) for s, o, p in t.relations.tolist()}

    assert man_wears_shoe in triplets(aliased) and man_wears_shoe not in triplets(plain)


def test_scene_graphs_source_and_ground_truth() -> None:
    ds = VisualGenome(FIX / "v1.4", source="scene_graphs")
    gt = ds.ground_truth()
    assert len(gt) == 100 and gt.sample_ids[:3] == [1, 2, 3]
    # scene_graphs.json keeps the v1.2 objects: sign 1058507 (118, 13, w 88, h 182), building
    # 1058508 (1, 2, w 218, h 536)
    want = (
        (118, 13, 206, 195),
        vg150_id("sign"),
        pred_id("on"),
        (1, 2, 219, 538),
        vg150_id("building"),
    )
    assert want in triplet_boxes(gt.targets[0])


def test_skip_image_ids_and_image_paths(tmp_path: Path) -> None:
    ds = VisualGenome(FIX / "v1.4", skip_image_ids=(1, 2))
    assert len(ds) == 98 and ds[0].sample_id == 3
    root = tmp_path / "vg"
    shutil.copytree(FIX / "v1.4", root)
    (root / "VG_100K_2").mkdir()
    ref = VisualGenome(root)[0].image  # url .../VG_100K_2/1.jpg
    assert ref.path == str(root / "VG_100K_2" / "1.jpg") and (ref.width, ref.height) == (800, 600)


def test_only_split_all() -> None:
    with pytest.raises(DatasetNotFoundError, match="vg150"):
        VisualGenome(FIX / "v1.4", split="test")


# ---------------------------------------------------------------------------------------
# Region descriptions as captioning samples


def test_region_caption_samples() -> None:
    ds = VisualGenomeRegions(FIX / "v1.4")
    assert ds.task is Task.CAPTIONING and len(ds) == 7278
    s = ds[0]
    assert s.sample_id == 1382 and s.target.captions == ("the clock is green in colour",)
    assert s.meta == {"image_id": 1, "box": (421.0, 57.0, 503.0, 196.0)}
    gt = ds.ground_truth()
    assert gt.sample_ids[0] == 1382 and gt.targets[1].captions == ("shade is along the street ",)


@pytest.mark.slow  # generates vg-mini (60 drawn images) into a fresh cache
def test_vg_mini_through_the_same_loader() -> None:
    from visionbench.loaders.visual_genome import vg_mini

    ds = vg_mini()
    assert ds.name == "vg-mini" and ds.files.version == "1.4" and len(ds) > 0
    s = ds[0]
    assert Path(s.image.path).name == f"{s.sample_id}.jpg" and Path(s.image.path).is_file()
    gt = ds.ground_truth()
    assert sum(len(t.relations) for t in gt.targets) > 0
    assert all(set(t.labels.tolist()) <= set(range(1, 151)) for t in gt.targets)
    img = s.image.load()
    assert tuple(img.shape) == (3, s.image.height, s.image.width)


# ---------------------------------------------------------------------------------------
# The fast path (Arrow's JSON reader) against the reference parsers


@pytest.mark.parametrize("version", ["v1.0", "v1.2", "v1.4"])
def test_fast_path_equals_reference_parsers(version: str) -> None:
    import orjson

    from visionbench.loaders.visual_genome_columnar import FAST_PARSERS, try_fast
    from visionbench.loaders.visual_genome_schema import PARSERS

    checked = 0
    for name in FAST_PARSERS:
        p = FIX / version / name
        if not p.is_file():
            continue
        data = p.read_bytes()
        fast = try_fast(name, data, str(p))
        ref = PARSERS[name](orjson.loads(data), str(p))
        assert fast is not None, name
        assert fast.keys() == ref.keys()
        for k in ref:
            assert fast[k].equals(ref[k]), (name, k)
        checked += 1
    assert checked == {"v1.0": 5, "v1.2": 2, "v1.4": 7}[version]


def test_split_json_list_tracks_strings_escapes_and_depth() -> None:
    from visionbench.loaders.visual_genome_columnar import split_json_list

    data = json.dumps([{"a": 'x\\"}{[', "b": [{"c": "\\\\"}]}, {"d": '"]'}], indent=1).encode()
    starts, ends = split_json_list(data)
    parts = [json.loads(data[s : e + 1]) for s, e in zip(starts, ends)]
    assert parts == [{"a": 'x\\"}{[', "b": [{"c": "\\\\"}]}, {"d": '"]'}]


def test_pretty_printed_file_takes_the_fast_path(tmp_path: Path) -> None:
    from visionbench.loaders.visual_genome_columnar import try_fast

    regions = [
        {
            "id": 4,
            "regions": [
                {
                    "region_id": 9,
                    "image_id": 4,
                    "phrase": "a\\nb",
                    "x": 1,
                    "y": 2,
                    "width": 3,
                    "height": 4,
                }
            ],
        }
    ]
    t = try_fast("region_descriptions.json", json.dumps(regions, indent=2).encode(), "r.json")
    assert t is not None and t["regions"].to_pylist() == [
        {"image_id": 4, "region_id": 9, "phrase": "a\\nb", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0}
    ]


def test_fast_path_declines_what_it_cannot_vouch_for() -> None:
    from visionbench.loaders.visual_genome_columnar import try_fast

    ok = [
        {
            "image_id": 1,
            "objects": [{"object_id": 2, "x": 0, "y": 0, "w": 1, "h": 1, "names": ["a"]}],
        }
    ]
    assert try_fast("objects.json", json.dumps(ok).encode(), "o.json") is not None
    for bad in (
        [
            {"image_id": 1, "objects": [{"object_id": 2, "x": "0", "y": 0, "w": 1, "h": 1}]}
        ],  # str coordinate
        [{"image_id": 1, "objects": [{"x": 0, "y": 0, "w": 1, "h": 1}]}],  # no id
        [{"objects": []}],  # no image id
        {"image_id": 1},  # not a list
    ):
        assert try_fast("objects.json", json.dumps(bad).encode(), "o.json") is None


def test_numba_and_numpy_scans_agree_on_the_real_files() -> None:
    import numpy as np

    from visionbench.loaders.visual_genome_columnar import _scan_numba, _scan_numpy

    for version in ("v1.0", "v1.4"):
        data = (FIX / version / "relationships.json").read_bytes()
        buf = np.frombuffer(data, np.uint8)
        a, b = _scan_numpy(buf, data), _scan_numba(buf)
        assert b is not None and len(a[0]) == 100
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert json.loads(data[a[0][0] : a[1][0] + 1])["relationships"][0]["predicate"] in (
            "on",
            "ON",
        )


@pytest.mark.parametrize(
    "bad", [b'[1, {"a": 1}]', b'[{"a": 1} {"b": 2}]', b'{"a": 1}', b'[{"a": "}"]', b'[{"a": 1}, 2]']
)
def test_split_refuses_what_is_not_a_list_of_objects(bad: bytes) -> None:
    from visionbench.loaders.visual_genome_columnar import _Unsupported, split_json_list

    with pytest.raises(_Unsupported):
        split_json_list(bad)
