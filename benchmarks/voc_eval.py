"""Pascal VOC detection evaluation: visionbench vs the reference ``voc_eval``, end to end.

Writes a VOC2007-test-sized devkit (``VOCdevkit/VOC2007/Annotations/*.xml`` with random
objects of the 20 classes, ~10% difficult, and ``ImageSets/Main/test.txt``) and one
results file per class (``comp4_det_test_<class>.txt``, ``--dets`` detections per image
near the objects and at random), then scores the same files with

- the reference ``voc_eval`` (py-faster-rcnn, as kept in detectron2; the port in
  ``tests/voc_reference.py``, reading the XML and the results files itself),
- ``VOCProtocol.evaluate_file`` (the library call: XML parsed by the loader, results files
  read into the evaluator), and
- ``bench eval --dataset voc2007`` as a subprocess (its CPU and peak RSS from the child's
  rusage),

checks that every class AP and the mAP are identical (``==``), and prints wall and CPU
times and the ratios. Scores are written at full precision: with the 3 decimals
detectron2 writes, tied scores are ranked by ``np.argsort``'s unstable order in the port
and stably (as the MATLAB devkit) here, and AP may differ on ties.

Usage::

    python benchmarks/voc_eval.py                         # 4,952 images x 100 detections
    python benchmarks/voc_eval.py --images 200 --dets 20  # quick check (CI)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4952)
    ap.add_argument("--dets", type=int, default=100, help="detections per image")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/visionbench-bench-voc"))
    args = ap.parse_args()

    from tests.voc_reference import ref_voc_eval_files
    from visionbench.label_spaces import VOC_CLASSES
    from visionbench.loaders.voc import VOCDetection
    from visionbench.protocols import dataset_protocol

    root = args.data_dir / f"voc-{args.images}-{args.dets}"
    t0 = time.perf_counter()
    if not (root / "done").exists():
        shutil.rmtree(root, ignore_errors=True)
        make_problem(root, args.images, args.dets)
        (root / "done").write_text("")
    base = root / "VOCdevkit" / "VOC2007"
    results = root / "results"
    n_det = sum(f.read_text().count("\n") for f in results.iterdir())
    print(
        f"{args.images} images, {n_det} detections in {root} ({time.perf_counter() - t0:.1f} s to prepare)"
    )

    rows = []
    t, c = time.perf_counter(), time.process_time()
    ref = {}
    for cls in VOC_CLASSES:
        _, _, ap_, npos = ref_voc_eval_files(
            str(results / "comp4_det_test_{}.txt"), str(base / "Annotations" / "{}.xml"),
            str(base / "ImageSets" / "Main" / "test.txt"), cls, 0.5, True,
        )  # fmt: skip
        ref[cls] = ap_
    rows.append(
        (
            "voc_eval port (py-faster-rcnn / detectron2)",
            time.perf_counter() - t,
            time.process_time() - c,
            None,
        )
    )
    ref_map = float(np.mean(list(ref.values())))

    t, c = time.perf_counter(), time.process_time()
    ds = VOCDetection(root, "test", year=2007, name="voc2007")
    res = dataset_protocol(ds).evaluate_file(results, ds)
    rows.append(
        (
            "visionbench VOCProtocol.evaluate_file",
            time.perf_counter() - t,
            time.process_time() - c,
            None,
        )
    )

    env = dict(os.environ, VISIONBENCH_HOME=str(root / "home"), PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "visionbench", "eval", "--dataset", "voc2007", "--data-root", str(root), "--predictions", str(results),
         "--results", str(root / "home" / "results")],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:])
        return 1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows.append(("bench eval --dataset voc2007 (subprocess)", wall, cpu, after.ru_maxrss / 1024))

    same = (
        all(res.metrics[f"AP_{c}"] == ref[c] for c in VOC_CLASSES) and res.metrics["mAP"] == ref_map
    )
    print(f"mAP: port {ref_map!r}, visionbench {res.metrics['mAP']!r}; all 20 class APs identical: "
          f"{'yes' if same else 'NO'}")  # fmt: skip
    print("\n| evaluator | wall | CPU | peak RSS (child) |\n| --- | --- | --- | --- |")
    for name, w, c, rss in rows:
        print(f"| {name} | {w:.2f} s | {c:.2f} s | {'' if rss is None else f'{rss:.0f} MB'} |")
    print(f"\nCPU ratio port / library: {rows[0][2] / rows[1][2]:.1f}x; port / bench eval: "
          f"{rows[0][2] / rows[2][2]:.1f}x")  # fmt: skip
    return 0 if same else 1


def make_problem(root: Path, n_images: int, n_dets: int) -> None:
    """Random devkit annotations and results files (seeded)."""
    from visionbench.label_spaces import VOC_CLASSES, get_label_space
    from visionbench.protocols.voc import write_comp4
    from visionbench.types import DetectionPrediction

    rng = np.random.default_rng(0)
    base = root / "VOCdevkit" / "VOC2007"
    (base / "Annotations").mkdir(parents=True)
    (base / "ImageSets" / "Main").mkdir(parents=True)
    ids, preds = [], []
    for i in range(n_images):
        sid = f"{i + 1:06d}"
        ids.append(sid)
        w, h = (int(v) for v in rng.integers(200, 501, 2))
        n = int(rng.integers(1, 6))
        x0, y0 = rng.integers(1, w - 20, n), rng.integers(1, h - 20, n)
        x1, y1 = (
            np.minimum(x0 + rng.integers(10, 300, n), w),
            np.minimum(y0 + rng.integers(10, 300, n), h),
        )
        labels = rng.integers(1, 21, n)
        difficult = rng.random(n) < 0.1
        objs = "".join(
            f"\t<object>\n\t\t<name>{VOC_CLASSES[c - 1]}</name>\n\t\t<pose>Unspecified</pose>\n"
            f"\t\t<truncated>0</truncated>\n\t\t<difficult>{int(d)}</difficult>\n\t\t<bndbox>\n"
            f"\t\t\t<xmin>{a}</xmin>\n\t\t\t<ymin>{b}</ymin>\n\t\t\t<xmax>{e}</xmax>\n\t\t\t<ymax>{f}</ymax>\n"
            "\t\t</bndbox>\n\t</object>\n"
            for c, d, a, b, e, f in zip(labels, difficult, x0, y0, x1, y1)
        )
        (base / "Annotations" / f"{sid}.xml").write_text(
            f"<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{sid}.jpg</filename>\n\t<size>\n"
            f"\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n\t\t<depth>3</depth>\n\t</size>\n{objs}</annotation>\n"
        )
        gt = np.stack([x0 - 1, y0 - 1, x1, y1], axis=1).astype(np.float64)  # 0-based corners
        k = rng.integers(0, n, n_dets)
        near = rng.random(n_dets) < 0.5
        size = np.concatenate([gt[k, 2:] - gt[k, :2]] * 2, axis=1)
        rand_xy = rng.uniform(0, [w, h], (n_dets, 2))
        rand = np.concatenate([rand_xy, rand_xy + rng.uniform(5, 150, (n_dets, 2))], axis=1)
        boxes = np.where(near[:, None], gt[k] + rng.normal(0, 0.1, (n_dets, 4)) * size, rand)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        lab = np.where(near & (rng.random(n_dets) < 0.8), labels[k], rng.integers(1, 21, n_dets))
        preds.append(
            DetectionPrediction(boxes=boxes, labels=lab, scores=rng.random(n_dets), sample_id=sid)
        )
    (base / "ImageSets" / "Main" / "test.txt").write_text("".join(f"{s}\n" for s in ids))
    write_comp4(preds, root / "results", get_label_space("voc20"), split="test")


if __name__ == "__main__":
    sys.exit(main())
