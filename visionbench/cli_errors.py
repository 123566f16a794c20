"""The CLI's error boundary: every error a user can cause becomes one line on stderr.

``bench`` calls :func:`run_app`; it runs the typer app in non-standalone mode and maps

- usage errors (unknown option or command, missing or invalid value) -> ``error: ...``,
  exit 2. typer >= 0.16 vendors its own click (``typer._click``) whose exceptions are not
  ``click.ClickException``; both families are recognised.
- the project's errors (:data:`visionbench.errors.USER_ERRORS`), OS errors (read-only or
  full disk, a file where a folder is expected, permissions), decoding errors -> one line,
  exit 2.
- Ctrl-C -> what was saved and the command that continues the run, exit 130.
- anything else (a bug) -> one line that asks for ``--debug`` and a report, exit 1.

``--debug`` (or ``VISIONBENCH_DEBUG=1``) re-raises, for the traceback. Messages are printed
as plain text, never as Rich markup: a path or a name holding ``[/]`` prints as it is.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from typing import Any

__all__ = ["run_app", "error_line", "print_error", "print_line", "resume_command"]

#: exit codes
USAGE = 2
INTERRUPTED = 130
BUG = 1


def run_app(app: Any, argv: list[str] | None = None) -> int:
    """Run the typer ``app`` on ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    import warnings

    from visionbench.errors import USER_ERRORS

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("VISIONBENCH_DEBUG", "") not in ("", "0")
    # warnings are for users here: one line, no source line of ours
    saved_format = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *a, **k: f"warning: {_flat(str(message))}\n"
    try:
        return _run(app, args, debug, USER_ERRORS)
    finally:
        warnings.formatwarning = saved_format


def _run(
    app: Any, args: list[str], debug: bool, user_errors: tuple[type[BaseException], ...]
) -> int:
    usage_errors = _click_exception_classes()
    aborts = _abort_classes()
    try:
        rc = app(args=args, standalone_mode=False)
    except usage_errors as e:  # type: ignore[misc]
        if debug:
            raise
        return _usage_error(e)
    except KeyboardInterrupt as e:  # typer turns most into exit 130 itself; the rest here
        if debug:
            raise
        print_error(str(e) or "interrupted", prefix="interrupted")
        return INTERRUPTED
    except aborts:  # type: ignore[misc]
        print_error("aborted", prefix="interrupted")
        return INTERRUPTED
    except user_errors as e:
        if debug:
            raise
        print_error(error_line(e))
        return USAGE
    except OSError as e:
        if debug:
            raise
        if e.errno == errno.EPIPE:  # `bench leaderboard | head`
            return 0
        print_error(_os_error_line(e))
        return USAGE
    except (UnicodeError, RecursionError, MemoryError) as e:
        if debug:
            raise
        print_error(_decode_error_line(e))
        return USAGE
    except Exception as e:
        if debug:
            raise
        print_error(
            f"internal error: {type(e).__name__}: {error_line(e)} (rerun with `bench --debug ...` "
            "for the traceback and report it)"
        )
        return BUG
    if rc == INTERRUPTED and not _interrupt_reported:
        print_error("interrupted; nothing was saved", prefix="interrupted")
    return rc if isinstance(rc, int) else 0


_interrupt_reported = False


def report_written(path: Any) -> None:
    """Ctrl-C after a command wrote its run record (while it printed): say where it is."""
    global _interrupt_reported
    _interrupt_reported = True
    print_error(f"the run record was written: {path}", prefix="interrupted")


def report_interrupt(saved: int, where: str, argv: list[str] | None = None) -> None:
    """Ctrl-C during ``bench run``: say what was kept and how to continue."""
    global _interrupt_reported
    _interrupt_reported = True
    print_error(
        f"{saved} predictions saved in {where}; continue with: {resume_command(argv)}",
        prefix="interrupted",
    )


def resume_command(argv: list[str] | None = None) -> str:
    """The command line that continues this run: ``--resume`` added, ``--fresh`` removed."""
    args = [a for a in (sys.argv[1:] if argv is None else argv) if a not in ("--fresh",)]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["bench", *args])


def error_line(e: BaseException) -> str:
    """``str(e)`` on one line (never empty)."""
    s = _flat(str(e))
    if isinstance(e, KeyError) and len(e.args) == 1 and s == repr(e.args[0]):
        s = str(e.args[0])
    return s or type(e).__name__


def print_error(message: str, *, prefix: str = "error") -> None:
    """``prefix: message`` on stderr, one line, message as plain text (no markup)."""
    from rich.text import Text

    line = Text.assemble((f"{prefix}:", "bold red"), " ", _flat(message))
    _err_console().print(line, soft_wrap=True, highlight=False)


def print_line(console: Any, *parts: str | tuple[str, str]) -> None:
    """Print ``parts`` (plain strings, or ``(text, style)``) as text on ``console``."""
    if getattr(console, "is_plain", False):  # not a terminal: the text itself, no rich
        text = "".join(p if isinstance(p, str) else p[0] for p in parts)
        print(text, file=console.stream)
        return
    from rich.text import Text

    console.print(Text.assemble(*parts), soft_wrap=True, highlight=False)


# ---------------------------------------------------------------------------------------
# helpers


def _flat(s: str) -> str:
    return " ".join(s.split())


_ERR_CONSOLE: Any = None


def _err_console() -> Any:
    global _ERR_CONSOLE
    if _ERR_CONSOLE is None:
        from rich.console import Console

        _ERR_CONSOLE = Console(stderr=True)
    return _ERR_CONSOLE


def _click_exception_classes() -> tuple[type[BaseException], ...]:
    """click's and typer's (vendored click) exception base classes, whichever exist."""
    return _loaded_classes(
        (("typer._click.exceptions", "ClickException"), ("typer.exceptions", "TyperException"),
         ("click.exceptions", "ClickException"))
    )  # fmt: skip


def _abort_classes() -> tuple[type[BaseException], ...]:
    mods = ("typer.exceptions", "typer._click.exceptions", "click.exceptions")
    return _loaded_classes(tuple((m, "Abort") for m in mods))


def _loaded_classes(where: tuple[tuple[str, str], ...]) -> tuple[type[BaseException], ...]:
    """The exception classes ``(module, name)`` that exist. click itself is only looked at
    when something imported it (a typer that vendors click never raises its exceptions;
    importing it costs ~10 ms of every ``bench`` call)."""
    classes: list[type[BaseException]] = []
    for mod, name in where:
        if mod.startswith("click.") and "click" not in sys.modules:
            continue
        try:
            m = __import__(mod, fromlist=[name])
        except ImportError:
            continue
        c = getattr(m, name, None)
        if isinstance(c, type) and issubclass(c, BaseException):
            classes.append(c)
    return tuple(classes)


def _usage_error(e: Any) -> int:
    """click / typer usage errors: their message on one line, and where to get help."""
    try:
        msg = e.format_message()
    except Exception:
        msg = str(e)
    ctx = getattr(e, "ctx", None)
    hint = ""
    if ctx is not None:
        try:
            hint = f" (see `{ctx.command_path} --help`)"
        except Exception:
            hint = ""
    print_error(f"{msg}{hint}")
    code = getattr(e, "exit_code", USAGE)
    return USAGE if code in (1, 2) or not isinstance(code, int) else code


def _os_error_line(e: OSError) -> str:
    what = {
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOSPC: "no space left on the device",
        errno.ENOTDIR: "a file is in the way where a folder is expected",
        errno.EISDIR: "is a folder, expected a file",
        errno.EEXIST: "already exists",
        errno.ENOENT: "no such file or folder",
        errno.ENAMETOOLONG: "file name too long",
    }.get(e.errno or -1, e.strerror or type(e).__name__)
    names = [n for n in (e.filename, getattr(e, "filename2", None)) if n is not None]
    where = " -> ".join(os.fsdecode(n) if isinstance(n, bytes) else str(n) for n in names)
    if not where:
        return f"{what}: {error_line(e)}" if e.strerror is None else what
    return f"{where}: {what}"


def _decode_error_line(e: BaseException) -> str:
    if isinstance(e, UnicodeDecodeError):
        return f"input is not valid UTF-8 text (byte {e.start}: {e.reason})"
    if isinstance(e, RecursionError):
        return "input is nested too deeply to be read (a JSON file nested thousands of levels?)"
    if isinstance(e, MemoryError):
        return "out of memory while reading the input (a size field far too large?)"
    return error_line(e)
