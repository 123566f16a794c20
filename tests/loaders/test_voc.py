"""Pascal VOC loader: devkit layout, XML validation with named errors, boxes and flags."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.voc import VOCDetection, VOCTarget, find_voc_year_dir, parse_voc_xml

OBJ = """\t<object>
\t\t<name>{name}</name>
\t\t<pose>Left</pose>
\t\t<truncated>{truncated}</truncated>
\t\t<difficult>{difficult}</difficult>
\t\t<bndbox>
\t\t\t<xmin>{xmin}</xmin>
\t\t\t<ymin>{ymin}</ymin>
\t\t\t<xmax>{xmax}</xmax>
\t\t\t<ymax>{ymax}</ymax>
\t\t</bndbox>
\t</object>
"""


def xml(
    image_id: str, objects: list[dict] | None = None, *, size=(353, 500), extra: str = ""
) -> str:
    objs = "".join(OBJ.format(**{"truncated": 0, "difficult": 0, **o}) for o in (objects or []))
    w, h = size
    return (
        f"<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{image_id}.jpg</filename>\n"
        f"\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n\t\t<depth>3</depth>\n"
        f"\t</size>\n\t<segmented>0</segmented>\n{objs}{extra}</annotation>\n"
    )


def devkit(tmp: Path, files: dict[str, str], split: str = "test", year: int = 2007) -> Path:
    """A VOCdevkit with ``files`` (id -> XML text) listed in ``split``; returns the root."""
    base = tmp / "VOCdevkit" / f"VOC{year}"
    (base / "Annotations").mkdir(parents=True)
    (base / "ImageSets" / "Main").mkdir(parents=True)
    (base / "JPEGImages").mkdir()
    for i, text in files.items():
        (base / "Annotations" / f"{i}.xml").write_text(text)
    (base / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in files))
    return tmp


def test_reads_boxes_labels_and_flags(tmp_path: Path) -> None:
    root = devkit(tmp_path, {
        "000001": xml("000001", [
            {"name": "dog", "xmin": 48, "ymin": 240, "xmax": 195, "ymax": 371},
            {"name": "person", "xmin": 8, "ymin": 12, "xmax": 352, "ymax": 498, "truncated": 1},
        ]),
        "000004": xml("000004", [
            {"name": "car", "xmin": "13.5", "ymin": 311, "xmax": 84, "ymax": 362, "difficult": 1},
        ], size=(500, 406)),
        "000006": xml("000006"),  # no objects: a valid image with no ground truth
    })  # fmt: skip
    ds = VOCDetection(root, "test", year=2007)
    assert (ds.name, ds.split, len(ds), ds.label_space.name) == ("voc2007", "test", 3, "voc20")
    assert ds.image_ids == ["000001", "000004", "000006"]  # image-set order, strings
    s = ds[0]
    assert s.sample_id == "000001" and isinstance(s.target, VOCTarget)
    assert s.image.path.endswith("VOCdevkit/VOC2007/JPEGImages/000001.jpg")
    assert (s.image.width, s.image.height) == (353, 500)
    # 1-based inclusive -> 0-based corners: (xmin - 1, ymin - 1, xmax, ymax)
    np.testing.assert_array_equal(s.target.boxes, [[47, 239, 195, 371], [7, 11, 352, 498]])
    assert s.target.labels.tolist() == [12, 15]  # dog, person in voc20 (1-based devkit order)
    assert s.target.truncated.tolist() == [False, True]
    assert s.target.difficult.tolist() == [False, False]
    t = ds[1].target
    np.testing.assert_array_equal(t.boxes, [[12.5, 310, 84, 362]])
    assert t.difficult.tolist() == [True] and t.labels.tolist() == [7]
    assert len(ds[2].target) == 0 and ds[2].target.boxes.shape == (0, 4)
    gt = ds.ground_truth()
    assert gt.sample_ids == ds.image_ids and [len(x) for x in gt.targets] == [2, 1, 0]
    assert gt.files["image_set"].endswith("ImageSets/Main/test.txt")


def test_missing_optional_fields_default(tmp_path: Path) -> None:
    text = (
        "<annotation><filename>2008_000123.jpg</filename><object><name>cat</name>"
        "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>"
        "</object></annotation>"
    )
    p = tmp_path / "2008_000123.xml"
    p.write_text(text)
    rec = parse_voc_xml(p)
    assert rec["width"] is None and rec["height"] is None
    assert rec["objects"] == [
        {"name": "cat", "bbox": [1.0, 2.0, 30.0, 40.0], "difficult": 0, "truncated": 0}
    ]


@pytest.mark.parametrize(
    ("obj", "field", "message"),
    [
        ({"name": "", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5}, "object[1]/name", "has no <name>"),
        ({"name": "tv", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5}, "object[1]/name", "unknown class 'tv'"),
        ({"name": "cat", "xmin": "abc", "ymin": 1, "xmax": 5, "ymax": 5}, "object[1]/bndbox/xmin", "<xmin> is 'abc', expected a number"),
        ({"name": "cat", "xmin": "nan", "ymin": 1, "xmax": 5, "ymax": 5}, "object[1]/bndbox/xmin", "expected a number"),
        ({"name": "cat", "xmin": 9, "ymin": 1, "xmax": 5, "ymax": 5}, "object[1]/bndbox/xmax", "expected xmin <= xmax"),
        ({"name": "cat", "xmin": 1, "ymin": 9, "xmax": 5, "ymax": 5}, "object[1]/bndbox/ymax", "ymin <= ymax"),
        ({"name": "cat", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5, "difficult": 2}, "object[1]/difficult", "<difficult> is '2', expected 0 or 1"),
        ({"name": "cat", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5, "truncated": "yes"}, "object[1]/truncated", "expected 0 or 1"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(tmp_path: Path, obj: dict, field: str, message: str) -> None:
    good = {"name": "dog", "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5}
    root = devkit(tmp_path, {"000002": xml("000002", [good, obj])})
    with pytest.raises(AnnotationError) as e:
        VOCDetection(root, "test")
    msg = str(e.value)
    assert message in msg and "\n" not in msg
    assert f"field={field}" in msg and "id=000002" in msg
    assert "Annotations/000002.xml" in msg


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ("<object><name>cat</name></object>", "object[0]/bndbox", "has no <bndbox>"),
        ("<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax></bndbox></object>",
         "object[0]/bndbox/ymax", "<bndbox> has no <ymax>"),
    ],
)  # fmt: skip
def test_missing_box_fields_are_named(tmp_path: Path, body: str, field: str, message: str) -> None:
    root = devkit(tmp_path, {"000003": xml("000003", extra=body)})
    with pytest.raises(AnnotationError, match=message) as e:
        VOCDetection(root)
    assert f"field={field}" in str(e.value) and "id=000003" in str(e.value)


def test_bad_size_and_broken_xml(tmp_path: Path) -> None:
    root = devkit(tmp_path / "a", {"000007": xml("000007", size=("wide", 5))})
    with pytest.raises(AnnotationError, match=r"<width> is 'wide'.*field=size/width.*id=000007"):
        VOCDetection(root)
    root = devkit(tmp_path / "b", {"000008": "<annotation><object>"})
    with pytest.raises(AnnotationError, match=r"invalid XML: .*000008\.xml.*id=000008"):
        VOCDetection(root)
    root = devkit(tmp_path / "c", {"000009": "<notvoc/>"})
    with pytest.raises(AnnotationError, match="expected root element <annotation>"):
        VOCDetection(root)


def test_image_set_problems(tmp_path: Path) -> None:
    root = devkit(tmp_path, {"000001": xml("000001")}, split="val")
    with pytest.raises(
        DatasetNotFoundError, match=r"image set 'test' not found.*image sets there: val"
    ):
        VOCDetection(root, "test")
    main = root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    (main / "val.txt").write_text("000001\n000001\n")
    with pytest.raises(AnnotationError, match="line 2: image id 000001 already listed on line 1"):
        VOCDetection(root, "val")
    (main / "val.txt").write_text("000001 1\n")
    with pytest.raises(AnnotationError, match="line 1: expected one image id"):
        VOCDetection(root, "val")


def test_missing_annotation_refused_or_dropped(tmp_path: Path) -> None:
    root = devkit(tmp_path, {"000001": xml("000001")})
    main = root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    (main / "test.txt").write_text("000001\n000002\n")
    with pytest.raises(
        AnnotationError, match=r"1 images of ImageSets/Main/test.txt have no annotation.*000002"
    ):
        VOCDetection(root)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = VOCDetection(root, drop_unpaired=True)
    assert ds.image_ids == ["000001"] and any("000002" in str(x.message) for x in w)
    assert [(p.kind, p.sample_id) for p in ds.problems] == [("unpaired", "000002")]


def test_root_forms(tmp_path: Path) -> None:
    root = devkit(tmp_path, {"2008_000001": xml("2008_000001")}, split="val", year=2012)
    for r in (root, root / "VOCdevkit", root / "VOCdevkit" / "VOC2012"):
        assert find_voc_year_dir(r, 2012) == root / "VOCdevkit" / "VOC2012"
        assert VOCDetection(r, "val", year=2012).name == "voc2012"
    with pytest.raises(
        DatasetNotFoundError, match=r"VOCdevkit/VOC2007/Annotations.*host.robots.ox.ac.uk"
    ):
        find_voc_year_dir(root, 2007)


def test_factories_find_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from visionbench.registry import datasets

    devkit(tmp_path / "voc2012", {"2008_000001": xml("2008_000001")}, split="val", year=2012)
    monkeypatch.setenv("VISIONBENCH_DATA", str(tmp_path))
    ds = datasets.get("voc2012")(split="val")
    assert ds.name == "voc2012" and ds.image_ids == ["2008_000001"]
    with pytest.raises(
        DatasetNotFoundError, match=r"dataset 'voc2007' not found.*VOCdevkit/VOC2007"
    ):
        datasets.get("voc2007")()
