"""Cost of record["analysis"] on the 5,000-image / 500k-detection COCO problem: the
error analysis (threshold sweep + worst images) and TIDE, against one evaluation, and
TIDE against tidecv 1.0.1 on the first ``--tidecv-images`` images (tidecv is pure Python).

``python benchmarks/coco_analysis.py [--small] [--repeat 3] [--tidecv-images 500]``
(the problem files are shared with ``coco_eval.py`` / ``coco_bootstrap.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from coco_bootstrap import timed  # noqa: E402  (the same wall + CPU timer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tidecv-images", type=int, default=500)
    ap.add_argument(
        "--cache", default=os.environ.get("VISIONBENCH_BENCH_CACHE", "/tmp/visionbench-bench")
    )
    a = ap.parse_args()
    from coco_eval import generate

    from visionbench.engine.analysis import build_analysis
    from visionbench.metrics.detection.tide import tide_errors
    from visionbench.protocols.coco import CocoGroundTruthFile, CocoProtocol

    n_img = 500 if a.small else 5000
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    gt_p, res_p = cache / f"bbox_{n_img}_gt.json", cache / f"bbox_{n_img}_res.json"
    if not (gt_p.exists() and res_p.exists()):
        generate(gt_p, res_p, n_img=n_img, dts_per_img=100, iou_type="bbox")
    warnings.simplefilter("ignore")
    src = CocoGroundTruthFile(gt_p)
    med = lambda xs: float(np.median(xs))  # noqa: E731
    for tide in (False, True):
        proto = CocoProtocol(src.label_space, {"tide": tide})
        r, w, c = timed(lambda proto=proto: proto.evaluate_file(res_p, src))
        print(f"tide={tide}: evaluate_file {w:.3f} s wall, {c:.3f} s CPU")

        def analysis(proto=proto, r=r):
            proto._sweep_memo = None  # the sweep is memoised per result: measure it each time
            return build_analysis(r, proto)

        _, w0, c0 = timed(analysis)  # first call: numba's import and cache load for TIDE
        runs = [timed(analysis)[1:] for _ in range(a.repeat)]
        print(f"  analysis first call {w0:.3f} s wall, {c0:.3f} s CPU; warm median of "
              f"{a.repeat}: {med([x[0] for x in runs]):.3f} s wall, "
              f"{med([x[1] for x in runs]):.3f} s CPU; CPU / evaluation "
              f"{med([x[1] for x in runs]) / c:.2f}x")  # fmt: skip

    if a.tidecv_images:
        from tidecv import TIDE, Data

        from visionbench.metrics.detection.coco_columns import load_ground_truth, load_results

        g = load_ground_truth(gt_p)
        d = load_results(res_p, g)
        imgs = np.sort(g.image_ids)[: a.tidecv_images]
        gk, dk = np.isin(g.anns.image_id, imgs), np.isin(d.image_id, imgs)
        gt, pr = Data("gt"), Data("pr")
        for i in imgs.tolist():
            gt.add_image(i, str(i))
        for im, cl, b, cr in zip(g.anns.image_id[gk].tolist(), g.anns.category_id[gk].tolist(),
                                 g.anns.bbox[gk].tolist(), g.anns.iscrowd[gk].tolist()):  # fmt: skip
            (gt.add_ignore_region if cr else gt.add_ground_truth)(im, cl, box=b)
        for im, cl, b, s in zip(d.image_id[dk].tolist(), d.category_id[dk].tolist(),
                                d.bbox[dk].tolist(), d.score[dk].tolist()):  # fmt: skip
            pr.add_detection(im, cl, s, box=b)

        def theirs():
            t = TIDE()
            t.evaluate(gt, pr, mode=TIDE.BOX, name="r")
            return t.get_main_errors()["r"], t.get_special_errors()["r"]

        def ours():
            return tide_errors(
                g.anns.image_id[gk], g.anns.category_id[gk], g.anns.bbox[gk], d.image_id[dk],
                d.category_id[dk], d.bbox[dk], d.score[dk], gt_iscrowd=g.anns.iscrowd[gk],
                image_ids=imgs, tidecv_compat=True,
            )  # fmt: skip

        (m, sp), w1, c1 = timed(theirs)
        o, w2, c2 = timed(ours)
        diff = max([abs(o["dAP"][k] * 100 - m[k]) for k in m]
                   + [abs(o["special"][k] * 100 - sp[k]) for k in sp])  # fmt: skip
        print(f"TIDE on {len(imgs)} images / {int(dk.sum())} detections: tidecv {c1:.2f} s CPU, "
              f"ours {c2:.3f} s CPU ({c1 / c2:.0f}x); largest |dAP difference| {diff:.1e} "
              "(AP points, compat mode)")  # fmt: skip


if __name__ == "__main__":
    main()
