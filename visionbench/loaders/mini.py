"""The built-in mini datasets: generated on first use into the cache, then loaded through
the same loaders as the real datasets."""

from __future__ import annotations

from pathlib import Path

from visionbench.loaders.imagenet import ImageNetFolder

__all__ = ["imagenet_mini"]


def _root(name: str, root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    from visionbench import synth

    return synth.ensure(name)


def imagenet_mini(root: str | Path | None = None, split: str = "val") -> ImageNetFolder:
    """imagenet-mini in the ``<split>/<wnid>/`` layout."""
    return ImageNetFolder(_root("imagenet-mini", root), split, name="imagenet-mini")
