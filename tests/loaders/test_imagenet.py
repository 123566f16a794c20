"""ImageNet loader tests: the four layouts on files made here (a devkit whose ids are not the
sorted-WNID order, so ``gt - 1`` is caught), ReaL labels, and the committed imagenet-mini."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from tests.loaders._loader_fixtures import write_image
from visionbench.errors import AnnotationError, DatasetNotFoundError
from visionbench.loaders.factories import imagenet, imagenetv2
from visionbench.loaders.imagenet import (
    ImageNetDevkit,
    ImageNetFolder,
    ImageNetKaggle,
    ImageNetV2,
    detect_layout,
)

# Sorted-WNID indices, from the official class list (torchvision / timm order):
# n01440764 tench = 0, n02099601 golden retriever = 207, n04285008 sports car = 817.
TENCH, GOLDEN, SPORTS_CAR = ("n01440764", 0), ("n02099601", 207), ("n04285008", 817)


def _write_meta_mat(path, leaves, internal=()):
    """A devkit ``meta.mat``: ``synsets`` struct array with the real file's fields."""
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]  # fmt: skip
    rows = [(sid, wnid, words, 0) for sid, wnid, words in leaves]
    rows += [(sid, wnid, words, n) for sid, wnid, words, n in internal]
    arr = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for i, (sid, wnid, words, nchild) in enumerate(rows):
        arr[i, 0] = (np.array([[sid]], np.uint16), wnid, words, "gloss", np.array([[nchild]], np.uint8),
                     np.zeros((0, 0), np.uint8), np.array([[0]], np.uint8), np.array([[1300]], np.uint16))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"synsets": arr})


@pytest.fixture
def devkit_root(tmp_path):
    """ids: 1 = sports car, 2 = tench, 3 = golden retriever (not the sorted order), plus an
    internal node (id 4, num_children 3) that must not be read as a class."""
    data = tmp_path / "ILSVRC2012_devkit_t12" / "data"
    _write_meta_mat(
        data / "meta.mat",
        [(1, SPORTS_CAR[0], "sports car, sport car"), (2, TENCH[0], "tench, Tinca tinca"),
         (3, GOLDEN[0], "golden retriever")],
        [(4, "n00001740", "entity", 3)],
    )  # fmt: skip
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n3\n2\n1\n")
    for i in (1, 2, 3):  # image 4 is missing on purpose
        write_image(tmp_path / "val" / f"ILSVRC2012_val_{i:08d}.JPEG", 20, 16, seed=i)
    return tmp_path


def test_devkit_maps_ids_through_meta_mat_not_gt_minus_1(devkit_root):
    with pytest.warns(UserWarning, match="1 of 4 ImageNet validation images are missing"):
        ds = ImageNetDevkit(devkit_root)
    gt = ds.ground_truth()
    assert gt.sample_ids == [f"ILSVRC2012_val_{i:08d}" for i in (1, 2, 3, 4)]
    labels = [t.label for t in gt.targets]
    assert labels == [SPORTS_CAR[1], GOLDEN[1], TENCH[1], SPORTS_CAR[1]]
    assert labels != [0, 2, 1, 0]  # what gt - 1 would give
    assert ds.synset_words[TENCH[0]] == "tench, Tinca tinca" and "n00001740" not in ds.synset_words
    assert ds.label_space.name_of(labels[0]).startswith("sports car")
    assert tuple(ds[0].image.load().shape) == (3, 16, 20)
    assert gt.files["meta"].endswith("meta.mat")


def test_devkit_unknown_id_and_bad_line(devkit_root):
    gt = devkit_root / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
    gt.write_text("1\n4\n")  # 4 is an internal node, not a leaf
    with pytest.raises(AnnotationError, match="line 2: ILSVRC2012_ID 4 is not a leaf synset"):
        ImageNetDevkit(devkit_root)
    gt.write_text("1\nx\n")
    with pytest.raises(AnnotationError, match="line 2: expected an ILSVRC2012_ID"):
        ImageNetDevkit(devkit_root)


def test_kaggle_layout(tmp_path):
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        f"ILSVRC2012_val_00000002,{GOLDEN[0]} 1 2 10 12 {GOLDEN[0]} 3 3 8 8 \n"
        f"ILSVRC2012_val_00000001,{SPORTS_CAR[0]} 0 0 5 5 \n"
    )
    (tmp_path / "LOC_synset_mapping.txt").write_text(
        f"{TENCH[0]} tench, Tinca tinca\n{GOLDEN[0]} golden retriever\n{SPORTS_CAR[0]} sports car, sport car\n"
    )
    img_dir = tmp_path / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    for i in (1, 2):
        write_image(img_dir / f"ILSVRC2012_val_{i:08d}.JPEG", 8, 8, seed=i)
    assert detect_layout(tmp_path) == "kaggle"
    ds = imagenet(tmp_path)
    assert isinstance(ds, ImageNetKaggle)
    gt = ds.ground_truth()
    assert gt.sample_ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"]  # keyed, sorted
    assert [t.label for t in gt.targets] == [SPORTS_CAR[1], GOLDEN[1]]
    assert ds[1].image.path == str(img_dir / "ILSVRC2012_val_00000002.JPEG")
    assert ds.synset_words[GOLDEN[0]] == "golden retriever"


def test_kaggle_errors(tmp_path):
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000001,n99999999 0 0 1 1\n"
    )
    with pytest.raises(AnnotationError, match="'n99999999' is not an ILSVRC2012 WNID"):
        ImageNetKaggle(tmp_path)
    (tmp_path / "LOC_val_solution.csv").write_text("id,label\n")
    with pytest.raises(AnnotationError, match="expected header"):
        ImageNetKaggle(tmp_path)


def test_folder_layout_and_real_labels(tmp_path):
    for i, wnid in ((1, SPORTS_CAR[0]), (2, TENCH[0]), (3, GOLDEN[0])):
        write_image(tmp_path / "val" / wnid / f"ILSVRC2012_val_{i:08d}.JPEG", 8, 8, seed=i)
    real = tmp_path / "real.json"
    real.write_text(json.dumps([[SPORTS_CAR[1], 511], [], [GOLDEN[1], 208]]))
    assert detect_layout(tmp_path) == "folder"
    ds = imagenet(tmp_path, real_labels=real)
    assert isinstance(ds, ImageNetFolder)
    by_id = {s: t for s, t in zip(ds.ground_truth().sample_ids, ds.ground_truth().targets)}
    assert by_id["ILSVRC2012_val_00000001"].labels == (817, 511)
    assert by_id["ILSVRC2012_val_00000002"].labels == ()  # ReaL drops this image
    assert by_id["ILSVRC2012_val_00000002"].label == TENCH[1]
    assert ds.ground_truth().files["real_labels"] == str(real)


def test_real_labels_errors(tmp_path):
    write_image(tmp_path / "val" / TENCH[0] / "ILSVRC2012_val_00000005.JPEG", 8, 8)
    real = tmp_path / "real.json"
    real.write_text(json.dumps([[1], [2]]))
    with pytest.raises(AnnotationError, match="no ReaL labels for 'ILSVRC2012_val_00000005'"):
        ImageNetFolder(tmp_path, real_labels=real)
    real.write_text(json.dumps([[1], [1000]]))
    with pytest.raises(AnnotationError, match="entry 1 .*ILSVRC2012_val_00000002"):
        ImageNetFolder(tmp_path, real_labels=real)


def test_folder_rejects_non_wnid_folder(tmp_path):
    write_image(tmp_path / "val" / "cats" / "a.JPEG", 8, 8)
    with pytest.raises(AnnotationError, match="not an ILSVRC2012 WNID.*id=cats"):
        ImageNetFolder(tmp_path)


def test_imagenetv2_int_dirnames(tmp_path):
    for d in ("0", "2", "10", "100", "999"):
        write_image(tmp_path / d / "abc.jpeg", 8, 8)
    ds = imagenetv2(tmp_path)
    gt = ds.ground_truth()
    # class = int(dirname); a string sort would give 0, 10, 100, 2, 999
    assert [t.label for t in gt.targets] == [0, 2, 10, 100, 999]
    assert gt.sample_ids[2] == "10/abc" and ds.label_space.name == "imagenet1k"
    (tmp_path / "n01440764").mkdir()
    with pytest.raises(AnnotationError, match="not a class index"):
        ImageNetV2(tmp_path)


def test_imagenetv2_variant_folder(tmp_path):
    write_image(tmp_path / "imagenetv2-matched-frequency-format-val" / "7" / "x.jpeg", 8, 8)
    assert [t.label for t in ImageNetV2(tmp_path).ground_truth().targets] == [7]


def test_no_layout_message(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="folder .*kaggle .*devkit .*image-net.org"):
        imagenet(tmp_path)


@pytest.fixture(scope="module")
def imagenet_mini(tmp_path_factory):
    from visionbench import synth

    return synth.generate("imagenet-mini", tmp_path_factory.mktemp("imn") / "imagenet-mini")


def test_imagenet_mini_three_layouts_agree(imagenet_mini):
    """The synth devkit's ids are a permutation of the sorted order: folder names (sorted
    WNID index), the devkit (through meta.mat) and the Kaggle CSV must give equal labels."""
    folder = imagenet(imagenet_mini, layout="folder").ground_truth()
    expected = dict(zip(folder.sample_ids, (t.label for t in folder.targets)))
    assert len(expected) == 100 and set(expected.values()) == {
        0,
        207,
        309,
        409,
        511,
        546,
        717,
        817,
        920,
        950,
    }
    for layout in ("devkit", "kaggle"):
        gt = imagenet(imagenet_mini, layout=layout).ground_truth()
        assert dict(zip(gt.sample_ids, (t.label for t in gt.targets))) == expected, layout
    devkit = imagenet(imagenet_mini, layout="devkit")
    assert devkit[0].image.path.endswith("ILSVRC2012_val_00000001.JPEG")  # found in its wnid folder
