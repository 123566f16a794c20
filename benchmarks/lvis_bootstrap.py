"""LVIS bootstrap benchmark: one LVIS evaluation vs B = 1000 bootstrap replicates.

One command::

    python benchmarks/lvis_bootstrap.py                      # 500 and 2,000 images
    python benchmarks/lvis_bootstrap.py --images 500,2000,5000
    python benchmarks/lvis_bootstrap.py --small              # 300 images, B = 200 (< 1 min)

Uses the synthetic LVIS-v1-val-shaped problem of ``benchmarks/lvis_eval.py`` (1,203
categories in 3 frequency groups, ~12.3 annotations and 300 results per image; generated
once, cached under ``--cache``). Each measurement runs in its own child process (honest
peak RSS), ``--repeat`` times, medians reported; in a child the JSON files are loaded
first (not timed), then:

* ``evaluation``: ``LvisEvaluator._add`` + ``compute`` on the loaded columns (federated
  matching + accumulate + summarize), warm (a first, untimed run loads the kernels);
* ``prepare``: ``lvis_sample_table`` + ``table.prepare()`` (the bootstrap's tables);
* ``B replicates``: ``bootstrap_intervals(table, B=...)``: the 13 LVIS stats of every
  replicate, each bit-identical to ``LvisEvaluator.compute()`` on the duplicated set.

Prints wall and CPU (user + sys) seconds, the ratio "(prepare + B) / one evaluation" and
the peak RSS of the child before the bootstrap (data + evaluation) and after it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t, c = time.perf_counter(), cpu()
    out = fn()
    return out, time.perf_counter() - t, cpu() - c


# -- child process ----------------------------------------------------------------------
def worker(gt_path: str, res_path: str, B: int) -> dict:
    from visionbench.metrics.bootstrap import bootstrap_intervals
    from visionbench.metrics.detection import coco_bootstrap
    from visionbench.metrics.detection.lvis import (
        LvisEvaluator,
        load_results,
        lvis_sample_table,
    )
    from visionbench.metrics.detection.lvis_ground_truth import load_lvis_ground_truth

    g = load_lvis_ground_truth(gt_path, iou_type="bbox")
    dt = load_results(res_path, g.table, iou_type="bbox")

    def evaluation() -> LvisEvaluator:
        ev = LvisEvaluator(g.table.cat_ids, g.frequency, iou_type="bbox")
        ev._add(
            g.table.anns, g.ignore, dt, np.unique(g.table.image_ids),
            (g.neg_image_id, g.neg_cat_id), (g.nel_image_id, g.nel_cat_id), image_size=None,
        )  # fmt: skip
        ev.compute()
        return ev

    out: dict = {"n_img": len(np.unique(g.table.image_ids)), "n_dt": len(dt)}
    out["n_gt"] = len(g.table.anns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluation()  # cold: kernels load
        ev, out["eval_wall"], out["eval_cpu"] = timed(evaluation)
        # warm the bootstrap kernel on its own table (numba compilation / cache load)
        bootstrap_intervals(lvis_sample_table(ev), B=2, seed=1)
        out["rss_before"] = rss_mb()
        table, wp, cp = timed(lambda: lvis_sample_table(ev))
        kernel, wq, cq = timed(table.prepare)
        out["kernel"] = kernel
        out["prep_wall"], out["prep_cpu"] = wp + wq, cp + cq
        ci, out["boot_wall"], out["boot_cpu"] = timed(lambda: bootstrap_intervals(table, B=B))
        out["rss_after"] = rss_mb()
    full = ev.compute().metrics
    out["ci"] = {k: [full[k], ci[k]["low"], ci[k]["high"]] for k in ("AP", "APr", "APf")}
    out["threads"] = coco_bootstrap._threads()
    return out


def run_child(gt: Path, res: Path, B: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--gt", str(gt), "--res", str(res), "--B", str(B)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"worker failed: {(p.stderr or p.stdout).strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- driver -----------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", default="500,2000", help="comma-separated image counts")
    ap.add_argument("--small", action="store_true", help="300 images, B = 200 (< 1 min)")
    ap.add_argument("--B", type=int, default=None, help="replicates (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="child runs per size (median)")
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    ap.add_argument("--res", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.gt, a.res, a.B)))
        return
    from lvis_eval import generate

    sizes = [300] if a.small else [int(x) for x in a.images.split(",")]
    B = a.B if a.B is not None else (200 if a.small else 1000)
    repeat = 1 if a.small and a.repeat == 3 else a.repeat
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for n_img in sizes:
        gt, res = cache / f"lvis_{n_img}_gt.json", cache / f"lvis_{n_img}_res.json"
        if not (gt.exists() and res.exists()):
            t = time.perf_counter()
            generate(gt, res, n_img=n_img, dts_per_img=300)
            print(f"generated {gt.name}, {res.name} in {time.perf_counter() - t:.1f} s")
        runs = [run_child(gt, res, B) for _ in range(repeat)]
        med = {
            k: float(np.median([r[k] for r in runs]))
            for k in runs[0]
            if isinstance(runs[0][k], float)
        }
        r0 = runs[0]
        print(
            f"\n## {r0['n_img']} images, {r0['n_gt']} gts, {r0['n_dt']} detections "
            f"({r0['kernel']} kernel, {r0['threads']} threads, B={B}, median of {repeat})"
        )
        print("| step | wall s | CPU s |")
        print("| --- | --- | --- |")
        print(f"| one evaluation (warm) | {med['eval_wall']:.3f} | {med['eval_cpu']:.3f} |")
        print(f"| prepare the bootstrap table | {med['prep_wall']:.3f} | {med['prep_cpu']:.3f} |")
        print(
            f"| B = {B} replicates, 13 stats each | {med['boot_wall']:.3f} | {med['boot_cpu']:.3f} |"
        )
        rw = (med["prep_wall"] + med["boot_wall"]) / med["eval_wall"]
        rc = (med["prep_cpu"] + med["boot_cpu"]) / med["eval_cpu"]
        print(f"| **(prepare + B) / one evaluation** | {rw:.1f}x | **{rc:.1f}x** |")
        print(
            f"peak RSS: {med['rss_before']:.0f} MB before the bootstrap (data + evaluation), "
            f"{med['rss_after']:.0f} MB after (+{med['rss_after'] - med['rss_before']:.0f} MB)"
        )
        for k, (v, lo, hi) in r0["ci"].items():
            print(f"  {k} {v:.4f} [{lo:.4f}, {hi:.4f}]")
    print(f"\nload average: {os.getloadavg()[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
