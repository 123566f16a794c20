"""Parse a big annotation file once, memory-map its columns ever after.

A builder turns a source file into named :class:`pyarrow.Table` s; :func:`cached_tables`
writes them as uncompressed Arrow IPC files under
``$VISIONBENCH_HOME/arrow/<stem>-<key>/<table>.arrow`` and, on the next call, opens them
with :func:`pyarrow.memory_map` (zero copy: reopening a multi-GB cache costs
milliseconds and only the pages later touched count towards RSS).

The cache key is the source's identity -- absolute path, size, ``mtime_ns`` and a
BLAKE2 hash of its first and last MiB -- plus the builder's ``kind`` and ``version`` and
any options that change the output. A changed (re-downloaded, edited) source therefore gets
a new key and is rebuilt; stale entries for the same source are removed after a
successful build. Writes go to a temporary directory beside the target and are renamed
into place, so a killed build leaves nothing half-made and concurrent builders agree on
one copy.

>>> tables = cached_tables(path, build_fn, kind="vg-relationships", version="1")
>>> tables["relationships"].column("predicate")
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from visionbench import paths

__all__ = [
    "source_identity",
    "cache_key",
    "cached_tables",
    "write_tables",
    "read_tables",
]

_EDGE = 1 << 20  # bytes hashed at each end of the source (1 MiB)
_DONE = "_complete.json"


def source_identity(path: str | Path) -> dict[str, Any]:
    """What identifies a source file's content, cheaply (no full read).

    Returns:
        ``{"path": absolute path, "size": bytes, "mtime_ns": int, "edges": hex digest}``
        where ``edges`` is BLAKE2b-128 over the first and last MiB.
    """
    p = Path(path).expanduser().resolve()
    st = p.stat()
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        h.update(f.read(_EDGE))
        if st.st_size > 2 * _EDGE:
            f.seek(st.st_size - _EDGE)
            h.update(f.read(_EDGE))
        elif st.st_size > _EDGE:
            h.update(f.read())
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "edges": h.hexdigest()}


def cache_key(
    sources: Sequence[str | Path],
    *,
    kind: str,
    version: str,
    options: Mapping[str, Any] | None = None,
) -> str:
    """20 hex digits over the sources' identities, ``kind``, ``version`` and ``options``."""
    payload = {
        "sources": [source_identity(s) for s in sources],
        "kind": kind,
        "version": version,
        "options": dict(options or {}),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.blake2b(blob, digest_size=10).hexdigest()


def cached_tables(
    sources: str | Path | Sequence[str | Path],
    build: Callable[[], Mapping[str, pa.Table]],
    *,
    kind: str,
    version: str,
    options: Mapping[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    enabled: bool = True,
) -> dict[str, pa.Table]:
    """Return ``build()``'s tables, from the cache when the sources have not changed.

    Args:
        sources: the file(s) ``build`` reads; their identity keys the cache.
        build: makes ``{table name: pyarrow.Table}`` from the sources (called at most once).
        kind: a short name for what is built (``"vg-objects"``); part of the directory name.
        version: the builder's output version; bump it when the builder changes.
        options: anything else that changes the output (JSON-serialisable).
        cache_dir: default :func:`visionbench.paths.cache_dir` (``$VISIONBENCH_HOME/arrow``).
        enabled: False builds in memory and writes nothing.

    Returns:
        Memory-mapped tables (or the freshly built ones when ``enabled`` is False).
    """
    srcs = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not enabled:
        return dict(build())
    root = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    key = cache_key(srcs, kind=kind, version=version, options=options)
    target = root / f"{kind}-{key}"
    if (target / _DONE).is_file():
        return read_tables(target)
    tables = dict(build())
    meta = {
        "kind": kind,
        "version": version,
        "options": dict(options or {}),
        "sources": [source_identity(s) for s in srcs],
        "tables": {n: t.num_rows for n, t in tables.items()},
    }
    write_tables(target, tables, meta)
    _remove_stale(root, kind, srcs, keep=target)
    return read_tables(target)


def write_tables(
    target: str | Path, tables: Mapping[str, pa.Table], meta: Mapping[str, Any]
) -> Path:
    """Write tables as ``<target>/<name>.arrow`` atomically (temp dir + rename).

    If ``target`` already exists complete (another process won the race), ours is dropped.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        for name, table in tables.items():
            with (
                pa.OSFile(str(tmp / f"{name}.arrow"), "wb") as sink,
                pa.ipc.new_file(sink, table.schema) as writer,
            ):
                writer.write_table(table, max_chunksize=max(table.num_rows, 1))
        (tmp / _DONE).write_text(json.dumps(meta, sort_keys=True, default=str))
        os.chmod(tmp, 0o755)
        if target.exists() and not (target / _DONE).is_file():
            _discard(target)  # left by a killed build: no completion marker
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _DONE).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_tables(target: str | Path) -> dict[str, pa.Table]:
    """Memory-map every ``<name>.arrow`` in ``target`` (zero copy)."""
    target = Path(target)
    out: dict[str, pa.Table] = {}
    for f in sorted(target.glob("*.arrow")):
        with pa.memory_map(str(f), "r") as source:
            out[f.stem] = pa.ipc.open_file(source).read_all()
    return out


def _remove_stale(root: Path, kind: str, sources: Sequence[str | Path], *, keep: Path) -> None:
    """Delete other complete entries of ``kind`` built from the same source paths."""
    paths = sorted(str(Path(s).expanduser().resolve()) for s in sources)
    for d in root.glob(f"{kind}-*"):
        if d == keep or not (d / _DONE).is_file():
            continue
        try:
            meta = json.loads((d / _DONE).read_text())
        except (OSError, ValueError):
            continue
        if sorted(s["path"] for s in meta.get("sources", [])) == paths:
            shutil.rmtree(d, ignore_errors=True)


def _discard(path: Path) -> None:
    """Move ``path`` aside (atomic) and delete it; tolerate a concurrent discard."""
    aside = path.with_name(f".{path.name}.stale-{os.getpid()}")
    try:
        os.rename(path, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)
