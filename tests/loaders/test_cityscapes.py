"""Cityscapes loader tests on the real frame (frankfurt_000000_000294, 256x128) and on
copies of it with files removed or added."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tests.loaders._loader_fixtures import CITYSCAPES, write_image
from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.cityscapes import CityscapesSemantic, labelids_to_trainids
from visionbench.loaders.factories import cityscapes
from visionbench.types import Task

FRAME = "frankfurt_000000_000294"
GT = CITYSCAPES / "gtFine" / "val" / "frankfurt"


def test_real_frame_label_and_instance_ids():
    ds = CityscapesSemantic(CITYSCAPES)
    assert (
        len(ds) == 1
        and ds.task is Task.SEMANTIC_SEGMENTATION
        and ds.label_space.name == "cityscapes34"
    )
    s = ds[0]
    assert s.sample_id == FRAME and s.meta["city"] == "frankfurt"
    mask, inst = s.target.mask, s.target.instances
    assert mask.shape == inst.shape == (128, 256) and mask.dtype == np.uint8
    # fixtures README: labelIds 1..26 here; instanceIds 24000..24003 (person), 26000..26002 (car)
    assert mask.min() >= 1 and mask.max() == 26 and {7, 24, 26} <= set(np.unique(mask).tolist())
    big = np.unique(inst[inst >= 1000]).tolist()
    assert big == [24000, 24001, 24002, 24003, 26000, 26001, 26002]
    # instance pixels carry their labelId in the thousands; others equal the labelId
    np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), mask)
    assert tuple(s.image.load().shape) == (3, 128, 256)


def test_ground_truth_is_paths_only():
    gt = CityscapesSemantic(CITYSCAPES).ground_truth()
    t = gt.targets[0]
    assert t.mask is None and t.instances is None
    assert t.mask_path == str(GT / f"{FRAME}_gtFine_labelIds.png")
    assert t.instances_path == str(GT / f"{FRAME}_gtFine_instanceIds.png")
    assert gt.sample_ids == [FRAME]


def test_trainids_map_table_values():
    # REFERENCE.md §3: road 7->0, car 26->13, bicycle 33->18, ego vehicle 1 -> 255, caravan 29 -> 255
    m = np.array([[7, 26, 33], [1, 29, 23]], np.uint8)
    np.testing.assert_array_equal(labelids_to_trainids(m), [[0, 13, 18], [255, 255, 10]])


def test_cityscapes19_agrees_with_the_shipped_trainids():
    t = CityscapesSemantic(CITYSCAPES, label_space="cityscapes19")[0].target
    shipped = np.array(Image.open(GT / f"{FRAME}_gtFine_labelTrainIds.png"))
    assert set(np.unique(t.mask).tolist()) <= set(range(19)) | {255}
    # the fixture's PNGs were downscaled separately: they disagree on 77 boundary pixels
    assert (t.mask != shipped).sum() == 77
    gt = CityscapesSemantic(CITYSCAPES, label_space="cityscapes19").ground_truth()
    assert gt.targets[0].mask_path.endswith("_gtFine_labelTrainIds.png")


def _copy(tmp_path):
    root = tmp_path / "cs"
    shutil.copytree(CITYSCAPES, root)
    return root


def test_cityscapes19_ground_truth_without_trainids_file(tmp_path):
    root = _copy(tmp_path)
    (root / "gtFine" / "val" / "frankfurt" / f"{FRAME}_gtFine_labelTrainIds.png").unlink()
    ds = CityscapesSemantic(root, label_space="cityscapes19")
    assert ds[0].target.mask.max() <= 255  # mapped in memory
    with pytest.raises(AnnotationError, match="csCreateTrainIdLabelImgs"):
        ds.ground_truth()


def test_unpaired_frames_are_named(tmp_path):
    root = _copy(tmp_path)
    write_image(
        root / "leftImg8bit" / "val" / "lindau" / "lindau_000001_000019_leftImg8bit.png", 16, 8
    )
    shutil.copy(
        GT / f"{FRAME}_gtFine_labelIds.png",
        root / "gtFine" / "val" / "frankfurt" / "frankfurt_000001_000002_gtFine_labelIds.png",
    )
    with pytest.raises(AnnotationError) as e:
        CityscapesSemantic(root)
    msg = str(e.value)
    assert "2 Cityscapes frames are unpaired" in msg
    assert "lindau_000001_000019 lacks labelIds, instanceIds" in msg
    assert "frankfurt_000001_000002 lacks leftImg8bit, instanceIds" in msg
    with pytest.warns(UserWarning, match="dropped 2 Cityscapes frames"):
        ds = CityscapesSemantic(root, drop_unpaired=True)
    assert ds.frames == [FRAME]
    assert sorted(p.sample_id for p in ds.problems) == [
        "frankfurt_000001_000002",
        "lindau_000001_000019",
    ]
    # without instances, only labelIds is required
    (root / "gtFine" / "val" / "frankfurt" / "frankfurt_000001_000002_gtFine_labelIds.png").unlink()
    with pytest.raises(
        AnnotationError, match="1 Cityscapes frames .* lindau_000001_000019 lacks labelIds;"
    ):
        CityscapesSemantic(root, instances=False)


def test_cities_filter_and_factory(tmp_path):
    root = _copy(tmp_path)
    assert cityscapes(root).frames == [FRAME]
    with pytest.raises(DatasetNotFoundError, match="no Cityscapes frames"):
        CityscapesSemantic(root, cities=["lindau"])


def test_missing_layout_message(tmp_path):
    with pytest.raises(
        DatasetNotFoundError, match="leftImg8bit/val/<city>.*cityscapes-dataset.com"
    ):
        CityscapesSemantic(tmp_path)
    with pytest.raises(AnnotationError, match="label_space must be"):
        CityscapesSemantic(CITYSCAPES, label_space="coco91")


@pytest.fixture(scope="module")
def cityscapes_mini_root(tmp_path_factory):
    from visionbench import synth

    return synth.generate("cityscapes-mini", tmp_path_factory.mktemp("csm") / "cityscapes-mini")


@pytest.mark.parametrize("split", ["train", "val"])
def test_cityscapes_mini(cityscapes_mini_root, split):
    from visionbench.loaders.mini import cityscapes_mini
    from visionbench.loaders.verify import verify_dataset

    ds = cityscapes_mini(cityscapes_mini_root, split)
    assert len(ds) > 0 and ds.name == "cityscapes-mini" and verify_dataset(ds) == []
    for i in range(len(ds)):
        s = ds[i]
        m, inst = s.target.mask, s.target.instances
        assert int(m.max()) <= 33
        # instanceIds: labelId*1000+k on instance pixels, the plain labelId elsewhere
        np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), m)
        assert s.image.path.endswith(f"{s.sample_id}_leftImg8bit.png")
    t19 = cityscapes_mini(cityscapes_mini_root, split, label_space="cityscapes19")[0].target
    np.testing.assert_array_equal(t19.mask, labelids_to_trainids(ds[0].target.mask))
