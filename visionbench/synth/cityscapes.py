"""cityscapes-mini: drawn street scenes in the Cityscapes gtFine layout, 256x128 frames.

Written under the dataset root::

    leftImg8bit/{train,val}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png
    gtFine/{train,val}/{city}/{city}_{seq:06d}_{frame:06d}_gtFine_labelIds.png     uint8 0..33
    gtFine/.../..._gtFine_instanceIds.png    uint16: labelId*1000+k for instances of ids
                                             24..33, the plain labelId elsewhere (and on groups)
    gtFine/.../..._gtFine_color.png          RGBA, the official label colours
    gtFine/.../..._gtFine_polygons.json      {"imgHeight", "imgWidth",
                                             "objects": [{"label", "polygon"}, ...]}

Each frame is a list of labelled polygons drawn back to front (sky, buildings, vegetation,
sidewalk, road, poles with signs and lights, cars far to near, persons, ego vehicle,
borders), exactly as cityscapesScripts' ``json2labelImg`` / ``json2instanceImg`` draw the
polygons file, so the PNGs are reproducible from the JSON. The photo paints every class in
roughly its official colour plus shading and noise, so pixel classes are learnable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from visionbench.synth.drawing import save_png, write_json

__all__ = ["LABELS", "CITIES", "WIDTH", "HEIGHT", "write_cityscapes_mini"]

WIDTH, HEIGHT = 256, 128

#: Cityscapes labels (cityscapesScripts ``labels.py``): name -> (id, colour), ids 0..33.
LABELS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "unlabeled": (0, (0, 0, 0)),
    "ego vehicle": (1, (0, 0, 0)),
    "rectification border": (2, (0, 0, 0)),
    "out of roi": (3, (0, 0, 0)),
    "static": (4, (0, 0, 0)),
    "dynamic": (5, (111, 74, 0)),
    "ground": (6, (81, 0, 81)),
    "road": (7, (128, 64, 128)),
    "sidewalk": (8, (244, 35, 232)),
    "parking": (9, (250, 170, 160)),
    "rail track": (10, (230, 150, 140)),
    "building": (11, (70, 70, 70)),
    "wall": (12, (102, 102, 156)),
    "fence": (13, (190, 153, 153)),
    "guard rail": (14, (180, 165, 180)),
    "bridge": (15, (150, 100, 100)),
    "tunnel": (16, (150, 120, 90)),
    "pole": (17, (153, 153, 153)),
    "polegroup": (18, (153, 153, 153)),
    "traffic light": (19, (250, 170, 30)),
    "traffic sign": (20, (220, 220, 0)),
    "vegetation": (21, (107, 142, 35)),
    "terrain": (22, (152, 251, 152)),
    "sky": (23, (70, 130, 180)),
    "person": (24, (220, 20, 60)),
    "rider": (25, (255, 0, 0)),
    "car": (26, (0, 0, 142)),
    "truck": (27, (0, 0, 70)),
    "bus": (28, (0, 60, 100)),
    "caravan": (29, (0, 0, 90)),
    "trailer": (30, (0, 0, 110)),
    "train": (31, (0, 80, 100)),
    "motorcycle": (32, (0, 0, 230)),
    "bicycle": (33, (119, 11, 32)),
}

#: split -> ((city, frames), ...). Val uses the three real val cities.
CITIES = {
    "train": (("aachen", 14), ("bochum", 13), ("bremen", 13)),
    "val": (("frankfurt", 4), ("lindau", 3), ("munster", 3)),
}

# Photo colours: the official colour, except where that is black or shared (void, pole).
_PHOTO = {name: rgb for name, (_id, rgb) in LABELS.items()}
_PHOTO.update({
    "unlabeled": (20, 20, 20), "ego vehicle": (45, 40, 35), "rectification border": (5, 5, 5),
    "out of roi": (10, 10, 10), "static": (95, 85, 60), "pole": (175, 175, 160),
})  # fmt: skip

_COLOUR_LUT = np.zeros((256, 4), np.uint8)
_COLOUR_LUT[:, 3] = 255
for _id, _rgb in LABELS.values():
    _COLOUR_LUT[_id, :3] = _rgb


def write_cityscapes_mini(root: Path, seed: int) -> None:
    """Write cityscapes-mini under ``root`` (an existing, empty directory)."""
    rng = np.random.default_rng([seed, 2])
    for split, cities in CITIES.items():
        for city, n_frames in cities:
            for seq in range(n_frames):
                stem = f"{city}_{seq:06d}_{19:06d}"
                objects = _scene(rng)
                label_ids, instance_ids = _rasterise(objects)
                photo = _photo(rng, label_ids, instance_ids)
                gt = root / "gtFine" / split / city
                save_png(photo, root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
                save_png(Image.fromarray(label_ids, "L"), gt / f"{stem}_gtFine_labelIds.png")
                save_png(Image.fromarray(instance_ids), gt / f"{stem}_gtFine_instanceIds.png")
                save_png(
                    Image.fromarray(_COLOUR_LUT[label_ids], "RGBA"), gt / f"{stem}_gtFine_color.png"
                )
                polygons = {
                    "imgHeight": HEIGHT,
                    "imgWidth": WIDTH,
                    "objects": [
                        {"label": lab, "polygon": [list(p) for p in poly]} for lab, poly in objects
                    ],
                }
                write_json(gt / f"{stem}_gtFine_polygons.json", polygons)


def _rasterise(objects: list[tuple[str, list[tuple[int, int]]]]) -> tuple[np.ndarray, np.ndarray]:
    """labelIds [H, W] uint8 and instanceIds [H, W] uint16, drawn as cityscapesScripts does.

    Polygons are filled in order with PIL; a label ending in ``group`` is drawn as its base
    label without an instance number; instances of classes with ids 24..33 get
    ``id*1000 + k``, k counting per class from 0.
    """
    label_img = Image.new("L", (WIDTH, HEIGHT), 0)
    inst_img = Image.new("I", (WIDTH, HEIGHT), 0)
    draw_l, draw_i = ImageDraw.Draw(label_img), ImageDraw.Draw(inst_img)
    counts: dict[str, int] = {}
    for label, poly in objects:
        base = label[: -len("group")] if label.endswith("group") and label not in LABELS else label
        label_id = LABELS[base][0]
        inst = label_id
        if 24 <= label_id <= 33 and base == label:
            inst = label_id * 1000 + counts.get(base, 0)
            counts[base] = counts.get(base, 0) + 1
        draw_l.polygon(poly, fill=label_id)
        draw_i.polygon(poly, fill=inst)
    return np.asarray(label_img, np.uint8), np.asarray(inst_img).astype(np.uint16)


def _photo(
    rng: np.random.Generator, label_ids: np.ndarray, instance_ids: np.ndarray
) -> Image.Image:
    """The leftImg8bit frame: per-class colour with scene lighting, per-instance tint, noise."""
    lut = np.zeros((256, 3), np.float32)
    light = rng.uniform(0.8, 1.1)
    for name, (label_id, _rgb) in LABELS.items():
        lut[label_id] = np.asarray(_PHOTO[name], np.float32) * light + rng.uniform(-10, 10, 3)
    img = lut[label_ids]
    for inst in np.unique(instance_ids[instance_ids >= 1000]).tolist():
        img[instance_ids == inst] += rng.uniform(-20, 20, 3).astype(np.float32)
    rows = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img += (label_ids == LABELS["sky"][0])[..., None] * rows * 40.0  # sky brightens downwards
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(6.0)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def _scene(rng: np.random.Generator) -> list[tuple[str, list[tuple[int, int]]]]:
    """The labelled polygons of one frame, back to front, integer pixel vertices."""
    W, H = WIDTH, HEIGHT
    objs: list[tuple[str, list[tuple[float, float]]]] = []
    hy = float(rng.uniform(52, 70))  # horizon
    vx = float(rng.uniform(100, 156))  # vanishing point
    objs.append(("sky", _rect(0, 0, W, hy + 2)))
    # buildings along both sides, getting lower towards the vanishing point
    for side in (0, 1):
        x = 0.0 if side == 0 else float(W)
        limit = vx - 12 if side == 0 else vx + 12
        while (side == 0 and x < limit) or (side == 1 and x > limit):
            width = float(rng.uniform(18, 55))
            nx = min(x + width, limit) if side == 0 else max(x - width, limit)
            dist = min(1.0, abs((x + nx) / 2 - vx) / (W / 2))
            top = hy - float(rng.uniform(15, hy - 2)) * (0.35 + 0.65 * dist)
            objs.append(("building", _rect(min(x, nx), top, max(x, nx), hy + 4)))
            x = nx
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = float(rng.uniform(0, W)), float(rng.uniform(hy - 35, hy - 5))
        r = float(rng.uniform(10, 24))
        objs.append(("vegetation", _blob(rng, cx, cy, r, r * 0.8)))
    # ground: beside each sidewalk a facade, hedge, lawn or wall down to the ground; the
    # sidewalks and the road are wedges converging on the vanishing point
    road_l, road_r = float(rng.uniform(0, 70)), float(rng.uniform(W - 70, W))
    walk_l, walk_r = road_l - float(rng.uniform(40, 100)), road_r + float(rng.uniform(40, 100))
    for outer in ([(0, hy + 2), (vx - 14, hy + 2), (walk_l, H), (0, H)],
                  [(vx + 14, hy + 2), (W, hy + 2), (W, H), (walk_r, H)]):  # fmt: skip
        objs.append(
            (
                str(
                    rng.choice(
                        ["building", "vegetation", "terrain", "wall"], p=[0.5, 0.2, 0.2, 0.1]
                    )
                ),
                outer,
            )
        )
    objs.append(("sidewalk", [(vx - 14, hy + 2), (vx, hy + 2), (road_l, H), (walk_l, H)]))
    objs.append(("sidewalk", [(vx, hy + 2), (vx + 14, hy + 2), (walk_r, H), (road_r, H)]))
    objs.append(("road", [(vx - 6, hy + 2), (vx + 6, hy + 2), (road_r, H), (road_l, H)]))
    if rng.random() < 0.3:
        objs.append(("cargroup", _rect(vx - 14, hy - 3, vx + 10, hy + 3)))

    def ground_edge(y: float, left: bool, road: bool = True) -> float:  # x of an edge at y
        t = (y - hy - 2) / (H - hy - 2)
        if road:
            return (vx - 6) + t * (road_l - vx + 6) if left else (vx + 6) + t * (road_r - vx - 6)
        return (vx - 14) + t * (walk_l - vx + 14) if left else (vx + 14) + t * (walk_r - vx - 14)

    def on_sidewalk(y: float, left: bool, width: float) -> float | None:
        road, walk = ground_edge(y, left), ground_edge(y, left, road=False)
        lo, hi = (
            (max(1.0, walk), road - width - 1)
            if left
            else (road + 1, min(W - width - 1, walk - width))
        )
        return float(rng.uniform(lo, hi)) if hi > lo else None

    for _ in range(int(rng.integers(1, 4))):  # poles on the sidewalks, with a sign or light
        y1 = float(rng.uniform(hy + 8, H - 25))
        scale = (y1 - hy) / (H - hy)
        pw = 1.5 + 2.5 * scale
        x = on_sidewalk(y1, bool(rng.random() < 0.5), pw)
        if x is None:
            continue
        y0 = y1 - 25 - 70 * scale
        objs.append(("pole", _rect(x, y0, x + pw, y1)))
        s = 4 + 9 * scale
        if rng.random() < 0.5:
            objs.append(("traffic sign", _rect(x - s / 2 + pw / 2, y0, x + s / 2 + pw / 2, y0 + s)))
        else:
            objs.append(("traffic light", _rect(x, y0, x + s / 2, y0 + s * 1.2)))
    if rng.random() < 0.3:
        x = float(rng.uniform(0, 40))
        objs.append(("static", _rect(x, hy + 6, x + 8, hy + 14)))

    cars = []
    for _ in range(int(rng.integers(1, 5))):  # cars on the road, far ones first
        y1 = float(rng.uniform(hy + 10, H - 12))
        scale = (y1 - hy) / (H - hy)
        ch, cw = 8 + 40 * scale, 14 + 70 * scale
        lo, hi = ground_edge(y1, True), ground_edge(y1, False) - cw
        if hi > lo:
            cars.append((y1, float(rng.uniform(lo, hi)), cw, ch))
    for y1, x0, cw, ch in sorted(cars):
        objs.append(("car", _car(x0, y1, cw, ch)))
    people = []
    for _ in range(int(rng.integers(0, 5))):  # persons on the sidewalks
        y1 = float(rng.uniform(hy + 8, H - 14))
        scale = (y1 - hy) / (H - hy)
        ph = 12 + 50 * scale
        pw = ph * 0.35
        x0 = on_sidewalk(y1, bool(rng.random() < 0.5), pw)
        if x0 is not None:
            people.append((y1, x0, pw, ph))
    for y1, x0, pw, ph in sorted(people):
        objs.append(("person", _person(x0, y1, pw, ph)))

    hood = float(rng.uniform(6, 12))  # ego vehicle's bonnet, borders of the frame
    bonnet = [(0, H - hood * 0.6), (W * 0.3, H - hood), (W * 0.7, H - hood), (W, H - hood * 0.6)]
    objs.append(("ego vehicle", [*bonnet, (W, H), (0, H)]))
    objs.append(("rectification border", _rect(0, 0, 2, H)))
    objs.append(("rectification border", _rect(W - 2, 0, W, H)))
    objs.append(("out of roi", _rect(0, H - 2, W, H)))
    return [(label, _int_polygon(poly)) for label, poly in objs]


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _blob(
    rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float
) -> list[tuple[float, float]]:
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    radii = rng.uniform(0.75, 1.15, 12)
    return [
        (cx + rx * r * np.cos(a), cy + ry * r * np.sin(a))
        for a, r in zip(angles, radii, strict=True)
    ]


def _car(x0: float, y1: float, w: float, h: float) -> list[tuple[float, float]]:
    """Side view: body plus a narrower cabin, standing on y1."""
    yb = y1 - h * 0.55
    return [(x0, y1), (x0, yb), (x0 + w * 0.2, yb), (x0 + w * 0.3, y1 - h), (x0 + w * 0.7, y1 - h),
            (x0 + w * 0.8, yb), (x0 + w, yb), (x0 + w, y1)]  # fmt: skip


def _person(x0: float, y1: float, w: float, h: float) -> list[tuple[float, float]]:
    """Head, shoulders and legs as one polygon standing on y1."""
    return [(x0 + w * 0.35, y1 - h), (x0 + w * 0.65, y1 - h), (x0 + w * 0.65, y1 - h * 0.85),
            (x0 + w, y1 - h * 0.8), (x0 + w, y1 - h * 0.45), (x0 + w * 0.8, y1 - h * 0.45),
            (x0 + w * 0.75, y1), (x0 + w * 0.25, y1), (x0 + w * 0.2, y1 - h * 0.45),
            (x0, y1 - h * 0.45), (x0, y1 - h * 0.8), (x0 + w * 0.35, y1 - h * 0.85)]  # fmt: skip


def _int_polygon(poly: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Round to integer pixels inside [0, W] x [0, H], as in the official polygon files."""
    return [(min(max(round(x), 0), WIDTH), min(max(round(y), 0), HEIGHT)) for x, y in poly]
