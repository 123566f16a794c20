"""Loader benchmark: Visual Genome-scale annotation files, parsed once, memory-mapped after.

Generates VG v1.4-shaped ``image_data.json``, ``objects.json``, ``relationships.json`` and
``region_descriptions.json`` at full scale (108,077 images, 3.8M objects, 2.3M
relationships, 5.4M region descriptions; ``--scale`` shrinks every count), then times, each
in a fresh subprocess and ``--repeat`` times (median reported), with the peak RSS of that
subprocess:

- ``json``: bare ``json.load`` of each file + a per-image parse into numpy boxes and
  name lists (what a straightforward loader does);
- ``orjson``: bare ``orjson.loads`` of each file (no further work);
- ``first build``: visionbench's parse of the four files into the Arrow cache (cold cache);
- ``cached reopen``: reopening that cache (memory-mapped tables);
- ``reopen + dataset``: reopening and building the ``VisualGenome`` scene-graph dataset
  (labels mapped to VG-150 over all 3.8M objects) and reading its first sample.

Targets (issue 5): cached reopen <= 1 s and <= 500 MB peak RSS; first build <= 2x orjson.

    python benchmarks/loaders.py --scale 0.05            # quick
    python benchmarks/loaders.py --data /tmp/vg-full     # full size (several GB of RAM)
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
import time
from pathlib import Path

import numpy as np

FULL = {"images": 108_077, "objects": 3_800_000, "relationships": 2_300_000, "regions": 5_400_000}
FILES = ("image_data.json", "objects.json", "relationships.json", "region_descriptions.json")
NAMES = [
    "man",
    "person",
    "window",
    "tree",
    "building",
    "shirt",
    "wall",
    "woman",
    "sign",
    "sky",
    "ground",
    "grass",
    "cloud",
    "pole",
    "car",
    "table",
    "leaf",
    "hand",
    "head",
    "leg",
    "water",
    "hair",
    "plate",
    "fence",
    "people",
    "door",
    "chair",
    "floor",
    "road",
    "line",
    "street",
    "pants",
    "jacket",
    "hat",
    "snow",
    "light",
    "shadow",
    "letter",
    "wheel",
    "field",
    "boy",
    "plane",
    "train",
    "bus",
    "dog",
]
PREDICATES = [
    "on",
    "has",
    "in",
    "of",
    "wearing",
    "near",
    "with",
    "above",
    "holding",
    "behind",
    "under",
    "sitting on",
    "wears",
    "standing on",
    "in front of",
    "attached to",
    "at",
    "hanging from",
]
WORDS = [
    "the",
    "a",
    "white",
    "black",
    "red",
    "on",
    "of",
    "is",
    "in",
    "large",
    "small",
    "green",
    "blue",
    "wooden",
    "with",
    "near",
    "tall",
    "standing",
    "sitting",
    "parked",
    "metal",
    "glass",
    "brown",
]


# ---------------------------------------------------------------------------------------
# Generation


def generate(root: Path, scale: float, seed: int = 0) -> dict[str, int]:
    """Write the four files under ``root`` (v1.4 schema); returns the counts written."""
    import orjson

    rng = np.random.default_rng(seed)
    n_img = max(1, round(FULL["images"] * scale))
    counts = {
        k: rng.multinomial(round(FULL[k] * scale), np.full(n_img, 1 / n_img))
        for k in ("objects", "relationships", "regions")
    }
    widths = rng.integers(300, 1281, n_img)
    heights = rng.integers(300, 1281, n_img)
    root.mkdir(parents=True, exist_ok=True)
    writers = {f: open(root / f, "wb") for f in FILES}  # noqa: SIM115
    try:
        for w in writers.values():
            w.write(b"[")
        obj_id, rel_id, reg_id = 1, 1, 1
        chunk = 2000
        for c0 in range(0, n_img, chunk):
            imgs, objs, rels, regs = [], [], [], []
            for i in range(c0, min(n_img, c0 + chunk)):
                image_id = i + 1
                W, H = int(widths[i]), int(heights[i])
                url = f"https://cs.stanford.edu/people/rak248/VG_100K/{image_id}.jpg"
                imgs.append(
                    {
                        "width": W,
                        "url": url,
                        "height": H,
                        "image_id": image_id,
                        "coco_id": None,
                        "flickr_id": None,
                    }
                )
                no, nr, ng = (
                    int(counts["objects"][i]),
                    int(counts["relationships"][i]),
                    int(counts["regions"][i]),
                )
                b = _boxes(rng, max(no, 1) + 2 * nr + ng, W, H)
                names = rng.integers(0, len(NAMES), no + 2 * nr)
                olist = []
                for k in range(no):
                    x, y, w, h = b[k]
                    n = NAMES[names[k]]
                    olist.append(
                        {
                            "synsets": [f"{n}.n.01"],
                            "h": h,
                            "object_id": obj_id + k,
                            "merged_object_ids": [] if k % 10 else [obj_id + k + 7_000_000],
                            "names": [n],
                            "w": w,
                            "y": y,
                            "x": x,
                        }
                    )
                objs.append({"image_id": image_id, "image_url": url, "objects": olist})
                rlist = []
                preds = rng.integers(0, len(PREDICATES), nr)
                ends = rng.integers(0, max(no, 1), (nr, 2))
                for k in range(nr):
                    p = PREDICATES[preds[k]]
                    rlist.append(
                        {
                            "predicate": p,
                            "object": _endpoint(obj_id, ends[k, 1], b, names, k % 10 == 0),
                            "relationship_id": rel_id + k,
                            "synsets": [f"{p.split()[0]}.r.01"],
                            "subject": _endpoint(obj_id, ends[k, 0], b, names, False),
                        }
                    )
                rels.append({"image_id": image_id, "relationships": rlist})
                glist = []
                words = rng.integers(0, len(WORDS), (ng, 5))
                for k in range(ng):
                    x, y, w, h = b[no + 2 * nr + k]
                    phrase = (
                        " ".join(WORDS[j] for j in words[k])
                        + " "
                        + NAMES[names[k % max(len(names), 1)]]
                        if len(names)
                        else " ".join(WORDS[j] for j in words[k])
                    )
                    glist.append(
                        {
                            "region_id": reg_id + k,
                            "width": w,
                            "height": h,
                            "image_id": image_id,
                            "phrase": phrase,
                            "y": y,
                            "x": x,
                        }
                    )
                regs.append({"id": image_id, "regions": glist})
                obj_id, rel_id, reg_id = obj_id + no, rel_id + nr, reg_id + ng
            sep = b"," if c0 else b""
            for f, part in zip(FILES, (imgs, objs, rels, regs)):
                writers[f].write(sep + orjson.dumps(part)[1:-1])
        for w in writers.values():
            w.write(b"]")
    finally:
        for w in writers.values():
            w.close()
    return {"images": n_img, **{k: int(v.sum()) for k, v in counts.items()}}


def _boxes(rng: np.random.Generator, n: int, W: int, H: int) -> list[list[int]]:
    x = rng.integers(0, W - 10, n)
    y = rng.integers(0, H - 10, n)
    w = np.minimum(rng.integers(5, 400, n), W - x)
    h = np.minimum(rng.integers(5, 400, n), H - y)
    return np.stack([x, y, w, h], 1).tolist()


def _endpoint(obj_id: int, k: int, b: list, names: np.ndarray, merged: bool) -> dict:
    x, y, w, h = b[k]
    n = NAMES[names[k]]
    e = {"h": h, "synsets": [f"{n}.n.01"], "object_id": obj_id + int(k), "w": w, "y": y, "x": x}
    if merged:
        e.update(names=[n], merged_object_ids=[obj_id + int(k) + 7_000_000])
    else:
        e["name"] = n
    return e


# ---------------------------------------------------------------------------------------
# Measurements (run in a child process: `loaders.py _measure MODE ROOT CACHE`)


def _per_image_parse(name: str, data: list) -> int:
    """What a bare loader does after json.load: per image, numpy boxes + name lists."""
    n = 0
    if name == "objects.json":
        for e in data:
            objs = e["objects"]
            boxes = np.array([[o["x"], o["y"], o["w"], o["h"]] for o in objs], np.float64).reshape(
                -1, 4
            )
            labels = [o["names"][0] for o in objs]
            n += len(boxes) + len(labels) * 0
    elif name == "relationships.json":
        for e in data:
            rels = e["relationships"]
            sb = np.array(
                [
                    [r["subject"]["x"], r["subject"]["y"], r["subject"]["w"], r["subject"]["h"]]
                    for r in rels
                ]
            )
            ob = np.array(
                [
                    [r["object"]["x"], r["object"]["y"], r["object"]["w"], r["object"]["h"]]
                    for r in rels
                ]
            )
            preds = [r["predicate"] for r in rels]
            n += len(sb) + len(ob) * 0 + len(preds) * 0
    elif name == "region_descriptions.json":
        for e in data:
            regs = e["regions"]
            boxes = np.array([[r["x"], r["y"], r["width"], r["height"]] for r in regs], np.float64)
            phrases = [r["phrase"] for r in regs]
            n += len(boxes) + len(phrases) * 0
    else:
        n += len([(e["image_id"], e["width"], e["height"]) for e in data])
    return n


def _measure(mode: str, root: Path, cache: Path) -> dict[str, float]:
    import gc

    os.environ["VISIONBENCH_HOME"] = str(cache)
    t_import = time.perf_counter()
    if mode in ("build", "reopen", "dataset"):
        import pyarrow as pa

        from visionbench.loaders.visual_genome import VisualGenome, VisualGenomeFiles

        pa.array([0])  # pyarrow imports pandas lazily on its first conversion: count it as import
    import orjson

    t_import = time.perf_counter() - t_import
    t0 = time.perf_counter()
    rows = 0
    if mode == "json":
        for f in FILES:
            with open(root / f, encoding="utf-8") as fh:
                data = json.load(fh)
            rows += _per_image_parse(f, data)
            del data
            gc.collect()
    elif mode == "orjson":
        for f in FILES:
            data = orjson.loads((root / f).read_bytes())
            rows += len(data)
            del data
            gc.collect()
    elif mode in ("build", "reopen"):
        files = VisualGenomeFiles(root)
        for f in FILES:
            rows += sum(t.num_rows for t in files.tables(f).values())
    elif mode == "dataset":
        ds = VisualGenome(root, skip_image_ids=())
        sample = ds[0]
        rows = len(ds) + len(sample.target.boxes) * 0
    wall = time.perf_counter() - t0
    peak = _peak_rss_mb()
    return {"wall_s": wall, "peak_rss_mb": peak, "import_s": t_import, "rows": rows}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(mode: str, root: Path, cache: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "_measure", mode, str(root), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the full VG counts (default 1.0)"
    )
    ap.add_argument(
        "--data", type=Path, default=None, help="where the generated files go (kept for reuse)"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; medians are reported"
    )
    ap.add_argument(
        "--json-repeat",
        type=int,
        default=None,
        help="runs of the slow json.load baseline (default: --repeat)",
    )
    ap.add_argument("--skip-json", action="store_true", help="skip the slow json.load baseline")
    args = ap.parse_args(argv)

    root = args.data or Path(f"/tmp/visionbench-vg-bench-{args.scale:g}")
    stamp = root / "_generated.json"
    if not (stamp.is_file() and json.loads(stamp.read_text()).get("scale") == args.scale):
        t = time.perf_counter()
        counts = generate(root, args.scale)
        stamp.write_text(json.dumps({"scale": args.scale, **counts}))
        print(f"generated {counts} in {time.perf_counter() - t:.1f} s")
    meta = json.loads(stamp.read_text())
    sizes = {f: (root / f).stat().st_size / 1e6 for f in FILES}
    print(f"files in {root}: " + ", ".join(f"{f} {s:.0f} MB" for f, s in sizes.items()))
    print(
        f"counts: images {meta['images']:,}, objects {meta['objects']:,}, relationships "
        f"{meta['relationships']:,}, regions {meta['regions']:,}"
    )

    cache = root / "_cache_home"
    results: dict[str, list[dict[str, float]]] = {}
    modes = ["orjson", "build", "reopen", "dataset"] + ([] if args.skip_json else ["json"])
    json_repeat = args.repeat if args.json_repeat is None else args.json_repeat
    for r in range(args.repeat):
        for mode in modes:
            if mode == "json" and r >= json_repeat:
                continue
            if mode == "build":
                shutil.rmtree(cache, ignore_errors=True)
            results.setdefault(mode, []).append(_run_child(mode, root, cache))
            m = results[mode][-1]
            print(
                f"  run {r + 1} {mode:8s} {m['wall_s']:8.2f} s  peak RSS {m['peak_rss_mb']:8.0f} MB",
                flush=True,
            )

    def med(mode: str, key: str) -> float:
        return statistics.median(x[key] for x in results[mode])

    labels = {
        "json": "json.load + per-image parse",
        "orjson": "orjson.loads (bare)",
        "build": "first build (Arrow cache)",
        "reopen": "cached reopen (mmap)",
        "dataset": "reopen + VisualGenome dataset",
    }
    print(
        f"\nmedians of {args.repeat} runs (json baseline: {min(json_repeat, args.repeat)}), each in "
        "a fresh process (work only; imports excluded):"
    )
    print(f"| {'step':32s} | {'wall s':>8s} | {'peak RSS MB':>11s} | {'vs orjson':>9s} |")
    print(f"| {'-' * 32} | {'-' * 8} | {'-' * 11} | {'-' * 9} |")
    base = med("orjson", "wall_s")
    for mode in ("json", "orjson", "build", "reopen", "dataset"):
        if mode in results:
            w = med(mode, "wall_s")
            print(
                f"| {labels[mode]:32s} | {w:8.2f} | {med(mode, 'peak_rss_mb'):11.0f} | {w / base:8.2f}x |"
            )
    print(f"import of visionbench's VG loader (pyarrow, numpy): {med('reopen', 'import_s'):.2f} s")
    checks = {
        "cached reopen <= 1 s": med("reopen", "wall_s") <= 1.0,
        "cached reopen <= 500 MB": med("reopen", "peak_rss_mb") <= 500,
        "first build <= 2x orjson": med("build", "wall_s") <= 2 * base,
    }
    for k, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {k}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_measure":
        print(json.dumps(_measure(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        main()
