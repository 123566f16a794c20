"""Box and mask IoU: hand values, bit-identity with pycocotools, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.shared_fixtures import reference_module
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.iou import box_area, box_iou, box_iou_elementwise, mask_iou


@pytest.mark.parametrize(
    ("a", "b", "kw", "expected"),
    [
        ([0, 0, 10, 10], [5, 5, 15, 15], {}, 25 / 175),
        ([0, 0, 10, 10], [0, 0, 10, 10], {}, 1.0),
        ([0, 0, 10, 10], [10, 0, 20, 10], {}, 0.0),  # touching edges: no overlap
        ([0, 0, 10, 10], [0, 0, 0, 10], {}, 0.0),  # zero-area box
        ([0, 0, 10, 10], [5, 5, 10, 10], {"box_format": "xywh"}, 25 / 175),
        ([0, 0, 9, 9], [5, 5, 14, 14], {"plus_one": True}, 25 / 175),
        ([0, 0, 9, 9], [9, 9, 18, 18], {"plus_one": True}, 1 / 199),  # one shared pixel
        ([0, 0, 10, 10], [0, 0, 20, 20], {"iscrowd": [True]}, 1.0),  # crowd: inter / area(dt)
        ([0, 0, 20, 20], [0, 0, 10, 10], {"iscrowd": [True]}, 0.25),
    ],
)
def test_hand_values(a, b, kw, expected):
    assert box_iou([a], [b], **kw)[0, 0] == pytest.approx(expected, abs=1e-15)
    assert box_iou_elementwise([a], [b], **kw)[0] == pytest.approx(expected, abs=1e-15)


coords = st.integers(0, 30).map(float) | st.floats(0, 100, allow_nan=False, width=32).map(float)
xywh = st.lists(st.tuples(coords, coords, coords, coords), min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(dt=xywh, gt=xywh, data=st.data())
def test_xywh_identical_to_pycocotools(dt, gt, data):
    from pycocotools import mask as mask_utils

    crowd = data.draw(st.lists(st.booleans(), min_size=len(gt), max_size=len(gt)))
    ours = box_iou(dt, gt, box_format="xywh", iscrowd=crowd)
    assert ours.shape == (len(dt), len(gt))
    if dt and gt:
        ref = mask_utils.iou(
            np.array(dt, dtype=float), np.array(gt, dtype=float), [int(c) for c in crowd]
        )
        assert np.array_equal(ours, ref)


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(np.float64, (6, 4), elements=st.integers(0, 20).map(float)),
    b=arrays(np.float64, (6, 4), elements=st.integers(0, 20).map(float)),
)
def test_xyxy_matches_xywh_and_torchvision(a, b):
    torch = reference_module("torch")
    from torchvision.ops import box_iou as tv_box_iou

    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    ours = box_iou(a, b)
    xywh = box_iou(
        np.c_[a[:, :2], a[:, 2:] - a[:, :2]],
        np.c_[b[:, :2], b[:, 2:] - b[:, :2]],
        box_format="xywh",
    )
    assert np.array_equal(ours, xywh)
    ref = tv_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert np.allclose(ours, np.nan_to_num(ref), rtol=0, atol=1e-12)
    assert np.array_equal(box_iou_elementwise(a, b), np.diag(ours))


def test_box_area():
    assert box_area([[0, 0, 4, 3], [1, 1, 1, 1]]).tolist() == [12.0, 0.0]
    assert box_area([[0, 0, 4, 3]], plus_one=True).tolist() == [20.0]
    assert box_area([[0, 0, 4, 3]], box_format="xywh").tolist() == [12.0]


def test_mask_iou_binary_and_rle_identical_to_pycocotools():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    m1 = rng.random((5, 20, 30)) < 0.3
    m2 = rng.random((4, 20, 30)) < 0.3
    crowd = [0, 1, 0, 1]
    ours = mask_iou(m1, m2, iscrowd=crowd)
    enc = lambda m: mask_utils.encode(
        np.asfortranarray(np.transpose(m, (1, 2, 0)).astype(np.uint8))
    )  # noqa: E731
    ref = mask_utils.iou(enc(m1), enc(m2), crowd)
    assert np.array_equal(ours, ref)
    # by hand: plain IoU and crowd IoU (inter / area of the first mask)
    inter = (m1[0] & m2[0]).sum()
    assert ours[0, 0] == pytest.approx(inter / (m1[0] | m2[0]).sum())
    assert ours[0, 1] == pytest.approx((m1[0] & m2[1]).sum() / m1[0].sum())
    # compressed RLE with str counts, and uncompressed RLE, give the same
    rles = enc(m2)
    str_rles = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    assert np.array_equal(mask_iou(m1, str_rles, iscrowd=crowd), ours)
    flat = m2[1].reshape(-1, order="F").astype(np.int8)
    runs = np.diff(np.r_[0, np.flatnonzero(np.diff(flat)) + 1, flat.size]).tolist()
    if flat[0] == 1:
        runs = [0] + runs  # COCO RLE starts with a run of zeros
    unc = {"size": [20, 30], "counts": runs}
    assert np.array_equal(mask_iou(m1, [unc]), mask_iou(m1, m2[1:2]))


def test_mask_iou_rejects_different_sizes():
    with pytest.raises(MetricInputError, match="share one size"):
        mask_iou(np.zeros((1, 10, 10), bool), np.zeros((1, 10, 12), bool))
    with pytest.raises(MetricInputError, match=r"expected binary masks"):
        mask_iou(np.full((1, 4, 4), 3), np.zeros((1, 4, 4), bool))
    with pytest.raises(MetricInputError, match=r"masks2\[0\]: expected an RLE dict"):
        mask_iou(np.zeros((1, 4, 4), bool), [{"counts": "x"}])


@pytest.mark.parametrize(
    ("a", "kw", "match"),
    [
        ([[0, 0, 1]], {}, r"boxes1: expected boxes of shape \[N, 4\], got \[1, 3\]"),
        ([[0, 0, np.nan, 1]], {}, r"boxes1\[0\]: expected finite coordinates"),
        ([[0, 0, np.inf, 1]], {}, r"expected finite"),
        ([[5, 0, 1, 1]], {}, r"boxes1\[0\]: expected x2 - x1 / y2 - y1 >= 0"),
        ([[0, 0, -1, 1]], {"box_format": "xywh"}, r"expected width/height >= 0"),
        ([[0, 0, 1, 1]], {"box_format": "cxcywh"}, r"box_format: expected one of"),
        (
            [[0, 0, 1, 1]],
            {"box_format": "xywh", "plus_one": True},
            r"plus_one=True is defined for box_format='xyxy'",
        ),
        ([[0, 0, 1, 1]], {"iscrowd": [1, 0]}, r"iscrowd: expected 1 flags"),
    ],
)
def test_bad_input(a, kw, match):
    with pytest.raises(MetricInputError, match=match):
        box_iou(a, [[0, 0, 1, 1]], **kw)


def test_empty():
    assert box_iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert mask_iou(np.zeros((0, 4, 4), bool), np.zeros((2, 4, 4), bool)).shape == (0, 2)
