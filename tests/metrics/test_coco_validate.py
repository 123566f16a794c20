"""Segmentation checks before pycocotools (visionbench/metrics/detection/coco_segm_checks.py): the RLE
string decoder equals pycocotools' run lengths on random masks, every mask pycocotools
encodes is accepted, and what would make pycocotools spin, over-read or allocate
gigabytes is refused with the id and field."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from visionbench.metrics import coco_evaluate
from visionbench.metrics.detection.coco_segm_checks import (
    check_box,
    check_result_fields,
    check_segmentation,
    rle_string_counts,
)
from visionbench.metrics.errors import MetricInputError


def _runs(m: np.ndarray) -> list[int]:
    """Run lengths of a mask in column-major order, starting with zeros (COCO RLE)."""
    flat = m.ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return ([0] if flat.size and flat[0] == 1 else []) + runs


def test_decoder_equals_pycocotools_on_random_masks():
    rng = np.random.default_rng(0)
    for t in range(400):
        h, w = (int(v) for v in rng.integers(1, 200, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if t % 5 == 0:
            m[:] = t % 2
        rle = mask_utils.encode(np.asfortranarray(m))
        got = rle_string_counts(rle["counts"])
        assert got.tolist() == _runs(m)
        # the uncompressed counts pycocotools itself decodes to the same mask
        check_segmentation(
            {"size": [h, w], "counts": rle["counts"].decode()}, h, w, src="s", ident="i"
        )
        check_segmentation({"size": [h, w], "counts": _runs(m)}, h, w, src="s", ident="i")


def test_decoder_on_long_runs_and_negative_deltas():
    for counts in ([0, 10**9], [5, 3, 10**6, 1, 7, 2**31], [1] * 50, [2**32 - 1]):
        h, w = 1, sum(counts)
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        assert rle_string_counts(rle["counts"]).tolist() == counts


@pytest.mark.parametrize(
    "segm, h, w, match",
    [
        ({"size": [10, 10], "counts": [50, 10]}, 10, 10, "add up to 60 pixels but 'size' \\[10, 10\\] has 100"),
        ({"size": [10, 10], "counts": [50, -10, 60]}, 10, 10, "run 1 has length -10"),
        ({"size": [40000, 40000], "counts": [1600000000]}, 267, 167, "differs from the image's"),
        ({"size": [99999, 99999], "counts": [1]}, -1, -1, "at most"),
        ({"size": [10, 10], "counts": "~~~"}, 10, 10, "not in '0'..'o'"),
        ({"size": [10, 10], "counts": "0a"}, 10, 10, "truncated"),
        ({"size": [10, 10], "counts": "P" * 14 + "1"}, 10, 10, "overflows"),
        ({"size": [10, 10], "counts": 5}, 10, 10, "must be a string"),
        ({"size": [10], "counts": "1"}, 10, 10, "'size' must be \\[height, width\\]"),
        ({"size": ["10", "10"], "counts": "1"}, 10, 10, "'size' must be"),
        ({"counts": "1"}, 10, 10, "needs 'size' and 'counts'"),
        ([[0, 0, 1e9, 0, 1e9, 1e9]], 100, 100, "far outside"),
        ([[0, 0, "x", 1, 2, 2]], 100, 100, "must be numbers"),
        ([[0, 0, float("nan"), 1, 2, 2]], 100, 100, "finite"),
        ([[[0, 0]]], 100, 100, "nested"),
        ([], 100, 100, "empty polygon list"),
        (7, 100, 100, "expected polygons"),
    ],
)  # fmt: skip
def test_refused(segm, h, w, match):
    with pytest.raises(MetricInputError, match=match) as e:
        check_segmentation(segm, h, w, src="gt.json", ident="annotation id 7")
    assert str(e.value).startswith("gt.json: annotation id 7: field 'segmentation'")


def test_an_adversarial_rle_is_refused_before_pycocotools_runs():
    """Runs adding up to 1000x the image make pycocotools' IoU walk off its arrays."""
    h, w = 50, 60
    gt = {
        "images": [{"id": 1, "height": h, "width": w}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100.0,
                         "bbox": [0, 0, 10, 10], "segmentation": [[0, 0, 10, 0, 10, 10, 0, 10]]}],
    }  # fmt: skip
    bad = mask_utils.frPyObjects({"size": [h, w], "counts": [h * w * 1000, 5, 3]}, h, w)
    res = [{"image_id": 1, "category_id": 1, "score": 0.9,
            "segmentation": {"size": [h, w], "counts": bad["counts"].decode()}}]  # fmt: skip
    t0 = time.perf_counter()
    with pytest.raises(MetricInputError, match=r"results\[0\]: field 'segmentation'"):
        coco_evaluate(gt, res, iou_type="segm")
    assert time.perf_counter() - t0 < 30


@pytest.mark.parametrize(
    "box, ok",
    [([1, 2, 3, 4], True), ([1.5, 2, 3, 4.0], True), (["1", 2, 3, 4], False), ([1, 2, 3], False),
     ([True, 2, 3, 4], False), ("1,2,3,4", False), (None, False), ((1, 2, 3, 4), True)],
)  # fmt: skip
def test_check_box(box, ok):
    if ok:
        assert check_box(box, "r.json", "results[0]") is box
    else:
        with pytest.raises(MetricInputError, match=r"r.json: results\[0\]: field 'bbox'"):
            check_box(box, "r.json", "results[0]")


@pytest.mark.parametrize(
    "r, match",
    [
        ({"image_id": 1, "category_id": "18", "score": 0.5}, "pycocotools would silently drop"),
        ({"image_id": "1", "category_id": 18, "score": 0.5}, "'image_id' must be an integer"),
        ({"image_id": 1, "category_id": 18.5, "score": 0.5}, "'category_id' must be an integer"),
        ({"image_id": 1, "category_id": 18, "score": "0.5"}, "'score' must be a number"),
        ({"image_id": 1, "category_id": 18, "score": True}, "'score' must be a number"),
        ({"image_id": 1, "score": 0.5}, "missing field 'category_id'"),
        ([1, 2], "expected an object"),
    ],
)
def test_result_fields_refused(r, match):
    with pytest.raises(MetricInputError, match=match):
        check_result_fields(r, 0, "r.json")


def test_result_fields_accept_integral_floats_like_pycocotools():
    check_result_fields({"image_id": 1.0, "category_id": 18.0, "score": 1}, 0, "r.json")


def test_empty_results_work_for_every_iou_type():
    gt = {
        "images": [{"id": 1, "height": 20, "width": 20}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["a", "b"]}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 25.0,
                         "bbox": [0, 0, 5, 5], "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]],
                         "keypoints": [1, 1, 2, 3, 3, 2], "num_keypoints": 2}],
    }  # fmt: skip
    for iou_type in ("bbox", "segm", "keypoints"):
        kw = {"kpt_oks_sigmas": [0.5, 0.5]} if iou_type == "keypoints" else {}
        with pytest.warns(UserWarning, match="empty results list"):
            r = coco_evaluate(gt, [], iou_type=iou_type, **kw)
        assert r["AP"] == 0.0  # every ground truth missed


def test_results_file_rle_of_another_size_is_refused_on_the_columnar_path(tmp_path):
    """A results *file* of well-formed compressed RLEs takes the C reader; an RLE whose
    'size' is not its image's (here twice the height and width) must still be refused,
    while the same file with the right size scores."""
    import json

    gt = {
        "images": [{"id": 1, "height": 167, "width": 267}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500,
             "iscrowd": 0, "segmentation": [[10, 10, 60, 10, 60, 60, 10, 60]]}
        ],
    }  # fmt: skip
    (tmp_path / "gt.json").write_text(json.dumps(gt))

    def rle(h: int, w: int) -> dict:
        r = mask_utils.encode(np.asfortranarray(np.ones((h, w), np.uint8)))
        return {"size": r["size"], "counts": r["counts"].decode()}

    good = {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": rle(167, 267)}
    bad = {"image_id": 1, "category_id": 1, "score": 0.8, "segmentation": rle(334, 534)}
    (tmp_path / "bad.json").write_text(json.dumps([good, bad]))
    (tmp_path / "good.json").write_text(json.dumps([good]))
    with pytest.raises(MetricInputError, match=r"results\[1\].*segmentation.*\[334, 534\]"):
        coco_evaluate(str(tmp_path / "gt.json"), str(tmp_path / "bad.json"), iou_type="segm")
    r = coco_evaluate(str(tmp_path / "gt.json"), str(tmp_path / "good.json"), iou_type="segm")
    assert r["AP"] == 0.0  # the full-image mask's IoU with the 50x50 square is < 0.5
