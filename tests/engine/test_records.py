from __future__ import annotations

import json
import multiprocessing as mp

import numpy as np
import pytest

from visionbench.errors import RunError
from visionbench.records import SCHEMA_VERSION, new_run_id, read_records, write_record


def _record(i: int) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": new_run_id(f"m{i}", "d"),
        "status": "complete",
        "task": "classification",
        "model": {"name": f"m{i}", "task": "classification", "label_space": "x", "params": i},
        "dataset": {
            "name": "d",
            "split": "val",
            "num_samples": 1,
            "label_space": "x",
            "fingerprint": "f",
        },
        "metrics": {"top1": {"value": float(i), "signature": "s", "higher_is_better": True}},
        "timings": {},
        "hardware": {},
        "software": {},
        "seed": 0,
        "git_commit": None,
        "command": [],
        "date": "d",
    }


def _writer(args):
    root, i = args
    write_record(_record(i), root)


def test_eight_concurrent_writers_lose_nothing(tmp_path):
    with mp.get_context("spawn").Pool(8) as pool:
        pool.map(_writer, [(str(tmp_path), i) for i in range(8)])
    recs = read_records(tmp_path)
    assert sorted(r["metrics"]["top1"]["value"] for r in recs) == [float(i) for i in range(8)]
    assert not list((tmp_path / "records").glob("*.tmp"))


def test_records_are_never_overwritten_and_nan_becomes_null(tmp_path):
    rec = _record(1)
    rec["metrics"]["top1"]["value"] = float("nan")
    rec["metrics"]["top5"] = {
        "value": np.float64("nan"),
        "signature": "s",
        "higher_is_better": True,
    }
    rec["metrics"]["ece"] = {
        "value": np.float32("nan"),
        "signature": "s",
        "higher_is_better": False,
    }
    rec["timings"] = {"throughput_img_s": float("inf"), "per_rank": [{"wall_s": -np.inf}, 2.5]}
    path = write_record(rec, tmp_path)
    with pytest.raises(RunError, match="never overwritten"):
        write_record(rec, tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    on_disk = json.loads(text)
    assert {k: m["value"] for k, m in on_disk["metrics"].items()} == {
        "top1": None, "top5": None, "ece": None,
    }  # fmt: skip
    assert on_disk["timings"] == {"throughput_img_s": None, "per_rank": [{"wall_s": None}, 2.5]}
    (back,) = read_records(tmp_path)
    assert back["metrics"]["top1"]["value"] is None and back["run_id"] == rec["run_id"]
    assert rec["metrics"]["top1"]["value"] != rec["metrics"]["top1"]["value"]  # not mutated


def test_unreadable_records_are_skipped_with_a_warning(tmp_path, capsys):
    write_record(_record(2), tmp_path)
    (tmp_path / "records" / "broken.json").write_text("{not json")
    assert len(read_records(tmp_path)) == 1
    assert "skipping unreadable run record" in capsys.readouterr().err


def test_write_npz_round_trips_like_np_savez(tmp_path):
    """records.write_npz (arrays written from their own memory) reads back as np.savez's
    file does: values, dtypes, shapes, byte order, every layout."""
    from visionbench.records import write_npz

    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 5))
    arrays = {
        "f8": base,
        "f4_big": base.astype(">f4"),
        "i8": rng.integers(-(2**40), 2**40, size=7),
        "i1": np.array([-128, 0, 127], np.int8),
        "bool": base > 0,
        "str": np.array(["a", "bcd", ""], dtype=str),
        "dt": np.array(["2026-12-02", "1970-01-01"], dtype="datetime64[D]"),
        "scalar": np.float64(3.5),
        "zero_d": np.array(7),
        "empty": np.zeros((0, 3)),
        "strided": base[:, ::2],  # not contiguous
        "fortran": np.asfortranarray(base),
        "struct": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        "list": [1, 2, 3],
    }
    write_npz(tmp_path / "ours.npz", arrays)
    np.savez(tmp_path / "ref.npz", **arrays)
    with np.load(tmp_path / "ours.npz") as ours, np.load(tmp_path / "ref.npz") as ref:
        assert sorted(ours.files) == sorted(ref.files) == sorted(arrays)
        for k in arrays:
            a, b = ours[k], ref[k]
            assert a.dtype == b.dtype and a.shape == b.shape, k
            assert np.array_equal(a, b), k
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file is gone
