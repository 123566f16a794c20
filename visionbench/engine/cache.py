"""The prediction cache: Parquet shards keyed by ``sample_id``, flushed atomically.

Predictions are stored losslessly as typed Parquet columns, readable by pandas, duckdb or
``datasets`` without visionbench: ``sample_id`` int64 (or string), 1-D arrays as
``list<dtype>`` (``labels`` list<int64>, ``scores`` list<float>), 2-D arrays as
``list<fixed_size_list<dtype, k>>`` (``boxes`` [N, 4] xyxy pixels, ``rel_pairs``,
``rel_scores``, ``keypoints``), detection masks as ``list<struct<size, counts>>`` (COCO
RLE), segmentation masks ``[H, W]`` as rows (``list<fixed_size_list<uint8, W>>``; masks of
different widths in one shard are flattened beside a ``mask_shape`` column), captions as
strings. dtypes are kept, so a resumed run re-scores cached predictions and
ends with identical numbers. Each shard is written to a temporary file and renamed: a
killed run leaves only whole shards.
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

from visionbench.errors import RunError
from visionbench.records import atomic_write_bytes
from visionbench.tasks import TASKS
from visionbench.types import Prediction, Task

__all__ = ["PredictionCache", "predictions_table", "predictions_from_table"]

_SID_KEY = b"visionbench.sample_id"


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
        table = predictions_table(self._pending)
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
            out.extend(predictions_from_table(table, self.task))
        return out


def predictions_table(preds: list[Prediction]) -> pa.Table:
    """Predictions of one type as a typed Arrow table (see the module docstring)."""
    names = [f.name for f in fields(preds[0]) if f.name != "sample_id"]
    sids = [p.sample_id for p in preds]
    sid_col, sid_kind = _sample_ids(sids)
    cols: dict[str, pa.Array] = {"sample_id": sid_col}
    for n in names:
        values = [getattr(p, n) for p in preds]
        cols.update(_column(n, values))
    table = pa.table(cols)
    return table.replace_schema_metadata({_SID_KEY: sid_kind.encode()})


def predictions_from_table(table: pa.Table, task: Task) -> list[Prediction]:
    """The predictions back from :func:`predictions_table` (old ``np.save`` shards too)."""
    cls = TASKS[task].prediction_type
    names = [f.name for f in fields(cls) if f.name != "sample_id"]
    n_rows = table.num_rows
    sid_kind = (table.schema.metadata or {}).get(_SID_KEY, b"json").decode()
    sids = table.column("sample_id").to_pylist()
    if sid_kind == "json":
        sids = [json.loads(s) for s in sids]
    per_field: dict[str, list[Any]] = {}
    for n in names:
        if n not in table.column_names:
            per_field[n] = [None] * n_rows
            continue
        shape = (
            table.column(f"{n}_shape").to_pylist() if f"{n}_shape" in table.column_names else None
        )
        per_field[n] = _decode(table.column(n).combine_chunks(), shape)
    return [cls(sample_id=sids[i], **{n: per_field[n][i] for n in names}) for i in range(n_rows)]


# ---------------------------------------------------------------------------------------
# encoding


def _sample_ids(sids: list[Any]) -> tuple[pa.Array, str]:
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sids):
        return pa.array([int(s) for s in sids], pa.int64()), "int"
    if all(isinstance(s, str) for s in sids):
        return pa.array(sids, pa.string()), "str"
    return pa.array([json.dumps(s) for s in sids], pa.string()), "json"


def _column(name: str, values: list[Any]) -> dict[str, pa.Array]:
    present = [v for v in values if v is not None]
    if not present:
        return {name: pa.nulls(len(values))}
    first = present[0]
    if isinstance(first, str):
        return {name: pa.array(values, pa.string())}
    if isinstance(first, list):  # COCO RLE masks
        return {name: _rle_column(values)}
    arrays = [None if v is None else np.asarray(v) for v in values]
    dtype = np.result_type(*[a.dtype for a in arrays if a is not None])
    ndims = {a.ndim for a in arrays if a is not None}
    widths = {a.shape[1] for a in arrays if a is not None and a.ndim == 2}
    mask = pa.array([a is None for a in arrays])
    parts = [np.zeros(0, dtype) if a is None else a.astype(dtype, copy=False) for a in arrays]
    if ndims == {1}:
        return {name: _list_array(parts, mask, None)}
    if ndims == {2} and len(widths) == 1:
        return {name: _list_array(parts, mask, widths.pop())}
    shapes = pa.array([None if a is None else list(a.shape) for a in arrays], pa.list_(pa.int64()))
    return {name: _list_array([p.ravel() for p in parts], mask, None), f"{name}_shape": shapes}


def _list_array(parts: list[np.ndarray], mask: pa.Array, width: int | None) -> pa.Array:
    lengths = np.array([len(p) for p in parts], np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    flat = np.concatenate([p.reshape(-1) for p in parts]) if parts else np.zeros(0)
    values: pa.Array = pa.array(flat)
    if width is not None:
        values = pa.FixedSizeListArray.from_arrays(values, width)
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


_RLE = pa.struct([("size", pa.list_(pa.int64())), ("counts", pa.string())])


def _rle_column(values: list[Any]) -> pa.Array:
    def rle(m: dict[str, Any]) -> dict[str, Any]:
        c = m.get("counts")
        if isinstance(c, list):  # uncompressed RLE: compress, as COCO results do
            from pycocotools import mask as mask_utils

            m = mask_utils.frPyObjects(m, *m["size"])
            c = m["counts"]
        return {"size": [int(x) for x in m["size"]],
                "counts": c.decode("ascii") if isinstance(c, bytes) else c}  # fmt: skip

    return pa.array([None if v is None else [rle(m) for m in v] for v in values], pa.list_(_RLE))


def _decode(col: pa.Array, shapes: list[Any] | None) -> list[Any]:
    t = col.type
    if pa.types.is_null(t):
        return [None] * len(col)
    if pa.types.is_binary(t):  # shards written before typed columns: np.save / JSON bytes
        return [_decode_legacy(b) for b in col.to_pylist()]
    if pa.types.is_string(t):
        return col.to_pylist()
    if pa.types.is_list(t) and pa.types.is_struct(t.value_type):
        return [None if v is None else list(v) for v in col.to_pylist()]
    if pa.types.is_list(t):
        offsets = col.offsets.to_numpy()
        inner = col.values
        width = None
        if pa.types.is_fixed_size_list(inner.type):
            width = inner.type.list_size
            inner = inner.flatten()
        flat = inner.to_numpy(zero_copy_only=False)
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        out: list[Any] = []
        for i in range(len(col)):
            if not valid[i]:
                out.append(None)
                continue
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            if width is not None:
                a = flat[lo * width : hi * width].reshape(hi - lo, width)
            else:
                a = flat[lo:hi]
                if shapes is not None:
                    a = a.reshape(shapes[i])
            out.append(a.copy())
        return out
    raise RunError(f"prediction cache: unexpected column type {t}")


def _decode_legacy(b: bytes | None) -> Any:
    if b is None:
        return None
    if b[:6] == b"\x93NUMPY":
        return np.load(io.BytesIO(b), allow_pickle=False)
    return json.loads(b)
