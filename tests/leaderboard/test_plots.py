"""Report plots: the Pareto front, PR-curve points, class selection and names, skipping."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from _leaderboard_records import coco_arrays, make_record
from PIL import Image

from visionbench.leaderboard import plots
from visionbench.leaderboard.svg import BAR_AREA, viridis


@pytest.mark.parametrize(
    ("cost", "value", "front"),
    [
        ([1, 2, 3, 4], [10, 30, 20, 40], [0, 1, 3]),
        ([4, 3, 2, 1], [1, 2, 3, 4], [3]),  # the cheapest is also the best
        ([1, 1, 2], [5, 7, 7], [1]),  # same cost: only the better; same value: the cheaper
        ([1, float("nan"), 3], [1, 99, 2], [0, 2]),  # NaN never on the front
        ([], [], []),
    ],
)
def test_pareto_front(cost, value, front):
    assert plots.pareto_front(cost, value) == front


def test_pr_curve_points_average_only_classes_with_ground_truth():
    rec, at50, mean_t = plots.pr_curve_points(coco_arrays())
    assert rec.shape == (101,)
    expected = np.where(rec <= 0.5, 0.75, 0.25)  # (1 + .5) / 2, then (0 + .5) / 2
    np.testing.assert_array_equal(at50, expected)
    np.testing.assert_array_equal(mean_t, expected)
    empty = coco_arrays()
    empty["precision"][:] = -1
    assert plots.pr_curve_points(empty) is None
    assert plots.pr_curve_points({}) is None


def test_confusion_classes():
    cm = np.zeros((6, 6), np.int64)
    cm[0, 0], cm[1, 1], cm[2, 2], cm[4, 4] = 10, 10, 10, 10
    cm[1, 2], cm[2, 4], cm[3, 0] = 5, 1, 7  # class 3: ground truth only; class 5: never
    np.testing.assert_array_equal(plots.confusion_classes(cm), [0, 1, 2, 3, 4])
    # errors per class (row + column off-diagonal): 0:7 1:5 2:6 3:7 4:1
    np.testing.assert_array_equal(plots.confusion_classes(cm, limit=3), [0, 2, 3])


def test_class_names_by_space_and_ids():
    det = make_record("m", "coco", "detection", {}, signature="s", label_space="coco91")
    assert plots.class_names(det, 3, np.array([1, 2, 90])) == ["person", "bicycle", "toothbrush"]
    seg = make_record("m", "cityscapes", "semantic_segmentation", {}, signature="s",
                      label_space="cityscapes34")  # fmt: skip
    names19 = plots.class_names(seg, 19)
    assert names19[:3] == ["road", "sidewalk", "building"] and len(names19) == 19
    assert plots.class_names(seg, 34)[:2] == ["unlabeled", "ego vehicle"]
    assert plots.class_names(seg, 5) == ["0", "1", "2", "3", "4"]  # no space of that size


def _png_size(uri):
    assert uri.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    return img.format, img.size


def test_plots_render_or_skip():
    fmt, (w, h) = _png_size(plots.efficiency_plot(
        ["a$b$", "c"], [1.0, 2.0], [50.0, 60.0], xlabel="GFLOPs", ylabel="top1", title="t"))  # fmt: skip
    assert fmt == "PNG" and w > 300 and h > 200  # a "$" in a name is not mathtext
    assert plots.efficiency_plot(["a"], [None], [50.0], xlabel="x", ylabel="y", title="t") is None
    assert plots.efficiency_plot(["a"], [1.0], [None], xlabel="x", ylabel="y", title="t") is None
    assert (
        plots.per_class_plot(["a", "b"], np.array([np.nan, np.nan]), xlabel="AP", title="t") is None
    )
    assert plots.confusion_plot(np.zeros((3, 3)), ["a", "b", "c"], title="t") is None
    assert plots.confusion_plot(np.ones((2, 3)), ["a", "b"], title="t") is None
    assert plots.pr_curve_plot({"m": {}}, title="t") is None
    assert _png_size(plots.pr_curve_plot({"m": coco_arrays()}, title="t"))[0] == "PNG"


def test_load_arrays_missing_or_outside(tmp_path):
    rec = make_record("m", "d", "classification", {}, signature="s")
    assert plots.load_arrays(rec, tmp_path) == {}
    rec["arrays_file"] = "nope.npz"
    assert plots.load_arrays(rec, tmp_path) == {}
    np.savez(tmp_path.parent / "evil.npz", x=np.zeros(1))
    rec["arrays_file"] = "../evil.npz"  # never read outside the records folder
    assert plots.load_arrays(rec, tmp_path) == {}
    np.savez(tmp_path / "ok.npz", x=np.arange(3))
    rec["arrays_file"] = "ok.npz"
    np.testing.assert_array_equal(plots.load_arrays(rec, tmp_path)["x"], [0, 1, 2])


_BAR_W = r'class="bar" x="\d+" y="[\d.]+" width="([\d.]+)"'


def test_per_class_bars_svg():
    names = ["cat", "<b>dog</b>", "eel", "fox"]
    svg = plots.per_class_plot(names, np.array([0.25, 0.5, np.nan, 1.0]), xlabel="AP", title="t")
    widths = [float(w) for w in re.findall(_BAR_W, svg)]
    assert widths == [BAR_AREA * 1.0, BAR_AREA * 0.5, BAR_AREA * 0.25]  # best first, NaN out
    assert "<b>" not in svg and "&lt;b&gt;dog&lt;/b&gt;: 0.5</title>" in svg
    assert "http" not in svg  # no xmlns URL
    svg = plots.per_class_plot(["a", "b"], np.array([20.0, 80.0]), xlabel="IoU", title="t")
    widths = [float(w) for w in re.findall(_BAR_W, svg)]
    assert widths == [BAR_AREA * 0.8, BAR_AREA * 0.2]  # percentages on a 0-100 scale


def test_confusion_heatmap_svg():
    cm = np.array([[8, 2, 0], [0, 5, 0], [1, 1, 2]])
    svg = plots.confusion_plot(cm, ["a", "b", "<c>"], title="t")
    cells = re.findall(r'<rect class="cell"[^>]*fill="(#[0-9a-f]{6})"><title>([^<]*)</title>', svg)
    assert len(cells) == 9
    assert cells[0] == (viridis(0.8), "a → a: 0.800 (8 of 10)")
    assert cells[1] == (viridis(0.2), "a → b: 0.200 (2 of 10)")
    assert cells[8] == (viridis(0.5), "&lt;c&gt; → &lt;c&gt;: 0.500 (2 of 4)")
    assert viridis(0) == "#440154" and viridis(1) == "#fde725" and viridis(2) == "#fde725"
    # halfway between #440154 (68, 1, 84) and #482475 (72, 36, 117): (70, 18.5, 100.5)
    assert viridis(0.5) == "#21918c" and viridis(0.05) == "#461264"  # round half to even
