"""COCO instances loader: parse + validate + bulk ground truth, against its peers, and
the Arrow cache (first build, cached reopen).

Generates a COCO-format instances file (``--images``, ``--anns``; train2017 has 118,287
images and 860,001 annotations, val2017 5,000 and 36,781) with polygon segmentations, then
times in fresh subprocesses, one after the other (imports excluded, pandas included: pyarrow
imports it on its first conversion, ~0.2 s here):

- ``orjson``: ``orjson.loads`` of the file (the floor: no validation, no index);
- ``pycocotools``: ``COCO(path)`` (json.load + createIndex);
- ``visionbench (no cache)``: ``COCODetection(path, cache=False)`` (parse + validate in
  memory) and ``.ground_truth()`` (a DetectionTarget per image);
- ``first build``: ``COCODetection(path, cache_dir=D)`` with ``D`` emptied first (parse,
  validate, write the Arrow IPC files);
- ``cached reopen``: the same call with the cache present (memory-mapped), and its
  ``.ground_truth()``.

Prints median wall time and peak RSS per variant and the ratios to orjson.

    python benchmarks/coco_loader.py --images 5000 --anns 36781
    python benchmarks/coco_loader.py --images 118000 --anns 860000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_RUN = r"""
import sys, time, json, contextlib, io
import orjson, pandas, pyarrow  # pyarrow imports pandas on its first conversion
from pycocotools.coco import COCO
from visionbench.loaders.coco import COCODetection
kind, path, cache_dir = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if kind == "orjson":
    with open(path, "rb") as f:
        orjson.loads(f.read())
    t1 = t0
elif kind == "pycocotools":
    with contextlib.redirect_stdout(io.StringIO()):
        COCO(path)
    t1 = t0
else:
    if kind == "nocache":
        ds = COCODetection(path, cache=False)
    else:
        ds = COCODetection(path, cache_dir=cache_dir)
    t1 = time.perf_counter()
    gt = ds.ground_truth()
t2 = time.perf_counter()
# VmHWM: this process's peak RSS (ru_maxrss would carry the forking parent's over exec)
with open("/proc/self/status") as f:
    rss = next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
print(json.dumps({"load": t1 - t0, "total": t2 - t0, "rss_mb": rss}))
"""

_NAMES = {
    "orjson": "orjson.loads (bare)",
    "pycocotools": "pycocotools COCO()",
    "nocache": "visionbench (no cache)",
    "build": "first build (Arrow cache)",
    "reopen": "cached reopen (mmap)",
}


def write_instances(path: Path, n_images: int, n_anns: int, seed: int = 0) -> None:
    """A valid COCO instances file with polygons of 8-20 vertices."""
    import orjson

    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": 640, "height": 480,
               "license": 1, "coco_url": "", "date_captured": ""} for i in range(n_images)]  # fmt: skip
    cats = json.loads(
        (Path(__file__).parents[1] / "visionbench" / "data" / "coco_categories.json").read_text()
    )
    cat_ids = [c["id"] for c in cats["categories"]]
    anns = []
    img = rng.integers(1, n_images + 1, n_anns)
    xy = rng.uniform(0, 400, (n_anns, 2)).round(2)
    wh = rng.uniform(1, 200, (n_anns, 2)).round(2)
    nv = rng.integers(8, 21, n_anns)
    crowd = rng.random(n_anns) < 0.01
    for k in range(n_anns):
        x, y = xy[k]
        w, h = wh[k]
        poly = (
            rng.uniform(0, 1, 2 * nv[k]) * np.tile([w, h], nv[k]) + np.tile([x, y], nv[k])
        ).round(2)
        anns.append({"segmentation": [poly.tolist()], "area": float(round(w * h * 0.6, 3)),
                     "iscrowd": int(crowd[k]), "image_id": int(img[k]), "bbox": [float(x), float(y), float(w), float(h)],
                     "category_id": int(cat_ids[k % 80]), "id": k + 1})  # fmt: skip
    path.write_bytes(orjson.dumps({"info": {}, "licenses": [], "images": images, "annotations": anns,
                                   "categories": cats["categories"]}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--anns", type=int, default=36781)
    ap.add_argument("--repeat", type=int, default=3, help="runs per variant; medians are shown")
    ap.add_argument("--skip", default="", help="comma-separated variants to leave out")
    args = ap.parse_args()
    skip = {k for k in args.skip.split(",") if k}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instances.json"
        cache_dir = Path(tmp) / "arrow"
        write_instances(path, args.images, args.anns)
        mb = path.stat().st_size / 1e6
        print(f"{args.images} images, {args.anns} annotations, {mb:.0f} MB")
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in _NAMES if k not in skip}
        for _ in range(args.repeat):  # interleaved, so machine load hits every variant alike
            for kind in runs:
                if kind == "build":
                    shutil.rmtree(cache_dir, ignore_errors=True)
                cmd = [sys.executable, "-c", _RUN, kind, str(path), str(cache_dir)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
        if "build" in runs:
            size = sum(f.stat().st_size for f in cache_dir.rglob("*.arrow")) / 1e6
            print(f"cache entry: {size:.0f} MB of Arrow IPC")
        res = {
            k: {f: float(np.median([r[f] for r in rs])) for f in rs[0]} for k, rs in runs.items()
        }
        print(f"medians of {args.repeat} runs; load = constructor, total = + ground_truth()")
        base = res["orjson"]["total"] if "orjson" in res else float("nan")
        head = f"{'variant':<28}{'load s':>9}{'x orjson':>10}{'total s':>9}{'peak RSS MB':>13}"
        print(head)
        for kind, r in res.items():
            load = r["load"] if kind in ("nocache", "build", "reopen") else r["total"]
            print(
                f"{_NAMES[kind]:<28}{load:>9.2f}{load / base:>10.3f}{r['total']:>9.2f}"
                f"{r['rss_mb']:>13.0f}"
            )
        for kind, rs in runs.items():
            print(f"  {kind} runs (total s): " + ", ".join(f"{r['total']:.2f}" for r in rs))


if __name__ == "__main__":
    main()
