"""First run of the built-in demo: `bench run` with no arguments, from empty caches.

Target (issue 16): within 2 minutes on 2 CPU cores, data generation included. Each repeat
runs the console script in a subprocess with every cache a first run finds empty:

- ``VISIONBENCH_HOME`` (mini datasets, Arrow caches, results): a new empty folder;
- ``NUMBA_CACHE_DIR`` and ``MPLCONFIGDIR``: new empty folders (numba kernels compile,
  matplotlib builds its font cache, as on a first run);
- with ``--cold-bytecode`` also ``PYTHONPYCACHEPREFIX``: no ``.pyc`` of any package is
  reused, every imported module is compiled again. That is more than a fresh virtual
  environment costs (``pip install`` compiles the installed packages' bytecode), so it is an
  upper bound.

It pins the process to 2 cores (``taskset``, where available), checks that the five runs'
records and the HTML report were written and that the leaderboard was printed, and prints
wall time and CPU time (user + sys of the process tree) per repeat and their medians. Exit
code 1 when the median wall time exceeds the budget.

    python benchmarks/demo_first_run.py [--repeats 3] [--budget 120] [--cores 0,1]

Installing the package is not timed here (see the README's install section).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPECTED = {
    ("demo-cnn", "imagenet-mini"),
    ("demo-detector", "coco-mini"),
    ("demo-segnet", "cityscapes-mini"),
    ("demo-freq", "vg-mini"),
    ("demo-captioner", "coco-mini-captions"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=120.0, help="seconds, median wall")
    ap.add_argument("--cores", default="0,1", help="CPU list for taskset ('' to not pin)")
    ap.add_argument("--keep", action="store_true", help="keep the last run's folders")
    ap.add_argument("--cold-bytecode", action="store_true", help="no .pyc reused (upper bound)")
    args = ap.parse_args()

    bench = Path(sys.executable).with_name("bench")
    cmd = [str(bench), "run"] if bench.is_file() else [sys.executable, "-m", "visionbench", "run"]
    if args.cores and shutil.which("taskset"):
        cmd = ["taskset", "-c", args.cores, *cmd]
    print(f"command: {' '.join(cmd)}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"bytecode: {'none reused (--cold-bytecode)' if args.cold_bytecode else 'as installed'}")

    walls, cpus = [], []
    for k in range(args.repeats):
        tmp = Path(tempfile.mkdtemp(prefix="visionbench-demo-bench-"))
        env = dict(
            os.environ,
            VISIONBENCH_HOME=str(tmp / "home"),
            NUMBA_CACHE_DIR=str(tmp / "numba"),
            MPLCONFIGDIR=str(tmp / "matplotlib"),
            COLUMNS="160",
        )
        env.pop("VISIONBENCH_RESULTS", None)
        if args.cold_bytecode:
            env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        problems = _check(p, tmp / "home" / "results")
        if problems:
            print(p.stdout[-3000:], p.stderr[-3000:], sep="\n")
            print(f"repeat {k + 1}: FAILED: {'; '.join(problems)}")
            return 1
        walls.append(wall)
        cpus.append(cpu)
        print(f"repeat {k + 1}: wall {wall:6.1f} s   cpu (user+sys) {cpu:6.1f} s")
        if args.keep and k == args.repeats - 1:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print()
    print("| quantity | median | all repeats |")
    print("| --- | --- | --- |")
    print(f"| wall | {wall:.1f} s | {', '.join(f'{w:.1f}' for w in walls)} |")
    print(f"| cpu (user+sys) | {cpu:.1f} s | {', '.join(f'{c:.1f}' for c in cpus)} |")
    print(f"| budget | {args.budget:.0f} s | median wall / budget = {wall / args.budget:.2f} |")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    ok = wall <= args.budget
    print("PASS" if ok else "FAIL: the median wall time exceeds the budget")
    return 0 if ok else 1


def _check(p: subprocess.CompletedProcess, results: Path) -> list[str]:
    problems = []
    if p.returncode != 0:
        problems.append(f"exit code {p.returncode}")
    records = [json.loads(f.read_text()) for f in sorted((results / "records").glob("*.json"))]
    got = {(r["model"]["name"], r["dataset"]["name"]) for r in records}
    if got != EXPECTED:
        problems.append(f"records {sorted(got)}, expected {sorted(EXPECTED)}")
    if not (results / "report.html").is_file():
        problems.append("no report.html")
    if f"report: {results / 'report.html'}" not in p.stdout:
        problems.append("the report path was not printed")
    if "leaderboard" not in p.stdout:
        problems.append("no leaderboard printed")
    return problems


if __name__ == "__main__":
    sys.exit(main())
