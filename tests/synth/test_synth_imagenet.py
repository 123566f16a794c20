"""imagenet-mini read back: folder/devkit/Kaggle files agree, meta.mat via scipy, learnable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from visionbench import synth

REPO = Path(__file__).resolve().parents[2]
CLASSES_TSV = REPO / "visionbench" / "data" / "imagenet1k_classes.tsv"


def _imagenet_features(root: Path, split: str) -> tuple[np.ndarray, list[str]]:
    """Mean colour of the pixels that differ from the border's median colour."""
    feats, labels = [], []
    for path in sorted((root / split).rglob("*.JPEG")):
        a = np.asarray(Image.open(path).convert("RGB"), np.float32)
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        fg = np.abs(a - np.median(border, 0)).max(-1) > 45
        feats.append(a[fg].mean(0))
        labels.append(path.parent.name)
    return np.stack(feats), labels


def test_imagenet_layout_and_devkit(generated) -> None:
    root = generated("imagenet-mini")
    tsv = [line.split("\t") for line in CLASSES_TSV.read_text().splitlines()[1:]]
    words = {wnid: name for _i, wnid, name in tsv}
    wnids = sorted(p.name for p in (root / "train").iterdir())
    assert len(wnids) == 10 and all(w in words for w in wnids)
    assert sorted(p.name for p in (root / "val").iterdir()) == wnids
    for w in wnids:
        train = list((root / "train" / w).iterdir())
        assert len(train) == 60 and all(p.name.startswith(f"{w}_") for p in train)

    gt = [
        int(x)
        for x in (root / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt")
        .read_text()
        .split()
    ]
    assert len(gt) == 100
    synsets = scipy.io.loadmat(root / "ILSVRC2012_devkit_t12/data/meta.mat", squeeze_me=True)[
        "synsets"
    ]
    assert synsets.dtype.names == (
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    )
    leaves = [s for s in synsets if s["num_children"] == 0]
    assert len(leaves) == 10 and len(synsets) > 10
    id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in leaves}
    assert sorted(id_to_wnid) == list(range(1, 11))
    for s in leaves:
        assert s["words"] == words[s["WNID"]]
    # ids are deliberately not the sorted-WNID order: gt-1 would be wrong for every class
    assert all(wnids[i - 1] != w for i, w in id_to_wnid.items())

    # torchvision-style resolution of the val images: file i <-> line i of the gt file
    val = {p.stem: p.parent.name for p in (root / "val").rglob("*.JPEG")}
    assert sorted(val) == [f"ILSVRC2012_val_{i:08d}" for i in range(1, 101)]
    for i, g in enumerate(gt, start=1):
        assert val[f"ILSVRC2012_val_{i:08d}"] == id_to_wnid[g]

    mapping = (root / "LOC_synset_mapping.txt").read_text().splitlines()
    assert mapping == [f"{w} {words[w]}" for w in wnids]
    rows = (root / "LOC_val_solution.csv").read_text().splitlines()
    assert rows[0] == "ImageId,PredictionString"
    for row in rows[1:]:
        image_id, pred = row.split(",")
        tokens = pred.split()
        assert tokens[0] == val[image_id] and len(tokens) % 5 == 0
        x0, y0, x1, y1 = map(int, tokens[1:5])
        with Image.open(root / "val" / val[image_id] / f"{image_id}.JPEG") as im:
            assert im.format == "JPEG" and 96 <= im.width <= 160 and 96 <= im.height <= 160
            assert 0 <= x0 < x1 < im.width and 0 <= y0 < y1 < im.height
    assert len(rows) == 101


def test_imagenet_learnable_by_colour(generated) -> None:
    root = generated("imagenet-mini")
    x, y = _imagenet_features(root, "train")
    xv, yv = _imagenet_features(root, "val")
    classes = sorted(set(y))
    centroids = np.stack([x[np.array(y) == c].mean(0) for c in classes])
    pred = np.array(classes)[((xv[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)]
    assert (pred == np.array(yv)).mean() > 0.9


@pytest.mark.slow
def test_deterministic(generated, tree_digest, tmp_path: Path) -> None:
    """Two generations with the same seed are byte-identical."""
    again = synth.generate("imagenet-mini", tmp_path / "again", seed=0)
    assert tree_digest(generated("imagenet-mini")) == tree_digest(again)
