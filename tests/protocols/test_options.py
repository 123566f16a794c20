"""Declared options: CLI strings parse to the declared type; bad keys and values are one-line
errors with the valid keys and a did-you-mean."""

from __future__ import annotations

import pytest

from visionbench.options import (
    Option,
    OptionError,
    parse_given,
    parse_key_values,
    validate_options,
)

DECLARED = (
    Option("iou_type", "str", "bbox", "what is matched", choices=("bbox", "segm", "keypoints")),
    Option("masks", "bool", False, "masks"),
    Option("topk", "ints", (1, 5), "k"),
    Option("iou", "float", 0.5, "threshold"),
    Option("workers", "int", 0, "threads"),
    Option("image_dir", "path", None, "folder", nullable=True),
)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("masks", "true", True), ("masks", "Yes", True), ("masks", "0", False),
        ("masks", "off", False), ("topk", "1,5,10", (1, 5, 10)), ("topk", "3", (3,)),
        ("iou", "0.75", 0.75), ("iou", "1e-1", 0.1), ("workers", "8", 8),
        ("iou_type", "segm", "segm"), ("image_dir", "none", None), ("image_dir", "/x", "/x"),
    ],
)  # fmt: skip
def test_cli_strings_parse_to_the_declared_type(key, text, expected):
    got = validate_options(DECLARED, {key: text})[key]
    assert got == expected and type(got) is type(expected)


def test_defaults_then_given_values():
    out = validate_options(DECLARED, {"iou": 0.6}, defaults={"iou_type": "keypoints"})
    assert out == {"iou_type": "keypoints", "masks": False, "topk": (1, 5), "iou": 0.6,
                   "workers": 0, "image_dir": None}  # fmt: skip
    assert parse_given(DECLARED, {"masks": "1"}) == {"masks": True}


def test_unknown_key_lists_valid_keys_and_suggests():
    with pytest.raises(OptionError) as e:
        validate_options(DECLARED, {"iou_tpe": "segm"}, where="metric option of 'coco'")
    msg = str(e.value)
    assert "\n" not in msg
    assert "unknown key 'iou_tpe'" in msg and "did you mean 'iou_type'?" in msg
    assert "valid: image_dir, iou, iou_type, masks, topk, workers" in msg


@pytest.mark.parametrize(
    ("key", "text", "match"),
    [
        ("masks", "maybe", "masks='maybe': expected bool"),
        ("workers", "2.5", "workers='2.5': expected int"),
        ("topk", "1,x", "topk='1,x': expected ints"),
        ("iou_type", "sgem", "expected one of bbox, segm, keypoints; did you mean 'segm'"),
    ],
)
def test_bad_values_name_the_key_and_the_type(key, text, match):
    with pytest.raises(OptionError, match=match):
        validate_options(DECLARED, {key: text})


def test_key_value_pairs():
    assert parse_key_values(["a=1", "b-c=x=y"], flag="-M") == {"a": "1", "b_c": "x=y"}
    with pytest.raises(OptionError, match="expected KEY=VALUE"):
        parse_key_values(["novalue"], flag="-M")
    with pytest.raises(OptionError, match="given twice"):
        parse_key_values(["a=1", "a=2"], flag="-M")
