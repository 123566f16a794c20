"""Efficiency plots of the report (issue 11): SVG with tooltips, labels that never
overlap, the Pareto front drawn exactly when named, and only where two runs have the
quantity."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _leaderboard_records import make_record

from visionbench.leaderboard.html import render_html
from visionbench.leaderboard.plots import pareto_front
from visionbench.leaderboard.svg import CHAR_W, LABEL_H, label_boxes, scatter_svg
from visionbench.leaderboard.table import long_table


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("seed", range(20))
def test_labels_never_overlap_each_other_or_a_point(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    x = 10 ** rng.uniform(-1, 2, n)
    if seed % 4 == 0:  # clusters of near-identical points
        x = np.round(x, 0) + 1
    y = rng.uniform(0, 1, n) if seed % 3 else np.round(rng.uniform(0, 1, n), 1)
    labels = [f"model-{i}-{'x' * int(rng.integers(0, 12))}" for i in range(n)]
    svg = scatter_svg(labels, x, y, xlabel="GFLOPs", ylabel="AP", title="t",
                      front=pareto_front(x, y))  # fmt: skip
    boxes = label_boxes(svg)
    texts = re.findall(r'class="pt-label"[^>]*>([^<]*)</text>', svg)
    assert len(boxes) == len(texts) >= 1
    for (x0, y0, x1, y1), t in zip(boxes, texts):  # each box fits its label
        assert x1 - x0 == pytest.approx(CHAR_W * len(t)) and y1 - y0 == pytest.approx(LABEL_H)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (boxes[i], boxes[j])
    dots = [(float(a), float(b)) for a, b in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', svg)]
    assert len(dots) == n
    for b in boxes:
        for cx, cy in dots:
            assert not _overlap(b, (cx - 4, cy - 4, cx + 4, cy + 4))
    # every point keeps its label in a tooltip, placed or not
    tips = re.findall(r"<circle[^>]*><title>([^<]*)</title>", svg)
    assert [t.split(":")[0] for t in tips] == labels


def test_pareto_front_is_drawn_exactly_when_it_has_two_points():
    one = scatter_svg(["a", "b"], [1.0, 2.0], [0.9, 0.5], xlabel="x", ylabel="y", title="t",
                      front=pareto_front([1.0, 2.0], [0.9, 0.5]))  # fmt: skip
    assert pareto_front([1.0, 2.0], [0.9, 0.5]) == [0]
    assert "polyline" not in one and "Pareto front" not in one
    two = scatter_svg(["a", "b"], [1.0, 2.0], [0.5, 0.9], xlabel="x", ylabel="y", title="t",
                      front=[0, 1])  # fmt: skip
    pts = re.search(r'class="pareto" points="([^"]+)"', two).group(1).split()
    assert len(pts) == 3 and "Pareto front" in two  # a step: a, corner, b


def _cls(model, top1, gflops, throughput, latency):
    return make_record(model, "inet", "classification", {"top1": top1}, signature="s",
                       gflops=gflops, throughput=throughput, latency_ms=latency)  # fmt: skip


def _scatter_titles(html):
    """The efficiency scatter plots (not the headline-metrics bar charts)."""
    titles = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]*)"', html)
    return [t for t in titles if not t.startswith("headline metrics")]


def test_report_plots_only_quantities_two_runs_have(tmp_path):
    recs = [_cls("a", 70.0, 1.0, None, None), _cls("b", 80.0, 2.0, 50.0, None),
            _cls("c", 75.0, None, None, 3.0)]  # fmt: skip
    html = render_html(long_table(recs), records=recs, results=tmp_path)
    titles = _scatter_titles(html)
    assert titles == ["top1 vs GFLOPs per image, Pareto front in red"]  # only GFLOPs: a and b
    svg = re.search(r'<svg class="chart"[^>]*aria-label="top1 vs.*?</svg>', html, re.S).group(0)
    assert svg.count("<circle") == 2 and 'class="pareto"' in svg
    one = render_html(long_table(recs[:1]), records=recs[:1], results=tmp_path)
    assert _scatter_titles(one) == []  # a single run: no efficiency plot at all
    # a dominated pair: the front is one point, so neither drawn nor named
    dom = [_cls("a", 80.0, 1.0, None, None), _cls("b", 70.0, 2.0, None, None)]
    html = render_html(long_table(dom), records=dom, results=tmp_path)
    (title,) = _scatter_titles(html)
    assert title == "top1 vs GFLOPs per image" and 'class="pareto"' not in html
