"""ADE20K SceneParsing loader: layout, pairing, split names, annotation values."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.ade20k import ADE20KSceneParsing, find_ade20k_dir


def ade(tmp: Path, stems: list[str], split: str = "validation", *, masks=None) -> Path:
    base = tmp / "ADEChallengeData2016"
    for sub in ("images", "annotations"):
        (base / sub / split).mkdir(parents=True)
    for k, s in enumerate(stems):
        Image.new("RGB", (8, 6), (k, k, k)).save(base / "images" / split / f"{s}.jpg")
        m = np.full((6, 8), k % 151, np.uint8) if masks is None else masks[k]
        Image.fromarray(m, "L").save(base / "annotations" / split / f"{s}.png")
    return tmp


def test_reads_split_sorted_with_raw_annotation_values(tmp_path: Path) -> None:
    mask = np.arange(48, dtype=np.uint8).reshape(6, 8) * 3  # 0..141
    stems = ["ADE_val_00000002", "ADE_val_00000001"]
    root = ade(tmp_path, stems, masks=[mask, mask[::-1].copy()])
    ds = ADE20KSceneParsing(root, "val")
    assert (ds.split, ds.name, len(ds), ds.label_space.name) == (
        "validation",
        "ade20k",
        2,
        "ade150",
    )
    assert ds.stems == sorted(stems)
    s = ds[1]
    assert s.sample_id == "ADE_val_00000002" and s.image.path.endswith(
        "images/validation/ADE_val_00000002.jpg"
    )
    np.testing.assert_array_equal(s.target.mask, mask)  # as published: 0 = other, v = class v-1
    gt = ds.ground_truth()
    assert gt.sample_ids == sorted(stems)
    assert all(
        t.mask is None and t.mask_path.endswith(f"{sid}.png")
        for sid, t in zip(gt.sample_ids, gt.targets)
    )
    assert find_ade20k_dir(root / "ADEChallengeData2016") == root / "ADEChallengeData2016"


def test_unpaired_files_refused_or_dropped(tmp_path: Path) -> None:
    root = ade(tmp_path, ["ADE_val_00000001", "ADE_val_00000002"])
    (root / "ADEChallengeData2016/annotations/validation/ADE_val_00000002.png").unlink()
    with pytest.raises(AnnotationError, match="ADE_val_00000002 lacks its annotation") as e:
        ADE20KSceneParsing(root)
    assert "drop_unpaired=True" in str(e.value) and "\n" not in str(e.value)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = ADE20KSceneParsing(root, drop_unpaired=True)
    assert ds.stems == ["ADE_val_00000001"] and w
    assert [(p.kind, p.sample_id) for p in ds.problems] == [("unpaired", "ADE_val_00000002")]


def test_bad_values_split_and_root(tmp_path: Path) -> None:
    bad = np.full((6, 8), 151, np.uint8)
    root = ade(tmp_path, ["ADE_train_00000001"], "training", masks=[bad])
    ds = ADE20KSceneParsing(root, "train")
    with pytest.raises(AnnotationError, match=r"must be 0..150 .*found 151.*ADE_train_00000001"):
        ds[0]
    with pytest.raises(DatasetNotFoundError, match="unknown ADE20K split 'test'"):
        ADE20KSceneParsing(root, "test")
    with pytest.raises(
        DatasetNotFoundError, match=r"ADE20K validation not found.*sceneparsing.csail.mit.edu"
    ):
        ADE20KSceneParsing(root, "validation")
