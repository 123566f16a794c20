"""The Arrow cache: built once, reopened identical, rebuilt when the source changes."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from visionbench.loaders.arrow_cache import (
    cache_key,
    cached_tables,
    source_identity,
)


class Builder:
    """Parses 'a,b' lines into a table and counts its calls."""

    def __init__(self, path: Path) -> None:
        self.path, self.calls = path, 0

    def __call__(self) -> dict[str, pa.Table]:
        self.calls += 1
        rows = [line.split(",") for line in self.path.read_text().splitlines()]
        return {
            "rows": pa.table({"a": [int(r[0]) for r in rows], "b": [r[1] for r in rows]}),
            "meta": pa.table({"n": [len(rows)]}),
        }


@pytest.fixture
def src(tmp_path: Path) -> Path:
    p = tmp_path / "src.txt"
    p.write_text("1,x\n2,y\n3,z\n")
    return p


def _entries(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.startswith("t-"))


def test_build_once_then_reopen_identical(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    b = Builder(src)
    first = cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    again = cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    assert b.calls == 1
    assert first["rows"].to_pydict() == {"a": [1, 2, 3], "b": ["x", "y", "z"]}
    assert again["rows"].equals(first["rows"]) and again["meta"].equals(first["meta"])
    (entry,) = _entries(cache)
    assert sorted(p.name for p in entry.iterdir()) == ["_complete.json", "meta.arrow", "rows.arrow"]
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name]


def test_changed_content_rebuilds_and_drops_stale(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    b = Builder(src)
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    old = _entries(cache)
    src.write_text("7,q\n")
    out = cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    assert b.calls == 2
    assert out["rows"].to_pydict() == {"a": [7], "b": ["q"]}
    assert _entries(cache) != old and len(_entries(cache)) == 1


def test_same_size_and_mtime_but_other_bytes_rebuilds(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    b = Builder(src)
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    st = src.stat()
    src.write_text("1,x\n2,y\n3,w\n")  # same length
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size and src.stat().st_mtime_ns == st.st_mtime_ns
    out = cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    assert b.calls == 2 and out["rows"].column("b").to_pylist() == ["x", "y", "w"]


def test_touch_only_rebuilds(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    b = Builder(src)
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    assert b.calls == 2


def test_version_and_options_are_part_of_the_key(src: Path) -> None:
    k = cache_key([src], kind="t", version="1")
    assert cache_key([src], kind="t", version="2") != k
    assert cache_key([src], kind="t", version="1", options={"aliases": True}) != k
    assert cache_key([src], kind="t", version="1") == k


def test_incomplete_entry_is_rebuilt(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    b = Builder(src)
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    (entry,) = _entries(cache)
    (entry / "_complete.json").unlink()  # as if killed before the marker was written
    cached_tables(src, b, kind="t", version="1", cache_dir=cache)
    assert b.calls == 2


def test_disabled_writes_nothing(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = cached_tables(src, Builder(src), kind="t", version="1", cache_dir=cache, enabled=False)
    assert out["meta"].column("n").to_pylist() == [3]
    assert not cache.exists()


def test_default_cache_dir_follows_visionbench_home(
    src: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    cached_tables(src, Builder(src), kind="t", version="1")
    (entry,) = (tmp_path / "home" / "arrow").iterdir()
    assert entry.name.startswith("t-") and (entry / "_complete.json").is_file()


def test_source_identity_hashes_both_ends(tmp_path: Path) -> None:
    p = tmp_path / "big.bin"
    p.write_bytes(b"a" * (3 << 20))
    ident = source_identity(p)
    assert ident["size"] == 3 << 20 and ident["path"] == str(p.resolve())
    data = bytearray(p.read_bytes())
    data[-1:] = b"b"  # last byte: inside the hashed last MiB
    p.write_bytes(bytes(data))
    assert source_identity(p)["edges"] != ident["edges"]


def test_reopened_tables_are_memory_mapped(src: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached_tables(src, Builder(src), kind="t", version="1", cache_dir=cache)
    before = pa.total_allocated_bytes()
    out = cached_tables(src, Builder(src), kind="t", version="1", cache_dir=cache)
    assert out["rows"].num_rows == 3
    assert pa.total_allocated_bytes() == before  # zero copy: nothing allocated by Arrow's pool
