"""ade20k-mini: drawn indoor and outdoor scenes in the ADEChallengeData2016 layout.

Written under the dataset root::

    ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_XXXXXXXX.jpg
    ADEChallengeData2016/annotations/{training,validation}/ADE_..._XXXXXXXX.png   uint8 0..150

Annotation values are the benchmark's: 0 = "other" (not evaluated), v = class v - 1 of
``ade150``. An outdoor scene is sky, buildings, trees, road, sidewalk, grass and objects
(person, car, streetlight, ...); an indoor one wall, floor, ceiling, a window and objects
(bed, table, chair, lamp, ...). Some regions are left "other". Every class is painted in
its mmsegmentation palette colour plus shading and noise, so pixel classes are learnable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from visionbench.synth.drawing import save_jpeg, save_png, shape_polygon

__all__ = ["SPLITS", "WIDTH", "HEIGHT", "write_ade20k_mini"]

WIDTH, HEIGHT = 160, 120

#: split -> (file prefix, number of images)
SPLITS = {"training": ("ADE_train", 32), "validation": ("ADE_val", 16)}

_ADE150 = Path(__file__).resolve().parent.parent / "data" / "ade150.json"

_OUTDOOR_OBJECTS = ("person", "car", "streetlight", "signboard", "bus", "bench", "fence", "pole")
_INDOOR_OBJECTS = ("bed", "table", "chair", "lamp", "cabinet", "sofa", "painting", "plant")


def write_ade20k_mini(root: Path, seed: int) -> None:
    """Write ade20k-mini under ``root`` (an existing, empty directory)."""
    doc = json.loads(_ADE150.read_text(encoding="utf-8"))
    value = {name: i + 1 for i, name in enumerate(doc["classes"])}  # annotation values
    palette = np.zeros((256, 3), np.float32)
    palette[0] = (60, 55, 50)  # "other": a dull colour of its own
    palette[1:151] = np.asarray(doc["palette"], np.float32)
    rng = np.random.default_rng([seed, 6])
    base = root / "ADEChallengeData2016"
    for split, (prefix, n) in SPLITS.items():
        for k in range(1, n + 1):
            stem = f"{prefix}_{k:08d}"
            draw = _outdoor if rng.random() < 0.5 else _indoor
            label = Image.new("L", (WIDTH, HEIGHT), 0)
            draw(rng, ImageDraw.Draw(label), value)
            ann = np.asarray(label, np.uint8)
            save_png(Image.fromarray(ann, "L"), base / "annotations" / split / f"{stem}.png")
            save_jpeg(_photo(rng, ann, palette), base / "images" / split / f"{stem}.jpg")


def _outdoor(rng: np.random.Generator, d: ImageDraw.ImageDraw, v: dict[str, int]) -> None:
    W, H = WIDTH, HEIGHT
    hy = int(rng.integers(40, 60))
    d.rectangle((0, 0, W, hy), fill=v["sky"])
    x = 0
    while x < W:  # buildings along the horizon, some gaps left "other"
        bw = int(rng.integers(18, 45))
        top = int(rng.integers(8, hy - 5))
        if rng.random() < 0.85:
            d.rectangle((x, top, x + bw, hy), fill=v["building"])
        x += bw + int(rng.integers(0, 6))
    d.rectangle((0, hy, W, H), fill=v["grass"] if rng.random() < 0.4 else v["sidewalk"])
    vx = int(rng.integers(50, 110))
    d.polygon([(vx - 4, hy), (vx + 4, hy), (W - int(rng.integers(0, 40)), H), (int(rng.integers(0, 40)), H)],
              fill=v["road"])  # fmt: skip
    for _ in range(int(rng.integers(1, 4))):
        cx, cy, r = (
            int(rng.integers(0, W)),
            int(rng.integers(hy - 25, hy)),
            int(rng.integers(8, 18)),
        )
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=v["tree"])
    _objects(rng, d, v, _OUTDOOR_OBJECTS, hy, H)


def _indoor(rng: np.random.Generator, d: ImageDraw.ImageDraw, v: dict[str, int]) -> None:
    W, H = WIDTH, HEIGHT
    top, floor = int(rng.integers(12, 25)), int(rng.integers(70, 90))
    d.rectangle((0, 0, W, top), fill=v["ceiling"])
    d.rectangle((0, top, W, floor), fill=v["wall"])
    d.rectangle((0, floor, W, H), fill=v["floor"] if rng.random() < 0.7 else v["rug"])
    if rng.random() < 0.7:
        x0, y0 = int(rng.integers(5, W - 50)), int(rng.integers(top + 5, floor - 35))
        d.rectangle((x0, y0, x0 + int(rng.integers(25, 45)), y0 + int(rng.integers(18, 30))),
                    fill=v["windowpane"])  # fmt: skip
    if rng.random() < 0.5:
        x0 = int(rng.integers(0, W - 30))
        d.rectangle((x0, top + 10, x0 + int(rng.integers(10, 30)), floor), fill=0)  # "other"
    _objects(rng, d, v, _INDOOR_OBJECTS, floor - 30, H)


def _objects(rng, d, v, names, y_lo: int, y_hi: int) -> None:
    shapes = (
        "square",
        "circle",
        "hexagon",
        "tall_rect",
        "wide_rect",
        "trapezoid",
        "diamond",
        "octagon",
    )
    for _ in range(int(rng.integers(2, 6))):
        k = int(rng.integers(len(names)))
        s = float(rng.uniform(10, 34))
        cx, cy = float(rng.uniform(s / 2, WIDTH - s / 2)), float(rng.uniform(y_lo, y_hi - s / 4))
        d.polygon(shape_polygon(shapes[k % len(shapes)], cx, cy, s, s * 1.2), fill=v[names[k]])


def _photo(rng: np.random.Generator, ann: np.ndarray, palette: np.ndarray) -> Image.Image:
    light = np.float32(rng.uniform(0.8, 1.1))
    lut = palette * light + rng.uniform(-12, 12, (256, 3)).astype(np.float32)
    img = lut[ann]
    rows = np.linspace(-1, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img = img + rows * np.float32(rng.uniform(-15, 15))
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(7.0)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")
