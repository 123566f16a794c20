"""COCO evaluation benchmark: pycocotools, faster-coco-eval, hotcoco and visionbench, same run.

One command::

    python benchmarks/coco_eval.py            # COCO-val-sized bbox problem + 1,000-image segm problem
    python benchmarks/coco_eval.py --small    # CI size (500 images bbox, 100 images segm)

Generates (once, cached under ``--cache``) a synthetic problem shaped like COCO val2017
(5,000 images, ~7.4 gts and 100 detections per image, 80 categories, ~1% crowd; boxes and
scores rounded as detectors' JSON usually are) and a polygon segm problem. Each peer runs
in its own subprocess (honest peak RSS) and is timed from reading the JSON files to the
summary stats (load + evaluate + accumulate + summarize). visionbench is also timed from
arrays (evaluate + accumulate + summarize on already-loaded columns; ``cold`` = first call
in the process, including ``import numba`` and loading the cached kernels; ``warm`` =
second call). hotcoco is also split into load and evaluate+accumulate+summarize. Stats are
checked against pycocotools' (``identical`` = ``np.array_equal`` on the 12 stats).
Prints medians and ratios of time and peak RSS; exits 1 when visionbench's stats differ.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS = (
    "pycocotools",
    "faster-coco-eval",
    "hotcoco",
    "visionbench",
    "visionbench-arrays",
    "visionbench-process",
    "bench-eval",
)
SLOW = ("pycocotools", "faster-coco-eval")


# -- problem generation ---------------------------------------------------------------
def generate(
    path_gt: Path, path_res: Path, *, n_img: int, dts_per_img: int, iou_type: str, seed: int = 0
) -> None:
    """Write a COCO ground-truth file and a results file (see module docstring)."""
    rng = np.random.default_rng(seed)
    cat_ids = [c for c in range(1, 91) if c not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    images, anns, res = [], [], []
    aid = 1
    for i in range(n_img):
        iid = int(100000 + i * 7)
        h, w = int(rng.integers(240, 641)), int(rng.integers(320, 641))
        images.append({"id": iid, "height": h, "width": w, "file_name": f"{iid:012d}.jpg"})
        n_g = int(rng.poisson(7.4))
        img_cats = rng.choice(cat_ids, size=int(rng.integers(1, 6)))
        gts = []
        for _ in range(n_g):
            bw = float(np.round(np.exp(rng.uniform(np.log(4), np.log(w * 0.9))), 2))
            bh = float(np.round(np.exp(rng.uniform(np.log(4), np.log(h * 0.9))), 2))
            x = float(np.round(rng.uniform(0, w - bw), 2))
            y = float(np.round(rng.uniform(0, h - bh), 2))
            crowd = int(rng.random() < 0.01)
            a = {
                "id": aid, "image_id": iid, "category_id": int(rng.choice(img_cats)),
                "bbox": [x, y, bw, bh], "area": float(np.round(bw * bh * rng.uniform(0.5, 0.9), 2)),
                "iscrowd": crowd,
            }  # fmt: skip
            if iou_type == "segm":
                a["segmentation"] = [_polygon(rng, x, y, bw, bh)]
            aid += 1
            anns.append(a)
            gts.append(a)
        for _ in range(dts_per_img):
            if gts and rng.random() < 0.5:
                g = gts[int(rng.integers(len(gts)))]
                x, y, bw, bh = g["bbox"]
                s = 0.1 * min(bw, bh)
                b = [
                    x + rng.normal() * s,
                    y + rng.normal() * s,
                    bw * rng.uniform(0.8, 1.2),
                    bh * rng.uniform(0.8, 1.2),
                ]
                cat = g["category_id"] if rng.random() < 0.8 else int(rng.choice(cat_ids))
            else:
                bw, bh = rng.uniform(4, w * 0.5), rng.uniform(4, h * 0.5)
                b = [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]
                cat = int(rng.choice(img_cats)) if rng.random() < 0.7 else int(rng.choice(cat_ids))
            b = [float(round(max(v, 0.0), 2)) for v in b]
            r = {"image_id": iid, "category_id": cat, "score": float(round(rng.random(), 5))}
            if iou_type == "segm":
                r["segmentation"] = [_polygon(rng, *b)]
            else:
                r["bbox"] = b
            res.append(r)
    cats = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in cat_ids]
    gt = {
        "info": {"description": "synthetic"},
        "images": images,
        "annotations": anns,
        "categories": cats,
    }
    if iou_type == "segm":
        res = _segm_results(res, {im["id"]: (im["height"], im["width"]) for im in images})
    path_gt.write_text(json.dumps(gt))
    path_res.write_text(json.dumps(res))


def _polygon(rng: np.random.Generator, x: float, y: float, w: float, h: float) -> list[float]:
    ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(6, 16))))
    r = rng.uniform(0.7, 1.0, len(ang))
    px = x + w / 2 + w / 2 * r * np.cos(ang)
    py = y + h / 2 + h / 2 * r * np.sin(ang)
    return [float(round(v, 2)) for xy in zip(px, py) for v in xy]


def _segm_results(res: list[dict], sizes: dict[int, tuple[int, int]]) -> list[dict]:
    """Detectors write segm results as compressed RLE (what loadRes accepts)."""
    from pycocotools import mask as mask_utils

    for r in res:
        h, w = sizes[r["image_id"]]
        rle = mask_utils.merge(mask_utils.frPyObjects(r["segmentation"], h, w))
        rle["counts"] = rle["counts"].decode("ascii")
        r["segmentation"] = rle
    return res


# -- workers (each in its own process) --------------------------------------------------
def worker(peer: str, gt: str, res: str, iou_type: str) -> dict:
    if peer in CHILD_PEERS:
        return _child_peer(peer, gt, res, iou_type)
    cpu0 = time.process_time()
    out = _work(peer, gt, res, iou_type)
    out["cpu"] = time.process_time() - cpu0 - out.pop("cpu_untimed", 0.0)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


#: Peers timed as a whole process (interpreter start, imports, output included): the
#: ``bench eval`` command end to end, and the library call in a bare ``python -c``.
CHILD_PEERS = ("bench-eval", "visionbench-process")

_LIBRARY_CALL = (
    "import sys, json\n"
    "from visionbench.metrics.coco import coco_evaluate\n"
    "r = coco_evaluate(sys.argv[1], sys.argv[2], iou_type=sys.argv[3], compat='pycocotools')\n"
    "print(json.dumps([float(s) for s in r.arrays['stats']]))\n"
)


def _child_peer(peer: str, gt: str, res: str, iou_type: str) -> dict:
    """Run the peer as a child process; CPU (user + sys) and peak RSS from its rusage."""
    import tempfile

    out: dict = {"peer": peer}
    with tempfile.TemporaryDirectory() as results:
        if peer == "bench-eval":
            cmd = [str(Path(sys.executable).with_name("bench")), "eval", "--gt", gt,
                   "--predictions", res, "-M", f"iou_type={iou_type}", "-M", "compat=pycocotools",
                   "--results", results]  # fmt: skip
        else:
            cmd = [sys.executable, "-c", _LIBRARY_CALL, gt, res, iou_type]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        out["total"] = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{peer} failed: {(p.stderr or p.stdout).strip()[-500:]}")
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["cpu"] = ru.ru_utime + ru.ru_stime
        out["rss_mb"] = ru.ru_maxrss / 1024
        if peer == "bench-eval":
            rec_path = next((Path(results) / "records").glob("*.json"))
            rec = json.loads(rec_path.read_text())
            stats = np.load(rec_path.parent / rec["arrays_file"])["stats"]
        else:
            stats = json.loads(p.stdout.strip().splitlines()[-1])
    out["stats"] = [float(s) for s in stats]
    return out


def _work(peer: str, gt: str, res: str, iou_type: str) -> dict:
    quiet = contextlib.redirect_stdout(io.StringIO())
    out: dict = {"peer": peer}
    if peer == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        t0 = time.perf_counter()
        with quiet:
            g = COCO(gt)
            d = g.loadRes(res)
            e = COCOeval(g, d, iou_type)
            e.evaluate()
            e.accumulate()
            e.summarize()
        out["total"] = time.perf_counter() - t0
        stats = e.stats
    elif peer == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        t0 = time.perf_counter()
        with quiet:
            g = COCO(gt)
            d = g.loadRes(res)
            e = COCOeval_faster(g, d, iou_type)
            e.evaluate()
            e.accumulate()
            e.summarize()
        out["total"] = time.perf_counter() - t0
        stats = e.stats
    elif peer == "hotcoco":
        import hotcoco

        t0 = time.perf_counter()
        with quiet:
            g = hotcoco.COCO(gt)
            d = g.load_res(res)
            t1, c1 = time.perf_counter(), time.process_time()
            e = hotcoco.COCOeval(g, d, iou_type)
            e.evaluate()
            e.accumulate()
            e.summarize()
        t2 = time.perf_counter()
        out.update(total=t2 - t0, load=t1 - t0, evaluate=t2 - t1)
        out["cpu_evaluate"] = time.process_time() - c1
        stats = e.stats
    elif peer == "visionbench":
        from visionbench.metrics.coco import coco_evaluate

        t0 = time.perf_counter()
        r = coco_evaluate(gt, res, iou_type=iou_type, compat="pycocotools")
        out["total"] = time.perf_counter() - t0
        stats = r.arrays["stats"]
    elif peer == "visionbench-arrays":
        from visionbench.metrics.coco import coco_evaluate
        from visionbench.metrics.coco_data import load_ground_truth, load_results

        c0 = time.process_time()
        g = load_ground_truth(gt, iou_type=iou_type, compat=True)
        d = load_results(res, g, iou_type=iou_type, compat=True)
        if iou_type == "segm":  # polygons -> RLE is part of loading the columns
            from visionbench.metrics.coco_masks import rles_for

            g.anns.segm = rles_for(g.anns, np.arange(len(g.anns)), g.image_size, "gt")
        load_cpu = time.process_time() - c0
        times, cpus = [], []
        for _ in range(2):
            t0, c1 = time.perf_counter(), time.process_time()
            r = coco_evaluate(g, d, iou_type=iou_type, compat="pycocotools")
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c1)
        out.update(total=times[0], evaluate_cold=times[0], evaluate_warm=times[1])
        out.update(cpu_untimed=load_cpu + cpus[1], cpu_warm=cpus[1])
        stats = r.arrays["stats"]
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    out["stats"] = [float(s) for s in stats]
    return out


def run_peer(peer: str, gt: Path, res: Path, iou_type: str) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        peer,
        "--gt",
        str(gt),
        "--res",
        str(res),
        "--iou-type",
        iou_type,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"peer": peer, "error": (p.stderr or p.stdout).strip().splitlines()[-1:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------
def bench(
    name: str, gt: Path, res: Path, iou_type: str, repeat: int, slow_repeat: int, peers: list[str]
) -> bool:
    print(f"\n## {name}: {gt.name} / {res.name} ({res.stat().st_size / 1e6:.1f} MB results)")
    runs: dict[str, list[dict]] = {}
    for peer in peers:
        n = slow_repeat if peer in SLOW else repeat
        runs[peer] = [run_peer(peer, gt, res, iou_type) for _ in range(n)]
    ref = next(
        (r[0]["stats"] for p, r in runs.items() if p == "pycocotools" and "stats" in r[0]), None
    )
    med = {p: float(np.median([x["total"] for x in r])) for p, r in runs.items() if "total" in r[0]}
    cpu = {p: float(np.median([x["cpu"] for x in r])) for p, r in runs.items() if "cpu" in r[0]}
    rss = {
        p: float(np.median([x["rss_mb"] for x in r])) for p, r in runs.items() if "rss_mb" in r[0]
    }
    base_t, base_m = med.get("hotcoco"), rss.get("hotcoco")
    head = "| peer | wall s (n) | CPU s | vs pycocotools (wall) | vs hotcoco (wall / CPU) | peak RSS MB"
    print(head + " | RSS vs hotcoco | stats identical |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for p, r in runs.items():
        if "error" in r[0]:
            print(f"| {p} | error: {r[0]['error']} | | | | | | |")
            continue
        same = (
            "n/a"
            if ref is None
            else (
                "yes"
                if np.array_equal(ref, r[0]["stats"])
                else f"NO (max |d| {np.max(np.abs(np.subtract(ref, r[0]['stats']))):.1e})"
            )
        )
        if p.startswith("visionbench") and ref is not None and same != "yes":
            ok = False
        vs_py = f"{med['pycocotools'] / med[p]:.1f}x faster" if "pycocotools" in med else ""
        vs_hc = f"{med[p] / base_t:.2f}x / {cpu[p] / cpu['hotcoco']:.2f}x" if base_t else ""
        vs_m = f"{rss[p] / base_m:.2f}x" if base_m else ""
        print(
            f"| {p} | {med[p]:.3f} ({len(r)}) | {cpu[p]:.3f} | {vs_py} | {vs_hc} | {rss[p]:.0f} | {vs_m} | {same} |"
        )
    if "hotcoco" in runs and "load" in runs["hotcoco"][0]:
        hl = np.median([x["load"] for x in runs["hotcoco"]])
        he = np.median([x["evaluate"] for x in runs["hotcoco"]])
        hc = np.median([x["cpu_evaluate"] for x in runs["hotcoco"]])
        print(
            f"\nhotcoco split: load {hl:.3f} s, evaluate+accumulate+summarize {he:.3f} s wall, {hc:.3f} s CPU"
        )
    if "bench-eval" in cpu:
        for lib in ("visionbench", "visionbench-process"):
            if lib in cpu:
                print(
                    f"bench eval vs {lib}: CPU {cpu['bench-eval'] / cpu[lib]:.2f}x, wall "
                    f"{med['bench-eval'] / med[lib]:.2f}x, peak RSS {rss['bench-eval'] / rss[lib]:.2f}x"
                )
    if "visionbench-arrays" in runs and "evaluate_warm" in runs["visionbench-arrays"][0]:
        cold = np.median([x["evaluate_cold"] for x in runs["visionbench-arrays"]])
        warm = np.median([x["evaluate_warm"] for x in runs["visionbench-arrays"]])
        wcpu = np.median([x["cpu_warm"] for x in runs["visionbench-arrays"]])
        extra = (
            f" ({warm / he:.2f}x hotcoco's wall, {wcpu / hc:.2f}x its CPU)"
            if "hotcoco" in runs
            else ""
        )
        print(
            "visionbench from arrays: evaluate+accumulate+summarize "
            f"cold {cold:.3f} s, warm {warm:.3f} s wall / {wcpu:.3f} s CPU{extra}"
        )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--small", action="store_true", help="CI size: 500 images bbox, 100 images segm"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per fast peer (median reported)")
    ap.add_argument(
        "--slow-repeat", type=int, default=1, help="runs of pycocotools / faster-coco-eval"
    )
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--only", choices=("bbox", "segm"), default=None)
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    ap.add_argument("--res", help=argparse.SUPPRESS)
    ap.add_argument("--iou-type", default="bbox", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.gt, a.res, a.iou_type)))
        return
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sizes = (
        {"bbox": (500, 100), "segm": (100, 100)}
        if a.small
        else {"bbox": (5000, 100), "segm": (1000, 100)}
    )
    ok = True
    for iou_type, (n_img, n_dt) in sizes.items():
        if a.only and a.only != iou_type:
            continue
        gt, res = cache / f"{iou_type}_{n_img}_gt.json", cache / f"{iou_type}_{n_img}_res.json"
        if not (gt.exists() and res.exists()):
            t = time.perf_counter()
            generate(gt, res, n_img=n_img, dts_per_img=n_dt, iou_type=iou_type)
            print(f"generated {gt.name}, {res.name} in {time.perf_counter() - t:.1f} s")
        ok &= bench(
            f"{iou_type}, {n_img} images",
            gt,
            res,
            iou_type,
            a.repeat,
            a.slow_repeat,
            a.peers.split(","),
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
