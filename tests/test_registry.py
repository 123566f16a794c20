from __future__ import annotations

import pytest

from visionbench.errors import RegistryError
from visionbench.registry import Registry, import_object, models


def _fresh() -> Registry:
    reg = Registry("model")
    reg.register("yolov3", "math:sqrt", task="detection")
    reg.register("yolov3-tiny", "math:floor")
    reg.register("mobilenet_v3_large", "math:ceil")
    return reg


def test_lazy_entries_resolve_to_the_named_object():
    import math

    reg = _fresh()
    assert reg.get("yolov3") is math.sqrt
    assert reg.entry("yolov3").info == {"task": "detection"}
    assert reg.names() == ["mobilenet_v3_large", "yolov3", "yolov3-tiny"]


def test_unknown_name_suggests_closest_and_lists_all():
    with pytest.raises(RegistryError) as e:
        _fresh().entry("yolo3")
    msg = str(e.value)
    assert "unknown model 'yolo3'" in msg
    assert "did you mean 'yolov3'" in msg
    assert "available: mobilenet_v3_large, yolov3, yolov3-tiny" in msg


def test_unknown_name_without_close_match_has_no_suggestion():
    with pytest.raises(RegistryError) as e:
        _fresh().entry("zzzz")
    assert "did you mean" not in str(e.value)


def test_duplicate_registration_is_an_error():
    reg = _fresh()
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("yolov3", "math:exp")


@pytest.mark.parametrize(
    "target, match",
    [
        ("nocolon", "not of the form"),
        ("no_such_module_xyz:f", "cannot import module"),
        ("math:nope", "has no attribute"),
    ],
)
def test_import_object_errors(target, match):
    with pytest.raises(RegistryError, match=match):
        import_object(target)


def test_builtin_catalog_has_the_demo_model():
    assert "demo-cnn" in models
    assert models.entry("demo-cnn").info["label_space"] == "imagenet1k"


def test_every_builtin_entry_resolves():
    """Catalog targets are strings; a typo would only show when a user asks for it."""
    from visionbench.registry import datasets, metrics

    for reg in (metrics, datasets, models):
        for e in reg:
            assert callable(reg.get(e.name)), e.name
