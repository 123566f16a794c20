"""Finding data: --data-root, VISIONBENCH_DATA, the config file, and the not-found message."""

from __future__ import annotations

import os

import pytest

from tests.loaders._loader_fixtures import CITYSCAPES
from visionbench.errors import DatasetNotFoundError
from visionbench.loaders.catalog import DATASETS
from visionbench.loaders.factories import cityscapes
from visionbench.loaders.roots import find_root
from visionbench.paths import config_files
from visionbench.registry import import_object


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("VISIONBENCH_DATA", raising=False)
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_explicit_root_wins(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.setenv("VISIONBENCH_DATA", str(tmp_path))
    assert find_root("coco", tmp_path / "a") == tmp_path / "a"
    with pytest.raises(DatasetNotFoundError, match=r"--data-root .*/nope \(does not exist\)"):
        find_root("coco", tmp_path / "nope")


def test_env_var_with_several_folders(tmp_path, monkeypatch):
    (tmp_path / "two" / "cityscapes").mkdir(parents=True)
    monkeypatch.setenv(
        "VISIONBENCH_DATA", os.pathsep.join([str(tmp_path / "one"), str(tmp_path / "two")])
    )
    assert find_root("cityscapes") == tmp_path / "two" / "cityscapes"


def test_config_file_in_visionbench_home(tmp_path):
    cfg = tmp_path / "home" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(f'[data]\ncityscapes = "{CITYSCAPES}"\nimagenet = "rel/imagenet"\n')
    assert config_files()[0] == cfg
    assert cityscapes().frames == ["frankfurt_000000_000294"]
    (tmp_path / "home" / "rel" / "imagenet").mkdir(parents=True)
    assert find_root("imagenet") == tmp_path / "home" / "rel" / "imagenet"  # relative to the file


def test_config_file_in_xdg_config_home(tmp_path):
    cfg = tmp_path / "xdg" / "visionbench" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'[data]\ncityscapes = "{CITYSCAPES}"\n')
    assert find_root("cityscapes") == CITYSCAPES


def test_not_found_message_says_where_what_and_from_where(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONBENCH_DATA", str(tmp_path / "data"))
    cfg = tmp_path / "home" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[data]\ncoco = "/does/not/exist"\n')
    with pytest.raises(DatasetNotFoundError) as e:
        find_root("coco")
    msg = str(e.value)
    assert f"$VISIONBENCH_DATA/coco = {tmp_path / 'data' / 'coco'}" in msg
    assert f"{cfg} [data] coco = /does/not/exist (does not exist)" in msg
    assert f"{tmp_path / 'xdg' / 'visionbench' / 'config.toml'} (no such file)" in msg
    assert "annotations/instances_val2017.json" in msg and "https://cocodataset.org" in msg
    assert "never downloads" in msg


def test_bad_config_is_named(tmp_path):
    cfg = tmp_path / "home" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text("[data\n")
    with pytest.raises(Exception, match="cannot read config file"):
        find_root("coco")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_catalog_entries_resolve(name):
    target, info = DATASETS[name]
    factory = import_object(target)
    assert callable(factory) and {"task", "label_space", "split", "description"} <= set(info)
