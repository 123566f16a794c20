"""ade20k-mini: ADEChallengeData2016 layout, 8-bit annotation PNGs 0..150, learnable colours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from visionbench import synth

REPO = Path(__file__).resolve().parents[2]


def test_layout_values_and_colours(generated) -> None:
    from visionbench.synth.ade20k import HEIGHT, SPLITS, WIDTH

    palette = np.asarray(json.loads((REPO / "visionbench/data/ade150.json").read_text())["palette"])
    base = generated("ade20k-mini") / "ADEChallengeData2016"
    used: set[int] = set()
    for split, (prefix, n) in SPLITS.items():
        imgs = sorted(p.name for p in (base / "images" / split).iterdir())
        anns = sorted(p.name for p in (base / "annotations" / split).iterdir())
        assert imgs == [f"{prefix}_{k:08d}.jpg" for k in range(1, n + 1)]
        assert anns == [f"{prefix}_{k:08d}.png" for k in range(1, n + 1)]
        for name in anns:
            with Image.open(base / "annotations" / split / name) as im:
                assert im.mode == "L" and im.size == (WIDTH, HEIGHT)
                ann = np.asarray(im)
            with Image.open(base / "images" / split / name.replace(".png", ".jpg")) as im:
                assert im.format == "JPEG" and im.size == (WIDTH, HEIGHT)
                photo = np.asarray(im.convert("RGB"), np.float64)
            assert ann.max() <= 150
            values = np.unique(ann).tolist()
            used |= set(values)
            # interior pixels (3x3 neighbourhood of one class): JPEG's 4:2:0 chroma bleeds at edges
            pad = np.pad(ann, 1, mode="edge")
            inner = np.ones_like(ann, bool)
            for dy in (0, 1, 2):
                for dx in (0, 1, 2):
                    inner &= pad[dy : dy + HEIGHT, dx : dx + WIDTH] == ann
            means = {v: photo[inner & (ann == v)].mean(axis=0) for v in values
                     if v and (inner & (ann == v)).sum() >= 30}  # fmt: skip
            for v, mean in means.items():  # painted in its palette colour (lighting 0.8-1.1)
                assert (np.abs(mean - palette[v - 1]) <= 0.2 * palette[v - 1] + 30).all(), (name, v)
    assert 0 in used and len(used - {0}) >= 20


def test_reproducible(generated, tree_digest, tmp_path) -> None:
    assert tree_digest(synth.generate("ade20k-mini", tmp_path / "again")) == tree_digest(
        generated("ade20k-mini")
    )
