"""cityscapes-mini read back with PIL and cityscapesScripts: ids, instances, colours, learnable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from visionbench import synth


def _cityscapes_frames(root: Path, split: str) -> list[tuple[str, str]]:
    return sorted(
        (p.parent.name, p.name[: -len("_leftImg8bit.png")])
        for p in (root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png")
    )


def test_cityscapes_pngs_read_back(generated) -> None:
    from cityscapesscripts.helpers.labels import id2label

    root = generated("cityscapes-mini")
    valid_ids = {i for i in id2label if 0 <= i <= 33}
    train, val = _cityscapes_frames(root, "train"), _cityscapes_frames(root, "val")
    assert len(train) == 40 and len(val) == 10
    assert {c for c, _ in val} == {"frankfurt", "lindau", "munster"}
    assert not {c for c, _ in train} & {c for c, _ in val}
    seen: set[int] = set()
    for split, frames in (("train", train), ("val", val)):
        for city, stem in frames:
            c, seq, frame = stem.split("_")
            assert c == city and len(seq) == 6 and len(frame) == 6 and (seq + frame).isdigit()
            gt = root / "gtFine" / split / city / stem
            with Image.open(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png") as im:
                assert im.mode == "RGB" and im.size == (256, 128)
            with Image.open(f"{gt}_gtFine_labelIds.png") as im:
                assert im.mode == "L"
                labels = np.asarray(im)
            with Image.open(f"{gt}_gtFine_instanceIds.png") as im:
                assert im.mode == "I;16"  # 16-bit grayscale PNG, as the real files
                inst = np.asarray(im).astype(np.int64)
            with Image.open(f"{gt}_gtFine_color.png") as im:
                assert im.mode == "RGBA"
                colour = np.asarray(im)
            assert set(np.unique(labels).tolist()) <= valid_ids
            seen |= set(np.unique(labels).tolist())
            is_inst = inst >= 1000
            assert (inst[~is_inst] == labels[~is_inst]).all()
            assert (inst[is_inst] // 1000 == labels[is_inst]).all()
            assert np.isin(labels[is_inst], list(range(24, 34))).all()
            palette = np.array([(*id2label[i].color, 255) for i in range(34)], np.uint8)
            assert (colour == palette[labels]).all()
    assert {
        7,
        8,
        11,
        17,
        21,
        23,
        24,
        26,
    } <= seen  # road, sidewalk, building, pole, veg., sky, person, car


def test_cityscapes_pngs_match_cityscapesscripts_from_polygons(generated) -> None:
    """json2labelImg / json2instanceImg redraw our polygons files into identical PNGs."""
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    root = generated("cityscapes-mini")
    for city, stem in _cityscapes_frames(root, "val"):
        gt = root / "gtFine" / "val" / city / stem
        ann = Annotation()
        ann.fromJsonFile(f"{gt}_gtFine_polygons.json")
        assert (ann.imgWidth, ann.imgHeight) == (256, 128)
        assert (
            np.asarray(createLabelImage(ann, "ids"))
            == np.asarray(Image.open(f"{gt}_gtFine_labelIds.png"))
        ).all()
        assert (
            np.asarray(createInstanceImage(ann, "ids"))
            == np.asarray(Image.open(f"{gt}_gtFine_instanceIds.png"))
        ).all()
        assert (
            np.asarray(createLabelImage(ann, "color"))
            == np.asarray(Image.open(f"{gt}_gtFine_color.png"))
        ).all()


def test_cityscapes_pixel_classes_learnable(generated) -> None:
    """A nearest-centroid classifier on pixel colour (fit on train) gets > 90% of val pixels."""
    root = generated("cityscapes-mini")

    def pixels(split: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for city, stem in _cityscapes_frames(root, split):
            img = np.asarray(
                Image.open(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            )
            lab = np.asarray(
                Image.open(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png")
            )
            xs.append(img.reshape(-1, 3)[::7].astype(np.float32))
            ys.append(lab.reshape(-1)[::7])
        return np.concatenate(xs), np.concatenate(ys)

    x, y = pixels("train")
    xv, yv = pixels("val")
    classes = np.unique(y)
    centroids = np.stack([x[y == c].mean(0) for c in classes])
    pred = classes[((xv[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)]
    evaluated = np.isin(
        yv, [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    )
    assert (pred[evaluated] == yv[evaluated]).mean() > 0.9


def test_deterministic(generated, tree_digest, tmp_path: Path) -> None:
    """Two generations with the same seed are byte-identical."""
    again = synth.generate("cityscapes-mini", tmp_path / "again", seed=0)
    assert tree_digest(generated("cityscapes-mini")) == tree_digest(again)
