"""vg-mini: drawn scene graphs in the Visual Genome v1.4 release files, 60 images.

Written under the dataset root (every JSON file is a list with one entry per image, in
``image_data.json`` order, as in the release)::

    image_data.json  objects.json  relationships.json  attributes.json
    region_descriptions.json  question_answers.json  images/<image_id>.jpg

Object names come from the VG-150 vocabulary and the class follows from the shape; each
object's colour is its attribute (plus ``large``/``small`` by area). Predicates follow from
geometry, checked in this order for a pair (subject, object) of boxes:

- ``on``: the subject's bottom edge lies on the object's top edge and they overlap in x;
- ``in front of`` / ``behind``: the boxes intersect; the later-drawn one is in front;
- ``above`` / ``under``: they overlap in x and one is entirely higher;
- ``near``: otherwise, when the box centres are closer than 0.35 * (W + H) / 2.

About one object in ten is a "merged" object: its ``merged_object_ids`` is not empty, and
relationship endpoints name it with ``names`` + ``merged_object_ids`` instead of ``name``,
as in the real file. Region descriptions and question-answer pairs are templates about
what is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionbench.synth.drawing import (
    fill_polygon,
    finish,
    noisy_canvas,
    save_jpeg,
    shape_polygon,
    write_json,
)

__all__ = ["OBJECTS", "COLOURS", "PREDICATE_SYNSETS", "predicate_for", "write_vg_mini"]

#: VG-150 name -> (shape, synset, (width, height) multipliers of the base size).
OBJECTS: dict[str, tuple[str, str, tuple[float, float]]] = {
    "man": ("tall_rect", "man.n.01", (0.45, 1.2)),
    "dog": ("triangle", "dog.n.01", (0.8, 0.7)),
    "car": ("trapezoid", "car.n.01", (1.3, 0.65)),
    "table": ("wide_rect", "table.n.02", (1.6, 0.45)),
    "tree": ("star", "tree.n.01", (1.0, 1.1)),
    "clock": ("circle", "clock.n.01", (0.7, 0.7)),
    "kite": ("diamond", "kite.n.03", (0.7, 0.9)),
    "sign": ("octagon", "sign.n.02", (0.7, 0.7)),
    "cup": ("square", "cup.n.01", (0.4, 0.4)),
    "umbrella": ("semicircle", "umbrella.n.01", (1.0, 0.5)),
}

#: VG-150 colour attributes and their RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 40, 40),
    "blue": (40, 70, 210),
    "green": (40, 170, 60),
    "yellow": (235, 215, 40),
    "white": (235, 235, 235),
    "black": (25, 25, 25),
    "brown": (130, 80, 40),
    "orange": (245, 140, 30),
    "purple": (130, 40, 170),
}

#: Predicates used and their synsets in the real relationships.json.
PREDICATE_SYNSETS = {
    "on": "along.r.01",
    "in front of": "in.r.01",
    "behind": "behind.r.01",
    "above": "above.r.01",
    "under": "under.r.01",
    "near": "about.r.07",
}

_FILES = (
    "image_data",
    "objects",
    "relationships",
    "attributes",
    "region_descriptions",
    "question_answers",
)
_N_IMAGES = 60
_ON_TOP = ("cup", "clock", "dog", "sign")
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


def predicate_for(
    subj: Box, obj: Box, subj_drawn_later: bool, width: int, height: int
) -> str | None:
    """The predicate that the geometry of (subject, object) implies, or None.

    Args:
        subj, obj: ``(x, y, w, h)`` integer boxes, pixels.
        subj_drawn_later: whether the subject was painted after the object.
        width, height: image size, pixels.
    """
    sx0, sy0, sx1, sy1 = subj[0], subj[1], subj[0] + subj[2], subj[1] + subj[3]
    ox0, oy0, ox1, oy1 = obj[0], obj[1], obj[0] + obj[2], obj[1] + obj[3]
    x_overlap = min(sx1, ox1) - max(sx0, ox0) > 0
    if x_overlap and sy1 == oy0:
        return "on"
    if x_overlap and min(sy1, oy1) - max(sy0, oy0) > 0:
        return "in front of" if subj_drawn_later else "behind"
    if x_overlap and sy1 < oy0:
        return "above"
    if x_overlap and sy0 > oy1:
        return "under"
    dist = np.hypot((sx0 + sx1 - ox0 - ox1) / 2, (sy0 + sy1 - oy0 - oy1) / 2)
    return "near" if dist < 0.35 * (width + height) / 2 else None


def write_vg_mini(root: Path, seed: int) -> None:
    """Write vg-mini under ``root`` (an existing, empty directory)."""
    rng = np.random.default_rng([seed, 3])
    files: dict[str, list] = {k: [] for k in _FILES}
    ids = _Ids(rng)
    for image_id in range(1, _N_IMAGES + 1):
        w, h = int(rng.integers(224, 321)), int(rng.integers(176, 257))
        scene = _layout(rng, w, h)
        canvas = noisy_canvas(rng, h, w, (128, 128, 128), 25)
        objects = []
        for name, box, colour in scene:
            shape = OBJECTS[name][0]
            x, y, bw, bh = box
            r, g, b = (np.asarray(COLOURS[colour]) + rng.uniform(-15, 15, 3)).tolist()
            fill_polygon(canvas, shape_polygon(shape, x + bw / 2, y + bh / 2, bw, bh), (r, g, b))
            merged = [ids.next()] if rng.random() < 0.1 else []
            attrs = [colour]
            if bw * bh > 0.08 * w * h:
                attrs.append("large")
            elif bw * bh < 0.015 * w * h:
                attrs.append("small")
            objects.append(
                {
                    "object_id": ids.next(),
                    "name": name,
                    "box": box,
                    "colour": colour,
                    "merged": merged,
                    "attributes": attrs,
                }
            )
        save_jpeg(finish(canvas, rng, 8.0), root / "images" / f"{image_id}.jpg")
        rels = _relations(rng, objects, w, h, ids)

        url = f"https://cs.stanford.edu/people/rak248/VG_100K/{image_id}.jpg"
        coco_id = int(rng.integers(1, 581930)) if rng.random() < 0.2 else None
        flickr_id = int(rng.integers(10**8, 10**10)) if rng.random() < 0.2 else None
        files["image_data"].append(
            {
                "width": w,
                "url": url,
                "height": h,
                "image_id": image_id,
                "coco_id": coco_id,
                "flickr_id": flickr_id,
            }
        )
        files["objects"].append(
            {
                "image_id": image_id,
                "objects": [_object_record(o) for o in objects],
                "image_url": url,
            }
        )
        files["attributes"].append(
            {"image_id": image_id, "attributes": [_attribute_record(rng, o) for o in objects]}
        )
        files["relationships"].append(
            {
                "relationships": [
                    {
                        "predicate": pred,
                        "object": _endpoint(o),
                        "relationship_id": rid,
                        "synsets": [PREDICATE_SYNSETS[pred]],
                        "subject": _endpoint(s),
                    }
                    for rid, s, pred, o in rels
                ],
                "image_id": image_id,
            }
        )
        files["region_descriptions"].append(
            {"regions": _regions(image_id, objects, rels, ids), "id": image_id}
        )
        files["question_answers"].append(
            {"id": image_id, "qas": _qas(rng, image_id, objects, rels, ids)}
        )
    for name, content in files.items():
        write_json(root / f"{name}.json", content)


class _Ids:
    """Increasing ids with random gaps, like VG's (shared by objects, rels, regions, QAs)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._last = 1000

    def next(self) -> int:
        self._last += int(self._rng.integers(1, 4))
        return self._last


def _layout(rng: np.random.Generator, w: int, h: int) -> list[tuple[str, Box, str]]:
    """(name, box, colour) in drawing order: maybe a table with things on it, free objects,
    maybe one object partly in front of another."""
    names = list(OBJECTS)
    colours = list(COLOURS)
    scene: list[tuple[str, Box, str]] = []
    base = min(w, h)

    def size(name: str) -> tuple[int, int]:
        s = rng.uniform(0.25, 0.45) * base
        mw, mh = OBJECTS[name][2]
        return max(8, int(s * mw)), max(8, int(s * mh))

    def colour() -> str:
        return colours[int(rng.integers(len(colours)))]

    def free_box(bw: int, bh: int) -> Box | None:
        for _ in range(40):
            x, y = int(rng.integers(1, w - bw)), int(rng.integers(1, h - bh))
            if all(_gap((x, y, bw, bh), b) >= 4 for _n, b, _c in scene):
                return (x, y, bw, bh)
        return None

    if rng.random() < 0.6:
        tw, th = size("table")
        table = free_box(tw, th)
        if table is not None and table[1] > 0.3 * h:
            scene.append(("table", table, colour()))
            x_cursor = table[0] + int(rng.integers(0, max(1, table[2] // 4)))
            for _ in range(int(rng.integers(1, 3))):
                name = _ON_TOP[int(rng.integers(len(_ON_TOP)))]
                bw, bh = size(name)
                bw, bh = min(bw, table[2] // 2), min(bh, table[1] - 1)
                if x_cursor + bw > table[0] + table[2] or bh < 6:
                    break
                scene.append((name, (x_cursor, table[1] - bh, bw, bh), colour()))
                x_cursor += bw + int(rng.integers(4, 12))
    for _ in range(int(rng.integers(2, 5))):
        name = names[int(rng.integers(len(names)))]
        box = free_box(*size(name))
        if box is not None:
            scene.append((name, box, colour()))
    free = [
        b
        for n, b, _c in scene
        if n != "table" and not any(_gap(b, o) == 0 for _n, o, _c in scene if o != b)
    ]
    if free and rng.random() < 0.6:
        target = free[int(rng.integers(len(free)))]
        name = names[int(rng.integers(len(names)))]
        bw, bh = size(name)
        x = target[0] + int(target[2] * rng.uniform(0.3, 0.7)) - bw // 2
        y = target[1] + int(target[3] * rng.uniform(0.4, 0.8))
        box = (min(max(x, 1), w - bw - 1), min(max(y, 1), h - bh - 1), bw, bh)
        others = [b for _n, b, _c in scene if b != target]
        overlaps_target = _gap(box, target) == 0 and _overlap_area(box, target) > 0
        if overlaps_target and all(_gap(box, b) >= 4 for b in others):
            scene.append((name, box, colour()))
    return scene


def _gap(a: Box, b: Box) -> int:
    """Chebyshev gap between two boxes in pixels (0 when they touch or overlap)."""
    dx = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), 0)
    dy = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0)
    return max(dx, dy)


def _overlap_area(a: Box, b: Box) -> int:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(ix, 0) * max(iy, 0)


def _relations(
    rng, objects: list[dict], w: int, h: int, ids: _Ids
) -> list[tuple[int, dict, str, dict]]:
    """(relationship_id, subject, predicate, object) for every related pair, one direction."""
    rels = []
    for j in range(len(objects)):
        for i in range(j):
            a, b = objects[i], objects[j]  # b was drawn after a
            if predicate_for(b["box"], a["box"], True, w, h) == "on":
                rels.append((ids.next(), b, "on", a))
                continue
            if predicate_for(a["box"], b["box"], False, w, h) == "on":
                rels.append((ids.next(), a, "on", b))
                continue
            s, o, later = (a, b, False) if rng.random() < 0.5 else (b, a, True)
            pred = predicate_for(s["box"], o["box"], later, w, h)
            if pred is not None:
                rels.append((ids.next(), s, pred, o))
    return rels


def _object_record(o: dict) -> dict:
    x, y, w, h = o["box"]
    return {
        "synsets": [OBJECTS[o["name"]][1]],
        "h": h,
        "object_id": o["object_id"],
        "merged_object_ids": o["merged"],
        "names": [o["name"]],
        "w": w,
        "y": y,
        "x": x,
    }


def _attribute_record(rng: np.random.Generator, o: dict) -> dict:
    x, y, w, h = o["box"]
    record = {
        "synsets": [OBJECTS[o["name"]][1]],
        "h": h,
        "object_id": o["object_id"],
        "names": [o["name"]],
        "w": w,
    }
    if rng.random() < 0.9:  # some objects have no "attributes" key at all, as in the release
        record["attributes"] = o["attributes"]
    record.update({"y": y, "x": x})
    return record


def _endpoint(o: dict) -> dict:
    x, y, w, h = o["box"]
    synsets = [OBJECTS[o["name"]][1]]
    if o["merged"]:
        return {
            "h": h,
            "object_id": o["object_id"],
            "merged_object_ids": o["merged"],
            "synsets": synsets,
            "w": w,
            "y": y,
            "x": x,
            "names": [o["name"]],
        }
    return {
        "name": o["name"],
        "h": h,
        "synsets": synsets,
        "object_id": o["object_id"],
        "w": w,
        "y": y,
        "x": x,
    }


def _phrase(o: dict) -> str:
    return f"{'an' if o['colour'][0] in 'aeiou' else 'a'} {o['colour']} {o['name']}"


def _regions(image_id: int, objects: list[dict], rels: list, ids: _Ids) -> list[dict]:
    def region(phrase: str, boxes: list[Box]) -> dict:
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
        return {
            "region_id": ids.next(),
            "width": x1 - x0,
            "height": y1 - y0,
            "image_id": image_id,
            "phrase": phrase,
            "y": y0,
            "x": x0,
        }

    out = [region(f"the {o['name']} is {o['colour']}", [o["box"]]) for o in objects]
    out += [
        region(f"{_phrase(s)} {pred} {_phrase(o)}", [s["box"], o["box"]]) for _r, s, pred, o in rels
    ]
    return out


def _qas(rng, image_id: int, objects: list[dict], rels: list, ids: _Ids) -> list[dict]:
    counts: dict[str, int] = {}
    for o in objects:
        counts[o["name"]] = counts.get(o["name"], 0) + 1
    pairs = []
    for o in objects:
        if counts[o["name"]] == 1:
            pairs.append((f"What color is the {o['name']}?", f"{o['colour'].capitalize()}."))
    for name, n in sorted(counts.items()):
        plural = "men" if name == "man" else name + "s"
        pairs.append((f"How many {plural} are there?", f"{_NUMBERS[min(n, 9)].capitalize()}."))
    for _r, s, pred, o in rels:
        if counts[s["name"]] == 1 and counts[o["name"]] == 1:
            pairs.append((f"Where is the {s['name']}?", f"{pred.capitalize()} the {o['name']}."))
        if pred == "on" and counts[o["name"]] == 1:
            pairs.append((f"What is on the {o['name']}?", f"{_phrase(s).capitalize()}."))
    order = rng.permutation(len(pairs)).tolist()
    return [
        {
            "a_objects": [],
            "question": pairs[k][0],
            "image_id": image_id,
            "qa_id": ids.next(),
            "answer": pairs[k][1],
            "q_objects": [],
        }
        for k in order
    ]
