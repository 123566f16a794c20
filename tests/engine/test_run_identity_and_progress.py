"""The run's identity fields, progress lines for batch jobs, and both throughputs
(issue 11)."""

from __future__ import annotations

import json
import re

import pytest

from tests.shared_fixtures import reference_module
from visionbench.engine.run import RunOptions, run
from visionbench.loaders.mini import imagenet_mini
from visionbench.models.demo import build_demo_cnn
from visionbench.models.weights import sha256_file
from visionbench.records import record_schema, subset_fingerprint


@pytest.fixture(scope="module")
def dataset():
    return imagenet_mini()


def _opts(tmp_path, **kw):
    base = dict(results=tmp_path, workers=0, batch_size=16, progress=False, command=["test"])
    return RunOptions(**(base | kw))


def test_identity_fields(tmp_path, dataset):
    jsonschema = reference_module("jsonschema")
    model = build_demo_cnn()
    full, path = run(model, dataset, _opts(tmp_path, tag="ckpt-a"))
    jsonschema.validate(json.loads(path.read_text()), record_schema())
    assert full["model"]["weights_id"] == sha256_file(model.weights["path"])
    assert full["dataset"]["subset"] is None and full["tag"] == "ckpt-a"
    assert full["dataset"]["num_samples"] == full["dataset"]["total_samples"] == len(dataset)
    part, path = run(model, dataset, _opts(tmp_path / "b", limit=7))
    jsonschema.validate(json.loads(path.read_text()), record_schema())
    ids = dataset.ground_truth().sample_ids
    assert part["dataset"]["subset"] == subset_fingerprint(list(ids[:7]))
    assert part["dataset"]["subset"] != subset_fingerprint(list(ids[1:8]))
    assert (part["dataset"]["num_samples"], part["dataset"]["total_samples"]) == (7, len(dataset))
    assert part["tag"] is None
    rnd, _ = run(build_demo_cnn("random"), dataset, _opts(tmp_path / "c", limit=4))
    assert rnd["model"]["weights_id"] == "random"


def test_user_module_without_weights_is_identified_by_its_state(tmp_path, dataset):
    import torch

    model = build_demo_cnn()
    model.weights = {}
    a, _ = run(model, dataset, _opts(tmp_path / "a", limit=2))
    with torch.no_grad():
        next(model.module.parameters()).add_(1.0)
    b, _ = run(model, dataset, _opts(tmp_path / "b", limit=2))
    assert a["model"]["weights_id"].startswith("state:")
    assert b["model"]["weights_id"].startswith("state:")
    assert a["model"]["weights_id"] != b["model"]["weights_id"]


def test_progress_lines_without_a_tty_and_both_throughputs(tmp_path, dataset, capsys):
    # progress_every_s=0: a line after every batch (the default is every 30 s) and at the end
    rec, _ = run(build_demo_cnn(), dataset,
                 _opts(tmp_path, batch_size=25, progress=True, progress_every_s=0))  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    pat = re.compile(r"^demo-cnn on imagenet-mini: ([\d,]+)/100 samples \((\d+)%\), "
                     r"[\d.,]+ img/s, (ETA \d+:\d\d:\d\d|done in \d+:\d\d:\d\d)$")  # fmt: skip
    lines = [m for m in map(pat.match, err) if m]
    assert [m.group(1) for m in lines] == ["25", "50", "75", "100", "100"], err
    assert lines[-1].group(3).startswith("done in") and lines[0].group(3).startswith("ETA")
    log = (tmp_path / "work").glob("*/run-r0.log")
    text = next(log).read_text()
    assert text.count(" progress demo-cnn on imagenet-mini: ") == 5
    t = rec["timings"]
    assert t["samples"] == 100 and t["end_to_end_img_s"] == pytest.approx(100 / t["wall_s"])
    assert t["throughput_img_s"] is not None and t["warmup_batches"] == 1


def test_one_batch_still_reports_end_to_end_throughput(tmp_path, dataset, capsys):
    rec, _ = run(build_demo_cnn(), dataset, _opts(tmp_path, limit=10, batch_size=32))
    t = rec["timings"]
    assert t["batches"] == 1 and t["throughput_img_s"] is None  # the one batch is warm-up
    assert t["end_to_end_img_s"] == pytest.approx(10 / t["wall_s"]) and t["end_to_end_img_s"] > 0
    assert capsys.readouterr().err == ""  # progress=False: nothing on stderr


def test_samples_dropped_by_lenient_make_a_subset(tmp_path):
    import warnings

    from visionbench import synth
    from visionbench.leaderboard.table import load_long
    from visionbench.loaders.factories import cityscapes
    from visionbench.models.demo_segmentation import build_demo_segnet

    root = synth.generate("cityscapes-mini", tmp_path / "cs")
    label = sorted((root / "gtFine" / "val").rglob("*_gtFine_labelIds.png"))[0]
    label.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = cityscapes(root, "val", drop_unpaired=True)
    full = cityscapes(synth.generate("cityscapes-mini", tmp_path / "cs2"), "val")
    assert len(ds) == len(full) - 1
    rec, _ = run(build_demo_segnet(), ds, _opts(tmp_path / "r"))
    assert rec["dataset"]["dropped"] == 1 and rec["dataset"]["num_samples"] == len(ds)
    assert rec["dataset"]["subset"] == subset_fingerprint(list(ds.ground_truth().sample_ids))
    df = load_long(tmp_path / "r")
    assert set(df["status"]) == {"subset"}
