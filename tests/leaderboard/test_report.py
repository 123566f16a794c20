"""The HTML report (self-contained, escaped, with plots) and write_report."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
from html import unescape

import numpy as np
import pytest
from _leaderboard_records import XSS, confusion, make_record, write_results
from PIL import Image

from visionbench.errors import VisionbenchError
from visionbench.leaderboard.html import json_for_script, render_html
from visionbench.leaderboard.report import REPORT_FORMATS, write_report
from visionbench.leaderboard.table import load_long, long_table
from visionbench.records import write_record


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    records = write_results(root)
    return root, records, render_html(load_long(root), results=root)


def _charts(html):
    """Summaries of the collapsed per-run charts that hold an inline SVG chart."""
    return re.findall(r'<summary>([^<]*)</summary><figure><svg class="chart"', html)


def _images(html):
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', html)


def test_no_network_references(report):
    _, _, html = report
    low = html.lower()
    assert "http://" not in low and "https://" not in low and "ftp://" not in low
    for pattern in (r"<script[^>]+src", r"<link[^>]+href", r"url\(\s*['\"]?\s*(https?:|//|ftp:)", r"@import", r"<iframe",
                    r"<object", r"<embed", r'src="(?!data:image/png;base64,)'):  # fmt: skip
        assert not re.search(pattern, low), pattern


def test_content_security_policy_pins_the_inline_script(report):
    _, _, html = report
    csp = unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    )
    assert "default-src 'none'" in csp and "img-src data:" in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1  # the only executable script
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp


def test_user_strings_are_escaped(report):
    _, _, html = report
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.lower().count("<script") == 2  # the JSON data block and the page script
    data = re.search(r'<script type="application/json" id="vb-data">(.*?)</script>', html, re.S)
    assert "<" not in data.group(1) and ">" not in data.group(1)
    rows = json.loads(data.group(1))
    assert XSS in {r["model"] for r in rows}  # the JSON decodes back to the real name


def test_json_for_script_escapes():
    text = json_for_script({"a": "</script><!-- & \u2028", "b": float("nan"), "c": [1.5]})
    assert text == (
        '{"a": "\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028", "b": null, "c": [1.5]}'
    )
    assert json.loads(text) == {"a": "</script><!-- & \u2028", "b": None, "c": [1.5]}


def test_tables_ranks_and_best(report):
    _, _, html = report
    sections = re.findall(r'<section class="group".*?</section>', html, flags=re.S)
    assert len(sections) == 2
    cls = next(s for s in sections if 'data-task="classification"' in s)
    models = re.findall(r'<td class="model">([^<]*)</td>', cls)
    assert models == ["beta", "gamma", "alpha", "&lt;script&gt;alert(1)&lt;/script&gt;"]
    ranks = re.findall(r'<tr data-model="[^"]*"><td class="num" data-v="([^"]*)"', cls)
    assert ranks == ["1.0", "2.0", "3.0", "4.0"]
    best = re.findall(r'class="num best" data-v="([^"]*)"', cls)
    # top1, top5 of beta; params tie (all 1e6); GFLOPs, latency, throughput of the XSS model
    assert sorted(best) == sorted(["90.0", "99.0"] + ["1000000.0"] * 4 + ["0.5", "2.0", "900.0"])
    assert "ranked by <b>top1</b>" in cls and "cls|topk=1,5|ties=index|v0.1.0" in cls


def test_plots_are_valid_pngs(report):
    _, _, html = report
    images = _images(html)
    alts = [a for _, a in images]
    svg_titles = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]*)"', html)
    assert "top1 vs GFLOPs per image, Pareto front in red" in svg_titles
    assert "top1 vs latency (ms, batch 1), Pareto front in red" in svg_titles
    assert "precision-recall curves (area all, max detections 100)" in alts
    charts = _charts(html)
    assert sum(a.startswith("confusion matrix: ") for a in charts) == 4
    assert "confusion matrix: &lt;script&gt;alert(1)&lt;/script&gt;" in charts
    # per-class bars of both detectors in one chart, a bar group per class with ground truth
    assert [a for a in charts if a.startswith("AP per class")] == ["AP per class: 2 models"]
    per_class = re.search(r'aria-label="AP per class".*?</svg>', html, re.S).group(0)
    assert re.findall(r'class="bargroup" data-category="([^"]*)"', per_class) == [
        "bicycle",
        "person",
    ]  # fmt: skip (equal means: the later class first, as one run)
    assert per_class.count('<rect class="bar"') == 2 * 2
    # one headline chart per group: (%) for classification, (0-1) for detection
    assert "headline metrics (%)" in svg_titles and "headline metrics (0-1)" in svg_titles
    # detection records have no GFLOPs or latency: no such plot, but a throughput one
    assert not any(t.startswith("AP vs GFLOPs") or t.startswith("AP vs latency")
                   for t in svg_titles)  # fmt: skip
    assert any(t.startswith("AP vs model img/s (steady state)") for t in svg_titles)
    for b64, alt in images:
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert img.format == "PNG" and img.width > 200 and img.height > 100, alt


def test_plots_skipped_without_data(tmp_path):
    rec = make_record("m", "d", "classification", {"top1": 50.0}, signature="s",
                      gflops=None, latency_ms=None, throughput=None)  # fmt: skip
    html = render_html(long_table([rec]), records=[rec], results=tmp_path)
    assert _images(html) == [] and _charts(html) == [] and '<td class="model">m</td>' in html


def test_malformed_arrays_skip_plots_with_a_warning(tmp_path):
    rec = make_record("m", "coco", "detection", {"AP": 0.5}, signature="s", label_space="coco91")
    bad = {"ap_per_category": np.array([0.1, 0.2, 0.3]), "category_ids": np.array([1, 2]),
           "precision": np.zeros((2, 2))}  # fmt: skip
    write_record(rec, tmp_path, arrays=bad)
    with pytest.warns(UserWarning, match="skipped plots of m: ap_per_category has 3 values for 2"):
        html = render_html(load_long(tmp_path), results=tmp_path)
    assert "AP per class" not in html and "precision-recall curves" not in html
    assert "AP vs GFLOPs" not in html  # one run: no efficiency plot of a single point


def test_segmentation_and_scene_graph_plots(tmp_path):
    seg = make_record("deeplab", "cityscapes", "semantic_segmentation", {"miou": 0.7},
                      signature="cityscapes|v", label_space="cityscapes34")  # fmt: skip
    iou = np.linspace(0.2, 0.9, 19)
    iou[3] = np.nan
    write_record(seg, tmp_path, arrays={"class_iou": iou, "confusion": confusion(34, 0)})
    sg = make_record("motifs", "vg150", "scene_graph", {"R@50": 60.0, "mR@50": 10.0},
                     signature="sgg|v", label_space="vg150")  # fmt: skip
    write_record(sg, tmp_path, arrays={"mR@20_per_predicate": np.full(50, 0.1),
                                       "mR@100_per_predicate": np.full(50, 0.2)})  # fmt: skip
    html = render_html(load_long(tmp_path), results=tmp_path)
    charts = _charts(html)
    assert "IoU per class: deeplab" in charts and "confusion matrix: deeplab" in charts
    assert "mR@100 recall per class: motifs" in charts  # the largest K
    assert "ranked by <b>miou</b>" in html and "ranked by <b>R@50</b>" in html


def test_empty_report(tmp_path):
    html = render_html(load_long(tmp_path), results=tmp_path)
    assert "No run records yet" in html and html.startswith("<!DOCTYPE html>")


def test_write_report_all_formats(report, tmp_path):
    root, records, _ = report
    for fmt in REPORT_FORMATS:
        path = write_report(
            fmt, tmp_path / "out" / f"lb.{fmt}", results=root, task="classification"
        )
        text = path.read_text()
        assert "beta" in text and "det-a" not in text, fmt
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "lb.timm-csv").read_text())))
    assert [r["model"] for r in rows] == ["beta", "gamma", "alpha", XSS]
    assert float(rows[0]["crop_pct"]) == 0.875
    html = write_report("html", tmp_path / "m.html", results=root, model="det-*").read_text()
    assert "det-a" in html and "beta" not in html
    assert not list(tmp_path.glob(".*.tmp"))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.html").stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(VisionbenchError, match="unknown report format"):
        write_report("pdf", tmp_path / "x.pdf", results=root)
