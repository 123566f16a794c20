"""The release files of one Visual Genome directory, each parsed once into the Arrow cache.

:class:`VisualGenomeFiles` resolves a file name to its tables (see
:data:`visual_genome_schema.PARSERS`): the first call parses the file -- through Arrow's JSON
reader (:mod:`visual_genome_columnar`) when it can vouch for the input, else orjson and the
reference parser, which names the file, field and id of a bad value -- and stores the
tables in the Arrow cache (:mod:`arrow_cache`); later calls, in any process, memory-map them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.arrow_cache import cached_tables
from visionbench.loaders.visual_genome_columnar import try_fast
from visionbench.loaders.visual_genome_schema import PARSERS, parse_alias_text

__all__ = ["SCHEMA_VERSION", "VisualGenomeFiles", "load_json", "parse_file", "not_found_message"]

#: Output version of the parsers; part of the cache key.
SCHEMA_VERSION = "1"

_PUBLISHED = "https://homes.cs.washington.edu/~ranjay/visualgenome/api.html"


def load_json(path: str | Path) -> Any:
    """``orjson.loads`` of a file; a syntax error becomes an :class:`AnnotationError`."""
    import orjson

    try:
        return orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as e:
        raise AnnotationError(f"invalid JSON: {e}", path=str(path)) from None


def parse_file(
    path: Path, parser: Callable[[Any, str], dict[str, pa.Table]] | None = None
) -> dict[str, pa.Table]:
    """Parse one release file: Arrow's JSON reader when it can vouch for the file
    (:mod:`visual_genome_columnar`), else ``orjson`` + the reference parser (precise errors)."""
    import gc

    data = Path(path).read_bytes()
    tables = try_fast(path.name, data, str(path))
    if tables is not None:
        return tables
    parser = parser or PARSERS[path.name]
    enabled = gc.isenabled()
    gc.disable()  # parsing JSON makes no reference cycles; skip the collector's passes
    try:
        import orjson

        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise AnnotationError(f"invalid JSON: {e}", path=str(path)) from None
        del data
        return parser(decoded, str(path))
    finally:
        if enabled:
            gc.enable()


class VisualGenomeFiles:
    """The release files in one VG directory, each parsed once into the Arrow cache.

    Args:
        root: the directory holding the JSON files.
        cache: False parses in memory every time (no files written).
        cache_dir: default ``$VISIONBENCH_HOME/arrow``.
    """

    def __init__(
        self, root: str | Path, *, cache: bool = True, cache_dir: str | Path | None = None
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetNotFoundError(not_found_message(self.root, "directory does not exist"))
        self.cache, self.cache_dir = cache, cache_dir
        self._tables: dict[str, dict[str, pa.Table]] = {}

    def has(self, filename: str) -> bool:
        return (self.root / filename).is_file()

    def path(self, filename: str) -> Path:
        p = self.root / filename
        if not p.is_file():
            raise DatasetNotFoundError(not_found_message(self.root, f"{filename} is missing"))
        return p

    def tables(self, filename: str) -> dict[str, pa.Table]:
        """The parsed tables of ``filename`` (see :data:`visual_genome_schema.PARSERS`)."""
        if filename not in self._tables:
            parser = PARSERS.get(filename)
            if parser is None:
                raise AnnotationError(f"no parser for {filename!r}; known: {', '.join(PARSERS)}")
            path = self.path(filename)
            self._tables[filename] = cached_tables(
                path,
                lambda: parse_file(path, parser),
                kind=f"vg-{filename.removesuffix('.json')}",
                version=SCHEMA_VERSION,
                cache_dir=self.cache_dir,
                enabled=self.cache,
            )
        return self._tables[filename]

    def table(self, filename: str, name: str) -> pa.Table:
        return self.tables(filename)[name]

    def aliases(self, kind: str) -> dict[str, str]:
        """``{alias: canonical}`` from ``object_alias.txt`` or ``relationship_alias.txt``."""
        return parse_alias_text(self.path(f"{kind}_alias.txt").read_text(encoding="utf-8"))

    @property
    def version(self) -> str:
        """``"1.0"``, ``"1.2"`` or ``"1.4"``, from the keys in the files' first bytes."""
        if self.has("objects.json"):
            head = _head(self.root / "objects.json")
            if "merged_object_ids" in head:
                return "1.4"
            return "1.2" if '"object_id"' in head else "1.0"
        if self.has("image_data.json"):
            return "1.2" if '"image_id"' in _head(self.root / "image_data.json") else "1.0"
        return "unknown"

    def images(self, order_from: str = "objects.json") -> pa.Table:
        """``image_data.json``'s table, or image ids (no sizes) from ``order_from``'s index."""
        if self.has("image_data.json"):
            return self.table("image_data.json", "images")
        idx = self._index(order_from)
        n = len(idx)
        return pa.table(
            {
                "image_id": idx.column("image_id"),
                "width": pa.nulls(n, pa.int64()),
                "height": pa.nulls(n, pa.int64()),
                "url": pa.nulls(n, pa.string()),
            }
        )

    def _index(self, filename: str) -> pa.Table:
        t = self.tables(filename)
        return t["index"] if "index" in t else t["object_index"]


def _head(path: Path, n: int = 4096) -> str:
    with open(path, "rb") as f:
        return f.read(n).decode("utf-8", "replace")


def not_found_message(root: Path, why: str) -> str:
    return (
        f"Visual Genome not found at {root}: {why}. Expected layout: {root}/image_data.json, "
        "objects.json, relationships.json, attributes.json, region_descriptions.json, ... and the "
        f"images in {root}/VG_100K/, VG_100K_2/ (or images/<image_id>.jpg). The official files are "
        f"published at {_PUBLISHED} (download by hand; nothing is fetched at run time)"
    )
