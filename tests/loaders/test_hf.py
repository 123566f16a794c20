"""The Hugging Face bridge: schemas, and a round trip through ``save_to_disk`` that gives
back the same ground truth (equal fingerprints) and the same pixels."""

from __future__ import annotations

import datasets as hf
import numpy as np
import pytest

from tests.loaders._loader_fixtures import CITYSCAPES, repaired_coco, write_image
from visionbench.errors import ContractError
from visionbench.loaders.cityscapes import CityscapesSemantic
from visionbench.loaders.coco import COCOCaptions, COCODetection
from visionbench.loaders.hf import from_hf_dataset, to_hf_dataset
from visionbench.loaders.imagenet import ImageNetFolder
from visionbench.types import Task


def _roundtrip(ds, tmp_path):
    h = to_hf_dataset(ds)
    h.save_to_disk(str(tmp_path / "hf"))
    return h, from_hf_dataset(tmp_path / "hf")


def _same(a, b):
    ga, gb = a.ground_truth(), b.ground_truth()
    assert gb.sample_ids == ga.sample_ids
    assert gb.fingerprint() == ga.fingerprint()
    assert (b.name, b.split, b.task, b.label_space) == (a.name, a.split, a.task, a.label_space)


def test_classification_roundtrip_with_real_labels(tmp_path):
    for i, wnid in (
        (1, "n04285008"),
        (2, "n01440764"),
        (3, "n02012849"),
    ):  # 817, 0, 134 (a "crane")
        write_image(tmp_path / "val" / wnid / f"ILSVRC2012_val_{i:08d}.JPEG", 10 + i, 8, seed=i)
    (tmp_path / "real.json").write_text("[[817], [], [134, 517]]")
    ds = ImageNetFolder(tmp_path, real_labels=tmp_path / "real.json")
    h, back = _roundtrip(ds, tmp_path)
    assert isinstance(h.features["image"], hf.Image)
    label = h.features["label"]
    assert isinstance(label, hf.ClassLabel) and label.num_classes == 1000
    assert label.int2str(0) == "tench, Tinca tinca"
    assert (
        label.int2str(134) == "crane (134)" and label.int2str(517) == "crane (517)"
    )  # made unique
    _same(ds, back)
    by_id = dict(zip(back.ground_truth().sample_ids, back.ground_truth().targets))
    assert by_id["ILSVRC2012_val_00000002"].labels == ()
    assert by_id["ILSVRC2012_val_00000003"].labels == (134, 517)
    for i in range(len(ds)):
        assert back[i].image.path is None and back[i].image.data is not None
        assert np.array_equal(back[i].image.load().numpy(), ds[i].image.load().numpy())


def test_detection_roundtrip_with_masks(tmp_path):
    ds = COCODetection(repaired_coco(tmp_path), tmp_path / "val2017", masks=True)
    for im in ds._images[:3]:
        write_image(tmp_path / "val2017" / im["file_name"], im["width"], im["height"])
    sub = _Subset(ds, [0, 1, 2] + [ds.image_ids.index(289343)])
    for i in range(3, len(sub.idx)):
        im = ds._images[sub.idx[i]]
        write_image(tmp_path / "val2017" / im["file_name"], im["width"], im["height"])
    h, back = _roundtrip(sub, tmp_path)
    objects = h.features["objects"]
    assert set(objects) >= {"bbox_xyxy", "category_id", "iscrowd", "area", "id", "segmentation"}
    row = h[3]
    k = row["objects"]["id"].index(1768)
    np.testing.assert_allclose(row["objects"]["bbox_xyxy"][k], [473.07, 395.93, 511.72, 424.60])
    assert row["objects"]["category_id"][k] == 18 and row["sample_id"] == "289343"
    _same(sub, back)
    assert back[3].sample_id == 289343  # int ids come back as int
    t, ref = back[3].target, sub[3].target
    assert [m["counts"] for m in t.masks] == [m["counts"] for m in ref.masks]


def test_segmentation_roundtrip(tmp_path):
    ds = CityscapesSemantic(CITYSCAPES)
    h, back = _roundtrip(ds, tmp_path)
    assert isinstance(h.features["mask"], hf.Image) and isinstance(
        h.features["instances"], hf.Image
    )
    t, ref = back[0].target, ds[0].target
    np.testing.assert_array_equal(t.mask, ref.mask)
    np.testing.assert_array_equal(t.instances, ref.instances)  # 16-bit ids survive
    assert back.ground_truth().targets[0].instances.max() == 26002


def test_captions_roundtrip(tmp_path):
    with pytest.warns(UserWarning):
        ds = COCOCaptions(
            repaired_coco(tmp_path, "captions_val2017_excerpt.json"), tmp_path / "val2017"
        )
    for im in ds._images:
        if int(im["id"]) in ds.image_ids:
            write_image(tmp_path / "val2017" / im["file_name"], 8, 8)
    h, back = _roundtrip(ds, tmp_path)
    assert h.features["captions"].feature == hf.Value("string") or "captions" in h.features
    assert back.task is Task.CAPTIONING
    assert [t.captions for t in back.ground_truth().targets] == [
        t.captions for t in ds.ground_truth().targets
    ]


def test_plain_hf_dataset_with_classlabel(tmp_path):
    """A dataset not written by visionbench: task and label space come from the features."""
    write_image(tmp_path / "a.png", 4, 3)
    feats = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=["cat", "dog"])})
    raw = hf.Dataset.from_dict({"image": [str(tmp_path / "a.png")], "label": [1]}, features=feats)
    ds = from_hf_dataset(raw)
    assert ds.task is Task.CLASSIFICATION and ds.label_space.names == ("cat", "dog")
    assert ds[0].target.label == 1 and tuple(ds[0].image.load().shape) == (3, 3, 4)
    with pytest.raises(ContractError, match="cannot tell the task"):
        from_hf_dataset(hf.Dataset.from_dict({"x": [1]}))


class _Subset:
    """The first images of a dataset plus one chosen (keeps the test fast)."""

    def __init__(self, ds, idx):
        self.ds, self.idx = ds, idx
        self.name, self.split, self.task, self.label_space = (
            ds.name,
            ds.split,
            ds.task,
            ds.label_space,
        )

    def __len__(self):
        return len(self.idx)

    def __getitem__(self, i):
        return self.ds[self.idx[i]]

    def ground_truth(self):
        from visionbench.tasks import GroundTruth

        samples = [self[i] for i in range(len(self))]
        return GroundTruth(
            self.task, self.label_space, [s.sample_id for s in samples], [s.target for s in samples]
        )


def test_hf_imagefolder_loads_as_classification(tmp_path):
    """An image folder read by ``datasets``' ``imagefolder`` builder (offline, local files)."""
    for k, cls in enumerate(("cat", "cat", "dog")):
        write_image(tmp_path / "data" / cls / f"{k}.png", 5, 4, seed=k)
    raw = hf.load_dataset(
        "imagefolder",
        data_dir=str(tmp_path / "data"),
        cache_dir=str(tmp_path / "cache"),
        split="train",
    )
    ds = from_hf_dataset(raw)
    assert ds.task is Task.CLASSIFICATION and ds.label_space.names == ("cat", "dog")
    gt = ds.ground_truth()
    assert gt.sample_ids == [0, 1, 2] and [t.label for t in gt.targets] == [0, 0, 1]
    assert ds[2].image.path.endswith("dog/2.png") and tuple(ds[2].image.load().shape) == (3, 4, 5)


def test_dataset_dict_needs_a_split(tmp_path):
    write_image(tmp_path / "a.png", 4, 3)
    feats = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=["cat", "dog"])})
    one = hf.Dataset.from_dict({"image": [str(tmp_path / "a.png")], "label": [1]}, features=feats)
    dd = hf.DatasetDict({"train": one, "test": one})
    dd.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(ContractError, match=r"splits \['train', 'test'\]: pass split="):
        from_hf_dataset(tmp_path / "dd")
    ds = from_hf_dataset(tmp_path / "dd", split="test")
    assert ds.split == "test" and ds[0].target.label == 1
