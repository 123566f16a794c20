"""engine/cache.py: predictions survive the Parquet prediction cache exactly (values,
dtypes, shapes, None fields, sample ids of every kind), shards are numbered per rank and
continue on resume, a corrupt shard is one clear error, and older binary shards still read."""

from __future__ import annotations

import io
import json
from dataclasses import fields

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from visionbench.engine.cache import PredictionCache, predictions_from_table, predictions_table
from visionbench.errors import RunError
from visionbench.types import (
    CaptionPrediction,
    ClassificationPrediction,
    DetectionPrediction,
    SceneGraphPrediction,
    SegmentationPrediction,
    Task,
)

RNG = np.random.default_rng(20261202)


def _boxes(n):
    xy = RNG.uniform(0, 500, (n, 2))
    return np.concatenate([xy, xy + RNG.uniform(0.5, 80, (n, 2))], axis=1)


def _rle(h, w):
    from pycocotools import mask as mask_utils

    m = np.asfortranarray((RNG.random((h, w)) > 0.6).astype(np.uint8))
    r = mask_utils.encode(m)
    return {"size": [int(x) for x in r["size"]], "counts": r["counts"].decode("ascii")}


def _detections(sids):
    out = []
    for k, sid in enumerate(sids):
        n = [0, 1, 5][k % 3]  # an image without detections too
        out.append(
            DetectionPrediction(
                boxes=_boxes(n), labels=RNG.integers(1, 91, n), scores=RNG.random(n),
                masks=[_rle(12, 9) for _ in range(n)] if k % 2 else None, sample_id=sid,
                keypoints=RNG.uniform(0, 9, (n, 51)) if k == 2 else None,
            )
        )  # fmt: skip
    return out


CASES = {
    "classification": (Task.CLASSIFICATION, lambda sids: [
        ClassificationPrediction(scores=RNG.standard_normal(7).astype(np.float32), sample_id=s)
        for s in sids]),
    "classification-topk": (Task.CLASSIFICATION, lambda sids: [
        ClassificationPrediction(topk=RNG.permutation(1000)[:5], sample_id=s) for s in sids]),
    "detection": (Task.DETECTION, _detections),
    "segmentation-same-size": (Task.SEMANTIC_SEGMENTATION, lambda sids: [
        SegmentationPrediction(mask=RNG.integers(0, 34, (6, 8)).astype(np.uint8), sample_id=s)
        for s in sids]),
    "segmentation-mixed-sizes": (Task.SEMANTIC_SEGMENTATION, lambda sids: [
        SegmentationPrediction(mask=RNG.integers(0, 300, (4 + k, 3 + 2 * k)).astype(np.int32),
                               sample_id=s) for k, s in enumerate(sids)]),
    "scene_graph": (Task.SCENE_GRAPH, lambda sids: [
        SceneGraphPrediction(boxes=_boxes(4), labels=RNG.integers(1, 151, 4), scores=RNG.random(4),
                             rel_pairs=RNG.integers(0, 4, (6, 2)), rel_scores=RNG.random((6, 51)),
                             sample_id=s) for s in sids]),
    "captioning": (Task.CAPTIONING, lambda sids: [
        CaptionPrediction(caption=f"a picture of {k} things, «ünïcode»", sample_id=s)
        for k, s in enumerate(sids)]),
}  # fmt: skip


def _same(a, b) -> None:
    """Two predictions of one type are equal field by field: arrays in value, dtype and
    shape; everything else by ==."""
    assert type(a) is type(b)
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray), f.name
            assert x.dtype == y.dtype and x.shape == y.shape, (f.name, x.dtype, y.dtype)
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, (f.name, x, y)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "sids", [[3, 1, 4, 159], ["frankfurt_000000_000294", "b", "c"], [7, "x", 9]],
    ids=["int", "str", "mixed"],
)  # fmt: skip
def test_predictions_round_trip_through_a_table_exactly(case, sids):
    task, make = CASES[case]
    preds = make(sids)
    back = predictions_from_table(predictions_table(preds), task)
    assert [p.sample_id for p in back] == sids
    for a, b in zip(preds, back):
        _same(a, b)


def test_the_table_is_typed_for_readers_without_visionbench():
    t = predictions_table(_detections([10, 11, 12]))
    assert t.schema.field("sample_id").type == pa.int64()
    assert t.schema.field("boxes").type == pa.list_(pa.list_(pa.float64(), 4))
    assert t.schema.field("labels").type == pa.list_(pa.int64())
    assert t.schema.field("scores").type == pa.list_(pa.float64())
    assert t.schema.field("keypoints").type == pa.list_(pa.list_(pa.float64(), 51))
    rle = pa.struct([("size", pa.list_(pa.int64())), ("counts", pa.string())])
    assert t.schema.field("masks").type == pa.list_(rle)
    assert t.column("masks").to_pylist()[0] is None  # not an empty list: absent
    seg = predictions_table(CASES["segmentation-mixed-sizes"][1]([1, 2]))
    assert seg.column("mask_shape").to_pylist() == [[4, 3], [5, 5]]  # widths differ
    same = predictions_table(CASES["segmentation-same-size"][1]([1, 2]))
    assert "mask_shape" not in same.column_names
    assert same.schema.field("mask").type == pa.list_(pa.list_(pa.uint8(), 8))


def test_uncompressed_rle_masks_are_stored_compressed_as_coco_results_are():
    from pycocotools import mask as mask_utils

    m = np.zeros((5, 4), np.uint8)
    m[1:4, 2] = 1
    counts = [11, 3, 6]  # column-major runs: columns 0-1 and row 0 of column 2, then 3 ones
    assert (
        mask_utils.decode(mask_utils.frPyObjects({"size": [5, 4], "counts": counts}, 5, 4)).tolist()
        == m.tolist()
    )
    pred = DetectionPrediction(boxes=[[2, 1, 3, 4]], labels=[1], scores=[0.5], sample_id=1,
                               masks=[{"size": [5, 4], "counts": counts}])  # fmt: skip
    (back,) = predictions_from_table(predictions_table([pred]), Task.DETECTION)
    (rle,) = back.masks
    assert isinstance(rle["counts"], str) and rle["size"] == [5, 4]
    assert (
        mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode()}).tolist()
        == m.tolist()
    )


def test_shards_are_numbered_per_rank_continue_on_resume_and_load_in_order(tmp_path):
    preds = CASES["classification"][1](list(range(10)))
    cache = PredictionCache(tmp_path / "p", Task.CLASSIFICATION)
    cache.flush()  # nothing pending: no file
    assert list((tmp_path / "p").iterdir()) == []
    cache.add(preds[:3])
    cache.flush()
    cache.add(preds[3:5])
    cache.flush()
    other = PredictionCache(tmp_path / "p", Task.CLASSIFICATION, rank=1)
    other.add(preds[8:])
    other.flush()
    resumed = PredictionCache(tmp_path / "p", Task.CLASSIFICATION)  # a resumed rank 0
    resumed.add(preds[5:8])
    resumed.flush()
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == ["pred-r0-000000.parquet", "pred-r0-000001.parquet",
                     "pred-r0-000002.parquet", "pred-r1-000000.parquet"]  # fmt: skip
    back = resumed.load_all()
    assert [p.sample_id for p in back] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    for a, b in zip(preds, back):
        _same(a, b)
    # each shard is a plain Parquet file
    assert pq.read_table(tmp_path / "p" / "pred-r1-000000.parquet").column(
        "sample_id"
    ).to_pylist() == [8, 9]


def test_a_corrupt_shard_is_one_error_naming_it(tmp_path):
    cache = PredictionCache(tmp_path, Task.CAPTIONING)
    cache.add([CaptionPrediction("a cat", sample_id=1)])
    cache.flush()
    bad = tmp_path / "pred-r0-000001.parquet"
    bad.write_bytes(b"PAR1 truncated")
    with pytest.raises(RunError) as e:
        cache.load_all()
    assert str(e.value).startswith(f"prediction shard {bad} is unreadable (")
    assert str(e.value).endswith("); delete it and resume")


def test_shards_written_before_typed_columns_still_read():
    """Older shards held np.save bytes (arrays) and JSON bytes (other values) per cell."""

    def npy(a):
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    table = pa.table({
        "sample_id": pa.array([json.dumps(5), json.dumps("x")]),
        "boxes": pa.array([npy(boxes), npy(np.zeros((0, 4)))], pa.binary()),
        "labels": pa.array([npy(np.array([3])), npy(np.zeros(0, np.int64))], pa.binary()),
        "scores": pa.array([npy(np.array([0.25])), npy(np.zeros(0))], pa.binary()),
        "masks": pa.array([json.dumps([{"size": [2, 2], "counts": "04"}]).encode(), None], pa.binary()),
    })  # fmt: skip
    a, b = predictions_from_table(table, Task.DETECTION)
    assert (a.sample_id, b.sample_id) == (5, "x")
    assert (
        np.array_equal(a.boxes, boxes) and a.labels.tolist() == [3] and a.scores.tolist() == [0.25]
    )
    assert a.masks == [{"size": [2, 2], "counts": "04"}] and b.masks is None
    assert b.boxes.shape == (0, 4) and a.keypoints is None  # a column the old shard lacks
