"""The per-sample statistics file: written small and uncompressed, read back identical."""

from __future__ import annotations

import numpy as np

from visionbench.engine import intervals


class _Table:
    def __init__(self, arrays):
        self.arrays = arrays

    def to_arrays(self):
        return dict(self.arrays)


def test_samples_file_round_trips_every_array_and_dtype(tmp_path, monkeypatch):
    arrays = {
        "kind": np.array("RowTable"),
        "small": np.array([0, 5, -3], dtype=np.int64),
        "mid": np.array([40_000, -2], dtype=np.int64),
        "wide": np.array([2**40, 1], dtype=np.int64),
        "empty": np.zeros(0, dtype=np.int64),
        "scores": np.array([0.1, 0.25]),
        "flags": np.array([[1, 0]], dtype=np.uint8),
    }
    seen = {}
    monkeypatch.setattr(
        "visionbench.metrics.sample_tables.table_from_arrays", lambda d: seen.update(d) or "ok"
    )
    record = {"run_id": "r1"}
    intervals._write_samples(record, _Table(arrays), tmp_path)
    with np.load(tmp_path / "records" / record["samples_file"]) as d:
        stored = {k: d[k] for k in d.files}
    assert stored["small"].dtype == np.int8 and stored["mid"].dtype == np.int32
    assert stored["wide"].dtype == np.int64
    assert intervals.load_sample_table(record, tmp_path) == "ok"
    assert set(seen) == set(arrays)
    for k, v in arrays.items():
        assert seen[k].dtype == v.dtype and np.array_equal(seen[k], v), k
