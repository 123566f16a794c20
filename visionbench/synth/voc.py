"""voc-mini: shapes on noisy backgrounds in the Pascal VOC devkit layout (2007 and 2012).

Written under the dataset root::

    VOCdevkit/VOC2007/Annotations/000001.xml ...           the devkit's XML, tab-indented
    VOCdevkit/VOC2007/ImageSets/Main/{train,val,trainval,test}.txt
    VOCdevkit/VOC2007/ImageSets/Main/<class>_<set>.txt     "<id> <1|-1|0>" per image
    VOCdevkit/VOC2007/JPEGImages/000001.jpg ...
    VOCdevkit/VOC2012/...                                  ids 2008_000001 ...; train/val/trainval

Each of the 20 classes is drawn as its own shape in its own colour (person, car and dog
as in coco-mini, so the coco-mini demo detector finds them through the COCO->VOC map).
Boxes are the 1-based inclusive pixel extents of what is drawn. Objects whose box is
under 256 pixels (16 x 16) are ``difficult``; objects cut by the image border are
``truncated`` (their box is clipped to the image, as in the real annotations).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from visionbench.synth.drawing import fill_polygon, finish, noisy_canvas, save_jpeg, shape_polygon

__all__ = ["DRAWN", "SPLITS", "write_voc_mini"]

#: VOC class -> (shape, RGB). person, car and dog as coco-mini draws them.
DRAWN: dict[str, tuple[str, tuple[int, int, int]]] = {
    "aeroplane": ("cross", (200, 200, 215)),
    "bicycle": ("diamond", (60, 200, 200)),
    "bird": ("triangle", (240, 230, 60)),
    "boat": ("trapezoid", (30, 40, 120)),
    "bottle": ("tall_rect", (40, 150, 60)),
    "bus": ("wide_rect", (250, 200, 20)),
    "car": ("wide_rect", (210, 40, 40)),
    "cat": ("star", (240, 160, 90)),
    "chair": ("square", (120, 70, 30)),
    "cow": ("octagon", (30, 30, 30)),
    "diningtable": ("trapezoid", (170, 120, 70)),
    "dog": ("triangle", (130, 80, 40)),
    "horse": ("hexagon", (100, 50, 20)),
    "motorbike": ("diamond", (220, 60, 160)),
    "person": ("tall_rect", (40, 70, 210)),
    "pottedplant": ("star", (30, 110, 30)),
    "sheep": ("circle", (245, 245, 245)),
    "sofa": ("semicircle", (150, 30, 90)),
    "train": ("wide_rect", (120, 120, 130)),
    "tvmonitor": ("square", (20, 20, 60)),
}

#: year -> ((image set, number of images), ...); trainval = train + val.
SPLITS = {2007: (("train", 16), ("val", 16), ("test", 32)), 2012: (("train", 12), ("val", 16))}

_POSES = ("Unspecified", "Left", "Right", "Frontal", "Rear")


def write_voc_mini(root: Path, seed: int) -> None:
    """Write voc-mini under ``root`` (an existing, empty directory)."""
    rng = np.random.default_rng([seed, 5])
    classes = list(DRAWN)
    for year, sets in SPLITS.items():
        base = root / "VOCdevkit" / f"VOC{year}"
        main = base / "ImageSets" / "Main"
        main.mkdir(parents=True)
        (base / "Annotations").mkdir()
        members: dict[str, list[str]] = {}
        present: dict[str, dict[str, int]] = {}
        k = 0
        for split, n in sets:
            members[split] = []
            for _ in range(n):
                k += 1
                image_id = f"{k:06d}" if year == 2007 else f"2008_{k:06d}"
                h, w = (int(v) for v in rng.integers(100, 201, 2))
                first = classes[(k - 1) % len(classes)]  # every class in every set of >= 20
                image, objects = _draw_image(rng, h, w, classes, first)
                save_jpeg(image, base / "JPEGImages" / f"{image_id}.jpg")
                (base / "Annotations" / f"{image_id}.xml").write_text(
                    _xml(year, image_id, w, h, objects), encoding="utf-8"
                )
                members[split].append(image_id)
                flags: dict[str, int] = {}
                for o in objects:  # 1 present, 0 only difficult ones, -1 absent
                    flags[o["name"]] = max(flags.get(o["name"], 0), 0 if o["difficult"] else 1)
                present[image_id] = flags
        if "train" in members and "val" in members:
            members["trainval"] = members["train"] + members["val"]
        for split, ids in members.items():
            (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
            for c in classes:
                lines = "".join(f"{i} {present[i].get(c, -1):2d}\n" for i in ids)
                (main / f"{c}_{split}.txt").write_text(lines, encoding="utf-8")


def _draw_image(rng: np.random.Generator, h: int, w: int, classes: list[str], first: str) -> tuple:
    """1-4 non-overlapping objects, largest first (of class ``first``); sometimes one cut
    by the border."""
    canvas = noisy_canvas(rng, h, w, (128, 128, 128), 25)
    objects: list[dict] = []
    taken: list[tuple[float, float, float, float]] = []
    n = int(rng.integers(1, 5))
    sides = np.sort(np.exp(rng.uniform(math.log(12), math.log(0.6 * min(h, w)), n)))[::-1]
    sides[0] = max(sides[0], 28.0)  # the first (the set's class of this image) is not difficult
    for j, side in enumerate(sides.tolist()):
        name = first if j == 0 else classes[int(rng.integers(len(classes)))]
        shape, rgb = DRAWN[name]
        bw, bh = _aspect(shape, side)
        cut = rng.random() < 0.15
        box = _place(rng, taken, w, h, bw, bh, cut)
        if box is None:
            continue
        taken.append(box)
        poly = shape_polygon(shape, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, bw, bh)
        colour = tuple(float(c) for c in np.asarray(rgb, np.float64) + rng.uniform(-15, 15, 3))
        mask = fill_polygon(canvas, poly, colour)  # type: ignore[arg-type]
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        xmin, xmax = int(xs.min()) + 1, int(xs.max()) + 1  # 1-based inclusive, as the devkit
        ymin, ymax = int(ys.min()) + 1, int(ys.max()) + 1
        truncated = box[0] < 0 or box[1] < 0 or box[2] > w or box[3] > h
        difficult = (xmax - xmin + 1) * (ymax - ymin + 1) < 256
        objects.append({
            "name": name, "pose": _POSES[int(rng.integers(len(_POSES)))],
            "truncated": int(truncated), "difficult": int(difficult),
            "bbox": (xmin, ymin, xmax, ymax),
        })  # fmt: skip
    return finish(canvas, rng, 8.0), objects


def _aspect(shape: str, side: float) -> tuple[float, float]:
    if shape == "tall_rect":
        return side * 0.5, side
    if shape in ("wide_rect", "semicircle"):
        return side, side * 0.5
    return side, side


def _place(rng, taken, w: int, h: int, bw: float, bh: float, cut: bool, tries: int = 30):
    """A free box of bw x bh inside the image (or, with ``cut``, a third outside it)."""
    for _ in range(tries):
        if cut:
            x0 = float(rng.choice([-bw / 3, w - 2 * bw / 3]))
            y0 = rng.uniform(1, h - bh - 1)
        else:
            x0, y0 = rng.uniform(1, w - bw - 1), rng.uniform(1, h - bh - 1)
        box = (x0, y0, x0 + bw, y0 + bh)
        if not any(_overlap(box, b) for b in taken):
            return box
    return None


def _overlap(a, b, margin: float = 3.0) -> bool:
    return not (
        a[2] + margin <= b[0]
        or b[2] + margin <= a[0]
        or a[3] + margin <= b[1]
        or b[3] + margin <= a[1]
    )


def _xml(year: int, image_id: str, w: int, h: int, objects: list[dict]) -> str:
    """The annotation file, laid out as the devkit's (tabs, element order)."""
    out = [
        "<annotation>",
        f"\t<folder>VOC{year}</folder>",
        f"\t<filename>{image_id}.jpg</filename>",
        "\t<source>",
        f"\t\t<database>The VOC{year} Database</database>",
        f"\t\t<annotation>PASCAL VOC{year}</annotation>",
        "\t\t<image>visionbench synth</image>",
        "\t</source>",
        "\t<size>",
        f"\t\t<width>{w}</width>",
        f"\t\t<height>{h}</height>",
        "\t\t<depth>3</depth>",
        "\t</size>",
        "\t<segmented>0</segmented>",
    ]
    for o in objects:
        xmin, ymin, xmax, ymax = o["bbox"]
        out += [
            "\t<object>",
            f"\t\t<name>{o['name']}</name>",
            f"\t\t<pose>{o['pose']}</pose>",
            f"\t\t<truncated>{o['truncated']}</truncated>",
            f"\t\t<difficult>{o['difficult']}</difficult>",
            "\t\t<bndbox>",
            f"\t\t\t<xmin>{xmin}</xmin>",
            f"\t\t\t<ymin>{ymin}</ymin>",
            f"\t\t\t<xmax>{xmax}</xmax>",
            f"\t\t\t<ymax>{ymax}</ymax>",
            "\t\t</bndbox>",
            "\t</object>",
        ]
    out.append("</annotation>")
    return "\n".join(out) + "\n"
