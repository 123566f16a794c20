"""coco-mini: shapes on noisy backgrounds, in the official COCO 2017 file formats.

Written under the dataset root::

    annotations/instances_{val,train}2017.json   info, licenses, images, annotations,
                                                 categories (all 80, real ids)
    annotations/captions_{val,train}2017.json    5 template captions per image
    val2017/000000XXXXXX.jpg, train2017/...

Eight categories appear, each drawn as its own shape in its own colour. Objects never
overlap, so every polygon is exactly what is visible. Instances are polygons whose
``area`` is the pycocotools mask area of the polygon; about one image in six also holds a
crowd (``iscrowd=1``): a cluster of small objects of one category annotated as one
uncompressed RLE mask, as in the real files. Image ids are random and the ``images`` list
is not sorted, as in the real files; annotation and caption ids start at 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from visionbench.synth.drawing import (
    fill_polygon,
    finish,
    noisy_canvas,
    polygon_bbox,
    save_jpeg,
    shape_polygon,
    uncompressed_rle,
    write_json,
)

__all__ = ["DRAWN", "write_coco_mini"]

_CATEGORIES_JSON = Path(__file__).resolve().parent.parent / "data" / "coco_categories.json"

#: COCO category id -> (shape, colour name, RGB) for the categories that are drawn.
DRAWN: dict[int, tuple[str, str, tuple[int, int, int]]] = {
    1: ("tall_rect", "blue", (40, 70, 210)),  # person
    3: ("wide_rect", "red", (210, 40, 40)),  # car
    13: ("octagon", "magenta", (200, 50, 200)),  # stop sign
    18: ("triangle", "brown", (130, 80, 40)),  # dog
    28: ("semicircle", "orange", (245, 140, 30)),  # umbrella
    38: ("diamond", "yellow", (235, 215, 40)),  # kite
    53: ("circle", "green", (40, 170, 60)),  # apple
    85: ("hexagon", "white", (235, 235, 235)),  # clock
}

_SPLITS = (("val2017", 24), ("train2017", 160))
_INFO = {
    "description": "visionbench coco-mini (synthetic, COCO 2017 format)",
    "url": "https://github.com/visionbench/visionbench",
    "version": "1.0",
    "year": 2017,
    "contributor": "visionbench synth",
    "date_created": "2017/09/01",
}
_LICENSES = [
    {"url": "http://creativecommons.org/licenses/by/4.0/", "id": 1, "name": "Attribution License"}
]
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_coco_mini(root: Path, seed: int) -> None:
    """Write coco-mini under ``root`` (an existing, empty directory)."""
    rng = np.random.default_rng([seed, 0])
    categories = json.loads(_CATEGORIES_JSON.read_text(encoding="utf-8"))["categories"]
    names = {c["id"]: c["name"] for c in categories}
    total = sum(n for _, n in _SPLITS)
    all_ids = rng.choice(np.arange(1, 581930), total, replace=False).tolist()
    next_ann, next_cap, start = 1, 1, 0
    for split, n_images in _SPLITS:
        image_ids = all_ids[start : start + n_images]
        start += n_images
        images, annotations, captions = [], [], []
        for image_id in image_ids:
            h, w = (int(v) for v in rng.integers(160, 321, 2))
            image, objects = _draw_image(rng, h, w)
            file_name = f"{image_id:012d}.jpg"
            save_jpeg(image, root / split / file_name)
            images.append(_image_record(rng, split, file_name, h, w, image_id))
            for obj in objects:
                annotations.append(_annotation(obj, h, w, image_id, next_ann))
                next_ann += 1
            for text in _captions(rng, objects, names, w, h):
                captions.append({"image_id": image_id, "id": next_cap, "caption": text})
                next_cap += 1
        common = {"info": _INFO, "licenses": _LICENSES, "images": images}
        ann_dir = root / "annotations"
        write_json(
            ann_dir / f"instances_{split}.json",
            {**common, "annotations": annotations, "categories": categories},
        )
        write_json(ann_dir / f"captions_{split}.json", {**common, "annotations": captions})


def _draw_image(rng: np.random.Generator, h: int, w: int) -> tuple:
    """Draw 1-5 non-overlapping objects (and sometimes a crowd) on a noisy background.

    Returns:
        (PIL image, objects) where each object is a dict with ``category_id``, ``box``
        (x0, y0, x1, y1 float pixels) and either ``polygon`` or ``crowd_mask`` [H, W] bool.
    """
    canvas = noisy_canvas(rng, h, w, (128, 128, 128), 25)
    cat_ids = sorted(DRAWN)
    boxes: list[tuple[float, float, float, float]] = []
    objects = []
    n = int(rng.integers(1, 6))
    cats = [cat_ids[int(i)] for i in rng.integers(len(cat_ids), size=n)]
    # log-uniform sizes, placed largest first: small, medium and large COCO areas all occur
    sides = np.sort(np.exp(rng.uniform(np.log(16), np.log(0.65 * min(h, w)), n)))[::-1]
    for cat, side in zip(cats, sides.tolist(), strict=True):
        shape, _colour, rgb = DRAWN[cat]
        bw, bh = _aspect(shape, side)
        box = _place(rng, boxes, w, h, bw, bh)
        if box is None:
            continue
        boxes.append(box)
        poly = shape_polygon(shape, (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, bw, bh)
        fill_polygon(canvas, poly, _jitter(rng, rgb))
        objects.append({"category_id": cat, "box": box, "polygon": poly})
    if rng.random() < 1 / 6:
        crowd = _draw_crowd(rng, canvas, boxes, cat_ids, w, h)
        if crowd is not None:
            objects.append(crowd)
    return finish(canvas, rng, 8.0), objects


def _draw_crowd(rng, canvas, boxes, cat_ids, w: int, h: int) -> dict | None:
    """A cluster of 4-8 small objects of one category in a free region: one crowd mask."""
    region = _place(rng, boxes, w, h, 60.0, 44.0)
    if region is None:
        return None
    boxes.append(region)
    cat = cat_ids[int(rng.integers(len(cat_ids)))]
    shape, _colour, rgb = DRAWN[cat]
    mask = np.zeros((h, w), dtype=bool)
    members: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(4, 9))):
        bw, bh = _aspect(shape, rng.uniform(8, 14))
        x0, y0 = rng.uniform(region[0], region[2] - bw), rng.uniform(region[1], region[3] - bh)
        member = (x0, y0, x0 + bw, y0 + bh)
        if any(_overlap(member, m, 1.0) for m in members):
            continue
        members.append(member)
        poly = shape_polygon(shape, x0 + bw / 2, y0 + bh / 2, bw, bh)
        mask |= fill_polygon(canvas, poly, _jitter(rng, rgb))
    return {"category_id": cat, "box": region, "crowd_mask": mask, "count": len(members)}


def _aspect(shape: str, side: float) -> tuple[float, float]:
    if shape == "tall_rect":
        return side * 0.5, side
    if shape in ("wide_rect", "semicircle"):
        return side, side * 0.5
    return side, side


def _place(rng, boxes, w: int, h: int, bw: float, bh: float, tries: int = 30):
    """A box of size bw x bh inside the image and 3 px clear of ``boxes``, or None."""
    for _ in range(tries):
        x0 = rng.uniform(1, w - bw - 1)
        y0 = rng.uniform(1, h - bh - 1)
        box = (x0, y0, x0 + bw, y0 + bh)
        if not any(_overlap(box, b, 3.0) for b in boxes):
            return box
    return None


def _overlap(a, b, margin: float) -> bool:
    return not (
        a[2] + margin <= b[0]
        or b[2] + margin <= a[0]
        or a[3] + margin <= b[1]
        or b[3] + margin <= a[1]
    )


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = (np.asarray(rgb, np.float64) + rng.uniform(-15, 15, 3)).tolist()
    return (r, g, b)


def _image_record(rng, split: str, file_name: str, h: int, w: int, image_id: int) -> dict:
    day = int(rng.integers(0, 365))
    secs = int(rng.integers(0, 86400))
    month, mday = 1 + day // 31 % 12, 1 + day % 28
    stamp = f"2013-{month:02d}-{mday:02d} {secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    url = f"http://images.cocodataset.org/{split}/{file_name}"
    return {
        "license": 1,
        "file_name": file_name,
        "coco_url": url,
        "height": h,
        "width": w,
        "date_captured": stamp,
        "flickr_url": url,
        "id": image_id,
    }


def _annotation(obj: dict, h: int, w: int, image_id: int, ann_id: int) -> dict:
    """The instances record of one object, in the real files' key order."""
    if "polygon" in obj:
        segmentation = [[c for xy in obj["polygon"] for c in xy]]
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
        area: float | int = float(mask_utils.area(rle))
        bbox = polygon_bbox(obj["polygon"])
        iscrowd = 0
    else:
        segmentation = uncompressed_rle(obj["crowd_mask"])
        rle = mask_utils.frPyObjects(segmentation, h, w)
        area = int(mask_utils.area(rle))
        bbox = [float(v) for v in mask_utils.toBbox(rle)]
        iscrowd = 1
    return {
        "segmentation": segmentation,
        "area": area,
        "iscrowd": iscrowd,
        "image_id": image_id,
        "bbox": bbox,
        "category_id": obj["category_id"],
        "id": ann_id,
    }


def _captions(rng, objects: list[dict], names: dict[int, str], w: int, h: int) -> list[str]:
    """Five captions that say what is drawn: counts, colours, left/right, above/below."""
    singles = [o for o in objects if "polygon" in o]
    crowds = [o for o in objects if "crowd_mask" in o]

    def phrase(o: dict) -> str:
        colour, name = DRAWN[o["category_id"]][1], names[o["category_id"]]
        if "crowd_mask" in o:
            return f"a crowd of small {colour} {_plural(name)}"
        return _with_article(f"{colour} {name}")

    counts: dict[int, int] = {}
    for o in singles:
        counts[o["category_id"]] = counts.get(o["category_id"], 0) + 1
    parts = [
        phrase({"category_id": c}) if n == 1 else f"{_NUMBERS[n]} {DRAWN[c][1]} {_plural(names[c])}"
        for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    parts += [phrase(o) for o in crowds]
    listing = _join(parts) if parts else "nothing"
    by_x = sorted(objects, key=lambda o: o["box"][0] + o["box"][2])
    by_y = sorted(objects, key=lambda o: o["box"][1] + o["box"][3])
    largest = max(objects, key=lambda o: (o["box"][2] - o["box"][0]) * (o["box"][3] - o["box"][1]))
    captions = [f"a picture of {listing} on a grey background"]
    if len(objects) >= 2:
        captions.append(f"{phrase(by_x[0])} to the left of {phrase(by_x[-1])}")
        captions.append(f"{phrase(by_y[0])} above {phrase(by_y[-1])}")
    else:
        side = "left" if by_x[0]["box"][0] + by_x[0]["box"][2] < w else "right"
        captions.append(f"{phrase(by_x[0])} on the {side} side of the picture")
        half = "top" if by_y[0]["box"][1] + by_y[0]["box"][3] < h else "bottom"
        captions.append(f"{phrase(by_y[0])} in the {half} half of the image")
    verb = "is" if len(objects) == 1 else "are"
    captions.append(f"there {verb} {listing} in this image")
    captions.append(f"the largest thing in the picture is {phrase(largest)}")
    order = rng.permutation(len(captions)).tolist()
    return [captions[i] for i in order]


def _with_article(noun_phrase: str) -> str:
    return ("an " if noun_phrase[0] in "aeiou" else "a ") + noun_phrase


def _plural(name: str) -> str:
    return "people" if name == "person" else name + "s"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
