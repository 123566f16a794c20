"""LVIS evaluation benchmark: lvis-api, faster-coco-eval, hotcoco, ultrafast and visionbench.

One command::

    python benchmarks/lvis_eval.py                 # 2,000 images, 300 results each (600k)
    python benchmarks/lvis_eval.py --images 19809  # LVIS v1 val sized (5.9M results)
    python benchmarks/lvis_eval.py --small         # quick check (300 images)

Generates (once, cached under ``--cache``) a synthetic problem shaped like LVIS v1 val:
1,203 categories (337 rare, 461 common, 405 frequent), ~12.3 annotations per image over
a few categories, ``neg_category_ids`` (~7 per image) and ``not_exhaustive_category_ids``
(~0.2 per image), and 300 scored results per image (half near a gt, some of categories
the image neither has nor lists, which the federated rule drops). Each peer runs in its
own subprocess (honest peak RSS) and is timed from reading the JSON files to the
summary (load + evaluate + accumulate + summarize). The 13 LVIS numbers of each peer are
compared with lvis-api's (``identical`` = every number equal, not approximately).
Prints medians and ratios of wall time and CPU time; exits 1 when visionbench differs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("lvis-api", "faster-coco-eval", "hotcoco", "ultrafast", "visionbench")
SLOW = ("lvis-api",)
NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "APr", "APc", "APf"]
NAMES += ["AR@300", "ARs@300", "ARm@300", "ARl@300"]


# -- problem generation ---------------------------------------------------------------
def generate(path_gt: Path, path_res: Path, *, n_img: int, dts_per_img: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    cat_ids = list(range(1, 1204))
    freq = ["r"] * 337 + ["c"] * 461 + ["f"] * 405
    rng.shuffle(freq)
    # frequent categories appear on many images, rare ones on few
    weight = np.array([{"r": 1.0, "c": 8.0, "f": 60.0}[f] for f in freq])
    weight /= weight.sum()
    images, anns, res = [], [], []
    aid = 1
    for i in range(n_img):
        iid = int(100000 + i * 7)
        h, w = int(rng.integers(240, 641)), int(rng.integers(320, 641))
        img_cats = [int(c) for c in rng.choice(cat_ids, size=int(rng.integers(1, 6)), p=weight)]
        gts = []
        for _ in range(int(rng.poisson(12.3))):
            bw = float(np.round(np.exp(rng.uniform(np.log(3), np.log(w * 0.9))), 2))
            bh = float(np.round(np.exp(rng.uniform(np.log(3), np.log(h * 0.9))), 2))
            x = float(np.round(rng.uniform(0, w - bw), 2))
            y = float(np.round(rng.uniform(0, h - bh), 2))
            a = {
                "id": aid, "image_id": iid, "category_id": int(rng.choice(img_cats)),
                "bbox": [x, y, bw, bh], "area": float(np.round(bw * bh * rng.uniform(0.5, 0.9), 2)),
            }  # fmt: skip
            aid += 1
            anns.append(a)
            gts.append(a)
        present = sorted({a["category_id"] for a in gts})
        others = [int(c) for c in rng.choice(cat_ids, size=int(rng.poisson(6)) + 1, p=weight)]
        neg = sorted({c for c in others if c not in present})
        nel = sorted({c for c in present if rng.random() < 0.08})
        images.append({
            "id": iid, "height": h, "width": w,
            "coco_url": f"http://images.cocodataset.org/val2017/{iid:012d}.jpg",
            "neg_category_ids": neg, "not_exhaustive_category_ids": nel,
        })  # fmt: skip
        pool = present + neg
        for _ in range(dts_per_img):
            if gts and rng.random() < 0.5:
                g = gts[int(rng.integers(len(gts)))]
                x, y, bw, bh = g["bbox"]
                s = 0.1 * min(bw, bh)
                b = [x + rng.normal() * s, y + rng.normal() * s]
                b += [bw * rng.uniform(0.8, 1.2), bh * rng.uniform(0.8, 1.2)]
                cat = g["category_id"] if rng.random() < 0.7 else int(rng.choice(pool))
            else:
                bw, bh = rng.uniform(4, w * 0.5), rng.uniform(4, h * 0.5)
                b = [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]
                cat = int(rng.choice(pool)) if rng.random() < 0.6 else int(rng.choice(cat_ids))
            b = [float(round(max(v, 0.0), 2)) for v in b]
            res.append({
                "image_id": iid, "category_id": cat, "bbox": b, "score": float(round(rng.random(), 5)),
            })  # fmt: skip
    cats = [
        {"id": c, "name": f"class{c}", "synset": f"class{c}.n.01", "frequency": f}
        for c, f in zip(cat_ids, freq)
    ]
    gt = {"info": {"description": "synthetic LVIS"}, "images": images, "annotations": anns}
    gt["categories"] = cats
    path_gt.write_text(json.dumps(gt))
    path_res.write_text(json.dumps(res))


# -- workers (each in its own process) --------------------------------------------------
def worker(peer: str, gt: str, res: str) -> dict:
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    stats = _work(peer, gt, res)
    out = {"peer": peer, "total": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["stats"] = {k: float(v) for k, v in stats.items()}
    return out


def _work(peer: str, gt: str, res: str) -> dict:
    quiet = contextlib.redirect_stdout(io.StringIO())
    logging.disable(logging.WARNING)
    if peer == "lvis-api":
        if not hasattr(np, "float"):
            np.float = float  # lvis 0.5.3 calls np.float (removed in numpy 1.24)
        from lvis import LVIS, LVISEval, LVISResults

        with quiet:
            g = LVIS(gt)
            e = LVISEval(g, LVISResults(g, res, max_dets=300), "bbox")
            e.run()
        return dict(e.get_results())
    if peer == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        with quiet:
            g = COCO(gt)
            d = g.loadRes(res)
            e = COCOeval_faster(g, d, "bbox", lvis_style=True)
            e.params.maxDets = [300]
            e.evaluate()
            e.accumulate()
            e.summarize()
        return _named(e.stats_as_dict)
    if peer == "hotcoco":
        import hotcoco

        with quiet:
            g = hotcoco.LVIS(gt)
            d = hotcoco.LVISResults(g, res, 300)
            e = hotcoco.LVISEval(g, d, "bbox")
            e.run()
        return _named(e.get_results())
    if peer == "ultrafast":
        from ultrafast_pycocotools.coco import COCO
        from ultrafast_pycocotools.cocoeval import COCOeval

        with quiet:
            g = COCO(gt)
            d = g.loadRes(res)
            e = COCOeval(g, d, "bbox", lvis_style=True)
            e.evaluate()
            e.accumulate()
            e.summarize()
        return _named(e.stats_as_dict if hasattr(e, "stats_as_dict") else {})
    if peer == "visionbench":
        from visionbench.metrics.detection.lvis import lvis_evaluate

        r = lvis_evaluate(gt, res, iou_type="bbox")
        return {k: (-1.0 if np.isnan(v) else v) for k, v in r.metrics.items()}
    raise SystemExit(f"unknown peer {peer!r}")


def _named(d: dict) -> dict:
    """The 13 LVIS numbers from a peer's dict (names differ between peers)."""
    if not d:
        return {}
    alias = {k.lower().replace("_", "").replace("@", ""): v for k, v in d.items()}
    out = {}
    for n in NAMES:
        k = n.lower().replace("@", "")
        for cand in (k, k.replace("300", ""), k.replace("ar", "ar").replace("300", "300")):
            if cand in alias:
                out[n] = float(alias[cand])
                break
    return out


def run_peer(peer: str, gt: Path, res: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", peer, "--gt", str(gt), "--res", str(res)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"peer": peer, "error": (p.stderr or p.stdout).strip().splitlines()[-1:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------
def bench(gt: Path, res: Path, repeat: int, slow_repeat: int, peers: list[str]) -> bool:
    print(f"\n## bbox: {gt.name} / {res.name} ({res.stat().st_size / 1e6:.1f} MB results)")
    runs: dict[str, list[dict]] = {}
    for peer in peers:
        n = slow_repeat if peer in SLOW else repeat
        runs[peer] = [run_peer(peer, gt, res) for _ in range(n)]
    ref = runs.get("lvis-api", [{}])[0].get("stats")
    ok_runs = {p: r for p, r in runs.items() if "total" in r[0]}
    med = {p: float(np.median([x["total"] for x in r])) for p, r in ok_runs.items()}
    cpu = {p: float(np.median([x["cpu"] for x in r])) for p, r in ok_runs.items()}
    rss = {p: float(np.median([x["rss_mb"] for x in r])) for p, r in ok_runs.items()}
    print(
        "| peer | wall s (n) | CPU s | vs lvis-api (wall) | vs visionbench (wall / CPU) |", end=""
    )
    print(" peak RSS MB | numbers identical to lvis-api |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    vb = "visionbench" if "visionbench" in med else None
    for p, r in runs.items():
        if "error" in r[0]:
            print(f"| {p} | error: {r[0]['error']} | | | | | |")
            continue
        same = "n/a"
        if ref is not None:
            got = r[0]["stats"]
            common = [n for n in NAMES if n in got and n in ref]
            diff = [n for n in common if got[n] != ref[n]]
            if not common:
                same = "not comparable"
            elif not diff:
                same = "yes" + ("" if len(common) == len(NAMES) else f" ({len(common)} of 13)")
            else:
                worst = max(abs(got[n] - ref[n]) for n in diff)
                same = f"NO: {', '.join(diff[:4])} (max abs diff {worst:.1e})"
            if p == "visionbench" and same != "yes":
                ok = False
        vs_ref = f"{med['lvis-api'] / med[p]:.1f}x faster" if "lvis-api" in med else ""
        vs_vb = f"{med[p] / med[vb]:.2f}x / {cpu[p] / cpu[vb]:.2f}x" if vb else ""
        print(
            f"| {p} | {med[p]:.2f} ({len(r)}) | {cpu[p]:.2f} | {vs_ref} | {vs_vb} | {rss[p]:.0f} | {same} |"
        )
    if ref is not None:
        print("\nlvis-api: " + ", ".join(f"{n} {ref[n]:.4f}" for n in NAMES if n in ref))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--small", action="store_true", help="300 images")
    ap.add_argument("--repeat", type=int, default=3, help="runs per fast peer (median reported)")
    ap.add_argument("--slow-repeat", type=int, default=1, help="runs of lvis-api")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    ap.add_argument("--res", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.gt, a.res)))
        return
    n_img = 300 if a.small else a.images
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    gt, res = cache / f"lvis_{n_img}_gt.json", cache / f"lvis_{n_img}_res.json"
    if not (gt.exists() and res.exists()):
        t = time.perf_counter()
        generate(gt, res, n_img=n_img, dts_per_img=300)
        print(f"generated {gt.name}, {res.name} in {time.perf_counter() - t:.1f} s")
    sys.exit(0 if bench(gt, res, a.repeat, a.slow_repeat, a.peers.split(",")) else 1)


if __name__ == "__main__":
    main()
