"""``bench CMD ...`` runs an app holding only CMD (``cli._app_for``: typer builds every
registered command's click command on each call otherwise). Its help, its usage errors and
its exit codes must be the whole app's, command by command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from visionbench import cli
from visionbench.cli_errors import run_app

BENCH = shutil.which("bench") or str(Path(sys.executable).parent / "bench")


def _names() -> list[str]:
    from typer.main import get_command_name

    return [c.name or get_command_name(c.callback.__name__) for c in cli.app.registered_commands]


def _out(app, args, capsys) -> tuple[int, str, str]:
    rc = run_app(app, args)
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_every_command_is_dispatched_alone():
    names = _names()
    assert {"run", "eval", "leaderboard", "report", "compare", "export", "list"} <= set(names)
    for n in names:
        one = cli._app_for([n])
        assert one is not cli.app, n
        assert len(one.registered_commands) == 1, n
    # the root, sub-apps and unknown names: the whole app (its did-you-mean)
    for args in ([], ["--debug"], ["--help"], ["data", "synth"], ["evl"], ["nope", "x"]):
        assert cli._app_for(args) is cli.app, args
    assert cli._app_for(["--debug", "eval"]) is not cli.app


@pytest.mark.parametrize("name", _names())
@pytest.mark.parametrize(
    "tail", [["--help"], ["--no-such-option"], ["--debug-nope", "--help"]], ids=str
)
def test_help_and_usage_errors_equal_the_whole_apps(name, tail, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    whole = _out(cli.app, [name, *tail], capsys)
    alone = _out(cli._app_for([name, *tail]), [name, *tail], capsys)
    assert alone == whole
    assert whole[0] != 0 or "Usage:" in whole[1]


def test_console_script_help_and_error(tmp_path):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path), COLUMNS="100")
    p = subprocess.run([BENCH, "eval", "--help"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "Usage: bench eval [OPTIONS]" in p.stdout
    assert "--predictions" in p.stdout and "--metric-option" in p.stdout
    p = subprocess.run([BENCH, "eval", "--bootstrap", "-3", "--predictions", "x.json"],
                       capture_output=True, text=True, env=env)  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--bootstrap" in p.stderr and "bench eval --help" in p.stderr
    p = subprocess.run([BENCH, "evl"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "eval" in p.stderr  # did you mean: the whole app
