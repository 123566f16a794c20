"""Cityscapes protocol: equality with cityscapesscripts' evalPixelLevelSemanticLabeling."""

from __future__ import annotations

import math
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.shared_fixtures import reference_module
from visionbench.metrics.errors import MetricInputError
from visionbench.metrics.segmentation.cityscapes import (
    CITYSCAPES_CATEGORIES,
    CITYSCAPES_LABEL_NAMES,
    CityscapesEvaluator,
    cityscapes_frame_stats,
    train_ids_to_label_ids,
)
from visionbench.metrics.segmentation.cityscapes_files import (
    evaluate_cityscapes_files,
    find_cityscapes_predictions,
)
from visionbench.metrics.segmentation.label_png import read_label_png

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "cityscapes"
if not FIXTURE.is_dir():  # the repository checked out beside shared/
    FIXTURE = Path("/work/shared/fixtures/cityscapes")
FIXTURE_GT = FIXTURE / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"


@pytest.fixture(scope="module")
def reference():
    """cityscapesscripts' evaluator module (np.in1d shim for numpy >= 2.4)."""
    if not hasattr(np, "in1d"):
        np.in1d = lambda a, b, **kw: np.isin(a, b, **kw).ravel()
    ev = reference_module("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    ev.args.quiet = True
    ev.args.JSONOutput = False
    ev.args.evalInstLevelScore = True
    ev.args.evalPixelAccuracy = False
    return ev


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _assert_equal_to_reference(ours, ref: dict) -> None:
    """Every class, instance, category score and average, bit for bit."""
    for i, name in enumerate(CITYSCAPES_LABEL_NAMES):
        assert _same(ours.arrays["class_iou"][i], ref["classScores"][name]), name
        assert _same(ours.arrays["class_iiou"][i], ref["classInstScores"][name]), name
    for i, cat in enumerate(CITYSCAPES_CATEGORIES):
        assert _same(ours.arrays["category_iou"][i], ref["categoryScores"][cat]), cat
        assert _same(ours.arrays["category_iiou"][i], ref["categoryInstScores"][cat]), cat
    assert _same(ours.metrics["miou"], ref["averageScoreClasses"])
    assert _same(ours.metrics["iiou"], ref["averageScoreInstClasses"])
    assert _same(ours.metrics["miou_category"], ref["averageScoreCategories"])
    assert _same(ours.metrics["iiou_category"], ref["averageScoreInstCategories"])
    np.testing.assert_array_equal(ours.arrays["confusion"], np.array(ref["confMatrix"]))


def _random_frame(rng: np.random.Generator, h: int = 48, w: int = 96):
    gt = rng.integers(0, 34, (h // 8, w // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    inst = gt.astype(np.uint16)
    for _ in range(int(rng.integers(0, 12))):
        lab = int(rng.integers(24, 34))
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        hh, ww = int(rng.integers(2, 20)), int(rng.integers(2, 30))
        gt[y : y + hh, x : x + ww] = lab
        inst[y : y + hh, x : x + ww] = lab * 1000 + int(rng.integers(0, 40))
    if rng.random() < 0.5:  # a crowd region: plain label id in instanceIds
        gt[:4, :10] = 26
        inst[:4, :10] = 26
    noise = rng.random(gt.shape) < rng.uniform(0.05, 0.6)
    pred = np.where(noise, rng.integers(0, 34, gt.shape), gt).astype(np.uint8)
    pred = np.roll(pred, int(rng.integers(-3, 4)), axis=1)
    return gt, inst, pred


def _write_frames(tmp: Path, frames, city: str = "aachen"):
    preds, gts = [], []
    for i, (gt, inst, pred) in enumerate(frames):
        stem = f"{city}_{i:06d}_000019"
        gt_path = tmp / "gtFine" / "val" / city / f"{stem}_gtFine_labelIds.png"
        gt_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gt).save(gt_path)
        Image.fromarray(inst).save(str(gt_path).replace("labelIds", "instanceIds"))
        pred_path = tmp / "results" / f"{stem}_leftImg8bit.png"
        pred_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pred).save(pred_path)
        preds.append(str(pred_path))
        gts.append(str(gt_path))
    return preds, gts


@pytest.mark.parametrize("seed", range(8))
def test_random_frames_equal_reference(tmp_path: Path, reference, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = [_random_frame(rng) for _ in range(int(rng.integers(1, 6)))]
    preds, gts = _write_frames(tmp_path, frames)
    ref = reference.evaluateImgLists(preds, gts, reference.args)
    ours = evaluate_cityscapes_files(preds, gts, num_workers=1 + seed % 3)
    _assert_equal_to_reference(ours, ref)
    # the in-memory evaluator agrees too
    ev = CityscapesEvaluator()
    for gt, inst, pred in frames:
        ev.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
    _assert_equal_to_reference(ev.compute(), ref)


def test_real_frame_equals_reference(tmp_path: Path, reference) -> None:
    gt = np.array(Image.open(FIXTURE_GT))
    inst = np.array(Image.open(str(FIXTURE_GT).replace("labelIds", "instanceIds")))
    assert inst.max() > 24000  # the fixture has person and car instances
    train = np.array(Image.open(str(FIXTURE_GT).replace("labelIds", "labelTrainIds")))
    rng = np.random.default_rng(0)
    noisy = gt.copy()
    mask = rng.random(gt.shape) < 0.2
    noisy[mask] = rng.integers(0, 34, int(mask.sum()))
    variants = {
        "perfect": gt,
        "noisy": noisy,
        "shifted": np.roll(gt, 5, axis=1),
        "from_train_ids": train_ids_to_label_ids(train),
    }
    for name, pred in variants.items():
        pred_path = tmp_path / name / "frankfurt_000000_000294_pred.png"
        pred_path.parent.mkdir()
        Image.fromarray(pred.astype(np.uint8)).save(pred_path)
        ref = reference.evaluateImgLists([str(pred_path)], [str(FIXTURE_GT)], reference.args)
        ours = evaluate_cityscapes_files([pred_path], [FIXTURE_GT])
        _assert_equal_to_reference(ours, ref)
        if name == "perfect":
            assert ours.metrics["miou"] == 1.0 and ours.metrics["iiou"] == 1.0


def test_hand_case_fp_only_on_valid_rows() -> None:
    # gt: road (7) | unlabeled (0); pred: road everywhere -> fp on void pixels is free
    gt = np.array([[7, 7, 0, 0]], np.uint8)
    pred = np.array([[7, 7, 7, 7]], np.uint8)
    ev = CityscapesEvaluator(check_train_ids=False)
    ev.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=None)
    res = ev.compute()
    assert res.arrays["class_iou"][7] == 1.0 and res.metrics["miou"] == 1.0
    assert math.isnan(res.metrics["iiou"])  # no instanceIds given
    # predicting a void id on a valid pixel is a miss: road IoU = 1 / 2
    ev.reset()
    ev.update(
        gt_label_ids=gt,
        pred_label_ids=np.array([[7, 0, 7, 7]], np.uint8),
        gt_instance_ids=None,
    )
    assert ev.compute().arrays["class_iou"][7] == 0.5


def test_merge_state_and_order() -> None:
    rng = np.random.default_rng(5)
    frames = [_random_frame(rng) for _ in range(6)]
    whole = CityscapesEvaluator()
    for gt, inst, pred in frames:
        whole.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst, frame="x")
    a, b = CityscapesEvaluator(), CityscapesEvaluator()
    for gt, inst, pred in frames[:2]:
        a.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
    for gt, inst, pred in frames[2:]:
        b.update(gt_label_ids=gt, pred_label_ids=pred, gt_instance_ids=inst)
    restored = CityscapesEvaluator()
    restored.load_state_dict(b.state_dict())
    a.merge(restored)
    ra, rw = a.compute(), whole.compute()
    assert ra.metrics == rw.metrics
    np.testing.assert_array_equal(ra.arrays["class_iiou"], rw.arrays["class_iiou"])
    assert ra.signature.startswith("cityscapes|pixel|ids=labelIds")


def test_train_ids_are_refused_with_advice() -> None:
    gt = np.array(Image.open(FIXTURE_GT))
    train = np.array(Image.open(str(FIXTURE_GT).replace("labelIds", "labelTrainIds")))
    assert 255 in train
    with pytest.raises(MetricInputError, match="look like trainIds.*train_ids_to_label_ids"):
        cityscapes_frame_stats(gt, train, frame="frankfurt_000000_000294")
    no_void = np.where(train == 255, 0, train)
    with pytest.raises(MetricInputError, match="frankfurt_000000_000294.*look like trainIds"):
        cityscapes_frame_stats(gt, no_void, frame="frankfurt_000000_000294")
    stats = cityscapes_frame_stats(gt, no_void, check_train_ids=False)
    assert stats.confusion.sum() == gt.size
    with pytest.raises(MetricInputError, match=r"expected labelIds 0..33, got \[40\]"):
        cityscapes_frame_stats(gt, np.full_like(gt, 40))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gt_label_ids": np.full((2, 2), 34)}, "gt_label_ids: expected labelIds 0..33"),
        ({"pred_label_ids": np.zeros((2, 3), np.uint8)}, r"expected the gt size \[2, 2\]"),
        ({"pred_label_ids": np.zeros((2, 2, 3), np.uint8)}, "single-channel"),
        ({"gt_instance_ids": np.full((2, 2), 7003)}, "instance id 7003 has labelId 7 \\(road\\)"),
        ({"gt_instance_ids": np.full((2, 2), 34001)}, "instanceIds"),
    ],
)
def test_input_errors(kwargs: dict, match: str) -> None:
    args = {
        "gt_label_ids": np.full((2, 2), 7, np.uint8),
        "pred_label_ids": np.full((2, 2), 7, np.uint8),
        "gt_instance_ids": None,
    }
    args.update(kwargs)
    with pytest.raises(MetricInputError, match=match):
        cityscapes_frame_stats(**args, check_train_ids=False)


def test_find_predictions(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    preds, gts = _write_frames(tmp_path, [_random_frame(rng) for _ in range(3)])
    found_preds, found_gts = find_cityscapes_predictions(tmp_path, tmp_path / "results")
    assert [str(p) for p in found_preds] == preds and [str(g) for g in found_gts] == gts
    Path(preds[1]).unlink()
    with pytest.raises(
        MetricInputError,
        match=r"1 frames without exactly one result PNG: aachen_000001_000019 \(none\)",
    ):
        find_cityscapes_predictions(tmp_path, tmp_path / "results")


def _get_prediction(reference, pred_root: Path, gt: Path) -> str | None:
    """cityscapesScripts' own getPrediction (None where it would exit with an error)."""
    reference.args.predictionPath = str(pred_root)
    reference.args.predictionWalk = None
    try:
        return reference.getPrediction(reference.args, str(gt))
    except SystemExit:
        return None


@pytest.mark.parametrize("seed", range(6))
def test_pairing_equals_cityscapesscripts_get_prediction(
    tmp_path: Path, reference, seed: int, capsys
) -> None:
    """find_cityscapes_predictions (the pairing bench eval uses) finds the file that
    cityscapesScripts' getPrediction finds, and refuses where it exits."""
    rng = np.random.default_rng(seed)
    gts = []
    for city in ("aachen", "bad-honnef", "zurich")[: 1 + seed % 3]:
        for _ in range(int(rng.integers(1, 5))):
            frame = f"{city}_{int(rng.integers(0, 10**6)):06d}_{int(rng.integers(0, 10**6)):06d}"
            g = tmp_path / "gtFine" / "val" / city / f"{frame}_gtFine_labelIds.png"
            g.parent.mkdir(parents=True, exist_ok=True)
            g.write_bytes(b"")
            gts.append(g)
    res = tmp_path / "results"
    for g in gts:
        frame = g.name[: -len("_gtFine_labelIds.png")]
        tail = ["", "_leftImg8bit", "pred", "_x_y"][int(rng.integers(0, 4))]
        sub = res / ("a/b" if rng.random() < 0.3 else "")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{frame}{tail}.png").write_bytes(b"")
    (res / "zurich_999999_999999_pred.png").write_bytes(b"")  # a frame not in the gt
    (res / "notes.txt").write_bytes(b"")
    preds, found = find_cityscapes_predictions(tmp_path, res)
    assert [str(g) for g in found] == sorted(map(str, gts), key=lambda p: Path(p).name)
    assert [str(p) for p in preds] == [_get_prediction(reference, res, g) for g in found]
    # a second prediction for one frame, and none for another: both refuse, naming them
    victim, dup = found[0], found[-1]
    preds[0].unlink()
    extra = res / f"{dup.name[: -len('_gtFine_labelIds.png')]}_again.png"
    extra.write_bytes(b"")
    assert _get_prediction(reference, res, victim) is None
    assert _get_prediction(reference, res, dup) is None
    capsys.readouterr()
    with pytest.raises(MetricInputError) as e:
        find_cityscapes_predictions(tmp_path, res)
    msg = str(e.value)
    assert f"{victim.name[: -len('_gtFine_labelIds.png')]} (none)" in msg and extra.name in msg


def test_train_ids_to_label_ids() -> None:
    np.testing.assert_array_equal(
        train_ids_to_label_ids(np.array([0, 1, 2, 10, 18, 255])), [7, 8, 11, 23, 33, 0]
    )
    with pytest.raises(MetricInputError, match="got 19"):
        train_ids_to_label_ids(np.array([19]))


# --- the PNG reader the file evaluation relies on -------------------------------------


def _png(rows: list[tuple[int, bytes]], w: int, h: int, depth: int, color: int) -> bytes:
    raw = b"".join(bytes([ft]) + data for ft, data in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    extra = chunk(b"PLTE", bytes(range(256)) * 3) if color == 3 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + extra
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _filter_rows(img: np.ndarray, bpp: int, rng: np.random.Generator) -> list[tuple[int, bytes]]:
    """Encode each row with a random PNG filter type (0-4), per the PNG spec."""
    b = img.astype(np.int64).reshape(img.shape[0], -1)
    rows = []
    for r in range(b.shape[0]):
        ft = int(rng.integers(0, 5))
        x = b[r]
        up = b[r - 1] if r else np.zeros_like(x)
        left = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
        ul = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
        if ft == 0:
            pred = np.zeros_like(x)
        elif ft == 1:
            pred = left
        elif ft == 2:
            pred = up
        elif ft == 3:
            pred = (left + up) // 2
        else:
            p = left + up - ul
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, ul))
        rows.append((ft, ((x - pred) % 256).astype(np.uint8).tobytes()))
    return rows


@pytest.mark.parametrize("depth", [8, 16])
def test_png_reader_all_filters_equal_pillow(tmp_path: Path, depth: int) -> None:
    rng = np.random.default_rng(depth)
    h, w = 37, 53
    img = rng.integers(0, 2**depth, (h, w)).astype(np.uint8 if depth == 8 else ">u2")
    path = tmp_path / "f.png"
    path.write_bytes(_png(_filter_rows(img.view(np.uint8), depth // 8, rng), w, h, depth, 0))
    ours = read_label_png(path)
    np.testing.assert_array_equal(ours, np.array(Image.open(path)))
    np.testing.assert_array_equal(ours, img.astype(np.uint16 if depth == 16 else np.uint8))


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "RGB", "1"])
def test_png_reader_pillow_files(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 34, (40, 70)).astype(np.uint8)
    if mode == "I;16":
        img = Image.fromarray(arr.astype(np.uint16) * 1000 + 7)
    elif mode == "RGB":
        img = Image.fromarray(np.stack([arr] * 3, -1))
    else:
        img = Image.fromarray(arr).convert(mode) if mode != "L" else Image.fromarray(arr)
    path = tmp_path / f"x_{mode.replace(';', '')}.png"
    img.save(path)
    np.testing.assert_array_equal(read_label_png(path), np.array(Image.open(path)))


def test_png_reader_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(MetricInputError, match="bad.png: not a PNG file"):
        read_label_png(bad)
    with pytest.raises(MetricInputError, match="missing.png: cannot read label image"):
        read_label_png(tmp_path / "missing.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(good)
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) - 20])
    with pytest.raises(MetricInputError, match="cut.png"):
        read_label_png(tmp_path / "cut.png")
    shutil.copy(good, tmp_path / "copy.png")
    assert read_label_png(tmp_path / "copy.png").shape == (8, 8)


def test_png_reader_bytes_other_formats_and_single_channel(tmp_path: Path) -> None:
    """The one label reader: bytes as files, non-PNG formats through Pillow, and
    ``single_channel`` refusing what is not one integer id per pixel (naming the file)."""
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 151, (9, 13)).astype(np.uint8)
    png = tmp_path / "a.png"
    Image.fromarray(arr).save(png)
    np.testing.assert_array_equal(read_label_png(png.read_bytes()), arr)
    bmp = tmp_path / "a.bmp"
    Image.fromarray(arr).save(bmp)
    np.testing.assert_array_equal(read_label_png(bmp, single_channel=True), arr)
    bilevel = tmp_path / "b.png"
    Image.fromarray(arr > 70).save(bilevel)
    got = read_label_png(bilevel, single_channel=True)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, (arr > 70).astype(np.uint8))
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([arr] * 3, -1)).save(rgb)
    assert read_label_png(rgb).shape == (9, 13, 3)
    with pytest.raises(
        MetricInputError, match=r"rgb.png: expected a single-channel .* \[9, 13, 3\]"
    ):
        read_label_png(rgb, single_channel=True)
    with pytest.raises(MetricInputError, match="column 7: not a PNG"):
        read_label_png(b"garbage", name="column 7")
