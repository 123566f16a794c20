"""COCO bootstrap benchmark: one full evaluation vs B = 1000 bootstrap replicates, same run.

One command::

    python benchmarks/coco_bootstrap.py            # 5,000 images / 500,000 detections
    python benchmarks/coco_bootstrap.py --small    # 500 images (CI size)

Uses the COCO-val-shaped bbox problem of ``benchmarks/coco_eval.py`` (generated once,
cached under ``--cache``). Times, in one process, on already-loaded columns:

* ``evaluation``: ``CocoEvaluator.update_tables`` + ``compute`` (match + accumulate +
  summarize), median of ``--repeat`` warm runs;
* ``prepare``: building the bootstrap table from the evaluator's state (once per run; the
  C kernel's tables when ``_bootstrap_ext`` is built, else the numba kernel's);
* ``B replicates``: ``bootstrap_intervals(evaluator, B=...)`` on that state -- all 12 stats
  of every replicate, each bit-identical to a full evaluation of the resampled set.

Prints wall and CPU (user + sys) seconds and the ratio "bootstrap / one evaluation"; the
issue's target is under 20 evaluations' worth of CPU time for B = 1000.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def timed(fn):
    t, c = time.perf_counter(), cpu()
    out = fn()
    return out, time.perf_counter() - t, cpu() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    a = ap.parse_args()
    from coco_eval import generate

    from visionbench.metrics.bootstrap import bootstrap_intervals, sample_table
    from visionbench.metrics.detection.coco import CocoEvaluator
    from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results

    n_img = 500 if a.small else 5000
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    gt_p, res_p = cache / f"bbox_{n_img}_gt.json", cache / f"bbox_{n_img}_res.json"
    if not (gt_p.exists() and res_p.exists()):
        generate(gt_p, res_p, n_img=n_img, dts_per_img=100, iou_type="bbox")
    gtt = load_ground_truth(gt_p, iou_type="bbox", compat=True)
    dtt = load_results(res_p, gtt, iou_type="bbox", compat=True)
    print(f"problem: {len(gtt.image_ids)} images, {len(gtt.anns)} gts, {len(dtt)} detections")

    def evaluation() -> CocoEvaluator:
        ev = CocoEvaluator(gtt.cat_ids, compat="pycocotools")
        ev.update_tables(gtt.anns, dtt, gtt.image_ids)
        ev.compute()
        return ev

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev, w0, c0 = timed(evaluation)  # cold: numba kernels load
        print(f"evaluation (cold, incl. kernel load): {w0:.3f} s wall, {c0:.3f} s CPU")
        runs = [timed(evaluation)[1:] for _ in range(a.repeat)]
        ev_wall = float(np.median([r[0] for r in runs]))
        ev_cpu = float(np.median([r[1] for r in runs]))
        print(f"evaluation (warm, median of {a.repeat}): {ev_wall:.3f} s wall, {ev_cpu:.3f} s CPU")
        # warm the bootstrap kernel on a tiny replicate count (compilation / cache load)
        _, wk, ck = timed(lambda: bootstrap_intervals(ev, B=2, seed=1))
        print(f"bootstrap kernel warm-up (B=2): {wk:.3f} s wall, {ck:.3f} s CPU")
        table, wp, cp = timed(lambda: sample_table(ev))
        kernel, wq, cq = timed(table.prepare)
        print(f"prepare table ({kernel} kernel): {wp + wq:.3f} s wall, {cp + cq:.3f} s CPU")
        ci, wb, cb = timed(lambda: bootstrap_intervals(table, B=a.B, seed=0))
    full = ev.compute().metrics
    print(f"B={a.B} replicates (all 12 stats): {wb:.3f} s wall, {cb:.3f} s CPU")
    tot_w, tot_c = wb + wp + wq, cb + cp + cq
    print(
        f"ratio bootstrap (prepare + B={a.B}) / one evaluation: {tot_w / ev_wall:.1f}x wall, "
        f"{tot_c / ev_cpu:.1f}x CPU (target < 20x CPU)"
    )
    for k in ("AP", "AP50", "AR100"):
        c = ci[k]  # basic interval: the percentile one reflected about the estimate
        print(
            f"  {k} {full[k]:.4f} percentile [{c['low']:.4f}, {c['high']:.4f}]"
            f" basic [{2 * full[k] - c['high']:.4f}, {2 * full[k] - c['low']:.4f}]"
        )
    sys.exit(0 if tot_c / ev_cpu < 20 else 1)


if __name__ == "__main__":
    main()
