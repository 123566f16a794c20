"""The prediction cache: Parquet shards keyed by ``sample_id``, flushed atomically.

Predictions are stored losslessly (every array field as ``np.save`` bytes, masks as JSON),
so a resumed run re-scores cached predictions and ends with identical numbers. Each shard
is written to a temporary file and renamed: a killed run leaves only whole shards.
"""

from __future__ import annotations

import io
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from visionbench.engine.records import atomic_write_bytes
from visionbench.errors import RunError
from visionbench.tasks import TASKS
from visionbench.types import Prediction, Task

__all__ = ["PredictionCache"]


class PredictionCache:
    """Append-only shards ``<dir>/pred-r<rank>-<k>.parquet``."""

    def __init__(self, directory: Path, task: Task, *, rank: int = 0) -> None:
        self.dir = directory
        self.task = task
        self.rank = rank
        self.dir.mkdir(parents=True, exist_ok=True)
        self._pending: list[Prediction] = []
        self._next = len(list(self.dir.glob(f"pred-r{rank}-*.parquet")))

    # -- writing ------------------------------------------------------------------------

    def add(self, preds: list[Prediction]) -> None:
        self._pending.extend(preds)

    def flush(self) -> None:
        """Write pending predictions as one shard (atomically)."""
        if not self._pending:
            return
        table = _to_table(self._pending)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        atomic_write_bytes(self.dir / f"pred-r{self.rank}-{self._next:06d}.parquet", buf.getvalue())
        self._next += 1
        self._pending = []

    # -- reading ------------------------------------------------------------------------

    def load_all(self) -> list[Prediction]:
        """Every cached prediction, from all ranks' shards, in shard order."""
        out: list[Prediction] = []
        for p in sorted(self.dir.glob("pred-r*-*.parquet")):
            try:
                table = pq.read_table(p)
            except Exception as e:
                raise RunError(
                    f"prediction shard {p} is unreadable ({e}); delete it and resume"
                ) from None
            out.extend(_from_table(table, self.task))
        return out


def _encode(v: Any) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, v, allow_pickle=False)
        return buf.getvalue()
    if isinstance(v, list):  # RLE masks
        return json.dumps([_rle_jsonable(m) for m in v]).encode()
    return json.dumps(v).encode()


def _rle_jsonable(m: dict[str, Any]) -> dict[str, Any]:
    c = m.get("counts")
    return dict(m, counts=c.decode("ascii") if isinstance(c, bytes) else c)


def _to_table(preds: list[Prediction]) -> pa.Table:
    names = [f.name for f in fields(preds[0]) if f.name != "sample_id"]
    cols: dict[str, Any] = {"sample_id": [json.dumps(p.sample_id) for p in preds]}
    for n in names:
        cols[n] = pa.array([_encode(getattr(p, n)) for p in preds], type=pa.binary())
    return pa.table(cols)


def _from_table(table: pa.Table, task: Task) -> list[Prediction]:
    cls = TASKS[task].prediction_type
    names = [f.name for f in fields(cls) if f.name != "sample_id"]
    data = table.to_pydict()
    out = []
    for i, sid in enumerate(data["sample_id"]):
        kw: dict[str, Any] = {}
        for n in names:
            b = data.get(n, [None] * len(data["sample_id"]))[i]
            if b is None:
                kw[n] = None
            elif b[:6] == b"\x93NUMPY":
                kw[n] = np.load(io.BytesIO(b), allow_pickle=False)
            else:
                kw[n] = json.loads(b)
        out.append(cls(sample_id=json.loads(sid), **kw))
    return out
