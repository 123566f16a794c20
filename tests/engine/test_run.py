from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.shared_fixtures import reference_module
from visionbench.engine.distributed import contiguous_shard
from visionbench.engine.run import RunOptions, run
from visionbench.errors import ContractError, LabelSpaceError, RunError
from visionbench.loaders.mini import imagenet_mini
from visionbench.models.demo import build_demo_cnn
from visionbench.records import read_records, record_schema


@pytest.fixture(scope="module")
def dataset():
    return imagenet_mini()


def _opts(tmp_path, **kw):
    base = dict(results=tmp_path, workers=0, batch_size=16, progress=False, command=["test"])
    base.update(kw)
    return RunOptions(**base)


def _direct_top1(model, dataset):
    """Top-1 computed without the engine: decode, preprocess, forward, argmax."""
    correct = 0
    for i in range(len(dataset)):
        s = dataset[i]
        x, _ = model.preprocess(s.image.load())
        with torch.inference_mode():
            pred = int(model.module(x[None]).argmax())
        correct += pred == s.target.label
    return 100.0 * correct / len(dataset)


def test_run_matches_a_direct_loop_and_writes_a_valid_record(tmp_path, dataset):
    jsonschema = reference_module("jsonschema")
    model = build_demo_cnn()
    record, path = run(model, dataset, _opts(tmp_path))
    assert record["metrics"]["top1"]["value"] == pytest.approx(
        _direct_top1(model, dataset), abs=1e-9
    )
    assert record["metrics"]["top1"]["value"] > 90  # the shipped demo weights are trained
    on_disk = json.loads(path.read_text())
    jsonschema.validate(on_disk, record_schema())
    assert on_disk["dataset"]["num_samples"] == len(dataset)
    assert on_disk["model"]["params"] == sum(p.numel() for p in model.module.parameters())
    assert [r["run_id"] for r in read_records(tmp_path)] == [record["run_id"]]
    arrays = np.load(path.with_name(on_disk["arrays_file"]))
    assert arrays["confusion"].sum() == len(dataset)


def test_killed_run_resumes_to_identical_numbers(tmp_path, dataset):
    model = build_demo_cnn()
    full, _ = run(model, dataset, _opts(tmp_path / "a", batch_size=8, flush_every=1))

    class Killed(Exception):
        pass

    def die(n):
        if n == 3:
            raise Killed

    with pytest.raises(Killed):
        run(model, dataset, _opts(tmp_path / "b", batch_size=8, flush_every=1, on_batch=die))
    with pytest.raises(RunError, match="pass --resume to continue it or --fresh"):
        run(model, dataset, _opts(tmp_path / "b", batch_size=8, flush_every=1))
    resumed, _ = run(
        model, dataset, _opts(tmp_path / "b", batch_size=8, flush_every=1, resume=True)
    )
    assert {k: v["value"] for k, v in resumed["metrics"].items()} == {
        k: v["value"] for k, v in full["metrics"].items()
    }
    assert resumed["dataset"]["fingerprint"] == full["dataset"]["fingerprint"]


def test_limit_and_label_space_refusal(tmp_path, dataset):
    model = build_demo_cnn()
    record, _ = run(model, dataset, _opts(tmp_path, limit=5))
    assert record["dataset"]["num_samples"] == 5
    from visionbench.label_spaces import get_label_space

    model.label_space = get_label_space("coco80")
    model.task = dataset.task
    with pytest.raises(LabelSpaceError, match="no mapping is guessed"):
        run(model, dataset, _opts(tmp_path / "x"))


@pytest.mark.parametrize("n, world", [(10, 3), (2, 4), (0, 2), (100, 8), (7, 1)])
def test_contiguous_shards_cover_once_without_padding(n, world):
    shards = [contiguous_shard(n, r, world) for r in range(world)]
    flat = [i for s in shards for i in s]
    assert flat == list(range(n))
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1


def test_a_corrupt_image_stops_cleanly_and_keeps_what_was_computed(tmp_path):
    """With DataLoader workers, a bad sample gives one clear error naming it (not a worker
    traceback); the predictions before it are saved and --resume completes the run."""
    import shutil

    from visionbench.loaders.imagenet import ImageNetFolder
    from visionbench.synth import ensure

    root = tmp_path / "inet"
    shutil.copytree(ensure("imagenet-mini") / "val", root / "val")
    ds = ImageNetFolder(root, "val")
    bad = ds[60].image.path
    good_bytes = Path(bad).read_bytes()
    Path(bad).write_bytes(b"garbage")
    opts = _opts(tmp_path / "res", workers=2, batch_size=8, flush_every=100)
    with pytest.raises(RunError) as e:
        run(build_demo_cnn(), ds, opts)
    msg = str(e.value)
    assert f"sample '{ds[60].sample_id}' could not be loaded" in msg and bad in msg
    assert "Traceback" not in msg and "--resume" in msg
    Path(bad).write_bytes(good_bytes)
    resumed, _ = run(
        build_demo_cnn(), ds, _opts(tmp_path / "res", workers=2, batch_size=8, resume=True)
    )
    clean, _ = run(build_demo_cnn(), ds, _opts(tmp_path / "clean", workers=0))
    assert {k: v["value"] for k, v in resumed["metrics"].items()} == {
        k: v["value"] for k, v in clean["metrics"].items()
    }
    log = next((tmp_path / "res" / "work").glob("*/run-r0.log")).read_text()
    assert "resume: 63 cached predictions re-scored" in log  # 7 full batches + 7 good of the 8th


def test_out_of_memory_halves_the_batch_and_gives_the_same_numbers(tmp_path, dataset):
    """A forward pass that runs out of memory above 4 images is retried in halves."""
    model = build_demo_cnn()
    reference, _ = run(model, dataset, _opts(tmp_path / "ref", batch_size=16))
    forward = model.forward
    calls = []

    def small_memory_forward(images):
        calls.append(len(images))
        if len(images) > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(images)

    model.forward = small_memory_forward
    record, _ = run(model, dataset, _opts(tmp_path / "oom", batch_size=16))
    assert max(c for c in calls if c <= 4) == 4 and 16 in calls
    assert {k: v["value"] for k, v in record["metrics"].items()} == {
        k: v["value"] for k, v in reference["metrics"].items()
    }


class _PlainModel:
    """The Model protocol written out by hand, without ModelAdapter, around the demo CNN;
    it records which members the engine calls."""

    def __init__(self):
        self.inner = build_demo_cnn()
        self.name, self.task, self.label_space = "plain", self.inner.task, self.inner.label_space
        self.profile_info = None
        self.calls: list[str] = []

    def preprocess(self, image):
        return self.inner.preprocess(image)

    def forward(self, images):
        self.calls.append("forward")
        return self.inner.forward(images)

    def postprocess(self, outputs, batch):
        self.calls.append("postprocess")
        return self.inner.postprocess(outputs, batch)

    def predict(self, batch):
        raise AssertionError("the engine times forward and postprocess apart")

    def to(self, device, *, channels_last=False):
        self.calls.append("to")
        self.inner.to(device, channels_last=channels_last)
        return self

    def describe(self):
        return {**self.inner.describe(), "name": self.name}

    def weights_id(self):
        self.calls.append("weights_id")
        return "plain-weights"


def test_any_object_with_the_model_protocol_runs_with_the_same_numbers(tmp_path, dataset):
    reference, _ = run(build_demo_cnn(), dataset, _opts(tmp_path / "ref", batch_size=16))
    model = _PlainModel()
    record, _ = run(model, dataset, _opts(tmp_path / "plain", batch_size=16))
    n_batches = -(-len(dataset) // 16)
    assert model.calls == ["to"] + ["forward", "postprocess"] * n_batches + ["weights_id"]
    assert record["model"]["name"] == "plain" and record["model"]["weights_id"] == "plain-weights"
    assert {k: v["value"] for k, v in record["metrics"].items()} == {
        k: v["value"] for k, v in reference["metrics"].items()
    }


def test_an_object_that_is_not_a_model_is_refused_before_any_work(tmp_path, dataset):
    model = _PlainModel()
    del model.profile_info
    model.forward = None
    with pytest.raises(ContractError) as e:
        run(model, dataset, _opts(tmp_path))
    assert str(e.value) == (
        "the model given to run() is a _PlainModel, not a visionbench Model (missing: "
        "profile_info, forward; see visionbench.tasks.Model)"
    )
    assert model.calls == [] and not (tmp_path / "work").exists()
