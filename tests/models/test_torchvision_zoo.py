"""torchvision adapters: parameter counts, preprocessing and label spaces from the weights
enums, weights from the hub cache (and clear errors without them), detection/segmentation
postprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from torch import nn

from visionbench.errors import LabelSpaceError, RegistryError, WeightsError
from visionbench.label_spaces import get_label_space, label_map
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter, SegmentationAdapter
from visionbench.models.torchvision_zoo import build_torchvision, hub_checkpoint_path
from visionbench.tasks import Batch

# REFERENCE.md §7 (torchvision's published meta)
PUBLISHED = [
    ("mobilenet_v3_large", 5_483_032),
    ("densenet121", 7_978_856),
    ("lraspp_mobilenet_v3_large", 3_221_538),
    ("deeplabv3_mobilenet_v3_large", 11_029_328),
    ("ssdlite320_mobilenet_v3_large", 3_440_060),
]
PUBLISHED_SLOW = [("vit_b_16", 86_567_656), ("maxvit_t", 30_919_624)]


@pytest.mark.parametrize(("name", "params"), PUBLISHED)
def test_param_counts_published(name: str, params: int) -> None:
    a = build_torchvision(name, weights=None)
    assert a.num_params() == params == tvm.get_model_weights(name).DEFAULT.meta["num_params"]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "params"), PUBLISHED_SLOW)
def test_param_counts_published_big(name: str, params: int) -> None:
    assert build_torchvision(name, weights=None).num_params() == params


@pytest.mark.parametrize(
    "name", ["fasterrcnn_resnet50_fpn", "googlenet", "fasterrcnn_mobilenet_v3_large_fpn"]
)
def test_random_init_mirrors_pretrained_structure(name: str) -> None:
    # R-CNN backbones use FrozenBatchNorm2d and GoogLeNet drops its aux heads when built
    # with weights; a random init must have the same parameter count as the meta says.
    a = build_torchvision(name, weights="random")
    assert a.num_params() == tvm.get_model_weights(name).DEFAULT.meta["num_params"]


def test_preprocessing_from_weights_enum() -> None:
    p = build_torchvision("mobilenet_v3_large", weights=None).preprocess_config
    # IMAGENET1K_V2: resize 232, crop 224, bilinear (torchvision docs)
    assert (p.mode, p.resize, p.crop, p.interpolation) == ("resize_crop", 232, 224, "bilinear")
    assert p.mean == (0.485, 0.456, 0.406) and p.std == (0.229, 0.224, 0.225)
    # maxvit_t: resize 224, crop 224, bicubic
    from visionbench.models import torchvision_zoo as z

    w = tvm.get_model_weights("maxvit_t").DEFAULT
    pm = z._preprocess("classification", w)
    assert (pm.resize, pm.crop, pm.interpolation) == (224, 224, "bicubic")
    det = build_torchvision("ssdlite320_mobilenet_v3_large", weights=None).preprocess_config
    assert det.mode == "none" and det.mean is None and det.std is None


def test_label_spaces_declared() -> None:
    assert build_torchvision("densenet121", None).label_space.name == "imagenet1k"
    seg = build_torchvision("lraspp_mobilenet_v3_large", None)
    assert seg.label_space.name == "voc21" and len(seg.label_space) == 21
    with pytest.raises(LabelSpaceError, match="no map from label space 'voc21' to 'cityscapes34'"):
        label_map(seg.label_space.name, "cityscapes34")
    det = build_torchvision("ssdlite320_mobilenet_v3_large", None)
    assert det.label_space.name == "coco91"
    ids = det.class_ids
    # torchvision's list: 0 background, 12/26/29/30/45/66/68/69/71/83 'N/A', index = COCO id
    assert ids[0] == -1 and ids[1] == 1 and ids[11] == 11 and ids[12] == -1 and ids[13] == 13
    assert ids[90] == 90
    assert sorted(ids[ids >= 0].tolist()) == list(get_label_space("coco91").ids)
    assert np.flatnonzero(ids < 0).tolist() == [0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83]


def test_unknown_and_unsupported_names() -> None:
    with pytest.raises(RegistryError, match="did you mean tv:mobilenet_v3_large"):
        build_torchvision("mobilenet_v3_larg", None)
    with pytest.raises(RegistryError, match="family visionbench does not evaluate"):
        build_torchvision("raft_small", None)
    with pytest.raises(WeightsError, match="unknown weights 'IMAGENET9K'"):
        build_torchvision("mobilenet_v3_large", "IMAGENET9K")


def test_missing_hub_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "mobilenet_v3_large-5c1a4163.pth"
    with pytest.raises(WeightsError) as e:
        build_torchvision("mobilenet_v3_large", "DEFAULT")
    msg = str(e.value)
    assert str(expected) in msg
    assert "MobileNet_V3_Large_Weights.IMAGENET1K_V2" in msg
    assert "https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth" in msg


def test_cached_hub_weights_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    member = tvm.get_model_weights("squeezenet1_1").IMAGENET1K_V1
    path = hub_checkpoint_path(member)
    assert path == tmp_path / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth"
    torch.manual_seed(1)
    ref = tvm.squeezenet1_1()
    path.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), path)
    a = build_torchvision("squeezenet1_1", "IMAGENET1K_V1")
    assert a.weights["name"] == "SqueezeNet1_1_Weights.IMAGENET1K_V1"
    for k, v in ref.state_dict().items():
        assert torch.equal(a.module.state_dict()[k], v), k
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    with pytest.raises(
        WeightsError, match=r"cannot load .*squeezenet1_1-b8a52dc0.pth \(1000 bytes\)"
    ):
        build_torchvision("squeezenet1_1", "DEFAULT")


def test_state_dict_file_weights(tmp_path: Path) -> None:
    torch.manual_seed(2)
    ref = tvm.squeezenet1_1()
    torch.save(ref.state_dict(), tmp_path / "sq.pth")
    a = build_torchvision("squeezenet1_1", str(tmp_path / "sq.pth"))
    assert torch.equal(a.module.features[0].weight, ref.features[0].weight)
    assert a.weights["sha256"] and a.weights["path"].endswith("sq.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="missing keys: .*shape mismatches: features.0.weight"):
        build_torchvision("squeezenet1_1", str(tmp_path / "bad.pth"))


# -- adapters' postprocessing -----------------------------------------------------------------


class _FixedDetections(nn.Module):
    def __init__(self, out: list[dict[str, torch.Tensor]]) -> None:
        super().__init__()
        self.out = out

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        return self.out


def test_detection_adapter_maps_ids_and_undoes_letterbox() -> None:
    # 200x100 (h x w) image letterboxed into 100x100: scale 0.5, pad left 25.
    pre = Preprocess(mode="letterbox", size=100, mean=None, std=None)
    x, meta = pre(torch.zeros(3, 200, 100, dtype=torch.uint8))
    assert meta["scale"] == (0.5, 0.5) and meta["pad"] == (0, 25)
    out = [
        {
            "boxes": torch.tensor(
                [[25.0, 0.0, 75.0, 50.0], [30.0, 10.0, 40.0, 20.0], [0, 0, 200, 200]]
            ),
            "labels": torch.tensor([1, 12, 90]),  # person, N/A (dropped), toothbrush
            "scores": torch.tensor([0.9, 0.8, 0.7]),
        }
    ]
    coco = get_label_space("coco91")
    ids = [k if k in coco.ids else -1 for k in range(91)]
    a = DetectionAdapter("fake", coco, _FixedDetections(out), pre, class_ids=ids)
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 7}]))
    assert p.sample_id == 7
    assert p.labels.tolist() == [1, 90]
    np.testing.assert_allclose(p.boxes, [[0, 0, 100, 100], [0, 0, 100, 200]])  # clipped
    np.testing.assert_allclose(p.scores, [0.9, 0.7])


class _FixedLogits(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.logits}


def test_segmentation_adapter_resizes_and_maps_ids() -> None:
    # 3 channels = cityscapes19 trainIds 0, 1, 2 mapped to labelIds 7, 8, 11; logits at half
    # resolution of the 4x6 input: left half channel 0 wins, right half channel 2.
    logits = torch.zeros(1, 3, 2, 3)
    logits[0, 0, :, :1] = 5
    logits[0, 2, :, 2:] = 5
    logits[0, 1, :, 1] = 5
    a = SegmentationAdapter(
        "fake",
        get_label_space("cityscapes34"),
        _FixedLogits(logits),
        Preprocess(mode="none"),
        class_ids=[7, 8, 11],
    )
    (p,) = a.predict(Batch(torch.zeros(1, 3, 4, 6), [{"orig_size": (4, 6), "sample_id": "f"}]))
    assert p.mask.dtype == np.uint8 and p.mask.shape == (4, 6)
    assert p.mask[:, 0].tolist() == [7] * 4 and p.mask[:, -1].tolist() == [11] * 4
    assert set(np.unique(p.mask)) == {7, 8, 11}


@pytest.mark.parametrize(
    "name",
    [
        "lraspp_mobilenet_v3_large",
        # random init: ~30k candidate boxes through NMS, seconds on a small CPU
        pytest.param("ssdlite320_mobilenet_v3_large", marks=pytest.mark.slow),
    ],
)
def test_forward_small(name: str) -> None:
    a = build_torchvision(name, None)
    img = torch.randint(0, 256, (3, 48, 64), dtype=torch.uint8)
    x, meta = a.preprocess(img)
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 1}]))
    if a.task.value == "detection":
        assert (p.boxes[:, 2] <= 64).all() and (p.boxes[:, 3] <= 48).all()
        a.label_space.check_ids(p.labels)
    else:
        assert p.mask.shape == (48, 64) and p.mask.max() < 21


def test_detection_masks_become_rle_at_original_size() -> None:
    from pycocotools import mask as mask_utils

    # 20x40 image resized to 10x20 (scale 0.5); one mask covering the left half of the input
    pre = Preprocess(mode="resize", size=(10, 20), mean=None, std=None)
    x, meta = pre(torch.zeros(3, 20, 40, dtype=torch.uint8))
    probs = torch.zeros(1, 1, 10, 20)
    probs[..., :10] = 0.9
    out = [
        {
            "boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]),
            "labels": torch.tensor([1]),
            "scores": torch.tensor([0.9]),
            "masks": probs,
        }
    ]
    a = DetectionAdapter(
        "fake", get_label_space("coco91"), _FixedDetections(out), pre, class_ids=[-1, 1]
    )
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 1}]))
    np.testing.assert_allclose(p.boxes, [[0, 0, 20, 20]])
    m = mask_utils.decode(p.masks[0])
    assert m.shape == (20, 40) and m[:, :20].all() and not m[:, 20:].any()


class _ShapeRecorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.seen.append(tuple(x.shape))
        return {"out": x[:, :2]}


def test_segmentation_short_side_resize_matches_weights_transform() -> None:
    rec = _ShapeRecorder()
    a = SegmentationAdapter(
        "rec",
        get_label_space("cityscapes19"),
        rec,
        Preprocess(mode="none"),
        class_ids=[0, 1],
        short_side=20,
    )
    x, meta = a.preprocess(torch.randint(0, 256, (3, 40, 60), dtype=torch.uint8))
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 1}]))
    assert rec.seen == [(1, 3, 20, 30)] and p.mask.shape == (40, 60)

    # the adapter's resize of the normalised batch equals the VOC weights' eval transform
    # (resize shorter side to 520 on uint8, then normalise) up to uint8 rounding
    seg = build_torchvision("lraspp_mobilenet_v3_large", None)
    assert seg.short_side == 520
    img = torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8)
    ref = tvm.get_model_weights("lraspp_mobilenet_v3_large").DEFAULT.transforms()(img)
    x, _ = seg.preprocess(img)
    ours = torch.nn.functional.interpolate(
        x[None], size=(520, 780), mode="bilinear", align_corners=False, antialias=True
    )[0]
    assert ref.shape == ours.shape == (3, 520, 780)
    assert (ref - ours).abs().max() < 0.5 / 255 / 0.224 + 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"],
)
def test_rcnn_forward(name: str) -> None:
    a = build_torchvision(name, "random")
    img = torch.randint(0, 256, (3, 40, 56), dtype=torch.uint8)
    x, meta = a.preprocess(img)
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": 1}]))
    a.label_space.check_ids(p.labels)
    if len(p):
        assert (p.boxes[:, 2] <= 56).all() and (p.boxes[:, 3] <= 40).all()
    if name.startswith("maskrcnn"):
        assert p.masks is not None and len(p.masks) == len(p)
        assert all(m["size"] == [40, 56] for m in p.masks)
    if name.startswith("keypoint"):
        assert set(p.labels.tolist()) <= {1}  # person only


@pytest.mark.slow
def test_every_torchvision_model_has_the_published_param_count() -> None:
    # built on the meta device (shapes only); RegNet's init needs real tensors
    names = [
        n
        for n in tvm.list_models()
        if n
        in set(tvm.list_models(module=tvm))
        | set(tvm.list_models(module=tvm.detection))
        | set(tvm.list_models(module=tvm.segmentation))
    ]
    assert len(names) >= 90
    checked = 0
    for name in names:
        expected = tvm.get_model_weights(name).DEFAULT.meta["num_params"]
        try:
            with torch.device("meta"):
                a = build_torchvision(name, None)
        except NotImplementedError:
            if expected > 50_000_000:
                continue
            a = build_torchvision(name, None)
        assert a.num_params() == expected, name
        p = a.preprocess_config
        if a.task.value == "classification":  # the module's input size is the weights' crop
            assert p.crop == tvm.get_model_weights(name).DEFAULT.transforms().crop_size[0]
        checked += 1
    assert checked >= len(names) - 6
