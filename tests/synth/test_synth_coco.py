"""coco-mini read back by pycocotools: masks, areas, crowd RLE, categories, captions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench import synth

REPO = Path(__file__).resolve().parents[2]


def _coco(path: Path):
    from pycocotools.coco import COCO

    return COCO(str(path))


def test_coco_instances_read_by_pycocotools(generated) -> None:
    from pycocotools import mask as mask_utils

    from visionbench.synth.coco import DRAWN

    root = generated("coco-mini")
    real = json.loads((REPO / "visionbench/data/coco_categories.json").read_text())
    seen_image_ids: set[int] = set()
    ann_ids: list[int] = []
    n_crowd = 0
    for split, n_images in (("val2017", 24), ("train2017", 160)):
        coco = _coco(root / "annotations" / f"instances_{split}.json")
        assert set(coco.dataset) == {"info", "licenses", "images", "annotations", "categories"}
        assert coco.dataset["categories"] == real["categories"]
        assert len(coco.dataset["categories"]) == 80 and max(coco.getCatIds()) == 90
        assert len(coco.imgs) == n_images and not (seen_image_ids & set(coco.imgs))
        seen_image_ids |= set(coco.imgs)
        assert [i["id"] for i in coco.dataset["images"]] != sorted(coco.imgs)  # unsorted, like COCO
        for img in coco.dataset["images"]:
            assert img["file_name"] == f"{img['id']:012d}.jpg"
            with Image.open(root / split / img["file_name"]) as im:
                assert im.format == "JPEG" and im.size == (img["width"], img["height"])
                pixels = np.asarray(im.convert("RGB"), np.float32)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
            assert 1 <= len(anns) <= 6
            for ann in anns:
                ann_ids.append(ann["id"])
                assert ann["category_id"] in DRAWN
                mask = coco.annToMask(ann)
                assert mask.shape == (img["height"], img["width"])
                assert mask.sum() == ann["area"] > 0
                x, y, w, h = ann["bbox"]
                assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]
                if ann["iscrowd"]:
                    n_crowd += 1
                    seg = ann["segmentation"]
                    assert set(seg) == {"counts", "size"} and isinstance(seg["counts"], list)
                    assert seg["size"] == [img["height"], img["width"]]
                    assert sum(seg["counts"]) == img["height"] * img["width"]
                    rle = mask_utils.frPyObjects(seg, img["height"], img["width"])
                    assert ann["bbox"] == mask_utils.toBbox(rle).tolist()
                else:
                    (poly,) = ann["segmentation"]
                    assert isinstance(ann["area"], float) and len(poly) % 2 == 0
                    assert ann["bbox"] == pytest.approx(
                        [
                            min(poly[0::2]),
                            min(poly[1::2]),
                            max(poly[0::2]) - min(poly[0::2]),
                            max(poly[1::2]) - min(poly[1::2]),
                        ],
                        abs=0.011,
                    )
                # the pixels under the mask have the category's colour (class follows from pixels)
                if ann["area"] >= 60:
                    mean = pixels[mask.astype(bool)].mean(0)
                    dist = {
                        c: np.abs(mean - np.asarray(rgb)).max()
                        for c, (_s, _n, rgb) in DRAWN.items()
                    }
                    assert min(dist, key=dist.get) == ann["category_id"]
    assert sorted(ann_ids) == list(range(1, len(ann_ids) + 1))
    assert n_crowd >= 3


def test_coco_area_ranges_and_captions(generated) -> None:
    from visionbench.synth.coco import DRAWN

    root = generated("coco-mini")
    inst = _coco(root / "annotations" / "instances_train2017.json")
    areas = np.array([a["area"] for a in inst.dataset["annotations"] if not a["iscrowd"]])
    # COCO's small / medium / large ranges are all populated
    assert (areas < 32**2).sum() > 20 and ((areas >= 32**2) & (areas < 96**2)).sum() > 20
    assert (areas >= 96**2).sum() > 5

    for split in ("val2017", "train2017"):
        inst = _coco(root / "annotations" / f"instances_{split}.json")
        caps = _coco(root / "annotations" / f"captions_{split}.json")
        assert set(caps.dataset) == {"info", "licenses", "images", "annotations"}
        assert caps.dataset["images"] == inst.dataset["images"]
        for image_id in inst.imgs:
            texts = [a["caption"] for a in caps.imgToAnns[image_id]]
            assert len(texts) == 5 and len(set(texts)) == 5
            (listing,) = [t for t in texts if t.startswith("a picture of ")]
            for ann in inst.imgToAnns[image_id]:
                colour = DRAWN[ann["category_id"]][1]
                noun = inst.cats[ann["category_id"]]["name"]
                plural = "people" if noun == "person" else noun + "s"
                assert f"{colour} {noun}" in listing or f"{colour} {plural}" in listing


@pytest.mark.slow
def test_deterministic(generated, tree_digest, tmp_path: Path) -> None:
    """Two generations with the same seed are byte-identical."""
    again = synth.generate("coco-mini", tmp_path / "again", seed=0)
    assert tree_digest(generated("coco-mini")) == tree_digest(again)
