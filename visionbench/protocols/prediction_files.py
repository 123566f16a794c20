"""Reading and writing the prediction files of the protocols: JSON in and out, atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from visionbench.errors import AnnotationError

__all__ = ["load_json", "write_json", "check_exists"]


def check_exists(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise AnnotationError("predictions not found", path=str(p))
    return p


def load_json(p: Path) -> Any:
    """Parse a JSON file (orjson; Python's json for NaN/Infinity tokens so the checks can
    name the row)."""
    import orjson

    data = p.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        import json

        try:
            return json.loads(data)
        except ValueError:
            raise AnnotationError(f"not valid JSON: {e}", path=str(p)) from None


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename)."""
    import orjson

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
