"""models/task_adapters.py: the content region of a letterboxed image, SegmentationAdapter
(logits -> label-id mask at the original size) and DetectionAdapter (torchvision-style
detections -> boxes in original pixels, dataset category ids, RLE masks).

Expected values are worked out by hand in the comments (letterbox geometry from
:class:`Preprocess`, bilinear sample positions ``(j + 0.5) * in / out - 0.5``); masks are
decoded with pycocotools, the reference RLE implementation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from torch import nn

from visionbench.errors import ContractError, LabelSpaceError
from visionbench.label_spaces import LabelSpace, get_label_space, label_map
from visionbench.models.preprocess import Preprocess
from visionbench.models.task_adapters import DetectionAdapter, SegmentationAdapter, content_region
from visionbench.tasks import Batch
from visionbench.types import Task

LETTERBOX_8 = Preprocess(mode="letterbox", size=8, mean=None, std=None)
NONE = Preprocess(mode="none", mean=None, std=None)


def _batch(pre: Preprocess, shapes: list[tuple[int, int]]) -> Batch:
    xs, metas = [], []
    for i, (h, w) in enumerate(shapes):
        x, meta = pre(torch.zeros(3, h, w, dtype=torch.uint8))
        xs.append(x)
        metas.append(dict(meta, sample_id=i))
    return Batch(torch.stack(xs), metas)


class _Zeros(nn.Module):
    """Records the input size and returns zero logits at a quarter of it."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.seen: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((int(x.shape[-2]), int(x.shape[-1])))
        return torch.zeros(x.shape[0], self.channels, x.shape[-2] // 4, x.shape[-1] // 4)


# -- content_region ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orig", "size", "expected"),
    [
        # 100x200 into 192: scale min(1.92, 0.96) = 0.96 -> 96x192, top (192-96)//2 = 48
        ((100, 200), 192, (48, 0, 96, 192)),
        # 101x37 into 64: scale 64/101 -> 64 x round(23.45) = 23, left (64-23)//2 = 20
        ((101, 37), 64, (0, 20, 64, 23)),
        # a square image fills the square
        ((50, 50), 32, (0, 0, 32, 32)),
    ],
)
def test_content_region_of_a_letterbox(orig, size, expected):
    x, meta = Preprocess(mode="letterbox", size=size)(torch.zeros(3, *orig, dtype=torch.uint8))
    assert content_region(meta, tuple(x.shape[-2:])) == expected


def test_content_region_without_scale_is_the_whole_input():
    assert content_region({"orig_size": (5, 7)}, (5, 7)) == (0, 0, 5, 7)
    assert content_region({}, (12, 3)) == (0, 0, 12, 3)


# -- SegmentationAdapter -------------------------------------------------------------------


def test_segmentation_excludes_the_letterbox_padding_and_maps_channels_to_ids():
    # ids up to 300: the mask cannot be uint8
    space = LabelSpace("toy3", ("a", "b", "pad"), (7, 11, 300))
    adapter = SegmentationAdapter("toy", space, _Zeros(3), LETTERBOX_8)
    # 2x4 into 8: scale 2 -> 4x8 content at rows 2..5; the padding rows 0-1, 6-7 say "pad"
    batch = _batch(LETTERBOX_8, [(2, 4)])
    assert batch.metas[0]["pad"] == (2, 0) and batch.metas[0]["scale"] == (2.0, 2.0)
    logits = torch.zeros(1, 3, 8, 8)
    logits[0, 2, :2] = logits[0, 2, 6:] = 20.0  # sampled half-way, the padding would win
    logits[0, 0, 2:6, :4] = 5.0
    logits[0, 1, 2:6, 4:] = 5.0
    (pred,) = adapter.postprocess(logits, batch)
    # 4x8 content -> 2x4: output column j samples input column 2j + 0.5, i.e. columns 2j and
    # 2j + 1, which never straddle the class edge at column 4
    assert pred.mask.dtype == np.int32 and pred.mask.shape == (2, 4)
    assert pred.mask.tolist() == [[7, 7, 11, 11], [7, 7, 11, 11]]
    assert pred.sample_id == 0


def test_segmentation_upsamples_low_resolution_logits_and_reads_dict_outputs():
    space = LabelSpace("toy2", ("left", "right"), (3, 250))
    adapter = SegmentationAdapter("toy", space, _Zeros(2), NONE)
    batch = _batch(NONE, [(4, 8), (4, 8)])
    logits = torch.zeros(2, 2, 1, 2)
    logits[:, 0, 0, 0] = 1.0  # left cell: channel 0
    logits[:, 1, 0, 1] = 1.0  # right cell: channel 1
    logits[1] = logits[1].flip(0)  # second image: the other way round
    preds = adapter.postprocess({"out": logits, "aux": None}, batch)
    # 1x2 -> 4x8: column j samples (j + 0.5) / 4 - 0.5 of the two cells: j <= 3 nearer the
    # left cell, j >= 4 nearer the right one
    assert preds[0].mask.dtype == np.uint8
    assert preds[0].mask.tolist() == [[3] * 4 + [250] * 4] * 4
    assert preds[1].mask.tolist() == [[250] * 4 + [3] * 4] * 4
    assert [p.sample_id for p in preds] == [0, 1]


def test_segmentation_class_ids_map_train_ids_to_label_ids():
    """The DeepLabV3+ use: 19 trainId channels predicted as Cityscapes labelIds."""
    train_ids = list(get_label_space("cityscapes19").ids)
    label_ids = label_map("cityscapes19", "cityscapes34").apply(train_ids).tolist()
    adapter = SegmentationAdapter(
        "cs", get_label_space("cityscapes34"), _Zeros(19), NONE, class_ids=label_ids
    )
    batch = _batch(NONE, [(2, 19)])
    logits = torch.zeros(1, 19, 2, 19)
    for c in range(19):
        logits[0, c, :, c] = 1.0  # column c: trainId c
    (pred,) = adapter.postprocess(logits, batch)
    assert pred.mask[0].tolist() == label_ids
    assert label_ids[:3] == [7, 8, 11]  # road, sidewalk, building (cityscapesScripts labels)


def test_segmentation_short_side_resizes_the_batch_before_the_module():
    module = _Zeros(2)
    adapter = SegmentationAdapter("toy", LabelSpace("t", ("a", "b")), module, NONE, short_side=8)
    adapter.predict(_batch(NONE, [(4, 12)]))
    adapter.short_side = 4
    adapter.predict(_batch(NONE, [(4, 12)]))
    assert module.seen == [(8, 24), (4, 12)]  # shorter side 4 -> 8; already 4: unchanged


def test_segmentation_refuses_logits_of_the_wrong_shape_and_ids_outside_the_space():
    adapter = SegmentationAdapter("toy", LabelSpace("t", ("a", "b", "c")), _Zeros(3), NONE)
    with pytest.raises(
        ContractError, match=r"toy: expected logits \[B, 3, h, w\], got \[1, 2, 4, 4\]"
    ):
        adapter.postprocess(torch.zeros(1, 2, 4, 4), _batch(NONE, [(4, 4)]))
    with pytest.raises(ContractError, match=r"got \[3, 4, 4\]"):
        adapter.postprocess(torch.zeros(3, 4, 4), _batch(NONE, [(4, 4)]))
    with pytest.raises(
        LabelSpaceError, match=r"class ids of bad contain ids not in label space 't': \[9\]"
    ):
        SegmentationAdapter("bad", LabelSpace("t", ("a", "b")), _Zeros(2), NONE, class_ids=[0, 9])
    assert adapter.task is Task.SEMANTIC_SEGMENTATION


# -- DetectionAdapter ----------------------------------------------------------------------

SPACE = LabelSpace("toy-det", ("a", "b", "c"), (1, 5, 9))
LETTERBOX_192 = Preprocess(mode="letterbox", size=192, mean=None, std=None)


def _detector(**kw) -> DetectionAdapter:
    # output label 0 is a background entry (dropped), 1 -> category 1, 2 -> category 9
    return DetectionAdapter("det", SPACE, nn.Identity(), LETTERBOX_192, class_ids=[-1, 1, 9], **kw)


def test_detection_undoes_the_letterbox_maps_ids_drops_background_and_clips():
    batch = _batch(LETTERBOX_192, [(100, 200)])  # scale 0.96, pad (48, 0)
    out = {
        "boxes": torch.tensor([[0.0, 48, 96, 144], [10, 10, 20, 20], [96, 100, 250, 300]]),
        "labels": torch.tensor([1, 0, 2]),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
    }
    (pred,) = _detector().postprocess([out], batch)
    # (x - 0) / 0.96, (y - 48) / 0.96; the third box (100, 54.17, 260.4, 262.5) clipped to
    # the 200x100 image
    np.testing.assert_allclose(
        pred.boxes, [[0, 0, 100, 100], [100, 52 / 0.96, 200, 100]], rtol=0, atol=1e-4
    )
    assert pred.boxes.dtype == np.float64
    assert pred.labels.tolist() == [1, 9]
    np.testing.assert_allclose(pred.scores, [0.9, 0.7], rtol=1e-6)
    assert pred.masks is None and pred.sample_id == 0


def test_detection_without_letterbox_only_clips():
    batch = _batch(NONE, [(10, 20)])
    out = {
        "boxes": torch.tensor([[-5.0, 2, 25, 12]]),
        "labels": torch.tensor([2]),
        "scores": torch.tensor([0.5]),
    }
    (pred,) = _detector().postprocess([out], batch)
    assert pred.boxes.tolist() == [[0.0, 2.0, 20.0, 10.0]] and pred.labels.tolist() == [9]


def test_detection_empty_output_and_out_of_range_labels():
    batch = _batch(NONE, [(10, 20)])
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
             "scores": torch.zeros(0)}  # fmt: skip
    (pred,) = _detector().postprocess([empty], batch)
    assert len(pred) == 0 and pred.boxes.shape == (0, 4)
    bad = dict(empty, boxes=torch.zeros(1, 4), labels=torch.tensor([3]), scores=torch.ones(1))
    with pytest.raises(ContractError, match=r"det: output labels must be in 0\.\.2, got 3\.\.3"):
        _detector().postprocess([bad], batch)
    with pytest.raises(LabelSpaceError, match=r"\[4\]"):
        DetectionAdapter("d", SPACE, nn.Identity(), NONE, class_ids=[-1, 4])


def test_detection_masks_become_rle_at_the_original_size():
    batch = _batch(LETTERBOX_192, [(100, 200)])  # content rows 48..143 of the 192x192 input
    probs = torch.zeros(3, 1, 192, 192)
    probs[0, 0, 48:144, :96] = 0.9  # the left half of the content
    probs[1, 0] = 1.0  # a background detection: dropped with its mask
    probs[2, 0, 60:70, 100:110] = 0.4  # below the threshold: an empty mask
    out = {
        "boxes": torch.tensor([[0.0, 48, 96, 144], [0, 0, 1, 1], [100, 60, 110, 70]]),
        "labels": torch.tensor([1, 0, 2]),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
        "masks": probs,
    }
    (pred,) = _detector(mask_threshold=0.5).postprocess([out], batch)
    assert len(pred.masks) == 2 and all(r["size"] == [100, 200] for r in pred.masks)
    assert all(isinstance(r["counts"], str) for r in pred.masks)
    decoded = mask_utils.decode(pred.masks)  # [100, 200, 2]
    # 96x192 content -> 100x200: column j samples (j + 0.5) * 0.96 - 0.5; j = 99 -> 95.02
    # (0.98 of the 0.9 column), j = 100 -> 95.98 (0.02 of it): columns 0..99 are foreground
    expected = np.zeros((100, 200), np.uint8)
    expected[:, :100] = 1
    np.testing.assert_array_equal(decoded[:, :, 0], expected)
    assert decoded[:, :, 1].sum() == 0
