"""``bench report``: the leaderboard written to a file in one format."""

from __future__ import annotations

import os
from pathlib import Path

from visionbench.engine.records import atomic_write_bytes, read_records
from visionbench.errors import VisionbenchError
from visionbench.leaderboard.table import export, filter_long, long_table

__all__ = ["REPORT_FORMATS", "write_report"]

#: ``bench report --format`` choices.
REPORT_FORMATS = ("html", "csv", "wide-csv", "md", "timm-csv")


def write_report(
    fmt: str,
    output: str | Path,
    *,
    results: str | Path | None = None,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
) -> Path:
    """Write the leaderboard of the records under ``results`` to ``output`` atomically.

    Args:
        fmt: one of :data:`REPORT_FORMATS` (``csv`` is the long table, ``wide-csv`` the
            pivot, ``timm-csv`` classification in timm's results columns).
        output: the file to write (its folder is created; an existing file is replaced
            only once the new one is complete).
        results: the results directory (default: :func:`~visionbench.engine.records.results_dir`).
        dataset, task: keep only this dataset / task.
        model: keep only models matching this glob (``fnmatch``, case-sensitive).

    Returns:
        The path written.
    """
    if fmt not in REPORT_FORMATS:
        raise VisionbenchError(
            f"unknown report format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}"
        )
    records = read_records(results)
    df = filter_long(long_table(records), dataset=dataset, task=task, model=model)
    text = export(df, fmt, records=records, results=results)
    path = Path(output).expanduser()
    atomic_write_bytes(path, text.encode("utf-8"))
    _chmod_like_open(path)
    return path


def _chmod_like_open(path: Path) -> None:
    """The permissions ``open(path, "w")`` would have given (0666 less the umask): the
    temporary file behind the atomic write is created 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
