"""imagenet-mini: 10 real ILSVRC2012 classes, one shape+colour each, in the official layouts.

Written under the dataset root::

    train/<wnid>/<wnid>_<k>.JPEG                       60 per class
    val/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG            10 per class, XXXXXXXX = 1-based line
                                                       of the ground-truth file
    ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt
    ILSVRC2012_devkit_t12/data/meta.mat                synsets struct array (10 leaves + 2
                                                       internal nodes)
    LOC_synset_mapping.txt                             Kaggle: "n01440764 tench, Tinca tinca"
    LOC_val_solution.csv                               Kaggle: ImageId,PredictionString

The devkit's ILSVRC2012_IDs are deliberately *not* the sorted-WNID order (as in the real
devkit), so a loader that uses ``ground_truth - 1`` as the class index is caught.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from visionbench.synth.drawing import fill_polygon, finish, noisy_canvas, save_jpeg, shape_polygon

__all__ = ["CLASSES", "ILSVRC_IDS", "write_imagenet_mini"]

_CLASSES_TSV = Path(__file__).resolve().parent.parent / "data" / "imagenet1k_classes.tsv"

#: (wnid, shape, colour name, RGB) in sorted-WNID order; names come from the 1k class list.
CLASSES: tuple[tuple[str, str, str, tuple[int, int, int]], ...] = (
    ("n01440764", "hexagon", "green", (40, 170, 60)),  # tench (index 0)
    ("n02099601", "cross", "brown", (130, 80, 40)),  # golden retriever (207)
    ("n02206856", "star", "yellow", (235, 215, 40)),  # bee (309)
    ("n02708093", "octagon", "white", (235, 235, 235)),  # analog clock (409)
    ("n03100240", "wide_rect", "red", (210, 40, 40)),  # convertible (511)
    ("n03272010", "diamond", "magenta", (200, 50, 200)),  # electric guitar (546)
    ("n03930630", "trapezoid", "blue", (40, 70, 210)),  # pickup (717)
    ("n04285008", "triangle", "cyan", (40, 200, 210)),  # sports car (817)
    ("n06874185", "tall_rect", "black", (25, 25, 25)),  # traffic light (920)
    ("n07747607", "circle", "orange", (245, 140, 30)),  # orange (950)
)

#: ILSVRC2012_ID of each class above (same order). A fixed permutation with no class at
#: its sorted position, like the real devkit's ids (tench is 449 there, not 1).
ILSVRC_IDS = (4, 9, 1, 7, 10, 2, 6, 3, 8, 5)

_TRAIN_PER_CLASS = 60
_VAL_PER_CLASS = 10
_ANIMALS = ("n01440764", "n02099601", "n02206856")
# Two internal WordNet nodes, as the real meta.mat has (num_children > 0).
_ANIMAL = (
    "n00015388",
    "animal, animate being, beast, brute, creature, fauna",
    "a living organism characterized by voluntary movement",
)
_ENTITY = (
    "n00001740",
    "entity",
    "that which is perceived or known or inferred to have its own distinct existence",
)


def write_imagenet_mini(root: Path, seed: int) -> None:
    """Write imagenet-mini under ``root`` (an existing, empty directory)."""
    rng = np.random.default_rng([seed, 1])
    names = _class_names()
    for c, (wnid, *_rest) in enumerate(CLASSES):
        numbers = np.sort(rng.choice(np.arange(1, 15000), _TRAIN_PER_CLASS, replace=False))
        for k in numbers:
            image, _box = _draw(rng, c)
            save_jpeg(image, root / "train" / wnid / f"{wnid}_{int(k)}.JPEG")

    val_classes = rng.permutation(np.repeat(np.arange(len(CLASSES)), _VAL_PER_CLASS))
    solution_rows = []
    for i, c in enumerate(val_classes.tolist(), start=1):
        wnid = CLASSES[c][0]
        image, (x0, y0, x1, y1) = _draw(rng, c)
        stem = f"ILSVRC2012_val_{i:08d}"
        save_jpeg(image, root / "val" / wnid / f"{stem}.JPEG")
        solution_rows.append(f"{stem},{wnid} {x0} {y0} {x1} {y1} \n")

    data = root / "ILSVRC2012_devkit_t12" / "data"
    data.mkdir(parents=True)
    gt = "".join(f"{ILSVRC_IDS[c]}\n" for c in val_classes.tolist())
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text(gt, encoding="ascii")
    (data / "meta.mat").write_bytes(_meta_mat(names))
    (root / "LOC_synset_mapping.txt").write_text(
        "".join(f"{wnid} {names[wnid]}\n" for wnid, *_ in CLASSES), encoding="utf-8"
    )
    order = rng.permutation(len(solution_rows))  # the Kaggle file is not sorted either
    (root / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n" + "".join(solution_rows[j] for j in order), encoding="ascii"
    )


def _class_names() -> dict[str, str]:
    """WNID -> words, read from the package's 1k class list (index, wnid, name)."""
    wanted = {wnid for wnid, *_ in CLASSES}
    names = {}
    for line in _CLASSES_TSV.read_text(encoding="utf-8").splitlines()[1:]:
        _index, wnid, name = line.split("\t")
        if wnid in wanted:
            names[wnid] = name
    missing = wanted - names.keys()
    if missing:
        raise RuntimeError(f"{_CLASSES_TSV} lacks WNIDs {sorted(missing)}")
    return names


def _draw(rng: np.random.Generator, c: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """One image of class ``c``: the class's shape and colour on a noisy grey background.

    Returns:
        (PIL image, (xmin, ymin, xmax, ymax) integer pixel box of the object).
    """
    _wnid, shape, _colour_name, rgb = CLASSES[c]
    w, h = (int(v) for v in rng.integers(96, 161, 2))
    side = rng.uniform(0.4, 0.75) * min(w, h)
    bw, bh = side, side
    if shape == "tall_rect":
        bw = side * 0.5
    elif shape == "wide_rect":
        bh = side * 0.5
    cx = rng.uniform(bw / 2 + 1, w - bw / 2 - 1)
    cy = rng.uniform(bh / 2 + 1, h - bh / 2 - 1)
    canvas = noisy_canvas(rng, h, w, (128, 128, 128), 25)
    colour = np.asarray(rgb, np.float32) + rng.uniform(-15, 15, 3).astype(np.float32)
    mask = fill_polygon(canvas, shape_polygon(shape, cx, cy, bw, bh), tuple(colour))
    image = finish(canvas, rng, 8.0)
    ys, xs = np.nonzero(mask)
    return image, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def _meta_mat(names: dict[str, str]) -> bytes:
    """``meta.mat`` bytes: a ``synsets`` struct array [N, 1] with the real devkit's fields.

    Numbers are small unsigned integers (uint8/uint16), as ``scipy.io.loadmat`` reads them
    from the real file (leaves' ``children`` is an empty uint8 array). The 116-byte text
    header normally holds a timestamp; a fixed one keeps the bytes reproducible.
    """
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]  # fmt: skip
    ids = dict(zip((w for w, *_ in CLASSES), ILSVRC_IDS, strict=True))
    n = len(CLASSES)
    animal_id, entity_id = n + 1, n + 2
    rows = []
    for wnid, shape, colour_name, _rgb in CLASSES:
        gloss = f"synthetic visionbench class drawn as a {colour_name} {shape.replace('_', ' ')}"
        rows.append((ids[wnid], wnid, names[wnid], gloss, [], 0, _TRAIN_PER_CLASS))
    animal_children = sorted(ids[w] for w in _ANIMALS)
    entity_children = sorted([animal_id] + [ids[w] for w, *_ in CLASSES if w not in _ANIMALS])
    rows.append((animal_id, *_ANIMAL, animal_children, 1, _TRAIN_PER_CLASS * len(_ANIMALS)))
    rows.append((entity_id, *_ENTITY, entity_children, 2, _TRAIN_PER_CLASS * n))

    synsets = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for i, (sid, wnid, words, gloss, children, height, n_train) in enumerate(rows):
        synsets[i, 0] = (
            np.array([[sid]], np.uint16),
            wnid,
            words,
            gloss,
            np.array([[len(children)]], np.uint8),
            np.array([children], np.uint16) if children else np.zeros((0, 0), np.uint8),
            np.array([[height]], np.uint8),
            np.array([[n_train]], np.uint16),
        )
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"synsets": synsets}, format="5", do_compression=False)
    raw = bytearray(buf.getvalue())
    header = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by: visionbench synth"
    raw[:116] = header.ljust(116, b" ")
    return bytes(raw)
