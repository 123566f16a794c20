"""Units on every number (issue 11): every metric header of every view carries its unit,
each column has one number of decimals, thousands are formatted one way."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from _leaderboard_records import make_record
from rich.console import Console

from visionbench.leaderboard.table import export, long_table
from visionbench.leaderboard.units import FALLBACK_UNIT, metric_unit
from visionbench.leaderboard.views import rich_tables

UNIT = re.compile(r"\((%|0-1|0-100)\)$")

#: (task, metrics, the unit the evaluators of that task emit)
TASKS = [
    ("classification", {"top1": [99.0, 7.5], "top5": [100.0, 12.25]}, "percent"),
    ("detection", {"AP": [0.5763, 0.0], "AP50": [1.0, 0.6439]}, "fraction"),
    ("semantic_segmentation", {"miou": [0.9072, 0.5], "iiou": [0.97, 0.1]}, "fraction"),
    ("scene_graph", {"R@50": [0.25, 0.5], "mR@50": [0.125, 0.0]}, "fraction"),
    ("captioning", {"bleu4": [0.31, 0.2], "sacrebleu": [31.2, 20.0]}, None),
]


def _records(declare_units: bool):
    recs = []
    for task, metrics, _ in TASKS:
        for k, model in enumerate(("m-one", "m-two")):
            r = make_record(model, f"ds-{task}", task, {m: v[k] for m, v in metrics.items()},
                            signature=f"{task}|v", params=226_680 + k,
                            throughput=1234.5 + k)  # fmt: skip
            if declare_units:
                for name, entry in r["metrics"].items():
                    entry["unit"] = "score" if name == "sacrebleu" else FALLBACK_UNIT[task]
            recs.append(r)
    return recs


def test_fallback_units_are_what_the_evaluators_emit():
    assert metric_unit("top1", None, "classification") == "percent"
    assert metric_unit("AP", None, "detection") == "fraction"
    assert metric_unit("miou", None, "semantic_segmentation") == "fraction"
    assert metric_unit("R@50", None, "scene_graph") == "fraction"
    assert metric_unit("bleu4", None, "captioning") == "fraction"
    assert metric_unit("sacrebleu", None, "captioning") == "score"
    assert metric_unit("AP", {"unit": "percent"}, "detection") == "percent"  # declared wins


@pytest.mark.parametrize("declare_units", [False, True])
def test_every_metric_header_of_every_view_has_its_unit(declare_units):
    df = long_table(_records(declare_units))
    metric_names = {m for _, ms, _ in TASKS for m in ms}

    def check(headers, view):
        mets = [h for h in headers if h.split(" ")[0] in metric_names]
        assert len(mets) >= len(TASKS) * 2 if view != "terminal" else len(mets) >= len(TASKS)
        for h in mets:
            assert UNIT.search(h), (view, h)

    heads = []
    for t in rich_tables(df, width=200):
        if hasattr(t, "columns"):
            heads += [str(c.header) for c in t.columns]
    check(heads, "terminal")
    md = export(df, "md")
    heads = [c.strip() for ln in md.splitlines() if ln.startswith("| rank")
             for c in ln.strip("|").split("|")]  # fmt: skip
    check(heads, "md")
    check(next(csv.reader(io.StringIO(export(df, "wide-csv")))), "wide-csv")
    long_rows = list(csv.DictReader(io.StringIO(export(df, "csv"))))
    assert all(r["unit"] for r in long_rows)
    html = export(df, "html", records=[])
    check([unescape(h) for h in re.findall(r"aria-sort=\"none\">([^<]*)</th>", html)], "html")
    assert "sacrebleu (0-100)" in md and "bleu4 (0-1)" in md and "top1 (%)" in md


def test_one_number_of_decimals_per_column_and_one_thousands_format():
    df = long_table(_records(False))
    md = export(df, "md")
    blocks = [b for b in md.split("### ") if b.strip()]
    for b in blocks:
        rows = [[c.strip().strip("*") for c in ln.strip("|").split("|")]
                for ln in b.splitlines() if ln.startswith("| ")]  # fmt: skip
        head, body = rows[0], rows[2:]
        for j, h in enumerate(head):
            if not UNIT.search(h):
                continue
            decimals = {len(r[j].split(".")[1]) if "." in r[j] else 0 for r in body}
            assert len(decimals) == 1, (h, [r[j] for r in body])
        assert {r[head.index("model img/s (steady state)")] for r in body} == {"1,234.5", "1,235.5"}
    assert "| 0.0000 |" in md or "| 0.0000 " in md  # a zero AP is 0.0000, not 0
    text = io.StringIO()
    Console(file=text, width=200).print(*rich_tables(df, width=200))
    assert "1,234.5" in text.getvalue() and "1234.5" not in text.getvalue()
    html = export(df, "html", records=[])
    assert ">1,234.5<" in html and ">99.00<" in html and ">0.5763<" in html


def test_confidence_interval_shown_when_the_record_has_one():
    import json

    r = make_record("m", "coco", "detection", {"AP": 0.412, "AP50": 0.6}, signature="s")
    r["metrics"]["AP"]["ci"] = {"low": 0.405, "high": 0.418, "level": 0.95,
                                "method": "percentile-bootstrap", "B": 1000, "seed": 0}  # fmt: skip
    df = long_table([r])
    assert "| 0.4120 [0.4050, 0.4180] |" in export(df, "md").replace("**", "")
    text = io.StringIO()
    Console(file=text, width=200).print(*rich_tables(df, width=200))
    assert "0.4120 [0.4050, 0.4180]" in text.getvalue()
    assert "0.4120 [0.4050, 0.4180]" in export(df, "html", records=[])
    (row,) = json.loads(export(df, "json"))["groups"][0]["rows"]
    assert row["metrics"]["AP"] == {"value": 0.412, "ci": {"low": 0.405, "high": 0.418}}
    assert "ci" not in row["metrics"]["AP50"]


def test_cider_d_is_not_labelled_as_a_0_to_100_score():
    """CIDEr-D (pycocoevalcap's x10 scale, no fixed top) must not share sacreBLEU's
    '(0-100)' label: the captioning protocol and the evaluator both declare it unbounded,
    and records without a unit fall back to the same."""
    from visionbench.leaderboard.units import header, metric_unit
    from visionbench.metrics.captioning.evaluator import CaptionEvaluator
    from visionbench.protocols import get_protocol_class

    assert CaptionEvaluator.units["cider_d"] == "unbounded"
    assert get_protocol_class("coco-caption").metrics["cider*"].unit == "unbounded"
    assert metric_unit("cider_d", {}, "captioning") == "unbounded"
    assert header("cider_d", "unbounded") == "cider_d (score)"
    assert header("sacrebleu", "score") == "sacrebleu (0-100)"
