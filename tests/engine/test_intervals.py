"""The per-sample statistics file: written small and uncompressed, read back identical."""

from __future__ import annotations

import numpy as np

from visionbench.records import read_samples, write_samples


def test_samples_file_round_trips_every_array_and_dtype(tmp_path):
    arrays = {
        "kind": np.array("RowTable"),
        "small": np.array([0, 5, -3], dtype=np.int64),
        "mid": np.array([40_000, -2], dtype=np.int64),
        "wide": np.array([2**40, 1], dtype=np.int64),
        "empty": np.zeros(0, dtype=np.int64),
        "scores": np.array([0.1, 0.25]),
        "flags": np.array([[1, 0]], dtype=np.uint8),
    }
    record = {"run_id": "r1"}
    write_samples(record, arrays, tmp_path)
    path = tmp_path / "records" / record["samples_file"]
    with np.load(path) as d:
        stored = {k: d[k] for k in d.files}
    assert stored["small"].dtype == np.int8 and stored["mid"].dtype == np.int32
    assert stored["wide"].dtype == np.int64
    back = read_samples(record, tmp_path)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v), k
    assert read_samples({"run_id": "r2"}, tmp_path) is None
