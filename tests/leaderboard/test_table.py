"""The leaderboard table: pivot, signatures, ranks, best values, filters, exports."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pytest
from _leaderboard_records import CLS_SIG, CLS_SIG_OTHER, COCO_SIG, make_record

from visionbench.errors import VisionbenchError
from visionbench.leaderboard.table import (
    best_mask,
    export,
    filter_long,
    long_table,
    pivot,
    primary_metric,
)
from visionbench.leaderboard.timm_csv import TIMM_COLUMNS, timm_rows
from visionbench.leaderboard.views import rich_table


def _cls(model, top1, **kw):
    return make_record(model, kw.pop("dataset", "inet"), "classification",
                       {"top1": top1, "top5": None if top1 is None else min(100.0, top1 + 10)},
                       signature=kw.pop("signature", CLS_SIG), **kw)  # fmt: skip


def test_pivot_never_mixes_signatures():
    recs = [_cls("a", 70.0), _cls("b", 80.0, signature=CLS_SIG_OTHER), _cls("c", 75.0)]
    wide = pivot(long_table(recs))
    cols = wide.attrs["columns"]
    assert cols["top1"]["signature"] == CLS_SIG
    assert cols["top1 [sig#2]"]["signature"] == CLS_SIG_OTHER
    by = wide.set_index("model")
    assert by.loc["a", "top1"] == 70.0 and math.isnan(by.loc["a", "top1 [sig#2]"])
    assert by.loc["b", "top1 [sig#2]"] == 80.0 and math.isnan(by.loc["b", "top1"])
    # every non-missing value of a column was computed under that column's signature
    long = long_table(recs)
    for col, info in cols.items():
        for model, v in by[col].dropna().items():
            row = long[(long.model == model) & (long.metric == info["metric"])]
            assert row["signature"].tolist() == [info["signature"]] and row["value"].item() == v


def test_latest_run_wins_and_datasets_stay_apart():
    old = _cls("a", 50.0, date="2026-01-01T00:00:00+00:00")
    new = _cls("a", 60.0, date="2026-02-01T00:00:00+00:00")
    other = _cls("a", 10.0, dataset="inet-v2")
    wide = pivot(long_table([new, old, other]))
    assert wide[["dataset", "top1"]].values.tolist() == [["inet", 60.0], ["inet-v2", 10.0]]


def test_ranks_ties_missing_and_lower_is_better():
    recs = [_cls("a", 70.0), _cls("b", 90.0), _cls("c", 80.0), _cls("d", 90.0), _cls("e", None)]
    recs += [
        make_record(
            m, "toy", "captioning", {"loss": v}, signature="loss|v1", higher_is_better=False
        )  # fmt: skip
        for m, v in (("x", 2.0), ("y", 1.0), ("z", 3.0))
    ]
    wide = pivot(long_table(recs))
    rank = dict(zip(wide.model, wide["rank"]))
    assert [rank[m] for m in "bdcax"] == [1, 1, 3, 4, 2]
    assert rank["e"] is pd.NA
    assert [rank[m] for m in "yxz"] == [1, 2, 3]
    assert wide.attrs["rank_by"] == {("inet", "val", "classification"): "top1",
                                     ("toy", "val", "captioning"): "loss"}  # fmt: skip
    # rows come ranked within each group: best first, unranked last
    assert wide[wide.task == "classification"].model.tolist() == ["b", "d", "c", "a", "e"]
    assert str(wide["rank"].dtype) == "Int64"


def test_primary_metric_prefers_headline():
    assert primary_metric(["AP50", "AP", "AR1"]) == "AP"
    assert primary_metric(["miou", "pixel_acc"]) == "miou"
    assert primary_metric(["foo", "bar"]) == "foo"
    assert primary_metric([]) is None


def test_best_mask_per_group_and_direction():
    recs = [
        _cls("a", 70.0, gflops=1.0, latency_ms=9.0, throughput=10.0, params=5),
        _cls("b", 90.0, gflops=3.0, latency_ms=4.0, throughput=30.0, params=7),
        _cls("c", 99.0, dataset="other", gflops=9.0, latency_ms=99.0, throughput=1.0),
    ]
    wide = pivot(long_table(recs))
    best = best_mask(wide).set_index(wide.model)
    assert best.loc["b", "top1"] and not best.loc["a", "top1"]
    assert best.loc["a", "gflops"] and best.loc["a", "params"]  # lower is better
    assert best.loc["b", "latency_ms"] and best.loc["b", "throughput_img_s"]
    scored = [*wide.attrs["columns"], "params", "gflops", "latency_ms", "throughput_img_s"]
    assert best.loc["c", scored].all()  # alone
    assert not best["rank"].any() and not best["model"].any()


def test_filters():
    recs = [_cls("resnet50", 1.0), _cls("resnet18", 2.0), _cls("vit_b", 3.0, dataset="other")]
    recs.append(make_record("yolo", "coco", "detection", {"AP": 0.1}, signature=COCO_SIG))
    df = long_table(recs)
    assert set(filter_long(df, model="resnet*").model) == {"resnet50", "resnet18"}
    assert set(filter_long(df, model="RESNET*").model) == set()  # case-sensitive glob
    assert set(filter_long(df, dataset="other").model) == {"vit_b"}
    assert set(filter_long(df, task="detection").model) == {"yolo"}
    assert set(filter_long(df, task="classification", model="*b").model) == {"vit_b"}


def test_csv_numbers_stay_numeric():
    recs = [_cls("a", 70.123456789, params=1_234_567, gflops=12345.678, throughput=1e6)]
    for fmt in ("csv", "wide-csv"):
        text = export(long_table(recs), fmt)
        rows = list(csv.DictReader(io.StringIO(text)))
        row = rows[0]
        assert float(row["params"]) == 1_234_567 and "," not in row["params"]
        assert float(row["gflops"]) == 12345.678
        assert float(row["throughput_img_s"]) == 1e6
        value = row["value"] if fmt == "csv" else row["top1 (%)"]
        assert float(value) == 70.123456789  # full precision, not a display string
        if fmt == "csv":
            assert row["unit"] == "percent"
    back = pd.read_csv(io.StringIO(export(long_table(recs), "wide-csv")))
    for c in ("rank", "top1 (%)", "params", "gflops", "latency_ms", "throughput_img_s"):
        assert back[c].dtype.kind in "fi", c


def test_markdown_bolds_best_and_escapes_pipes_and_html():
    recs = [_cls("a|b", 70.0), _cls("c", 90.0), _cls("<img src=x>&", 80.0)]
    md = export(long_table(recs), "md")
    assert "| a\\|b |" in md and "**90.00**" in md and "**70.00**" not in md
    assert "| &lt;img src=x>&amp; |" in md and "<img" not in md


def test_rich_table_shows_markup_as_text():
    from rich.console import Console

    recs = [_cls("[red]x[/]", 70.0), _cls("[/]", 80.0)]
    console = Console(width=200, record=True, color_system=None)
    console.print(rich_table(long_table(recs)))
    text = console.export_text()
    assert "[red]x[/]" in text and "[/]" in text.replace("[red]x[/]", "")


def test_timm_csv_columns_and_values():
    pre = {"mode": "resize_crop", "resize": 256, "crop": 224, "interpolation": "bicubic"}
    recs = [_cls("small", 70.0, params=5_288_548, preprocess=pre),
            _cls("big", 80.5, params=86_567_656, preprocess={"mode": "resize", "size": [384, 384],
                                                             "interpolation": "bilinear"})]  # fmt: skip
    recs.append(make_record("yolo", "coco", "detection", {"AP": 0.1}, signature=COCO_SIG))
    text = export(long_table(recs), "timm-csv", records=recs)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == TIMM_COLUMNS
    assert [r["model"] for r in rows] == ["big", "small"]  # top-1 descending, no detector
    big, small = rows
    assert (float(small["top1"]), float(small["top1_err"])) == (70.0, 30.0)
    assert (float(small["top5"]), float(small["top5_err"])) == (80.0, 20.0)
    assert float(small["param_count"]) == 5.29 and float(big["param_count"]) == 86.57
    assert (small["img_size"], float(small["crop_pct"]), small["interpolation"]) == (
        "224", 0.875, "bicubic")  # fmt: skip
    assert (big["img_size"], float(big["crop_pct"])) == ("384", 1.0)


def test_timm_csv_refuses_two_datasets_or_protocols():
    recs = [_cls("a", 70.0), _cls("b", 71.0, dataset="inet-v2")]
    with pytest.raises(VisionbenchError, match="--dataset"):
        timm_rows(long_table(recs), recs)
    recs = [_cls("a", 70.0), _cls("b", 71.0, signature=CLS_SIG_OTHER)]
    with pytest.raises(VisionbenchError, match="one protocol"):
        timm_rows(long_table(recs), recs)
    assert timm_rows(filter_long(long_table(recs), model="a"), recs)["top1"].tolist() == [70.0]


def _with(rec, *, weights_id=None, tag=None, subset=None, n=None, total=None):
    if weights_id is not None:
        rec["model"]["weights_id"] = weights_id
    rec["tag"] = tag
    if subset is not None:
        rec["dataset"]["subset"] = subset
    if n is not None:
        rec["dataset"]["num_samples"] = n
    if total is not None:
        rec["dataset"]["total_samples"] = total
    return rec


def test_rows_are_run_identities_and_repeats_are_counted():
    recs = [
        _with(_cls("a", 50.0), weights_id="w1"),
        _with(_cls("a", 60.0), weights_id="w1"),  # a repeat: the latest shows, runs=2
        _with(_cls("a", 40.0), weights_id="w2"),  # other weights: its own row
        _with(_cls("a", 45.0), weights_id="w1", tag="ema"),  # a tag: its own row
        _with(_cls("a", 95.0), weights_id="w1", subset="abc", n=3, total=10),  # subset
        _with(_cls("a", 1.0), weights_id="random"),
        _with(_cls("a", 70.0, signature=CLS_SIG_OTHER), weights_id="w1"),  # other protocol
    ]
    wide = pivot(long_table(recs))
    got = sorted(
        (r.weights_id, r.tag, r.runs, r._asdict().get("top1"), int(r.rank))
        for r in wide.itertuples()
        if r.protocol == CLS_SIG
    )
    assert got == [("w1", "", 2, 60.0, 1), ("w1", "ema", 1, 45.0, 2), ("w2", "", 1, 40.0, 3)]
    assert wide.attrs["hidden"] == 2 and len(wide) == 4  # + the other protocol's row
    every = pivot(long_table(recs), all_runs=True)
    marked = every[every["status"] != "full"]
    assert sorted(marked["status"]) == ["random weights", "subset"]
    assert marked["rank"].isna().all()
    # the subset's 95.0 is not best and not ranked; the ranked rows come first (the run
    # of the other protocol has no top1 under the ranking signature: shown, not ranked)
    assert list(every["rank"].notna()) == [True] * 3 + [False] * 3
    assert not best_mask(every).loc[every["status"] == "subset", "top1"].any()


def test_old_records_without_identity_fields_still_load():
    r = _cls("old", 50.0)
    r["model"]["weights"] = {"source": "random-init"}
    r["command"] = ["bench", "run", "--limit", "3"]
    row = long_table([r]).iloc[0]
    assert row["weights_id"] == "random" and row["subset"] == "limit"
    assert row["status"] == "subset, random weights"


def test_timm_csv_keeps_checkpoints_apart():
    recs = [_with(_cls("resnet", 70.0), weights_id="a" * 64),
            _with(_cls("resnet", 72.0), weights_id="b" * 64, tag="ema"),
            _with(_cls("vit", 80.0), weights_id="c" * 64),
            _with(_cls("vit", 81.0), weights_id="d" * 64)]  # fmt: skip
    rows = timm_rows(long_table(recs), recs)
    assert sorted(rows["model"]) == ["resnet", "resnet.ema", "vit.cccccccccccc", "vit.dddddddddddd"]
