"""The columnar COCO JSON reader: exact numbers, same tables as the full parser, fallbacks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.metrics._coco_gen import pycocotools_eval, random_problem
from visionbench.metrics.detection.coco import coco_evaluate
from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results
from visionbench.metrics.detection.coco_json import scan_object_array
from visionbench.metrics.errors import MetricInputError


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
        min_size=1,
        max_size=30,
    )
)
def test_numbers_identical_to_python_float(xs):
    """Every number (repr of any double, integers, exponents) reads as Python's float()."""
    text = json.dumps([{"v": x} for x in xs])
    r = scan_object_array(np.frombuffer(text.encode(), np.uint8), 0, len(text), ["v"], [1])
    assert r is not None
    ref = np.array([float(x) for x in xs])
    assert np.array_equal(r["values"][:, 0], ref)
    assert np.array_equal(np.signbit(r["values"][:, 0]), np.signbit(ref))


@pytest.mark.parametrize(
    "text",
    [
        "1e22",
        "1e23",
        "123456789012345678",
        "0.1e-30",
        "-0.0",
        "5e-324",
        "1.7976931348623157e308",
        "0.30000000000000004",
        "1E+2",
        "100",
    ],
)
def test_number_edge_cases(text):
    b = f'[{{"v": {text}}}]'.encode()
    r = scan_object_array(np.frombuffer(b, np.uint8), 0, len(b), ["v"], [1])
    assert r["values"][0, 0] == float(text) and np.signbit(r["values"][0, 0]) == np.signbit(
        float(text)
    )


@pytest.mark.parametrize(
    "bad",
    [
        '[{"v": 1,}]',
        '[{"v": }]',
        '[{"v": 1}',
        '{"v": 1}',
        '[{"v": "x"}]',
        '[{"v": 1, "v": 2}]',
        '[{"v\\u0041": 1}]',
        "[1]",
    ],
)
def test_unusual_input_returns_none(bad):
    assert scan_object_array(np.frombuffer(bad.encode(), np.uint8), 0, len(bad), ["v"], [1]) is None


def test_skips_nested_values():
    b = json.dumps(
        [
            {
                "segmentation": {"counts": 'a\\"]}', "size": [1, 2]},
                "v": [1, 2.5],
                "k": [[1, {"x": "]"}]],
            }
        ]
    ).encode()
    r = scan_object_array(np.frombuffer(b, np.uint8), 0, len(b), ["v", "segmentation"], [2, 0])
    assert r["values"].tolist() == [[1.0, 2.5]] and r["present"].tolist() == [[True, True]]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_files_give_the_tables_of_the_full_parser(seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    gt, res = random_problem(rng, n_img=5)
    if not res:
        return
    for r in res:  # full-precision floats (17 digits) and integers, as detectors write them
        r["bbox"] = [
            float(v) + float(rng.random()) if rng.random() < 0.5 else int(v) for v in r["bbox"]
        ]
    d = tmp_path_factory.mktemp("j")
    (d / "gt.json").write_text(json.dumps(gt))
    (d / "res.json").write_text(json.dumps(res))
    g_fast = load_ground_truth(d / "gt.json")
    g_slow = load_ground_truth(gt)
    for k in ("image_id", "category_id", "bbox", "area", "iscrowd", "ann_id"):
        assert np.array_equal(getattr(g_fast.anns, k), getattr(g_slow.anns, k)), k
    r_fast = load_results(d / "res.json", g_fast)
    r_slow = load_results(res, g_slow)
    for k in ("image_id", "category_id", "bbox", "area", "score", "ann_id"):
        assert np.array_equal(getattr(r_fast, k), getattr(r_slow, k)), k
    ours = coco_evaluate(d / "gt.json", d / "res.json", compat="pycocotools")
    ref = pycocotools_eval(gt, res)
    for k in ("precision", "recall", "scores"):
        assert np.array_equal(ref.eval[k], ours.arrays[k])


def test_fallback_errors_name_the_field(tmp_path):
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(
        json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}])
    )
    with pytest.raises(MetricInputError, match=r"results\[0\]: missing field 'score'"):
        coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json")
    (tmp_path / "res.json").write_text(
        '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, NaN, 1], "score": 0.5}]'
    )
    with pytest.raises(MetricInputError, match=r"results index 0: field 'bbox' must be finite"):
        coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json")
    (tmp_path / "res.json").write_text("[{")
    with pytest.raises(MetricInputError, match="not valid JSON"):
        coco_evaluate(tmp_path / "gt.json", tmp_path / "res.json")


def test_fast_ground_truth_keeps_the_image_sizes(tmp_path):
    """The columnar ground-truth reader must give each image's own height and width (a
    shadowed variable once replaced the widths with the scanner's field widths)."""
    import json as _json

    from visionbench.metrics.detection.coco_json import fast_ground_truth

    gt = {
        "images": [{"id": 1, "height": 267, "width": 167}, {"id": 2, "height": 10, "width": 20}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "area": 4.0, "iscrowd": 0,
             "bbox": [1, 1, 2, 2]}
        ],
    }  # fmt: skip
    table = fast_ground_truth(_json.dumps(gt).encode(), "gt.json")
    assert table is not None
    assert table.heights.tolist() == [267, 10] and list(table.widths) == [167, 20]
    assert table.image_size(1) == (267, 167)
