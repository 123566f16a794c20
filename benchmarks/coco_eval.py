"""COCO evaluation benchmark: visionbench against pycocotools and four fast peers, same run.

One command::

    python benchmarks/coco_eval.py            # full size: COCO bbox / segm / keypoints + Objects365
    python benchmarks/coco_eval.py --quick    # CI size (``--small`` is the same)

Problems (generated once, cached under ``--cache``):

* ``bbox``: shaped like COCO val2017 -- 5,000 images, ~7.4 gts and 100 detections per
  image (500,000), 80 categories, ~1% crowd; boxes rounded to 0.01 px, scores to 1e-5.
* ``segm``: 1,000 images, polygon gts, 100,000 compressed-RLE detections (with their
  ``bbox``, as mmdetection writes them; vernier's reader requires it, and pycocotools'
  ``loadRes`` then takes the detection's area from it).
* ``keypoints``: 5,000 images, ~2.5 persons per image (17 keypoints, some with none
  visible, some crowd), 20 detections per image (100,000), with a ``bbox`` each (as
  detectron2 writes them).
* ``o365``: Objects365 scale -- 365 categories, 20,000 images, ~13 gts and 100
  detections per image (2,000,000 bbox detections).

Every evaluator runs in its own fresh subprocess, from reading the two JSON files to the
summary stats (load + evaluate + accumulate + summarize, imports included). ``bench-eval``
is the ``bench eval --gt ... --predictions ...`` command end to end (its own process: CLI
start-up, protocol, run record), CPU and peak RSS of that process. ``CPU`` is
the process's user + sys time from exec to the moment the stats exist
(``getrusage(RUSAGE_SELF)``, all threads), ``wall`` the time from the parent's ``Popen``
to that moment, ``RSS`` the process's peak (``ru_maxrss``). Peers and visionbench
alternate (round-robin, the order rotated each round); medians are reported. The
multithreaded peers (hotcoco, ultrafast-pycocotools, vernier: Rayon) run twice, with one
thread (``RAYON_NUM_THREADS=1``) and with all cores; ratios are to the best peer of the
same thread mode. Modules run from cached bytecode, as on an installed user's machine:
the script compiles visionbench once and drops ``PYTHONDONTWRITEBYTECODE`` from the
children's environment (``--cold-bytecode`` keeps it: every process then compiles
every module it imports).

Exactness: pycocotools' ``precision`` / ``recall`` / ``scores`` arrays and 12 stats (10 for
keypoints) are computed once per problem and cached beside it
(``<problem>_pycocotools.npz``); every run of every evaluator that exposes the arrays is
compared with them bit for bit (``np.array_equal``). Exits 1 when visionbench differs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = (
    "pycocotools",
    "faster-coco-eval",
    "hotcoco",
    "ultrafast-pycocotools",
    "vernier",
    "visionbench",
    "visionbench-arrays",
    "visionbench-exit",
    "bench-eval",
    "bench-eval-noci",
)
SLOW = ("pycocotools", "faster-coco-eval")
THREADED = ("hotcoco", "ultrafast-pycocotools", "vernier")
OURS = ("visionbench", "visionbench-arrays", "visionbench-exit", "bench-eval", "bench-eval-noci")
VERSIONS = {
    "pycocotools": "pycocotools",
    "faster-coco-eval": "faster-coco-eval",
    "hotcoco": "hotcoco",
    "ultrafast-pycocotools": "ultrafast-pycocotools",
    "vernier": "vernier",
}
# name -> (iou_type, full size (images, dets per image), quick size)
PROBLEMS = {
    "bbox": ("bbox", (5000, 100), (500, 100)),
    "segm": ("segm", (1000, 100), (100, 100)),
    "keypoints": ("keypoints", (5000, 20), (500, 20)),
    "o365": ("bbox", (20000, 100), (1000, 100)),
}


# -- problem generation ---------------------------------------------------------------
def generate(
    path_gt: Path, path_res: Path, *, n_img: int, dts_per_img: int, iou_type: str, seed: int = 0
) -> None:
    """Write a COCO ground-truth file and a results file (see module docstring)."""
    import numpy as np

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


def generate_o365(path_gt: Path, path_res: Path, *, n_img: int, dts_per_img: int, seed: int = 1):
    """Objects365-shaped bbox problem (vectorised: 2M detections in seconds)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_cat = 365
    h = rng.integers(400, 1025, n_img)
    w = rng.integers(500, 1025, n_img)
    iid = 200000 + np.arange(n_img) * 3
    n_g = rng.poisson(13.0, n_img)
    # each image draws its objects from a handful of categories (long-tailed frequencies)
    freq = 1.0 / np.arange(1, n_cat + 1) ** 0.8
    freq /= freq.sum()
    img_cats = rng.choice(n_cat, size=(n_img, 8), p=freq) + 1
    g_img = np.repeat(np.arange(n_img), n_g)
    G = len(g_img)
    gw_, gh_ = w[g_img], h[g_img]
    bw = np.round(np.exp(rng.uniform(np.log(4), np.log(gw_ * 0.9))), 2)
    bh = np.round(np.exp(rng.uniform(np.log(4), np.log(gh_ * 0.9))), 2)
    bx = np.round(rng.uniform(0, gw_ - bw), 2)
    by = np.round(rng.uniform(0, gh_ - bh), 2)
    g_cat = img_cats[g_img, rng.integers(0, 8, G)]
    crowd = (rng.random(G) < 0.01).astype(int)
    area = np.round(bw * bh * rng.uniform(0.5, 0.9, G), 2)
    images = [
        {"id": int(a), "height": int(b), "width": int(c), "file_name": f"objects365_{a:08d}.jpg"}
        for a, b, c in zip(iid.tolist(), h.tolist(), w.tolist())
    ]
    anns = [
        {"id": k + 1, "image_id": int(iid[i]), "category_id": int(c), "bbox": [x, y, u, v],
         "area": a, "iscrowd": cr}
        for k, (i, c, x, y, u, v, a, cr) in enumerate(zip(
            g_img.tolist(), g_cat.tolist(), bx.tolist(), by.tolist(), bw.tolist(), bh.tolist(),
            area.tolist(), crowd.tolist()))
    ]  # fmt: skip
    D = n_img * dts_per_img
    d_img = np.repeat(np.arange(n_img), dts_per_img)
    g_start = np.r_[0, np.cumsum(n_g)[:-1]]
    near = (rng.random(D) < 0.5) & (n_g[d_img] > 0)
    pick = g_start[d_img] + (rng.random(D) * np.maximum(n_g[d_img], 1)).astype(np.int64)
    pick = np.minimum(pick, G - 1)
    s = 0.1 * np.minimum(bw[pick], bh[pick])
    rw = rng.uniform(4, w[d_img] * 0.4)
    rh = rng.uniform(4, h[d_img] * 0.4)
    dx = np.where(near, bx[pick] + rng.normal(size=D) * s, rng.uniform(0, w[d_img] - rw))
    dy = np.where(near, by[pick] + rng.normal(size=D) * s, rng.uniform(0, h[d_img] - rh))
    dw = np.where(near, bw[pick] * rng.uniform(0.8, 1.2, D), rw)
    dh = np.where(near, bh[pick] * rng.uniform(0.8, 1.2, D), rh)
    rand_cat = rng.choice(n_cat, size=D, p=freq) + 1
    own_cat = img_cats[d_img, rng.integers(0, 8, D)]
    d_cat = np.where(
        near & (rng.random(D) < 0.8), g_cat[pick], np.where(rng.random(D) < 0.7, own_cat, rand_cat)
    )
    box = np.round(np.maximum(np.stack([dx, dy, dw, dh], 1), 0.0), 2)
    score = np.round(rng.random(D), 5)
    res = [
        {"image_id": int(iid[i]), "category_id": int(c), "bbox": b, "score": sc}
        for i, c, b, sc in zip(d_img.tolist(), d_cat.tolist(), box.tolist(), score.tolist())
    ]
    cats = [{"id": c, "name": f"object{c}", "supercategory": "thing"} for c in range(1, n_cat + 1)]
    gt = {"info": {"description": "synthetic objects365"}, "images": images, "annotations": anns,
          "categories": cats}  # fmt: skip
    path_gt.write_text(json.dumps(gt))
    path_res.write_text(json.dumps(res))


def generate_keypoints(
    path_gt: Path, path_res: Path, *, n_img: int, dts_per_img: int, seed: int = 2
) -> None:
    """Person keypoints, COCO-shaped (17 keypoints, one category)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images, anns, res = [], [], []
    aid = 1
    for i in range(n_img):
        iid = int(300000 + i * 5)
        h, w = int(rng.integers(240, 641)), int(rng.integers(320, 641))
        images.append({"id": iid, "height": h, "width": w, "file_name": f"{iid:012d}.jpg"})
        gts = []
        for _ in range(int(rng.poisson(2.5))):
            bw = float(np.round(rng.uniform(8, w * 0.8), 2))
            bh = float(np.round(rng.uniform(16, h * 0.9), 2))
            x = float(np.round(rng.uniform(0, w - bw), 2))
            y = float(np.round(rng.uniform(0, h - bh), 2))
            kx = np.round(x + rng.uniform(0, bw, 17), 2)
            ky = np.round(y + rng.uniform(0, bh, 17), 2)
            v = rng.choice([0, 1, 2], size=17, p=[0.3, 0.2, 0.5])
            if rng.random() < 0.15:
                v[:] = 0
            kx[v == 0] = 0
            ky[v == 0] = 0
            kps = [float(t) for xyv in zip(kx, ky, v) for t in xyv]
            a = {
                "id": aid, "image_id": iid, "category_id": 1, "bbox": [x, y, bw, bh],
                "area": float(np.round(bw * bh * rng.uniform(0.4, 0.8), 2)),
                "iscrowd": int(rng.random() < 0.02), "keypoints": kps,
                "num_keypoints": int(np.count_nonzero(v)),
            }  # fmt: skip
            aid += 1
            anns.append(a)
            gts.append((a, kx, ky, v))
        for _ in range(dts_per_img):
            if gts and rng.random() < 0.6:
                a, kx, ky, v = gts[int(rng.integers(len(gts)))]
                bx, by, bw, bh = a["bbox"]
                sc = 0.05 * np.sqrt(bw * bh)
                px = np.where(v > 0, kx, bx + rng.uniform(0, bw, 17)) + rng.normal(size=17) * sc
                py = np.where(v > 0, ky, by + rng.uniform(0, bh, 17)) + rng.normal(size=17) * sc
            else:
                bw, bh = rng.uniform(8, w * 0.5), rng.uniform(16, h * 0.6)
                bx, by = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                px = bx + rng.uniform(0, bw, 17)
                py = by + rng.uniform(0, bh, 17)
            pv = np.round(rng.uniform(0.05, 1.0, 17), 3)
            kps = [float(t) for xyv in zip(np.round(px, 2), np.round(py, 2), pv) for t in xyv]
            x0, y0 = float(np.round(px.min(), 2)), float(np.round(py.min(), 2))
            box = [x0, y0, float(np.round(px.max() - x0, 2)), float(np.round(py.max() - y0, 2))]
            res.append(
                {"image_id": iid, "category_id": 1, "keypoints": kps, "bbox": box,
                 "score": float(round(rng.random(), 5))}
            )  # fmt: skip
    cats = [{"id": 1, "name": "person", "supercategory": "person"}]
    gt = {"info": {"description": "synthetic keypoints"}, "images": images, "annotations": anns,
          "categories": cats}  # fmt: skip
    path_gt.write_text(json.dumps(gt))
    path_res.write_text(json.dumps(res))


def _polygon(rng, x: float, y: float, w: float, h: float) -> list[float]:
    import numpy as np

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
        r["bbox"] = [float(v) for v in mask_utils.toBbox(rle)]  # as mmdetection writes them
        rle["counts"] = rle["counts"].decode("ascii")
        r["segmentation"] = rle
    return res


# -- workers (each in its own process) --------------------------------------------------
def worker(peer: str, gt: str, res: str, iou_type: str, threads: int, dump: str | None) -> dict:
    import contextlib
    import io

    out: dict = {"peer": peer}
    with contextlib.redirect_stdout(io.StringIO()):
        stats, arrays, extra = _work(peer, gt, res, iou_type, threads)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out.update(extra)
    out["t_ready"] = time.time()
    out["cpu"] = ru.ru_utime + ru.ru_stime - extra.pop("cpu_untimed", 0.0)
    out["rss_mb"] = ru.ru_maxrss / 1024
    if "child_cpu" in extra:  # bench-eval: the command's own process
        out["cpu"], out["rss_mb"] = extra.pop("child_cpu"), extra.pop("child_rss_mb")
    out["stats"] = [float(s) for s in stats]
    if dump and arrays is not None:
        import numpy as np

        np.savez(dump, **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
        out["dumped"] = True
    return out


def _pyco_arrays(e) -> dict:
    ev = e.eval
    return {k: ev[k] for k in ("precision", "recall", "scores")}


def _work(peer: str, gt: str, res: str, iou_type: str, threads: int):
    extra: dict = {}
    arrays = None
    if peer == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        g = COCO(gt)
        d = g.loadRes(res)
        e = COCOeval(g, d, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
        stats, arrays = e.stats, _pyco_arrays(e)
    elif peer == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        g = COCO(gt)
        d = g.loadRes(res)
        e = COCOeval_faster(g, d, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
        stats, arrays = e.stats, _pyco_arrays(e)
    elif peer == "hotcoco":
        import hotcoco

        g = hotcoco.COCO(gt)
        d = g.load_res(res)
        e = hotcoco.COCOeval(g, d, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
        stats, arrays = e.stats, _pyco_arrays(e)
    elif peer == "ultrafast-pycocotools":
        from ultrafast_pycocotools import COCO, COCOeval

        g = COCO(gt, verbose=False)
        d = g.loadRes(res)
        e = COCOeval(g, d, iou_type, print_function=lambda *a: None)
        e.evaluate()
        e.accumulate()
        e.summarize()
        stats, arrays = e.stats, _pyco_arrays(e)
    elif peer == "vernier":  # the native API (its fastest path): bytes in, summary out
        from vernier.instance import Bbox, CocoDataset, Evaluator, Keypoints, Segm

        kind = {"bbox": Bbox, "segm": Segm, "keypoints": Keypoints}[iou_type]()
        gt_ds = CocoDataset.from_json(Path(gt).read_bytes())
        summary = Evaluator(iou=kind, parity_mode="strict").evaluate(
            gt_ds, Path(res).read_bytes(), num_threads=threads
        )
        stats = summary.stats
    elif peer == "visionbench":
        from visionbench.metrics.detection.coco import coco_evaluate

        r = coco_evaluate(gt, res, iou_type=iou_type, compat="pycocotools")
        stats = r.arrays["stats"]
        arrays = {k: r.arrays[k] for k in ("precision", "recall", "scores")}
    elif peer == "visionbench-exit":
        # the library call measured as bench-eval is: a child process, exec to exit (the
        # interpreter's teardown included, ~0.1 s on this problem); bench eval's ratio to it
        # compares like with like
        code = (
            "import sys, numpy as np\n"
            "from visionbench.metrics.detection.coco import coco_evaluate\n"
            "r = coco_evaluate(sys.argv[1], sys.argv[2], iou_type=sys.argv[3], compat='pycocotools')\n"
            "np.save(sys.argv[4], r.arrays['stats'])\n"
        )
        import tempfile

        import numpy as np

        with tempfile.TemporaryDirectory() as tmp:
            out_npy = str(Path(tmp) / "stats.npy")
            p = subprocess.run([sys.executable, "-c", code, gt, res, iou_type, out_npy],
                               capture_output=True, text=True)  # fmt: skip
            if p.returncode != 0:
                raise SystemExit(f"library call failed: {(p.stderr or p.stdout).strip()[-500:]}")
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            extra["child_cpu"] = ru.ru_utime + ru.ru_stime
            extra["child_rss_mb"] = ru.ru_maxrss / 1024
            stats = np.load(out_npy)
    elif peer in ("bench-eval", "bench-eval-noci"):
        # the CLI end to end (its own process: start-up, protocol, record writing); CPU and
        # peak RSS are the child's, reported in place of this worker's. bench-eval computes
        # the default B = 1000 bootstrap intervals; bench-eval-noci passes --bootstrap 0
        # (the per-sample statistics are still written)
        import tempfile

        import numpy as np

        with tempfile.TemporaryDirectory() as results:
            cmd = [str(Path(sys.executable).with_name("bench")), "eval", "--gt", gt,
                   "--predictions", res, "-M", f"iou_type={iou_type}", "-M",
                   "compat=pycocotools", "--results", results]  # fmt: skip
            if peer == "bench-eval-noci":
                cmd += ["--bootstrap", "0"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"bench eval failed: {(p.stderr or p.stdout).strip()[-500:]}")
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            extra["child_cpu"] = ru.ru_utime + ru.ru_stime
            extra["child_rss_mb"] = ru.ru_maxrss / 1024
            rec_path = next((Path(results) / "records").glob("*.json"))
            rec = json.loads(rec_path.read_text())
            stats = np.load(rec_path.parent / rec["arrays_file"])["stats"]
    elif peer == "visionbench-arrays":
        # columns loaded first (untimed), then evaluate + accumulate + summarize; the
        # first call in the process (cold: kernels loaded) is the one timed
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        from visionbench.metrics.detection.coco import coco_evaluate
        from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results

        g = load_ground_truth(gt, iou_type=iou_type, compat=True)
        d = load_results(res, g, iou_type=iou_type, compat=True)
        if iou_type == "segm":  # polygons -> RLE is part of loading the columns
            import numpy as np

            from visionbench.metrics.detection.coco_masks import rles_for

            g.anns.segm = rles_for(g.anns, np.arange(len(g.anns)), g.image_size, "gt")
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        extra["cpu_untimed"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        extra["cpu_untimed"] += ru0.ru_utime + ru0.ru_stime  # interpreter start-up too
        t0, c0 = time.perf_counter(), time.process_time()
        r = coco_evaluate(g, d, iou_type=iou_type, compat="pycocotools")
        extra["eval_wall"] = time.perf_counter() - t0
        extra["eval_cpu"] = time.process_time() - c0
        stats = r.arrays["stats"]
        arrays = {k: r.arrays[k] for k in ("precision", "recall", "scores")}
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    return stats, arrays, extra


COLD_BYTECODE = False  # --cold-bytecode


def run_peer(
    peer: str, gt: Path, res: Path, iou_type: str, threads: int, dump: Path | None
) -> dict:
    cmd = [sys.executable, __file__, "--worker", peer, "--gt", str(gt), "--res", str(res)]
    cmd += ["--iou-type", iou_type, "--threads", str(threads)]
    if dump is not None:
        cmd += ["--dump", str(dump)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if not COLD_BYTECODE:
        # Python's default: modules run from cached bytecode (__pycache__, written on the
        # first import, or by pip at install). An environment with PYTHONDONTWRITEBYTECODE
        # recompiles every module of every process, which costs bench eval (~90 modules)
        # ~0.3 s and the library call (~25) much less: a cost no installed user pays
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    for var in ("RAYON_NUM_THREADS", "VERNIER_NUM_THREADS", "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VISIONBENCH_NUM_THREADS"):  # fmt: skip
        env[var] = str(threads)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"peer": peer, "error": (p.stderr or p.stdout).strip().splitlines()[-1:]}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall"] = out.pop("t_ready") - t0
    return out


# -- driver ---------------------------------------------------------------------------
def reference(name: str, gt: Path, res: Path, iou_type: str, cache: Path) -> dict | None:
    """pycocotools' arrays and stats for a problem (computed once, cached)."""
    import numpy as np

    path = cache / f"{gt.stem.removesuffix('_gt')}_pycocotools.npz"
    if not path.exists():
        print(f"computing pycocotools' reference arrays for {name} (once) ...", flush=True)
        t = time.perf_counter()
        tmp = path.with_suffix(".tmp.npz")
        r = run_peer("pycocotools", gt, res, iou_type, 1, tmp)
        if "error" in r:
            print(f"  pycocotools failed: {r['error']}")
            return None
        with np.load(tmp) as z:
            np.savez(path, stats=np.asarray(r["stats"]), **{k: z[k] for k in z.files})
        tmp.unlink()
        print(f"  done in {time.perf_counter() - t:.0f} s (CPU {r['cpu']:.1f} s)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def compare(ref: dict | None, run: dict, dump: Path | None) -> str:
    import numpy as np

    if ref is None:
        return "n/a"
    if not np.array_equal(ref["stats"], run["stats"]):
        d = np.max(np.abs(np.subtract(ref["stats"], run["stats"])))
        return f"NO (stats, max |d| {d:.1e})"
    if dump is None or not run.get("dumped"):
        return "stats"
    with np.load(dump) as z:
        bad = [k for k in ("precision", "recall", "scores") if not np.array_equal(ref[k], z[k])]
    return "NO (" + ",".join(bad) + ")" if bad else "all arrays"


def bench(name, gt, res, iou_type, a, peers, cache) -> bool:
    print(f"\n## {name}: {gt.name} / {res.name} ({res.stat().st_size / 1e6:.1f} MB results)")
    ref = reference(name, gt, res, iou_type, cache) if a.check else None
    modes = [1, os.cpu_count() or 1] if not a.one_mode else [1]
    if res.stat().st_size > 100e6 and not a.slow_everywhere:
        peers = [p for p in peers if p not in SLOW]
        print("(pycocotools / faster-coco-eval not timed on this problem, --slow-everywhere to "
              "time them; the arrays are still compared with pycocotools' cached ones)")  # fmt: skip
    ok = True
    for threads in modes:
        plist = [p for p in peers if threads == 1 or p in THREADED or p in OURS]
        runs: dict[str, list[dict]] = {p: [] for p in plist}
        same: dict[str, str] = {}
        n_round = max(a.repeat, a.slow_repeat)
        for rnd in range(n_round):
            order = plist[rnd % len(plist) :] + plist[: rnd % len(plist)]
            for p in order:
                if len(runs[p]) >= (a.slow_repeat if p in SLOW else a.repeat):
                    continue
                dump = cache / f"_dump_{p}.npz" if (a.check and p not in same) else None
                r = run_peer(p, gt, res, iou_type, threads, dump)
                runs[p].append(r)
                if "error" in r:
                    same[p] = "error"
                    continue
                c = compare(ref, r, dump)
                if p not in same or c.startswith("NO"):
                    same[p] = c
                if dump is not None and dump.exists():
                    dump.unlink()
        ok &= _table(name, threads, runs, same)
    return ok


def _table(name: str, threads: int, runs: dict, same: dict) -> bool:
    import numpy as np

    good = {p: [x for x in r if "error" not in x] for p, r in runs.items()}
    med = {k: {p: float(np.median([x[k] for x in r])) for p, r in good.items() if r}
           for k in ("cpu", "wall", "rss_mb")}  # fmt: skip
    peers_here = [p for p in med["cpu"] if p not in OURS]
    best = {k: min((med[k][p] for p in peers_here), default=None) for k in med}
    best_by = {k: next((p for p in peers_here if med[k][p] == best[k]), "") for k in med}
    print(f"\n### {name}, threads={threads} (best peer: CPU {best_by['cpu']}, wall "
          f"{best_by['wall']}, RSS {best_by['rss_mb']})\n")  # fmt: skip
    print("| evaluator | CPU s | CPU vs best | wall s | wall vs best | peak RSS MB "
          "| RSS vs best | runs | identical to pycocotools |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for p, r in runs.items():
        if not r:
            continue
        if not good[p]:
            print(f"| {p} | error: {r[0].get('error')} | | | | | | | |")
            ok &= p not in OURS
            continue
        s = same.get(p, "n/a")
        if p in OURS and s.startswith("NO"):
            ok = False

        def ratio(k: str, p: str = p) -> str:
            return f"{med[k][p] / best[k]:.2f}x" if best[k] else ""

        cpus = "/".join(f"{x['cpu']:.2f}" for x in good[p])
        print(f"| {p} | {med['cpu'][p]:.3f} | {ratio('cpu')} | {med['wall'][p]:.3f} | "
              f"{ratio('wall')} | {med['rss_mb'][p]:.0f} | {ratio('rss_mb')} | {cpus} | {s} |")  # fmt: skip
    for be in ("bench-eval-noci", "bench-eval"):  # issue 10: bench eval vs the library call
        for lib in ("visionbench-exit", "visionbench"):
            if be in med["cpu"] and lib in med["cpu"]:
                print(f"\n{be} vs {lib}: CPU {med['cpu'][be] / med['cpu'][lib]:.2f}x, "
                      f"peak RSS {med['rss_mb'][be] / med['rss_mb'][lib]:.2f}x")  # fmt: skip
    arr = good.get("visionbench-arrays")
    if arr:
        ew = np.median([x["eval_wall"] for x in arr])
        ec = np.median([x["eval_cpu"] for x in arr])
        print(f"\nvisionbench from loaded arrays (first call in the process): evaluate + "
              f"accumulate + summarize {ew:.3f} s wall / {ec:.3f} s CPU")  # fmt: skip
    return ok


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("pycocotools", "faster-coco-eval", "hotcoco", "ultrafast-pycocotools",
                 "vernier", "numpy", "numba", "orjson"):  # fmt: skip
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", "--small", dest="quick", action="store_true", help="CI size")
    ap.add_argument("--repeat", type=int, default=3, help="runs per fast evaluator (median)")
    ap.add_argument(
        "--slow-repeat", type=int, default=1, help="runs of pycocotools / faster-coco-eval"
    )
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--only", default=None, help="comma list of problems: " + ",".join(PROBLEMS))
    ap.add_argument("--one-mode", action="store_true", help="single-threaded runs only")
    ap.add_argument("--slow-everywhere", action="store_true",
                    help="also time pycocotools / faster-coco-eval on results files > 100 MB")  # fmt: skip
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="skip the array comparison with pycocotools")  # fmt: skip
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gt", help=argparse.SUPPRESS)
    ap.add_argument("--res", help=argparse.SUPPRESS)
    ap.add_argument("--iou-type", default="bbox", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--dump", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cold-bytecode", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE: every process compiles its modules")  # fmt: skip
    a = ap.parse_args()
    global COLD_BYTECODE
    COLD_BYTECODE = a.cold_bytecode
    if a.worker:
        print(json.dumps(worker(a.worker, a.gt, a.res, a.iou_type, a.threads, a.dump)))
        return
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    if not COLD_BYTECODE:
        import compileall

        compileall.compile_dir(ROOT / "visionbench", quiet=1)  # what the first import writes
    print(f"versions: {_versions()}; {os.cpu_count()} CPUs; load average {os.getloadavg()}")
    peers = a.peers.split(",")
    only = a.only.split(",") if a.only else list(PROBLEMS)
    ok = True
    for name in only:
        iou_type, full, quick = PROBLEMS[name]
        n_img, n_dt = quick if a.quick else full
        gt, res = cache / f"{name}_{n_img}_gt.json", cache / f"{name}_{n_img}_res.json"
        if not (gt.exists() and res.exists()):
            t = time.perf_counter()
            if name == "o365":
                generate_o365(gt, res, n_img=n_img, dts_per_img=n_dt)
            elif name == "keypoints":
                generate_keypoints(gt, res, n_img=n_img, dts_per_img=n_dt)
            else:
                generate(gt, res, n_img=n_img, dts_per_img=n_dt, iou_type=iou_type)
            print(f"generated {gt.name}, {res.name} in {time.perf_counter() - t:.1f} s")
        ok &= bench(f"{name}, {n_img} images", gt, res, iou_type, a, peers, cache)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
