"""The CLI's error boundary (visionbench/cli_errors.py): in process for the error classes
a subprocess cannot provoke portably (a read-only file system, a bug), and Ctrl-C through
the installed console script."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer

from visionbench.cli_errors import resume_command, run_app
from visionbench.errors import AnnotationError


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def go(n: int = typer.Option(1, min=1)) -> None:
        raise exc

    @app.command()
    def other() -> None:
        pass

    return app


@pytest.mark.parametrize(
    "exc, line",
    [
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/records"), "error: /mnt/ro/records: read-only file system"),
        (PermissionError(errno.EACCES, "Permission denied", "/root/x"), "error: /root/x: permission denied"),
        (OSError(errno.ENOSPC, "No space left on device", "/r/x.json"), "error: /r/x.json: no space left on the device"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/a/file/records"), "error: /a/file/records: a file is in the way where a folder is expected"),
        (AnnotationError("bad [/] thing [bold]x[/bold]", path="f[/].json", field="bbox", id=3), "error: bad [/] thing [bold]x[/bold] (file=f[/].json, field=bbox, id=3)"),
        (AnnotationError("two\nlines"), "error: two lines"),
        (RecursionError("maximum recursion depth exceeded"), "error: input is nested too deeply"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_exit_2(exc, line, capsys):
    assert run_app(_app(exc), ["go"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [err.strip()] and err.strip().startswith(line), err


def test_a_bug_is_one_line_exit_1_and_debug_keeps_the_traceback(capsys, monkeypatch):
    assert run_app(_app(ZeroDivisionError("division by zero")), ["go"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: internal error: ZeroDivisionError: division by zero")
    assert "--debug" in err and "\n" not in err
    monkeypatch.setenv("VISIONBENCH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        run_app(_app(ZeroDivisionError("x")), ["go"])


def test_usage_errors_of_the_vendored_click_are_one_line(capsys):
    app = _app(RuntimeError("never"))
    for argv, needle in (
        (["go", "--n", "0"], "Invalid value for '--n'"),
        (["go", "--m", "1"], "No such option: --m"),
        (["gox"], "No such command 'gox'"),
    ):
        assert run_app(app, argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_keyboard_interrupt_outside_a_run_exits_130(capsys):
    assert run_app(_app(KeyboardInterrupt()), ["go"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted: interrupted; nothing was saved"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "--model", "m", "--dataset", "d"], "bench run --model m --dataset d --resume"),
        (["run", "--model", "m", "--fresh"], "bench run --model m --resume"),
        (
            ["run", "--resume", "--data-root", "/a b/[x]"],
            "bench run --resume --data-root '/a b/[x]'",
        ),
    ],
)
def test_resume_command(argv, expected):
    assert resume_command(argv) == expected


def _bench() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "visionbench"]


@pytest.mark.slow
def test_ctrl_c_during_a_run_says_what_was_saved_and_resumes(tmp_path):
    """SIGINT after the first prediction shard: exit 130, one line with the saved count and
    the --resume command; that command finishes the run."""
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="250")
    results = tmp_path / "res"
    args = ["run", "--model", "demo-detector", "--dataset", "coco-mini", "--batch-size", "1",
            "--workers", "0", "-q", "--results", str(results)]  # fmt: skip
    for _attempt in range(3):
        p = subprocess.Popen(_bench() + args, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not list(results.glob("work/*/predictions/*.parquet")):
            assert p.poll() is None, "the run ended before it was interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            break
        # on a loaded machine this process can be descheduled between seeing the first
        # shard and signalling, and the run finishes first (exit 0, its record written):
        # not what this test is about; run it again
        assert len(list((results / "records").glob("*.json"))) == 1, err
        shutil.rmtree(results)
    assert p.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    assert "predictions saved in" in lines[0] and "Traceback" not in err
    cmd = lines[0].split("continue with: ", 1)[1]
    assert cmd.startswith("bench run ") and cmd.endswith("--resume")
    again = subprocess.run(
        _bench() + shlex.split(cmd)[1:], env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert len(list((results / "records").glob("*.json"))) == 1


@pytest.fixture
def wrong_factories(tmp_path):
    """A user package whose model and dataset factories return something else."""
    pkg = tmp_path / "pkg" / "vbwrong"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "factories.py").write_text(
        "def model(**kw):\n    return ['not', 'a', 'model']\n"
        "def dataset(root=None, split='val'):\n    return {'root': root, 'split': split}\n"
    )
    path = os.pathsep.join([str(tmp_path / "pkg"), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="300")


@pytest.mark.parametrize(
    "args, line",
    [
        (["run", "--model", "vbwrong.factories:model", "--dataset", "imagenet-mini"],
         "error: user model factory 'vbwrong.factories:model' returned list; expected a "
         "ModelAdapter, a tuple (module, task, label_space[, preprocess]) or a dict with those "
         "keys (factory name 'model')"),
        (["run", "--model", "demo-cnn", "--dataset", "vbwrong.factories:dataset"],
         "error: dataset 'vbwrong.factories:dataset' is a dict, not a visionbench Dataset "
         "(missing: name, task, label_space, split, root, ground_truth; see "
         "visionbench.tasks.Dataset)"),
        (["eval", "--dataset", "vbwrong.factories:dataset", "--predictions", "p.json"],
         "error: dataset 'vbwrong.factories:dataset' is a dict, not a visionbench Dataset "
         "(missing: name, task, label_space, split, root, ground_truth; see "
         "visionbench.tasks.Dataset)"),
    ],
)  # fmt: skip
def test_a_user_factory_returning_a_wrong_object_is_one_line(wrong_factories, tmp_path, args, line):
    (tmp_path / "p.json").write_text("[]")
    p = subprocess.run(_bench() + args, env=wrong_factories, cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines() == [line]
