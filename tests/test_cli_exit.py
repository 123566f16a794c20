"""The console script ends without the interpreter's teardown (``cli.entry``: 2-3 s after
a run that imported torch), yet as the interpreter would: threads joined, atexit handlers
run, streams flushed, the command's status; and a Ctrl-C while a run scores or writes
reports the predictions it saved."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

CODE = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    out = Path(sys.argv[1])
    atexit.register(lambda: (out / "atexit").write_text("ran"))
    def late():
        time.sleep(0.3)
        (out / "thread").write_text("joined")
    threading.Thread(target=late).start()
    from concurrent.futures import ThreadPoolExecutor
    ex = ThreadPoolExecutor(1)  # never shut down: the threading shutdown does it
    ex.submit(lambda: None).result()
    print("printed, not yet flushed", end="")
    import visionbench.cli as cli
    cli._fast_exit(int(sys.argv[2]))
    """
)


@pytest.mark.parametrize("rc", [0, 3])
def test_fast_exit_joins_threads_runs_atexit_flushes_and_keeps_the_status(tmp_path, rc):
    p = subprocess.run([sys.executable, "-c", CODE, str(tmp_path), str(rc)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == rc, p.stderr
    assert p.stdout == "printed, not yet flushed"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"


def test_entry_keeps_sys_exit_messages_and_codes(tmp_path):
    code = "import sys, visionbench.cli as c; c.main = lambda: sys.exit({!r}); c.entry()"
    for arg, rc, err in ((None, 0, ""), (4, 4, ""), ("a message", 1, "a message")):
        p = subprocess.run([sys.executable, "-c", code.format(arg)], capture_output=True,
                           text=True, timeout=120)  # fmt: skip
        assert p.returncode == rc and p.stderr.strip() == err, (arg, p.returncode, p.stderr)
    env = dict(os.environ, VISIONBENCH_FAST_EXIT="0")  # the ordinary exit
    p = subprocess.run([sys.executable, "-c", code.format(5)], capture_output=True, text=True,
                       timeout=120, env=env)  # fmt: skip
    assert p.returncode == 5


def test_ctrl_c_while_scoring_reports_the_saved_predictions(tmp_path, monkeypatch, capsys):
    """KeyboardInterrupt after the loop (scoring, intervals, record): every prediction is in
    the cache; the message says how many and how to continue, and --resume finishes the
    run from the cache."""
    from visionbench import cli
    from visionbench.cli_errors import run_app
    from visionbench.engine import run as run_mod

    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    results = tmp_path / "res"
    args = ["run", "--model", "demo-detector", "--dataset", "coco-mini", "--workers", "0",
            "-q", "--results", str(results), "--bootstrap", "20"]  # fmt: skip
    real = run_mod.attach_intervals

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "attach_intervals", interrupted)
    assert run_app(cli.app, args) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("interrupted: ") and "predictions saved in" in err, err
    saved = int(err.split("interrupted: ", 1)[1].split()[0])
    assert saved > 0 and not list((results / "records").glob("*.json"))
    monkeypatch.setattr(run_mod, "attach_intervals", real)
    assert run_app(cli.app, [*args, "--resume"]) == 0
    assert len(list((results / "records").glob("*.json"))) == 1
