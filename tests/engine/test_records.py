from __future__ import annotations

import json
import multiprocessing as mp

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
    path = write_record(rec, tmp_path)
    with pytest.raises(RunError, match="never overwritten"):
        write_record(rec, tmp_path)
    assert json.loads(path.read_text())["metrics"]["top1"]["value"] == 1.0


def test_unreadable_records_are_skipped_with_a_warning(tmp_path, capsys):
    write_record(_record(2), tmp_path)
    (tmp_path / "records" / "broken.json").write_text("{not json")
    assert len(read_records(tmp_path)) == 1
    assert "skipping unreadable run record" in capsys.readouterr().err
