"""COCO instances loader: parse + validate + bulk ground truth, against its peers.

Generates a COCO-format instances file (``--images``, ``--anns``; train2017 has 118,287
images and 860,001 annotations, val2017 5,000 and 36,781) with polygon segmentations, then
times in fresh subprocesses, one after the other (imports excluded):

- ``orjson``: ``orjson.loads`` of the file (the floor: no validation, no index);
- ``pycocotools``: ``COCO(path)`` (json.load + createIndex);
- ``visionbench``: ``COCODetection(path)`` (parse + validate) and ``.ground_truth()``
  (a DetectionTarget per image).

Prints median wall time and peak RSS per variant and the ratios to orjson.

    python benchmarks/coco_loader.py --images 5000 --anns 36781
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_RUN = r"""
import resource, sys, time, json, contextlib, io
import orjson
from pycocotools.coco import COCO
from visionbench.loaders.coco import COCODetection
kind, path = sys.argv[1], sys.argv[2]
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
    ds = COCODetection(path)
    t1 = time.perf_counter()
    gt = ds.ground_truth()
t2 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"load": t1 - t0, "total": t2 - t0, "rss_mb": rss}))
"""


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
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instances.json"
        write_instances(path, args.images, args.anns)
        mb = path.stat().st_size / 1e6
        print(f"{args.images} images, {args.anns} annotations, {mb:.0f} MB")
        runs: dict[str, list[dict[str, float]]] = {
            k: [] for k in ("orjson", "pycocotools", "visionbench")
        }
        for _ in range(args.repeat):  # interleaved, so machine load hits every variant alike
            for kind in runs:
                cmd = [sys.executable, "-c", _RUN, kind, str(path)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
        res = {
            k: {f: float(np.median([r[f] for r in rs])) for f in rs[0]} for k, rs in runs.items()
        }
        print(f"medians of {args.repeat} runs")
        base = res["orjson"]["total"]
        print(f"{'variant':<28}{'wall s':>9}{'x orjson':>10}{'peak RSS MB':>13}")
        for kind, r in res.items():
            print(f"{kind:<28}{r['total']:>9.2f}{r['total'] / base:>10.2f}{r['rss_mb']:>13.0f}")
        v = res["visionbench"]
        print(f"{'  visionbench load+validate':<28}{v['load']:>9.2f}{v['load'] / base:>10.2f}")
        print(f"{'  visionbench ground_truth':<28}{v['total'] - v['load']:>9.2f}")


if __name__ == "__main__":
    main()
