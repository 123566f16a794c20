"""``bench report``: the leaderboard written to a file in one format."""

from __future__ import annotations

import os
from pathlib import Path

from visionbench.errors import VisionbenchError
from visionbench.leaderboard.table import export, filter_long, long_table
from visionbench.paths import results_dir
from visionbench.records import atomic_write_bytes, read_records

__all__ = ["REPORT_FORMATS", "write_report"]

#: ``bench report --format`` choices.
REPORT_FORMATS = ("html", "csv", "wide-csv", "json", "md", "timm-csv")

#: File name of a report written into the results directory, by format.
DEFAULT_NAMES = {
    "html": "report.html",
    "csv": "report.csv",
    "wide-csv": "report-wide.csv",
    "json": "report.json",
    "md": "report.md",
    "timm-csv": "report-timm.csv",
}


def write_report(
    fmt: str,
    output: str | Path | None = None,
    *,
    results: str | Path | None = None,
    dataset: str | None = None,
    task: str | None = None,
    model: str | None = None,
    all_runs: bool = False,
) -> Path:
    """Write the leaderboard of the records under ``results`` to ``output`` atomically.

    Args:
        fmt: one of :data:`REPORT_FORMATS` (``csv`` is the long table, ``wide-csv`` the
            pivot, ``timm-csv`` classification in timm's results columns).
        output: the file to write (its folder is created; an existing file is replaced
            only once the new one is complete); None: :data:`DEFAULT_NAMES` in the
            results directory.
        results: the results directory (default: :func:`~visionbench.paths.results_dir`).
        dataset, task: keep only this dataset / task.
        model: keep only models matching this glob (``fnmatch``, case-sensitive).
        all_runs: also show subset and random-weight runs (unranked, marked).

    Returns:
        The path written.
    """
    if fmt not in REPORT_FORMATS:
        raise VisionbenchError(
            f"unknown report format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}"
        )
    records = read_records(results)
    df = filter_long(long_table(records), dataset=dataset, task=task, model=model)
    text = export(df, fmt, records=records, results=results, all_runs=all_runs)
    path = (
        Path(output).expanduser()
        if output is not None
        else results_dir(results) / DEFAULT_NAMES[fmt]
    )
    atomic_write_bytes(path, text.encode("utf-8"))
    _chmod_like_open(path)
    return path


def _chmod_like_open(path: Path) -> None:
    """The permissions ``open(path, "w")`` would have given (0666 less the umask): the
    temporary file behind the atomic write is created 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
