"""Progress of a run's loop: a rich bar on a terminal; without one (SLURM, CI logs) a plain
line every few seconds and at the end, on stderr. The run log gets the lines either way."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

__all__ = ["LoopProgress", "ProgressLines", "progress_bar"]


class LoopProgress:
    """The bar (on a terminal) and the lines (always logged; on stderr without a
    terminal), advanced together. A context manager around the loop."""

    def __init__(
        self, total: int, label: str, log: logging.Logger, *, show: bool, every_s: float
    ) -> None:
        tty = sys.stderr.isatty()
        self._bar_cm = progress_bar(show and tty, total, label)
        self.lines = ProgressLines(total, label, log, stderr=show and not tty, every_s=every_s)
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> LoopProgress:
        self._bar = self._bar_cm.__enter__()
        self._task = self._bar.add_task("predict", total=self.total) if self._bar else None
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar_cm.__exit__(*exc)

    def advance(self, n: int) -> None:
        if self._bar:
            self._bar.update(self._task, advance=n)
        self.lines.advance(n)

    def finish(self) -> None:
        self.lines.finish()


class ProgressLines:
    """Progress as plain lines for batch jobs: every ``every_s`` seconds and at the end,
    ``<label>: done/total samples (pct), img/s, ETA``, on stderr (when ``stderr``) and in
    the run log (always)."""

    def __init__(
        self, total: int, label: str, log: logging.Logger, *, stderr: bool, every_s: float
    ) -> None:
        self.total, self.label, self.log, self.stderr, self.every_s = (
            total, label, log, stderr, every_s,
        )  # fmt: skip
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            self._emit(now)

    def finish(self) -> None:
        self._emit(time.perf_counter(), final=True)

    def _emit(self, now: float, *, final: bool = False) -> None:
        el = now - self.t0
        rate = self.done / el if el > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        if final:
            tail = f"done in {_hms(el)}"
        else:
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            tail = f"ETA {_hms(eta)}"
        line = (
            f"{self.label}: {self.done:,}/{self.total:,} samples ({pct:.0f}%), "
            f"{rate:,.1f} img/s, {tail}"
        )
        self.log.info("progress %s", line)
        if self.stderr:
            print(line, file=sys.stderr, flush=True)


def progress_bar(show: bool, total: int, label: str) -> Any:
    """A rich progress bar (a context manager yielding it), or one yielding None."""
    if not show:
        return _NoBar()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} img/s" if task.speed else "- img/s")

    return Progress(
        # the label holds user strings: text, not markup, and no str.format fields
        TextColumn(label.replace("{", "{{").replace("}", "}}"), style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        _Speed(),
        TimeRemainingColumn(),
    )


def _hms(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _NoBar:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None
