"""Test data for the COCO / ImageNet / Cityscapes loader tests.

The COCO excerpts in ``tests/data/fixtures/coco`` are cut independently per list: most of
their annotations point at images that are not in the file (README of the fixtures). For
positive tests :func:`repaired_coco` *repairs* an excerpt by adding an ``images`` record for
every referenced id, with a width/height that covers every polygon, box and keypoint of
that image (max coordinate, rounded up, + 1).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: Copies of ``../shared/fixtures/{coco,cityscapes}`` (provenance in their README).
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
COCO = FIXTURES / "coco" / "annotations"
CITYSCAPES = FIXTURES / "cityscapes"


def load(name: str) -> dict[str, Any]:
    return json.loads((COCO / name).read_text())


def _extent(a: dict[str, Any]) -> tuple[float, float]:
    xs, ys = [], []
    if "bbox" in a:
        x, y, w, h = a["bbox"]
        xs.append(x + w)
        ys.append(y + h)
    seg = a.get("segmentation")
    if isinstance(seg, list):
        for poly in seg:
            xs.extend(poly[0::2])
            ys.extend(poly[1::2])
    kp = a.get("keypoints")
    if kp:
        xs.extend(kp[0::3])
        ys.extend(kp[1::3])
    return max(xs, default=1.0), max(ys, default=1.0)


def repair(doc: dict[str, Any]) -> dict[str, Any]:
    """Add an image record for every image id an annotation references (see module doc)."""
    doc = json.loads(json.dumps(doc))
    known = {im["id"] for im in doc["images"]}
    size: dict[int, list[float]] = {}
    for a in doc["annotations"]:
        if a["image_id"] in known:
            continue
        w, h = _extent(a)
        s = size.setdefault(a["image_id"], [1.0, 1.0])
        s[0], s[1] = max(s[0], w), max(s[1], h)
    for iid, (w, h) in sorted(size.items()):
        doc["images"].append(
            {
                "id": iid,
                "file_name": f"{iid:012d}.jpg",
                "width": math.ceil(w) + 1,
                "height": math.ceil(h) + 1,
            }
        )
    return doc


def repaired_coco(
    tmp: Path, name: str = "instances_val2017_excerpt.json", out: str | None = None
) -> Path:
    """Write the repaired excerpt ``name`` to ``tmp/annotations/<out>`` and return its path."""
    path = tmp / "annotations" / (out or name.replace("_excerpt", ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(repair(load(name))))
    return path


def write_image(
    path: Path, width: int, height: int, *, seed: int = 0, fmt: str | None = None
) -> Path:
    """A random RGB image of ``width`` x ``height`` (JPEG or PNG by suffix)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)
    return path
