"""Random COCO problems (ground truth dict + results list) and the pycocotools reference.

Shared by tests/metrics/test_coco.py and test_pr.py. Boxes sit on a coarse integer grid so
that tied IoUs, IoUs exactly on a threshold, zero-area boxes and areas exactly 32² / 96²
occur often; scores come from a small set so that ties occur too.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

CAT_IDS = [1, 3, 7, 90]


def random_problem(
    rng: np.random.Generator,
    *,
    n_img: int = 6,
    max_gt: int = 6,
    max_dt: int = 12,
    crowd_p: float = 0.15,
    iou_type: str = "bbox",
    h: int = 48,
    w: int = 64,
    tied_scores: bool = True,
    special_areas: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ground-truth dict and a results list; images may have only gts, only dts or none."""
    from pycocotools import mask as mask_utils

    images = [
        {"id": int(i), "height": h, "width": w}
        for i in rng.choice(np.arange(1, 10 * n_img + 1), n_img, replace=False)
    ]
    cats = [{"id": c, "name": f"cat{c}"} for c in CAT_IDS]
    anns: list[dict[str, Any]] = []
    res: list[dict[str, Any]] = []
    aid = int(rng.integers(1, 50))
    for im in images:
        kind = rng.integers(0, 5)  # 0: only gt, 1: only dt, else both
        n_g = 0 if kind == 1 else int(rng.integers(0, max_gt + 1))
        n_d = 0 if kind == 0 else int(rng.integers(0, max_dt + 1))
        gts = []
        for _ in range(n_g):
            box = _box(rng, h, w)
            crowd = int(rng.random() < crowd_p)
            a: dict[str, Any] = {
                "id": aid,
                "image_id": im["id"],
                "category_id": int(rng.choice(CAT_IDS)),
                "iscrowd": crowd,
            }
            aid += int(rng.integers(1, 4))
            a["bbox"] = box
            area = box[2] * box[3]
            if special_areas and rng.random() < 0.3:
                area = float(
                    rng.choice([32.0**2, 96.0**2, 32.0**2 - 0.5, 32.0**2 + 0.5, 0.0, 1e10])
                )
            a["area"] = area
            if iou_type == "segm":
                if crowd:
                    m = np.zeros((h, w), dtype=np.uint8, order="F")
                    x, y, bw, bh = (int(v) for v in box)
                    m[y : y + bh, x : x + bw] = 1
                    a["segmentation"] = _uncompressed(m)
                else:
                    a["segmentation"] = [_poly(rng, box)] + (
                        [_poly(rng, _box(rng, h, w))] if rng.random() < 0.2 else []
                    )
            if iou_type == "keypoints":
                kp, nk = _keypoints(rng, box)
                a["keypoints"], a["num_keypoints"] = kp, nk
            anns.append(a)
            gts.append(a)
        for _ in range(n_d):
            if gts and rng.random() < 0.6:
                g = gts[int(rng.integers(len(gts)))]
                box = _jitter(rng, g["bbox"], h, w)
                cat = g["category_id"] if rng.random() < 0.85 else int(rng.choice(CAT_IDS))
            else:
                box, cat = _box(rng, h, w), int(rng.choice(CAT_IDS))
            score = (
                float(rng.choice([0.1, 0.5, 0.9]))
                if tied_scores and rng.random() < 0.5
                else float(rng.random())
            )
            r: dict[str, Any] = {"image_id": im["id"], "category_id": cat, "score": score}
            if iou_type == "bbox":
                r["bbox"] = box
            elif iou_type == "segm":
                m = mask_utils.decode(
                    mask_utils.merge(mask_utils.frPyObjects([_poly(rng, box)], h, w))
                )
                rle = mask_utils.encode(np.asfortranarray(m))
                rle["counts"] = rle["counts"].decode("ascii")
                r["segmentation"] = rle
            else:
                r["keypoints"] = _keypoints(rng, box)[0]
            res.append(r)
    order = rng.permutation(len(anns))
    gt = {"images": images, "categories": cats, "annotations": [anns[i] for i in order]}
    return gt, res


def _box(rng: np.random.Generator, h: int, w: int) -> list[float]:
    x, y = int(rng.integers(0, w - 4)), int(rng.integers(0, h - 4))
    bw, bh = int(rng.integers(0, w - x + 1)), int(rng.integers(0, h - y + 1))
    if rng.random() < 0.1:
        bw = 0
    return [float(x), float(y), float(bw), float(bh)]


def _jitter(rng: np.random.Generator, b: list[float], h: int, w: int) -> list[float]:
    x, y, bw, bh = b
    c = rng.random()
    if c < 0.2:  # IoU exactly 0.5 / 0.75 against the gt (same x, y, w; shorter height)
        f = float(rng.choice([0.5, 0.75, 0.6, 0.9, 1.0]))
        return [x, y, bw, bh * f]
    dx, dy, dw, dh = (float(v) for v in rng.integers(-3, 4, 4))
    return [max(0.0, x + dx), max(0.0, y + dy), max(0.0, bw + dw), max(0.0, bh + dh)]


def _poly(rng: np.random.Generator, box: list[float]) -> list[float]:
    x, y, bw, bh = box
    bw, bh = max(bw, 2.0), max(bh, 2.0)
    pts = []
    for ang in np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7)))):
        pts += [
            round(x + bw / 2 + bw / 2 * np.cos(ang), 2),
            round(y + bh / 2 + bh / 2 * np.sin(ang), 2),
        ]
    return pts


def _uncompressed(m: np.ndarray) -> dict[str, Any]:
    flat = m.reshape(-1, order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = v, 1
    counts.append(run)
    return {"size": list(m.shape), "counts": counts}


def _keypoints(rng: np.random.Generator, box: list[float]) -> tuple[list[float], int]:
    x, y, bw, bh = box
    kp: list[float] = []
    nk = 0
    none = rng.random() < 0.2
    for _ in range(17):
        v = 0 if none or rng.random() < 0.3 else int(rng.integers(1, 3))
        nk += v > 0
        kp += [round(float(x + rng.random() * bw), 1), round(float(y + rng.random() * bh), 1), v]
    return kp, nk


def pycocotools_eval(
    gt: dict[str, Any], res: list[dict[str, Any]], iou_type: str = "bbox", **params: Any
) -> Any:
    """COCOeval after evaluate/accumulate/summarize (inputs deep-copied: pycocotools edits them)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = copy.deepcopy(gt)
        cg.createIndex()
        cd = cg.loadRes(copy.deepcopy(res))
        ev = COCOeval(cg, cd, iou_type)
        for k, v in params.items():
            setattr(ev.params, k, v)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev
