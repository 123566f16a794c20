from __future__ import annotations

import inspect

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


# -- base protocols ----------------------------------------------------------------------


def test_protocol_members_are_what_the_engine_uses():
    from visionbench.registry import protocol_members
    from visionbench.tasks import Dataset, Model

    assert protocol_members(Model) == (
        "name", "task", "label_space", "profile_info", "preprocess", "forward",
        "postprocess", "predict", "to", "describe", "weights_id",
    )  # fmt: skip
    assert protocol_members(Dataset) == (
        "name", "task", "label_space", "split", "root", "__len__", "__getitem__",
        "ground_truth",
    )  # fmt: skip


class _Half:
    """Has the data members of a Model and one method; ``forward`` is not callable."""

    name, task, label_space, profile_info = "half", None, None, None
    forward = 3

    def preprocess(self, image):
        return image, {}


def test_missing_members_lists_absent_and_uncallable_ones_in_order():
    from visionbench.registry import missing_members
    from visionbench.tasks import Model

    assert missing_members(_Half(), Model) == [
        "forward", "postprocess", "predict", "to", "describe", "weights_id",
    ]  # fmt: skip


def _table_registry(tmp_path, monkeypatch, base):
    mod = tmp_path / "vb_reg_targets.py"
    mod.write_text(
        "def good(**kw):\n"
        "    from visionbench.models.demo import build_demo_cnn\n"
        "    return build_demo_cnn(weights='random')\n"
        "def wrong(**kw):\n"
        "    return ['not', 'a', 'model']\n"
        "def half(**kw):\n"
        "    return Half()\n"
        "TABLE = {n: (f'vb_reg_targets:{n}', {}) for n in ('good', 'wrong', 'half')}\n"
        + inspect.getsource(_Half).replace("class _Half", "class Half")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return Registry("model", builtin="vb_reg_targets:TABLE", base=base)


def test_build_checks_what_the_factory_returns(tmp_path, monkeypatch):
    from visionbench.tasks import Model

    reg = _table_registry(tmp_path, monkeypatch, "visionbench.tasks:Model")
    assert isinstance(reg.build("good"), Model)
    with pytest.raises(RegistryError) as e:
        reg.build("wrong")
    assert str(e.value) == (
        "model 'wrong' (factory vb_reg_targets:wrong) is a list, not a visionbench Model "
        "(missing: name, task, label_space, profile_info, preprocess, forward, postprocess, "
        "predict, to, describe, weights_id; see visionbench.tasks.Model)"
    )
    with pytest.raises(
        RegistryError, match=r"is a Half, not a visionbench Model \(missing: forward, postprocess,"
    ):
        reg.build("half")  # fmt: skip
    # without a base protocol nothing is checked
    assert reg.build("good") is not None
    assert _table_registry(tmp_path, monkeypatch, None).build("wrong") == ["not", "a", "model"]


def test_every_demo_model_satisfies_the_model_protocol():
    """Each shipped model (trained demo weights, no download) builds to a Model: through
    the registry check, and with no member missing."""
    from visionbench.registry import missing_members
    from visionbench.tasks import Model

    for name in ("demo-cnn", "demo-detector", "demo-segnet", "demo-freq", "demo-captioner"):
        m = models.build(name)
        assert missing_members(m, Model) == [], name
        assert m.profile_info is None and m.weights_id(), name


def test_every_mini_dataset_satisfies_the_dataset_protocol():
    from visionbench.loaders.build import build_dataset
    from visionbench.registry import datasets, missing_members
    from visionbench.tasks import Dataset

    minis = [e.name for e in datasets if e.name.endswith(("-mini", "-mini-captions"))]
    assert len(minis) >= 6, minis
    for name in minis:
        ds = build_dataset(name)
        assert missing_members(ds, Dataset) == [], name


# -- plug-ins (entry points of installed distributions) ----------------------------------
_TABLE = {"alpha": ("math:sqrt", {"task": "detection"}), "beta": ("math:floor", {})}


def _plugin_dist(tmp_path, monkeypatch, entries: dict[str, str]) -> None:
    """An installed distribution (a .dist-info on sys.path) with ``visionbench.tests``
    entry points."""
    d = tmp_path / "vb_fake_plugin-0.1.dist-info"
    d.mkdir()
    (d / "METADATA").write_text("Metadata-Version: 2.1\nName: vb-fake-plugin\nVersion: 0.1\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entries.items())
    (d / "entry_points.txt").write_text(f"[visionbench.tests]\n{lines}")
    monkeypatch.syspath_prepend(str(tmp_path))


def _with_table(monkeypatch) -> Registry:
    import sys
    import types

    mod = types.ModuleType("vb_test_table")
    mod.TABLE = _TABLE
    monkeypatch.setitem(sys.modules, "vb_test_table", mod)
    return Registry("model", builtin="vb_test_table:TABLE", group="visionbench.tests")


def test_plugin_entries_resolve_and_list(tmp_path, monkeypatch):
    import math

    _plugin_dist(tmp_path, monkeypatch, {"gamma": "math:ceil"})
    reg = _with_table(monkeypatch)
    assert reg.get("gamma") is math.ceil
    assert reg.entry("gamma").origin == "plug-in vb-fake-plugin"
    assert reg.names() == ["alpha", "beta", "gamma"]
    assert reg.get("alpha") is math.sqrt


def test_builtin_names_resolve_without_scanning_entry_points(monkeypatch):
    import importlib.metadata
    import math

    def no_scan(**kw):
        raise AssertionError("entry points scanned for a built-in name")

    monkeypatch.setattr(importlib.metadata, "entry_points", no_scan)
    reg = _with_table(monkeypatch)
    assert reg.get("alpha") is math.sqrt
    assert reg.entry("beta").info == {}
    assert reg.build("alpha", 4.0) == 2.0
    with pytest.raises(AssertionError, match="scanned"):  # any other name scans
        reg.entry("gamma")


def test_a_plugin_clashing_with_a_builtin_is_reported(tmp_path, monkeypatch):
    _plugin_dist(tmp_path, monkeypatch, {"alpha": "math:ceil"})
    reg = _with_table(monkeypatch)
    with pytest.raises(RegistryError, match="'alpha' from plug-in 'math:ceil' clashes"):
        reg.names()
    reg = _with_table(monkeypatch)
    with pytest.raises(RegistryError, match="clashes"):
        reg.entry("gamma")
