"""The report compares models (grouped per-class bars, intervals as error bars, a table of
paired differences) and every leaderboard view shows intervals and rank groups."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import numpy as np
import pytest
from _leaderboard_records import CLS_SIG, COCO_SIG, coco_arrays, make_record
from _sample_records import cls_run, logits

from visionbench.leaderboard.compare import compare_runs, load_run, rank_groups
from visionbench.leaderboard.html import render_html
from visionbench.leaderboard.svg import BAR_AREA, grouped_bars_svg
from visionbench.leaderboard.table import export, load_long, pivot
from visionbench.leaderboard.views import markdown, rich_tables
from visionbench.records import write_record

TRIALS = 300


@pytest.fixture(autouse=True)
def _few_trials(monkeypatch):
    monkeypatch.setenv("VISIONBENCH_PAIRED_B", str(TRIALS))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four classification runs with per-sample statistics: one strong, two identical
    weak ones, one a little weaker; and one run without a samples file."""
    root = tmp_path_factory.mktemp("results")
    recs = [
        cls_run(root, "strong", logits(0.9, 1)),
        cls_run(root, "weak", logits(0.6, 2)),
        cls_run(root, "weak-twin", logits(0.6, 2)),
        cls_run(root, "weaker", logits(0.57, 3)),
    ]
    bare = make_record("no-samples", "toy-cls", "classification", {"top1": 10.0, "top5": 30.0},
                       signature=recs[0]["metrics"]["top1"]["signature"], label_space="toy")  # fmt: skip
    write_record(bare, root)
    return root, recs, bare


def _sections(html):
    return re.findall(r'<section class="group".*?</section>', html, flags=re.S)


def _bars(svg):
    return re.findall(r'<rect class="bar" data-series="(\d+)" x="([\d.]+)" y="[\d.]+" '
                      r'width="([\d.]+)"', svg)  # fmt: skip


def _errs(svg):
    return [
        tuple(float(v) for v in m)
        for m in re.findall(
            r'<line class="err" x1="([-\d.]+)" y1="[-\d.]+" x2="([-\d.]+)" y2="[-\d.]+" '
            r'data-low="([^"]+)" data-high="([^"]+)"',
            svg,
        )
    ]


# -- the SVG chart ---------------------------------------------------------------------
@pytest.mark.parametrize(("top", "scale"), [(0.8, 1.0), (80.0, 100.0), (250.0, 250.0)])
def test_grouped_bars_geometry(top, scale):
    v = np.array([[0.5, 0.25], [1.0, np.nan], [0.75, 0.1]]) * top
    lo, hi = v * 0.9, v * 1.05
    svg = grouped_bars_svg(["a", "b", "c"], ["m1", "m2"], v, lows=lo, highs=hi, title="t",
                           xlabel="x")  # fmt: skip
    assert svg.count('class="bargroup"') == 3
    bars = _bars(svg)
    assert len(bars) == 5  # 3 x 2, one NaN
    assert sorted(int(s) for s, _, _ in bars) == [0, 0, 0, 1, 1]
    finite = v[np.isfinite(v)]
    scale = scale if top != 250.0 else float(np.nanmax(hi))  # 0-max when above 100
    widths = sorted(float(w) for _, _, w in bars)
    assert widths == pytest.approx(sorted(BAR_AREA * finite / scale), abs=0.01)
    errs = _errs(svg)
    assert len(errs) == 5
    for x1, x2, low, high in errs:
        assert x1 == pytest.approx(170 + BAR_AREA * low / scale, abs=0.01)
        assert x2 == pytest.approx(170 + BAR_AREA * high / scale, abs=0.01)
    assert svg.count('class="legend"') == 2


# -- the report ------------------------------------------------------------------------
def test_headline_chart_error_bars_match_the_intervals(runs):
    root, recs, _ = runs
    html = render_html(load_long(root), results=root)
    svg = re.search(r'<svg class="chart"[^>]*aria-label="headline metrics \(%\), 95% '
                    r'intervals".*?</svg>', html, re.S).group(0)  # fmt: skip
    # 2 metrics (top1, top5) x 5 models; the model without samples has no interval
    assert svg.count('class="bargroup"') == 2 and len(_bars(svg)) == 2 * 5
    errs = _errs(svg)
    assert len(errs) == 2 * 4
    want = sorted((r["metrics"][m]["ci"]["low"], r["metrics"][m]["ci"]["high"])
                  for r in recs for m in ("top1", "top5"))  # fmt: skip
    got = sorted((lo, hi) for _, _, lo, hi in errs)
    assert np.array(got) == pytest.approx(np.array(want))
    for x1, x2, lo, hi in errs:  # percent: full scale 100
        assert x1 == pytest.approx(170 + BAR_AREA * lo / 100, abs=0.01)
        assert x2 == pytest.approx(170 + BAR_AREA * hi / 100, abs=0.01)


def test_efficiency_scatter_has_error_bars(runs):
    root, recs, _ = runs
    html = render_html(load_long(root), results=root)
    svg = re.search(r'<svg class="chart"[^>]*aria-label="top1 vs model img/s.*?</svg>', html,
                    re.S).group(0)  # fmt: skip
    lows = sorted(lo for _, _, lo, _ in _errs(svg))
    assert lows == pytest.approx(sorted(r["metrics"]["top1"]["ci"]["low"] for r in recs))


def test_paired_table_shows_compare_p_values(runs):
    root, recs, bare = runs
    html = render_html(load_long(root), results=root)
    table = re.search(r"<table class='an paired'>.*?</table>", html, re.S).group(0)
    assert f"approximate randomisation ({TRIALS} trials)" in unescape(table)
    # ranked: strong, weak and weak-twin (tied; by name), weaker, no-samples
    by_name = {r["model"]["name"]: r["run_id"] for r in recs}
    a = load_run(str(root / "records" / f"{by_name['strong']}.json"))
    b = load_run(str(root / "records" / f"{by_name['weak']}.json"))
    row = next(r for r in compare_runs([a, b], B=TRIALS, trials=TRIALS) if r["metric"] == "top1")
    cells = re.findall(r"<tr><td class='model'>([^<]*)</td><td class='model'>([^<]*)</td>"
                       r"<td>top1</td>(.*?)</tr>", table)  # fmt: skip
    assert [c[:2] for c in cells] == [("weak", "strong"), ("weak-twin", "weak"),
                                      ("weaker", "weak-twin")]  # fmt: skip
    first = cells[0][2]
    values = [float(v) for v in re.findall(r'data-v="([^"]+)"', first)]
    assert values == [row["difference"], row["p_bootstrap"], row["p_randomization"]]
    lo, hi = (float(v) for v in re.search(r"\[([-\d.e]+), ([-\d.e]+)\]", first).groups())
    assert lo == pytest.approx(row["ci_low"], rel=1e-3) and hi == pytest.approx(
        row["ci_high"], rel=1e-3
    )
    assert "not tested: no per-sample statistics (no samples file)" in table
    assert "no-samples" in table


def test_per_class_bars_of_several_models_in_one_chart(tmp_path):
    for m, scale in (("det-a", 1.0), ("det-b", 0.5), ("det-c", 0.8)):
        rec = make_record(m, "coco-mini", "detection", {"AP": 0.3 * scale}, signature=COCO_SIG,
                          label_space="coco91")  # fmt: skip
        arr = coco_arrays()
        arr["ap_per_category"] = np.array([0.5, 0.9, np.nan]) * scale
        write_record(rec, tmp_path, arrays=arr)
    html = render_html(load_long(tmp_path), results=tmp_path)
    summaries = re.findall(r"<summary>([^<]*per class[^<]*)</summary>", html)
    assert summaries == ["AP per class: 3 models"]
    svg = re.search(r'aria-label="AP per class".*?</svg>', html, re.S).group(0)
    # 2 classes with ground truth (car has none) x 3 models; bicycle (0.9) first
    groups = re.findall(r'class="bargroup" data-category="([^"]+)"', svg)
    assert groups == ["bicycle", "person"]
    bars = _bars(svg)
    assert len(bars) == 2 * 3
    # series 0 = det-a (ranked first), full scale 1
    widths = [float(w) for s, _, w in bars]
    assert widths == pytest.approx(
        [BAR_AREA * v for v in (0.9, 0.9 * 0.8, 0.45, 0.5, 0.4, 0.25)], abs=0.01
    )
    legend = re.findall(r'class="legend"[^>]*/><text[^>]*>([^<]+)</text>', svg)
    assert legend == ["det-a", "det-c", "det-b"]


# -- rank groups in every view --------------------------------------------------------
def _expected_groups(root, recs):
    loaded = [load_run(str(root / "records" / f"{r['run_id']}.json")) for r in recs]
    rows = rank_groups(loaded, "top1", B=TRIALS, trials=TRIALS)
    return {r["run_id"]: (r["group"], r["p_vs_above"]) for r in rows}


def test_rank_groups_in_every_view(runs):
    root, recs, bare = runs
    want = _expected_groups(root, recs)
    by_id = {r["run_id"]: r["model"]["name"] for r in recs}
    groups_of = {by_id[k]: g for k, (g, _) in want.items()}
    assert groups_of["strong"] == 1 and groups_of["weak"] == groups_of["weak-twin"] == 2
    df = load_long(root)
    # wide CSV: group, p, the test; intervals in their own columns
    rows = list(csv.DictReader(io.StringIO(export(df, "wide-csv", results=root))))
    for r in rows:
        if r["model"] == "no-samples":
            assert r["rank_group"] == "" and r["rank_group_test"] == ""
            continue
        g, p = want[r["run_id"]]
        assert int(r["rank_group"]) == g
        assert (r["p_vs_above"] == "") if p is None else float(r["p_vs_above"]) == p
        assert r["rank_group_test"] == (
            f"approximate randomisation on top1, {TRIALS} trials, seed 12345, alpha 0.05"
        )
        rec = next(x for x in recs if x["run_id"] == r["run_id"])
        assert float(r["top1 ci_low (%)"]) == rec["metrics"]["top1"]["ci"]["low"]
        assert float(r["top1 ci_high (%)"]) == rec["metrics"]["top1"]["ci"]["high"]
    # long CSV: the same group on each row of a run, and ci_low / ci_high
    long_rows = list(csv.DictReader(io.StringIO(export(df, "csv", results=root))))
    for r in long_rows:
        if r["run_id"] in want:
            assert int(r["rank_group"]) == want[r["run_id"]][0]
            assert r["ci_low"] != "" and r["ci_high"] != ""
    # JSON
    j = json.loads(export(df, "json", results=root))["groups"][0]
    assert j["rank_groups"]["test"] == "approximate randomisation"
    assert {r["run_id"]: r["group"] for r in j["rows"] if r["group"] is not None} == {
        k: g for k, (g, _) in want.items()}  # fmt: skip
    # Markdown: group and p columns, the test named
    md = markdown(pivot(df))
    assert "| rank | group | p vs above | model |" in md
    assert f"approximate randomisation, {TRIALS} trials, seed 12345, p >= 0.05" in md
    strong_line = next(line for line in md.splitlines() if "| strong |" in line)
    assert strong_line.startswith("| 1 | 1 | - | strong |")
    assert re.search(r"\*\*\d\d\.\d\d \[\d\d\.\d\d, \d\d\.\d\d\]\*\*", strong_line)  # interval
    assert "| - | - | no-samples |" in md  # no group, no p
    # terminal
    from rich.console import Console

    con = Console(width=200, record=True)
    for part in rich_tables(df, width=200):
        con.print(part)
    text = " ".join(con.export_text().split())
    assert "┃ rank ┃ group ┃ model" in text and "approximate randomisation, 300 trials" in text
    # HTML: the group column and the caption
    html = render_html(df, results=root)
    assert 'data-key="group"' in html and 'data-key="p_vs_above"' in html
    assert "approximate randomisation, 300 trials, seed 12345" in unescape(html)


def test_paired_tests_are_cached(runs, monkeypatch):
    root, _, _ = runs
    df = load_long(root)
    first = export(df, "wide-csv", results=root)
    cache = root / "paired-tests.cache.json"
    assert cache.exists()
    import visionbench.leaderboard.compare as C

    def boom(*a, **k):
        raise AssertionError("tests redone although cached")

    monkeypatch.setattr(C, "compare_runs", boom)
    assert export(df, "wide-csv", results=root) == first


def test_no_groups_without_samples_or_when_off(tmp_path, monkeypatch):
    for m, v in (("a", 50.0), ("b", 60.0)):
        write_record(
            make_record(m, "d", "classification", {"top1": v}, signature=CLS_SIG), tmp_path
        )
    df = load_long(tmp_path)
    md = markdown(pivot(df))
    assert "group" not in md
    rows = list(csv.DictReader(io.StringIO(export(df, "wide-csv", results=tmp_path))))
    assert [r["rank_group"] for r in rows] == ["", ""]
    monkeypatch.setenv("VISIONBENCH_PAIRED_B", "0")
    assert "paired" not in render_html(df, results=tmp_path)


# -- error analysis --------------------------------------------------------------------
ANALYSIS = {
    "worst": {"by": "top1_correct", "direction": "higher", "k": 3,
              "samples": [{"id": "img<7>", "score": 0.0}, {"id": 12, "score": 0.1},
                          {"id": "x", "score": 0.25}]},
    "confused_pairs": [{"true": "cat", "pred": "dog", "count": 7, "fraction": 0.35},
                       {"true": "<b>", "pred": "fox", "count": 2, "fraction": 0.1}],
    "calibration": {"ece": 0.0812, "mce": 0.3, "n_bins": 4,
                    "bins": {"confidence": [0.1, 0.4, 0.6, 0.9], "accuracy": [0.2, 0.0, 0.5, 0.8],
                             "count": [5, 0, 10, 20]}},
    "per_sample": {"metric": "miou", "quantiles": {"p05": 0.2, "p25": 0.4, "p50": 0.6,
                                                   "p75": 0.7, "p95": 0.9},
                   "histogram": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": [1, 3, 6, 2]}},
    "tide": {"dAP": {"Cls": 2.5, "Loc": 6.0, "Both": 0.5, "Dupe": 0.2, "Bkg": 3.0, "Miss": 4.0},
             "special": {"FalsePos": 9.0, "FalseNeg": 12.0}},
    "threshold_sweep": {"best_f1": 0.6123, "best_threshold": 0.35,
                        "per_class": [{"class": "person", "best_f1": 0.7, "best_threshold": 0.4}]},
}  # fmt: skip


def test_analysis_is_drawn(tmp_path):
    recs = []
    for m, scale in (("m1", 1.0), ("m2", 0.5)):
        rec = make_record(m, "d", "detection", {"AP": 0.5 * scale}, signature=COCO_SIG)
        rec["analysis"] = json.loads(json.dumps(ANALYSIS))
        rec["analysis"]["tide"]["dAP"]["Loc"] *= scale
        write_record(rec, tmp_path)
        recs.append(rec)
    html = render_html(load_long(tmp_path), results=tmp_path)
    assert re.findall(r"<summary>(error analysis: [^<]*)</summary>", html) == [
        "error analysis: m1", "error analysis: m2"]  # fmt: skip
    # worst samples, in order, escaped
    worst = re.findall(r"<table class='an worst'>.*?</table>", html, re.S)
    assert len(worst) == 2
    assert re.findall(r"<td class='id'>([^<]*)</td>", worst[0]) == ["img&lt;7&gt;", "12", "x"]
    assert "the 3 worst samples by top1_correct (higher is better)" in worst[0]
    pairs = re.search(r"<table class='an pairs'>.*?</table>", html, re.S).group(0)
    assert "<td>cat</td><td>dog</td>" in pairs and "&lt;b&gt;" in pairs and "<b>" not in pairs
    # reliability diagram: 3 non-empty bins, bar heights 240 * accuracy
    rel = re.search(r'aria-label="reliability: m1[^"]*".*?</svg>', html, re.S).group(0)
    assert "ECE 0.0812, MCE 0.3000, 4 bins" in rel
    bins = re.findall(r'class="bin" x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="([\d.]+)"'
                      r' fill="#3b6ea8" stroke="#fff" data-accuracy="([^"]+)"', rel)  # fmt: skip
    got = np.array([(float(x), float(h)) for x, h, _ in bins])
    assert got == pytest.approx(np.array([(50, 48.0), (200, 120.0), (275, 192.0)]))
    # histogram: 4 bins, heights 200 * count / 6, the quantiles marked
    hist = re.search(r'aria-label="per-sample miou: m1".*?</svg>', html, re.S).group(0)
    heights = [float(h) for h in re.findall(r'class="hbin"[^>]*height="([\d.]+)"', hist)]
    assert heights == pytest.approx([200 / 6, 100.0, 200.0, 200 / 3], abs=0.01)
    assert hist.count('class="mark"') == 5
    # TIDE: one chart, 8 categories x 2 models
    tide = re.search(r'aria-label="TIDE: AP lost to each error type \(dAP\)".*?</svg>', html,
                     re.S).group(0)  # fmt: skip
    assert re.findall(r'data-category="([^"]+)"', tide) == [
        "Cls",
        "Loc",
        "Both",
        "Dupe",
        "Bkg",
        "Miss",
        "FalsePos (special)",
        "FalseNeg (special)",
    ]
    assert len(_bars(tide)) == 16
    loc = [float(w) for s, _, w in _bars(tide)][2:4]  # scale 0-100 (values > 1)
    assert loc == pytest.approx([BAR_AREA * 6.0 / 100, BAR_AREA * 3.0 / 100], abs=0.01)
    # the best-F1 threshold
    thr = re.search(r"<table class='an thresholds'>.*?</table>", html, re.S).group(0)
    assert 'data-v="0.6123"' in thr and 'data-v="0.35"' in thr and "person" in thr


def test_absent_analysis_draws_nothing(tmp_path):
    rec = make_record("m", "d", "detection", {"AP": 0.5}, signature=COCO_SIG)
    rec["analysis"] = {"worst": {"by": "s", "direction": "lower", "k": 0, "samples": []}}
    write_record(rec, tmp_path)
    html = render_html(load_long(tmp_path), results=tmp_path)
    for marker in ("error analysis", "class='an", "TIDE", "reliability", "per-sample"):
        assert marker not in html, marker


def test_a_corrupt_samples_file_is_not_a_crash(tmp_path):
    a = cls_run(tmp_path, "a", logits(0.9, 1))
    b = cls_run(tmp_path, "b", logits(0.5, 2))
    (tmp_path / "records" / b["samples_file"]).write_bytes(b"not a zip file")
    df = load_long(tmp_path)
    md = markdown(pivot(df))
    assert "| 1 | 1 | - | a |" in md and "| 2 | - | - | b |" in md
    html = render_html(df, results=tmp_path)
    assert (
        f"b: unreadable per-sample statistics in {a['samples_file']} or {b['samples_file']}" in html
    )


def test_paired_tests_flag_through_the_console_script(runs, tmp_path):
    """bench leaderboard / report --paired-tests N: N trials named in the caption, 0 turns
    the rank groups off, a negative N is a one-line usage error."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root, _, _ = runs
    bench = str(Path(sys.executable).with_name("bench"))
    env = {**os.environ, "VISIONBENCH_PAIRED_B": "1000"}  # the flag wins over the env

    def run(*args):
        return subprocess.run([bench, *args], capture_output=True, text=True, env=env)

    p = run("leaderboard", "--results", str(root), "-f", "md", "--paired-tests", "200")
    assert p.returncode == 0, p.stderr
    assert "approximate randomisation, 200 trials" in p.stdout
    p = run("leaderboard", "--results", str(root), "-f", "md", "--paired-tests", "0")
    assert p.returncode == 0 and "group" not in p.stdout, p.stdout
    out = tmp_path / "r.html"
    p = run("report", "--results", str(root), "-o", str(out), "--paired-tests", "200")
    assert p.returncode == 0, p.stderr
    assert "approximate randomisation, 200 trials" in unescape(out.read_text())
    p = run("leaderboard", "--results", str(root), "--paired-tests", "-1")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "--paired-tests" in p.stderr, p.stderr
