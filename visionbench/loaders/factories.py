"""Factories for the real datasets: resolve the root, then build the loader."""

from __future__ import annotations

import os
from pathlib import Path

from visionbench.errors import DatasetNotFoundError
from visionbench.loaders.imagenet import ImageNetFolder

__all__ = ["find_root", "imagenet"]


def find_root(name: str, root: str | Path | None) -> Path:
    """``root`` if given, else ``$VISIONBENCH_DATA/<name>``; a clear error says where we looked."""
    if root is not None:
        p = Path(root).expanduser()
        if not p.exists():
            raise DatasetNotFoundError(f"{name}: data root {p} does not exist")
        return p
    env = os.environ.get("VISIONBENCH_DATA")
    if env and (Path(env) / name).exists():
        return Path(env) / name
    looked = f"$VISIONBENCH_DATA/{name} ({env}/{name})" if env else "$VISIONBENCH_DATA (unset)"
    raise DatasetNotFoundError(
        f"dataset {name!r} not found: pass --data-root DIR; looked in {looked}"
    )


def imagenet(root: str | Path | None = None, split: str = "val") -> ImageNetFolder:
    return ImageNetFolder(find_root("imagenet", root), split)
