"""Fast path for the big Visual Genome files: Arrow's C++ JSON reader, no Python objects.

``orjson.loads`` of a 0.7 GB VG file builds ~100M Python objects before any column exists.
Here the top-level JSON list is split into one line per image (a vectorised scan for the
list's element boundaries that tracks strings, escapes and nesting depth), read by
:func:`pyarrow.json.read_json` against an explicit schema that holds every release's
field names, and flattened with Arrow kernels. The result is the same tables as the
reference parsers in :mod:`visual_genome_schema` (tests compare them on the real excerpts).

Anything unexpected -- a type the schema does not allow, a missing id, a malformed list --
returns None, and the caller falls back to the reference parser, which names the file,
field and id in its error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

__all__ = ["FAST_PARSERS", "split_json_list"]

Tables = dict[str, pa.Table]
_STR_LIST = pa.list_(pa.string())
_INT_LIST = pa.list_(pa.int64())
_CHUNK = 1 << 26  # bytes per numpy pass
_NUMBA_MIN = 1 << 26  # files larger than this are scanned by numba (import + compile ~1 s)


class _Unsupported(Exception):
    """The fast path cannot vouch for this input; use the reference parser."""


def split_json_list(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets of the objects of a top-level JSON list ``[{...}, {...}, ...]``.

    Tracks strings (with backslash escapes) and brace depth: an element starts at a ``{``
    that opens depth 1 and ends at the ``}`` that closes it. Files over 64 MiB are scanned
    by a numba kernel (one pass), smaller ones with numpy.

    Returns:
        ``(starts, ends)``: int64 [N], ``data[starts[i]:ends[i] + 1]`` is element i.

    Raises:
        _Unsupported: not a list of objects (anything but ``,`` and whitespace between
            elements), or unbalanced braces.
    """
    buf = np.frombuffer(data, np.uint8)
    found = _scan_numba(buf) if len(buf) > _NUMBA_MIN else None
    st, en = found if found is not None else _scan_numpy(buf, data)
    if len(st) != len(en) or (len(st) and (en < st).any()):
        raise _Unsupported("unbalanced braces")
    if not len(st):
        if bytes(data).strip().replace(b" ", b"") not in (b"[]",):
            raise _Unsupported("not a JSON list of objects")
        return st, en
    if bytes(data[: st[0]]).strip() != b"[" or bytes(data[en[-1] + 1 :]).strip() != b"]":
        raise _Unsupported("not a JSON list of objects")
    mv = memoryview(data)
    for a, b in zip((en[:-1] + 1).tolist(), st[1:].tolist()):
        if b - a != 1 and bytes(mv[a:b]).strip() != b",":
            raise _Unsupported("not a JSON list of objects")
        if b - a == 1 and mv[a] != 44:
            raise _Unsupported("not a JSON list of objects")
    return st, en


def _scan_numpy(buf: np.ndarray, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    has_escapes = b"\\" in data  # memchr; VG files almost never contain a backslash
    parity, depth = 0, 0
    starts, ends = [], []
    for c0 in range(0, len(buf), _CHUNK):
        part = buf[c0 : c0 + _CHUNK]
        quote = part == 34  # '"'
        if has_escapes:
            _unmark_escaped(buf, quote, c0)
        inside = np.cumsum(quote, dtype=np.uint8)  # wraps mod 256: parity is kept
        inside += parity
        ob = np.flatnonzero(part == 123)
        cb = np.flatnonzero(part == 125)
        ob, cb = ob[(inside[ob] & 1) == 0], cb[(inside[cb] & 1) == 0]
        pos = np.concatenate([ob, cb])
        step = np.concatenate([np.ones(len(ob), np.int64), np.full(len(cb), -1, np.int64)])
        order = np.argsort(pos, kind="stable")
        pos, step = pos[order], step[order]
        d = depth + np.cumsum(step)
        if len(d) and d.min() < 0:
            raise _Unsupported("unbalanced braces")
        starts.append(pos[(step == 1) & (d == 1)] + c0)
        ends.append(pos[(step == -1) & (d == 0)] + c0)
        depth = int(d[-1]) if len(d) else depth
        parity = int(inside[-1]) & 1 if len(inside) else parity
    if depth or parity:
        raise _Unsupported("unbalanced braces or quotes")
    return np.concatenate(starts or [np.zeros(0, np.int64)]), np.concatenate(
        ends or [np.zeros(0, np.int64)]
    )


def _unmark_escaped(buf: np.ndarray, quote: np.ndarray, c0: int) -> None:
    """Clear quotes preceded by an odd run of backslashes (``quote`` is chunk-local)."""
    q = np.flatnonzero(quote)
    g = q + c0
    for k in np.flatnonzero((g > 0) & (buf[np.maximum(g - 1, 0)] == 92)).tolist():
        p, n = int(g[k]) - 1, 0
        while p >= 0 and buf[p] == 92:
            n, p = n + 1, p - 1
        if n % 2:
            quote[q[k]] = False


def _scan_numba(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """One-pass scan with numba; None when numba is missing or the capacity overflows."""
    kernel = _numba_kernel()
    if kernel is None:
        return None
    cap = len(buf) // 256 + 1024
    starts, ends = np.empty(cap, np.int64), np.empty(cap, np.int64)
    n, m, depth, ok = kernel(buf, starts, ends)
    if not ok:
        return None
    if depth:
        raise _Unsupported("unbalanced braces or quotes")
    return starts[:n].copy(), ends[:m].copy()


_KERNEL: list = []


def _numba_kernel() -> Callable | None:
    if _KERNEL:
        return _KERNEL[0]
    try:
        import numba
    except ImportError:
        _KERNEL.append(None)
        return None

    @numba.njit(cache=True, nogil=True)
    def scan(buf, starts, ends):  # pragma: no cover - compiled
        depth, n, m = 0, 0, 0
        inside, escaped = False, False
        cap = starts.shape[0]
        for i in range(buf.shape[0]):
            c = buf[i]
            if inside:
                if escaped:
                    escaped = False
                elif c == 92:
                    escaped = True
                elif c == 34:
                    inside = False
            elif c == 34:
                inside = True
            elif c == 123:
                depth += 1
                if depth == 1:
                    if n == cap:
                        return n, m, depth, False
                    starts[n] = i
                    n += 1
            elif c == 125:
                depth -= 1
                if depth < 0:
                    return n, m, depth, True
                if depth == 0:
                    if m == cap:
                        return n, m, depth, False
                    ends[m] = i
                    m += 1
        return n, m, depth + (1 if inside else 0), True

    _KERNEL.append(scan)
    return scan


def _read(data: bytes, schema: pa.Schema) -> pa.Table:
    starts, ends = split_json_list(data)
    if not len(starts):
        raise _Unsupported("empty list")  # the reference parser handles it
    if b"\n" in data or b"\r" in data:  # raw newlines can only be whitespace in valid JSON
        data = data.replace(b"\n", b" ").replace(b"\r", b" ")
    mv = memoryview(data)
    lines = b"\n".join([mv[s : e + 1] for s, e in zip(starts.tolist(), ends.tolist())])
    block = int(max(1 << 24, (ends - starts).max() + 2))
    try:
        return pj.read_json(
            pa.BufferReader(lines),
            read_options=pj.ReadOptions(block_size=block),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise _Unsupported(str(e)) from None


# ---------------------------------------------------------------------------------------
# Schemas: every release's field names, so absent ones read as null

_BOX = [("x", pa.float64()), ("y", pa.float64()), ("w", pa.float64()), ("h", pa.float64())]
_OBJ_FIELDS = [
    ("object_id", pa.int64()),
    ("id", pa.int64()),
    *_BOX,
    ("name", pa.string()),
    ("names", _STR_LIST),
    ("object_names", _STR_LIST),
    ("synsets", _STR_LIST),
    ("merged_object_ids", _INT_LIST),
]
_OBJ = pa.struct(_OBJ_FIELDS)
_ATTR = pa.struct([*_OBJ_FIELDS, ("attributes", _STR_LIST)])
_REL = pa.struct(
    [
        ("relationship_id", pa.int64()),
        ("id", pa.int64()),
        ("predicate", pa.string()),
        ("synsets", _STR_LIST),
        ("subject", _OBJ),
        ("object", _OBJ),
    ]
)
_REGION = pa.struct(
    [
        ("region_id", pa.int64()),
        ("id", pa.int64()),
        ("phrase", pa.string()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("width", pa.float64()),
        ("height", pa.float64()),
        ("w", pa.float64()),
        ("h", pa.float64()),
    ]
)


def _image_schema(key: str, item: pa.DataType) -> pa.Schema:
    return pa.schema([("image_id", pa.int64()), ("id", pa.int64()), (key, pa.list_(item))])


# ---------------------------------------------------------------------------------------
# Parsers (same output as visual_genome_schema's)


def fast_image_data(data: bytes, path: str) -> Tables:
    schema = pa.schema(
        [
            ("width", pa.int64()),
            ("w", pa.int64()),
            ("height", pa.int64()),
            ("h", pa.int64()),
            ("url", pa.string()),
            ("image_id", pa.int64()),
            ("id", pa.int64()),
            ("coco_id", pa.int64()),
            ("flickr_id", pa.int64()),
        ]
    )
    t = _read(data, schema)
    return {
        "images": pa.table(
            {
                "image_id": _required(pc.coalesce(t["image_id"], t["id"])),
                "width": _required(pc.coalesce(t["width"], t["w"])),
                "height": _required(pc.coalesce(t["height"], t["h"])),
                "url": t["url"].combine_chunks(),
                "coco_id": t["coco_id"].combine_chunks(),
                "flickr_id": t["flickr_id"].combine_chunks(),
            }
        )
    }


def fast_objects(data: bytes, path: str) -> Tables:
    image_ids, items, index = _flatten(_read(data, _image_schema("objects", _OBJ)), "objects")
    return {"objects": pa.table({"image_id": image_ids, **_object_columns(items)}), "index": index}


def fast_attributes(data: bytes, path: str) -> Tables:
    image_ids, items, index = _flatten(
        _read(data, _image_schema("attributes", _ATTR)), "attributes"
    )
    cols = _object_columns(items)
    cols["attributes"] = items.field("attributes")
    return {"attributes": pa.table({"image_id": image_ids, **cols}), "index": index}


def fast_relationships(data: bytes, path: str) -> Tables:
    image_ids, items, index = _flatten(
        _read(data, _image_schema("relationships", _REL)), "relationships"
    )
    cols = {
        "image_id": image_ids,
        "relationship_id": _required(
            pc.coalesce(items.field("relationship_id"), items.field("id"))
        ),
        "predicate": _nonnull(items.field("predicate")),
        "synsets": _or_empty(items.field("synsets"), _STR_LIST),
    }
    for end in ("subject", "object"):
        e = items.field(end)
        if e.null_count:
            raise _Unsupported(f"missing {end}")
        for k, v in _object_columns(e, with_names=False).items():
            cols[f"{end}_{k.removeprefix('object_')}"] = v
    return {"relationships": pa.table(cols), "index": index}


def fast_region_descriptions(data: bytes, path: str) -> Tables:
    image_ids, items, index = _flatten(_read(data, _image_schema("regions", _REGION)), "regions")
    return {
        "regions": pa.table(
            {
                "image_id": image_ids,
                "region_id": _required(pc.coalesce(items.field("region_id"), items.field("id"))),
                "phrase": _nonnull(items.field("phrase")),
                "x": _required(items.field("x")),
                "y": _required(items.field("y")),
                "w": _required(pc.coalesce(items.field("width"), items.field("w"))),
                "h": _required(pc.coalesce(items.field("height"), items.field("h"))),
            }
        ),
        "index": index,
    }


_QA_OBJ = pa.list_(pa.struct([("object_id", pa.int64()), ("id", pa.int64())]))
_QA = pa.struct(
    [
        ("qa_id", pa.int64()),
        ("id", pa.int64()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("q_objects", _QA_OBJ),
        ("a_objects", _QA_OBJ),
    ]
)
_GRAPH_REL = pa.struct(
    [
        ("relationship_id", pa.int64()),
        ("id", pa.int64()),
        ("predicate", pa.string()),
        ("synsets", _STR_LIST),
        ("subject_id", pa.int64()),
        ("object_id", pa.int64()),
    ]
)


def fast_question_answers(data: bytes, path: str) -> Tables:
    from visionbench.loaders.visual_genome_schema import question_type

    image_ids, items, index = _flatten(_read(data, _image_schema("qas", _QA)), "qas")
    question = _nonnull(items.field("question"))
    return {
        "qas": pa.table(
            {
                "image_id": image_ids,
                "qa_id": _required(pc.coalesce(items.field("qa_id"), items.field("id"))),
                "question": question,
                "answer": _nonnull(items.field("answer")),
                "qtype": pa.array([question_type(q) for q in question.to_pylist()], pa.string()),
                "q_object_ids": _object_ids(items.field("q_objects")),
                "a_object_ids": _object_ids(items.field("a_objects")),
            }
        ),
        "index": index,
    }


def fast_scene_graphs(data: bytes, path: str) -> Tables:
    schema = pa.schema(
        [
            ("image_id", pa.int64()),
            ("id", pa.int64()),
            ("objects", pa.list_(_ATTR)),
            ("relationships", pa.list_(_GRAPH_REL)),
        ]
    )
    t = _read(data, schema)
    obj_img, objs, obj_index = _flatten(t, "objects")
    rel_img, rels, rel_index = _flatten(t, "relationships")
    ocols = _object_columns(objs)
    ocols["attributes"] = objs.field("attributes")
    return {
        "objects": pa.table({"image_id": obj_img, **ocols}),
        "relationships": pa.table(
            {
                "image_id": rel_img,
                "relationship_id": _required(
                    pc.coalesce(rels.field("relationship_id"), rels.field("id"))
                ),
                "predicate": _nonnull(rels.field("predicate")),
                "synsets": _or_empty(rels.field("synsets"), _STR_LIST),
                "subject_id": _required(rels.field("subject_id")),
                "object_id": _required(rels.field("object_id")),
            }
        ),
        "object_index": obj_index,
        "relationship_index": rel_index,
    }


#: File name -> fast parser taking the file's bytes.
FAST_PARSERS: dict[str, Callable[[bytes, str], Tables]] = {
    "image_data.json": fast_image_data,
    "objects.json": fast_objects,
    "attributes.json": fast_attributes,
    "relationships.json": fast_relationships,
    "region_descriptions.json": fast_region_descriptions,
    "question_answers.json": fast_question_answers,
    "scene_graphs.json": fast_scene_graphs,
}


def try_fast(filename: str, data: bytes, path: str) -> Tables | None:
    """The fast parser's tables, or None when it cannot vouch for the input."""
    parser = FAST_PARSERS.get(filename)
    if parser is None:
        return None
    try:
        return parser(data, path)
    except _Unsupported:
        return None


# ---------------------------------------------------------------------------------------
# Helpers


def _flatten(t: pa.Table, key: str) -> tuple[np.ndarray, pa.StructArray, pa.Table]:
    ids = _required(pc.coalesce(t["image_id"], t["id"]))
    lists = t[key].combine_chunks()
    counts = pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64)
    stop = np.cumsum(counts)
    index = pa.table({"image_id": ids, "start": stop - counts, "stop": stop})
    items = pc.list_flatten(lists)
    if items.null_count:
        raise _Unsupported("null item")
    return np.repeat(ids, counts), items, index


def _object_columns(items: pa.StructArray, *, with_names: bool = True) -> dict[str, object]:
    names = pc.coalesce(
        items.field("names"), items.field("object_names"), _singleton(items.field("name"))
    )
    cols: dict[str, object] = {
        "object_id": _required(pc.coalesce(items.field("object_id"), items.field("id"))),
    }
    for c in ("x", "y", "w", "h"):
        cols[c] = _required(items.field(c))
    cols["name"] = _first(names)
    if with_names:
        cols["names"] = _or_empty(names, _STR_LIST)
    cols["synsets"] = _or_empty(items.field("synsets"), _STR_LIST)
    cols["merged_object_ids"] = _or_empty(items.field("merged_object_ids"), _INT_LIST)
    return cols


def _required(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise _Unsupported("missing required value")
    out = arr.to_numpy(zero_copy_only=False)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        raise _Unsupported("non-finite number")
    return out


def _nonnull(arr: pa.Array) -> pa.Array:
    if arr.null_count:
        raise _Unsupported("missing required value")
    return arr


def _object_ids(lists: pa.Array) -> pa.Array:
    """list<struct{object_id, id}> -> list<int64> of the ids (null lists -> [])."""
    lists = _or_empty(lists, _QA_OBJ)
    flat = lists.flatten()
    ids = (
        pc.coalesce(flat.field("object_id"), flat.field("id"))
        if len(flat)
        else pa.array([], pa.int64())
    )
    return pa.ListArray.from_arrays(lists.offsets, ids)


def _singleton(names: pa.Array) -> pa.Array:
    """[name] per row (null where name is null)."""
    offsets = pa.array(np.arange(len(names) + 1, dtype=np.int32))
    lists = pa.ListArray.from_arrays(offsets, names)
    return pc.if_else(pc.is_null(names), pa.scalar(None, _STR_LIST), lists)


def _first(lists: pa.Array) -> pa.Array:
    """First element of each list; null for null or empty lists."""
    n = len(lists)
    lens = pc.list_value_length(lists).fill_null(0).to_numpy()
    offsets = lists.offsets.to_numpy()[:n]
    values = lists.values
    idx = pa.array(offsets, mask=lens == 0)
    return values.take(idx) if n else pa.array([], pa.string())


def _or_empty(arr: pa.Array, type_: pa.DataType) -> pa.Array:
    return pc.coalesce(arr, pa.scalar([], type_))
