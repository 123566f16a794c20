"""voc-mini read back as the devkit's tools read it: XML, image sets, JPEG sizes, colours."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from visionbench import synth
from visionbench.label_spaces import VOC_CLASSES


def test_devkit_layout_and_xml(generated) -> None:
    from visionbench.synth.voc import DRAWN, SPLITS

    root = generated("voc-mini") / "VOCdevkit"
    n_objects = n_difficult = n_truncated = 0
    for year, sets in SPLITS.items():
        base = root / f"VOC{year}"
        main = base / "ImageSets" / "Main"
        ids = {s: main.joinpath(f"{s}.txt").read_text().split() for s, _ in sets}
        assert {s: len(v) for s, v in ids.items()} == dict(sets)
        assert main.joinpath("trainval.txt").read_text().split() == ids["train"] + ids["val"]
        for split, split_ids in ids.items():
            seen: set[str] = set()
            for image_id in split_ids:
                assert image_id == (f"{int(image_id):06d}" if year == 2007 else image_id)
                tree = ET.parse(base / "Annotations" / f"{image_id}.xml").getroot()
                assert tree.findtext("filename") == f"{image_id}.jpg"
                w, h = int(tree.findtext("size/width")), int(tree.findtext("size/height"))
                with Image.open(base / "JPEGImages" / f"{image_id}.jpg") as im:
                    assert im.format == "JPEG" and im.size == (w, h)
                    pixels = np.asarray(im.convert("RGB"), np.float32)
                names = set()
                for obj in tree.findall("object"):  # what the reference parse_rec reads: ints
                    name = obj.findtext("name")
                    box = [
                        int(obj.findtext(f"bndbox/{c}")) for c in ("xmin", "ymin", "xmax", "ymax")
                    ]
                    diff, trunc = int(obj.findtext("difficult")), int(obj.findtext("truncated"))
                    assert name in VOC_CLASSES and obj.findtext("pose")
                    assert 1 <= box[0] <= box[2] <= w and 1 <= box[1] <= box[3] <= h
                    assert diff == int((box[2] - box[0] + 1) * (box[3] - box[1] + 1) < 256)
                    n_objects += 1
                    n_difficult += diff
                    n_truncated += trunc
                    names.add(name)
                    if DRAWN[name][0] in ("square", "tall_rect", "wide_rect") and not trunc:
                        cy, cx = (box[1] + box[3]) // 2 - 1, (box[0] + box[2]) // 2 - 1
                        assert np.abs(pixels[cy, cx] - DRAWN[name][1]).max() < 60, (image_id, name)
                seen |= names
                for c in VOC_CLASSES:  # per-class image sets agree with the XML
                    line = next(x for x in main.joinpath(f"{c}_{split}.txt").read_text().splitlines()
                                if x.split()[0] == image_id)  # fmt: skip
                    assert (int(line.split()[1]) != -1) == (c in names)
            if len(split_ids) >= 20:
                assert seen == set(VOC_CLASSES), (year, split)
    assert n_objects > 150 and 0 < n_difficult < n_objects / 4 and n_truncated > 0


def test_reproducible(generated, tree_digest, tmp_path) -> None:
    first = tree_digest(generated("voc-mini"))
    assert tree_digest(synth.generate("voc-mini", tmp_path / "again")) == first
    other = tree_digest(synth.generate("voc-mini", tmp_path / "seed1", seed=1))
    assert (
        other["VOCdevkit/VOC2007/Annotations/000001.xml"]
        != first["VOCdevkit/VOC2007/Annotations/000001.xml"]
    )
