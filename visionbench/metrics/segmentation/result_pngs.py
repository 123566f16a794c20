"""Which result PNG in a folder belongs to which frame: the one pairing of segmentation
predictions with their ground truth (``bench eval`` for Cityscapes, ADE20K, VOC, and
:func:`~visionbench.metrics.segmentation.cityscapes_files.find_cityscapes_predictions`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from visionbench.metrics.errors import MetricInputError

__all__ = ["pair_result_pngs"]

_SHOW = 10  # frames named in an error message


def pair_result_pngs(
    folder: str | os.PathLike[str], sample_ids: Sequence[Any], *, separator: str = "_"
) -> list[Path]:
    """The one PNG of each sample id, searched recursively under ``folder``.

    A file belongs to sample ``id`` when its name is ``<id>.png`` or starts with ``id``
    followed by ``separator`` (``<id>_pred.png``, ``<id>_leftImg8bit.png``); with
    ``separator=""`` any continuation counts (``<id>*.png``, cityscapesScripts'
    ``getPrediction`` rule). A name that fits several ids belongs to the longest.
    O(files x name length + samples).

    Returns:
        One path per sample id, in ``sample_ids`` order.

    Raises:
        MetricInputError: ``folder`` is not a folder, or some samples have no or several
            PNGs (the message names the folder, up to ten such samples and the files).
    """
    root = Path(folder)
    if not root.is_dir():
        raise MetricInputError(f"{root}: segmentation results must be a folder of PNGs")
    wanted = {str(s) for s in sample_ids}
    hits: dict[str, list[Path]] = {}
    for f in root.rglob("*.png"):
        key = _owner(f.name[:-4], wanted, separator)
        if key is not None:
            hits.setdefault(key, []).append(f)
    bad = [str(s) for s in sample_ids if len(hits.get(str(s), [])) != 1]
    if bad:
        desc = ", ".join(_describe(s, sorted(hits.get(s, []))) for s in bad[:_SHOW])
        more = f", and {len(bad) - _SHOW} more" if len(bad) > _SHOW else ""
        pattern = "<id>*.png" if not separator else f"<id>.png or <id>{separator}*.png"
        raise MetricInputError(
            f"{root}: {len(bad)} frames without exactly one result PNG: {desc}{more} "
            f"(expected one file named {pattern})"
        )
    return [hits[str(s)][0] for s in sample_ids]


def _owner(stem: str, wanted: set[str], separator: str) -> str | None:
    """The longest id in ``wanted`` that ``stem`` is, or starts with (+ ``separator``)."""
    if stem in wanted:
        return stem
    if not separator:
        for cut in range(len(stem) - 1, 0, -1):
            if stem[:cut] in wanted:
                return stem[:cut]
        return None
    cut = stem.rfind(separator)
    while cut > 0:
        if stem[:cut] in wanted:
            return stem[:cut]
        cut = stem.rfind(separator, 0, cut)
    return None


def _describe(sample_id: str, files: list[Path]) -> str:
    if not files:
        return f"{sample_id} (none)"
    names = ", ".join(f.name for f in files[:3]) + (", ..." if len(files) > 3 else "")
    return f"{sample_id} ({len(files)} files: {names})"
