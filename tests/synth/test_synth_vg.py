"""vg-mini: every file against the v1.4 schema (REFERENCE.md section 5, real excerpts), geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.shared_fixtures import shared_fixtures
from visionbench import synth

REPO = Path(__file__).resolve().parents[2]


VG_FIXTURE = shared_fixtures("visual_genome")
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


def test_deterministic(generated, tree_digest, tmp_path: Path) -> None:
    """Two generations with the same seed are byte-identical."""
    again = synth.generate("vg-mini", tmp_path / "again", seed=0)
    assert tree_digest(generated("vg-mini")) == tree_digest(again)
