"""verify_dataset reports every problem of a dataset, not only the first."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.loaders._loader_fixtures import CITYSCAPES, write_image
from visionbench.loaders.cityscapes import CityscapesSemantic
from visionbench.loaders.coco import COCODetection
from visionbench.loaders.verify import Problem, verify_dataset


@pytest.fixture
def broken_coco(tmp_path):
    """Five images: 1 fine, 2 missing, 3 not an image, 4 smaller than recorded, 5 a truncated
    JPEG; plus an annotation on image 99, which is not in `images`."""
    images = [
        {"id": i, "file_name": f"{i:012d}.jpg", "width": 20, "height": 10} for i in range(1, 6)
    ]
    images[4].update(width=200, height=100)  # large enough that the headers survive truncation
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0},
            {"id": 2, "image_id": 99, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}]  # fmt: skip
    ann = tmp_path / "annotations" / "instances_val2017.json"
    ann.parent.mkdir()
    ann.write_text(
        json.dumps(
            {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
        )
    )
    d = tmp_path / "val2017"
    write_image(d / "000000000001.jpg", 20, 10)
    d.joinpath("000000000003.jpg").write_bytes(b"this is not a jpeg")
    write_image(d / "000000000004.jpg", 18, 10)
    write_image(d / "000000000005.jpg", 200, 100, seed=5)
    data = d.joinpath("000000000005.jpg").read_bytes()
    d.joinpath("000000000005.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.warns(UserWarning, match="dropped 1 annotations"):
        return COCODetection(ann, d, drop_dangling=True)


def test_every_problem_is_reported(broken_coco):
    seen = []
    problems = verify_dataset(broken_coco, progress=lambda k, n: seen.append((k, n)))
    got = [(p.kind, p.sample_id) for p in problems]
    assert got == [
        ("dangling", 99),
        ("missing", 2),
        ("unreadable", 3),
        ("size_mismatch", 4),
        ("unreadable", 5),
    ]
    mismatch = problems[3]
    assert "annotation says 20x10, image is 18x10" in mismatch.message
    assert mismatch.path.endswith("000000000004.jpg")
    assert seen[-1] == (5, 5) and len(seen) == 5
    assert "[missing]" in str(problems[1]) and "000000000002.jpg" in str(problems[1])


def test_header_only_mode_misses_truncation_only(broken_coco):
    got = [(p.kind, p.sample_id) for p in verify_dataset(broken_coco, decode=False, workers=1)]
    assert got == [("dangling", 99), ("missing", 2), ("unreadable", 3), ("size_mismatch", 4)]


def test_clean_dataset_has_no_problems():
    assert verify_dataset(CityscapesSemantic(CITYSCAPES)) == []


def test_segmentation_mask_size_mismatch(tmp_path):
    root = tmp_path / "cs"
    shutil.copytree(CITYSCAPES, root)
    gt = root / "gtFine" / "val" / "frankfurt"
    for suffix, dtype in (("labelIds", np.uint8), ("instanceIds", np.uint16)):
        Image.fromarray(np.full((50, 100), 7, dtype)).save(
            gt / f"frankfurt_000000_000294_gtFine_{suffix}.png"
        )
    problems = verify_dataset(CityscapesSemantic(root), workers=1)
    assert [p.kind for p in problems] == ["size_mismatch", "size_mismatch"]
    assert "ground truth is 100x50, image is 256x128" in problems[0].message
    assert problems[0].path.endswith("_labelIds.png") and problems[1].path.endswith(
        "_instanceIds.png"
    )


def test_a_sample_that_fails_to_load_does_not_stop_the_walk(tmp_path):
    class Flaky:
        problems = [Problem("dangling", "recorded at load", 7)]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            if i == 0:
                raise RuntimeError("boom")
            from visionbench.types import ClassificationTarget, ImageRef, Sample

            return Sample("b", ImageRef(path=str(tmp_path / "nope.jpg")), ClassificationTarget(0))

    got = [(p.kind, p.sample_id) for p in verify_dataset(Flaky())]
    assert got == [("dangling", 7), ("unreadable", None), ("missing", "b")]


@pytest.mark.parametrize("decode", [True, False])
def test_exif_rotation_grey_and_cmyk_are_readable(tmp_path, decode):
    """Sizes are compared after EXIF orientation (what decode_image gives the model)."""
    from visionbench.types import ClassificationTarget, ImageRef, Sample

    rng = np.random.default_rng(0)
    rotated = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(rng.integers(0, 255, (10, 20, 3), np.uint8)).save(rotated, exif=exif.tobytes())
    grey = tmp_path / "grey.jpg"
    Image.fromarray(rng.integers(0, 255, (10, 20), np.uint8), "L").save(grey)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(rng.integers(0, 255, (10, 20, 4), np.uint8), "CMYK").save(cmyk)
    refs = [ImageRef(path=str(rotated), width=10, height=20), ImageRef(path=str(grey), width=20, height=10),
            ImageRef(path=str(cmyk), width=20, height=10), ImageRef(path=str(rotated), width=20, height=10)]  # fmt: skip

    class Images:
        def __len__(self):
            return len(refs)

        def __getitem__(self, i):
            return Sample(i, refs[i], ClassificationTarget(0))

    problems = verify_dataset(Images(), decode=decode)
    assert [(p.kind, p.sample_id) for p in problems] == [("size_mismatch", 3)]
    assert tuple(refs[0].load().shape) == (3, 20, 10)  # the decoder agrees
