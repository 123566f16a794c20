from __future__ import annotations

import numpy as np
import pytest

from visionbench.errors import LabelSpaceError
from visionbench.label_spaces import get_label_space, imagenet_wnids, label_map


def test_coco_spaces_and_the_80_to_91_map_match_reference():
    # REFERENCE.md §6: COCO-80 index -> category id
    expected = [
        *range(1, 12),
        *range(13, 26),
        27,
        28,
        *range(31, 45),
        *range(46, 66),
        67,
        70,
        *range(72, 83),
        *range(84, 91),
    ]
    assert len(expected) == 80
    m = label_map("coco80", "coco91")
    assert m.apply(np.arange(80)).tolist() == expected
    assert label_map("coco91", "coco80").apply(np.array(expected)).tolist() == list(range(80))
    coco = get_label_space("coco91")
    assert coco.name_of(1) == "person" and coco.name_of(90) == "toothbrush"
    with pytest.raises(LabelSpaceError, match="id 12 is not in label space 'coco91'"):
        coco.name_of(12)


def test_imagenet_is_sorted_wnid_order():
    wnids = imagenet_wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids)
    assert wnids[0] == "n01440764"
    assert get_label_space("imagenet1k").names[0].startswith("tench")


def test_cityscapes_34_to_19_reference_table():
    # REFERENCE.md §3 id -> trainId
    table = {
        7: 0,
        8: 1,
        11: 2,
        12: 3,
        13: 4,
        17: 5,
        19: 6,
        20: 7,
        21: 8,
        22: 9,
        23: 10,
        24: 11,
        25: 12,
        26: 13,
        27: 14,
        28: 15,
        31: 16,
        32: 17,
        33: 18,
    }
    m = label_map("cityscapes34", "cityscapes19")
    ids = np.arange(34)
    out = m.apply(ids)
    for i in ids:
        assert out[i] == table.get(int(i), 255)
    back = label_map("cityscapes19", "cityscapes34").apply(np.arange(19))
    assert back.tolist() == sorted(table, key=table.get)


def test_the_two_cityscapes_label_tables_are_cityscapesscripts_labels():
    """label_spaces.CITYSCAPES_LABELS (the contract: label spaces and the 34 -> 19 map) and
    the metrics' own table (metrics import nothing of the package, and contracts import
    no metrics, so neither can derive from the other) are pinned equal, row for row, to
    each other and to cityscapesScripts' helpers/labels.py."""
    from tests.shared_fixtures import reference_module
    from visionbench.label_spaces import CITYSCAPES_LABELS
    from visionbench.metrics.segmentation import cityscapes as metric

    ref = reference_module("cityscapesscripts.helpers.labels")
    rows = [
        (lab.name, lab.id, lab.trainId, lab.category, lab.hasInstances, lab.ignoreInEval)
        for lab in ref.labels
        if lab.id >= 0  # license plate (-1) never occurs in labelIds images
    ]
    assert list(CITYSCAPES_LABELS) == rows
    assert [(n, i, t, c, h, g) for (i, n, t, c, h, g) in metric._LABELS] == rows
    assert get_label_space("cityscapes34").names == metric.CITYSCAPES_LABEL_NAMES
    cats = sorted({(lab.categoryId, lab.category) for lab in ref.labels})
    assert list(metric.CITYSCAPES_CATEGORIES) == [c for _, c in cats]
    to_label = label_map("cityscapes19", "cityscapes34").apply(np.arange(19))
    assert to_label.tolist() == metric.train_ids_to_label_ids(np.arange(19)).tolist()
    sizes = reference_module("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    assert sizes.args.avgClassSize == metric.CITYSCAPES_AVG_CLASS_SIZE


def test_no_guessed_maps():
    with pytest.raises(LabelSpaceError, match="no map from label space 'coco91' to 'imagenet1k'"):
        label_map("coco91", "imagenet1k")
    with pytest.raises(LabelSpaceError, match="unknown label space"):
        get_label_space("voc")


def test_vg150_vocab_is_one_based():
    vg = get_label_space("vg150")
    assert len(vg) == 150 and vg.ids[0] == 1 and vg.name_of(1) == "airplane"
    assert get_label_space("vg150_predicates").name_of(31) == "on"


def test_check_ids_names_the_bad_ids():
    with pytest.raises(LabelSpaceError, match=r"\[0, 91\]"):
        get_label_space("coco91").check_ids(np.array([1, 0, 91, 3]))


def test_voc20_and_the_coco_to_voc_map():
    voc = get_label_space("voc20")
    assert voc.ids == tuple(range(1, 21)) and voc.name_of(15) == "person"
    assert voc.names[0] == "aeroplane" and voc.names[-1] == "tvmonitor"
    m = label_map("coco91", "voc20")
    # independent: COCO ids of the 20 VOC classes (airplane 5, motorcycle 4, couch 63,
    # dining table 67, potted plant 64, tv 72) in VOC order
    coco_ids = [5, 2, 16, 9, 44, 6, 3, 17, 62, 21, 67, 18, 19, 4, 1, 64, 20, 63, 7, 72]
    assert m.apply(np.array(coco_ids)).tolist() == list(range(1, 21))
    coco = get_label_space("coco91")
    others = [c for c in coco.ids if c not in coco_ids]
    assert len(others) == 60 and set(m.apply(np.array(others)).tolist()) == {255}
    m80 = label_map("coco80", "voc20")
    to91 = label_map("coco80", "coco91").apply(np.arange(80))
    assert m80.apply(np.arange(80)).tolist() == m.apply(to91).tolist()


def test_ade150_order():
    ade = get_label_space("ade150")
    assert len(ade) == 150 and ade.contiguous
    # mmsegmentation ADE20KDataset / objectInfo150: index 0 wall, 7 bed, 149 flag
    assert (ade.names[0], ade.names[7], ade.names[12], ade.names[149]) == (
        "wall", "bed", "person", "flag"
    )  # fmt: skip
