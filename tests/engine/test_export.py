"""bench export -> bench eval reproduces a run's numbers exactly, for every task; the
prediction cache reads with plain pandas; a split without ground truth writes the
submission file and a record that says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.shared_fixtures import reference_module
from visionbench.engine.export import export_run
from visionbench.engine.offline import evaluate_predictions
from visionbench.engine.run import RunOptions, run
from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.resolve import build_model
from visionbench.registry import datasets
from visionbench.types import CaptionPrediction, Task


def _opts(tmp_path, **kw):
    return RunOptions(
        results=tmp_path, workers=0, batch_size=8, progress=False, command=["t"], **kw
    )


class _CaptionModel(ModelAdapter):
    """A deterministic captioner: describes the mean colour of the image."""

    def __init__(self):
        super().__init__("test-captioner", Task.CAPTIONING, get_label_space("text"),
                         torch.nn.Identity(), Preprocess(mode="none"))  # fmt: skip

    def preprocess(self, image):
        return image.float().mean(dim=(1, 2)), {}

    def postprocess(self, outputs, batch):
        out = []
        for x, m in zip(outputs, batch.metas):
            r, g, b = (int(v) for v in x)
            colour = ["red", "green", "blue"][int(np.argmax([r, g, b]))]
            out.append(CaptionPrediction(f"a {colour} picture of shapes", sample_id=m["sample_id"]))
        return out


def _freq_model(tmp_path, vg):
    from visionbench.models.scene_graph_freq import build_freq, compute_freq_statistics

    gt = vg.ground_truth()
    stats = compute_freq_statistics(gt.targets[: len(gt) // 2])
    stats.save(tmp_path / "freq.npz")
    return build_freq(str(tmp_path / "freq.npz"))


CASES = {
    "classification": ("imagenet-mini", lambda tmp, ds: build_model("demo-cnn"), "preds.csv", {}),
    "detection": ("coco-mini", lambda tmp, ds: build_model("demo-detector"), "dets.json", {}),
    "segmentation": ("cityscapes-mini", lambda tmp, ds: build_model("demo-segnet"), "pngs", {}),
    "scene_graph": ("vg-mini", _freq_model, "graphs.json", {"sg_mode": "predcls"}),
    "captioning": ("coco-mini-captions", lambda tmp, ds: _CaptionModel(), "caps.json", {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_export_then_eval_reproduces_the_run(tmp_path, case):
    name, build, out_name, extra = CASES[case]
    ds = datasets.get(name)(root=None)
    record, _ = run(build(tmp_path, ds), ds, _opts(tmp_path, **extra))
    out = export_run(record["run_id"], tmp_path / out_name, results=tmp_path)
    again, _ = evaluate_predictions(
        ds, out, results=tmp_path, metric_options=record["protocol"]["options"], command=["t"]
    )
    assert again["protocol"] == record["protocol"]
    assert set(again["metrics"]) == set(record["metrics"])
    for k, m in record["metrics"].items():
        assert again["metrics"][k]["value"] == m["value"], k  # exactly, None for NaN
        assert again["metrics"][k]["signature"] == m["signature"]
        assert again["metrics"][k].get("unit") == m.get("unit")
    values = [m["value"] for m in record["metrics"].values() if m["value"] is not None]
    assert values and any(v > 0 for v in values)  # not a trivially empty run


def test_cache_reads_with_plain_pandas(tmp_path):
    """A subprocess that never imports visionbench reads the shards' typed columns."""
    ds = datasets.get("coco-mini")(root=None)
    record, _ = run(build_model("demo-detector"), ds, _opts(tmp_path))
    shards = sorted((Path(record["config"]["log_dir"]) / "predictions").glob("*.parquet"))
    code = (
        "import sys, json, pandas as pd\n"
        "df = pd.concat([pd.read_parquet(p) for p in sys.argv[1:]])\n"
        "assert 'visionbench' not in sys.modules\n"
        "row = df.iloc[0]\n"
        "print(json.dumps({'dtype': str(df['sample_id'].dtype), 'n': len(df),\n"
        "    'id': int(row['sample_id']), 'boxes': [list(map(float, b)) for b in row['boxes']],\n"
        "    'labels': [int(x) for x in row['labels']], 'scores': [float(x) for x in row['scores']]}))\n"
    )
    p = subprocess.run([sys.executable, "-c", code, *map(str, shards)], capture_output=True,
                       text=True, check=True)  # fmt: skip
    got = json.loads(p.stdout)
    from visionbench.engine.cache import PredictionCache

    cached = PredictionCache(shards[0].parent, Task.DETECTION).load_all()
    first = cached[0]
    assert got["dtype"] == "int64" and got["n"] == len(ds) == len(cached)
    assert got["id"] == first.sample_id
    assert np.array_equal(np.array(got["boxes"]).reshape(-1, 4), first.boxes)
    assert got["labels"] == first.labels.tolist() and got["scores"] == first.scores.tolist()


def test_split_without_ground_truth_writes_a_submission(tmp_path):
    """COCO test-dev: an image-info JSON without annotations."""
    from visionbench.loaders.coco import COCODetection
    from visionbench.records import record_schema

    src = datasets.get("coco-mini")(root=None)
    info = json.loads(Path(src.annotation_file).read_text())
    info.pop("annotations")
    ann = tmp_path / "annotations" / "image_info_test-dev2017.json"
    ann.parent.mkdir()
    ann.write_text(json.dumps(info))
    ds = COCODetection(ann, src.image_dir, name="coco-mini", split="test-dev2017", cache=False)
    assert not ds.has_annotations
    record, path = run(build_model("demo-detector"), ds, _opts(tmp_path))
    assert record["no_ground_truth"] is True and record["metrics"] == {}
    rows = json.loads(Path(record["submission"]).read_text())
    assert rows and {r["image_id"] for r in rows} <= {im["id"] for im in info["images"]}
    assert set(rows[0]) == {"image_id", "category_id", "bbox", "score"}
    jsonschema = reference_module("jsonschema")
    jsonschema.validate(json.loads(Path(path).read_text()), record_schema())
    assert torch is not None


def test_voc_export_names_files_by_the_records_split(tmp_path):
    """The devkit's results files carry the split (comp4_det_<split>_<class>.txt): the
    protocol rebuilt from a record writes the record's split, not a default."""
    from visionbench.engine.export import record_protocol
    from visionbench.types import DetectionPrediction

    record = {
        "task": "detection",
        "dataset": {"name": "voc2012", "split": "val", "label_space": "voc20"},
        "protocol": {"name": "voc", "options": {"ap_method": "allpoint"}},
    }
    proto = record_protocol(record)
    pred = DetectionPrediction(
        boxes=np.array([[1.0, 2.0, 30.0, 40.0]]), labels=np.array([15]),
        scores=np.array([0.9]), sample_id="2008_000001",
    )  # fmt: skip
    out = proto.write_predictions([pred], tmp_path / "comp4")
    names = sorted(f.name for f in out.glob("*.txt"))
    assert len(names) == 20 and all(n.startswith("comp4_det_val_") for n in names)
    person = (out / "comp4_det_val_person.txt").read_text().split()
    assert person[:2] == ["2008_000001", "0.9"]
