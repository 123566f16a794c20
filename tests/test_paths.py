"""Every default directory under one home: $VISIONBENCH_HOME moves them all, the two
specific variables move one each, and an explicit argument wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionbench import paths


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    for k in ("VISIONBENCH_HOME", "VISIONBENCH_RESULTS", "VISIONBENCH_WEIGHTS", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_default_home_and_subfolders(env) -> None:
    home = Path.home() / ".cache" / "visionbench"
    assert paths.home() == home
    assert paths.results_dir() == home / "results"
    assert paths.records_dir() == home / "results" / "records"
    assert paths.work_dir() == home / "results" / "work"
    assert paths.cache_dir() == home / "arrow"
    assert paths.weights_dir() == home / "weights"
    assert paths.synth_dir() == home / "synth"
    assert paths.config_files() == [Path.home() / ".config" / "visionbench" / "config.toml"]


@pytest.mark.parametrize("value", ["{tmp}/vb", "~/vb-elsewhere"])
def test_visionbench_home_moves_everything(env, tmp_path: Path, value: str) -> None:
    env.setenv("VISIONBENCH_HOME", value.format(tmp=tmp_path))
    home = Path(value.format(tmp=tmp_path)).expanduser()
    assert paths.home() == home
    assert paths.results_dir() == home / "results"
    assert paths.cache_dir() == home / "arrow"
    assert paths.weights_dir() == home / "weights"
    assert paths.synth_dir() == home / "synth"
    assert paths.config_files()[0] == home / "config.toml"


def test_empty_visionbench_home_counts_as_unset(env) -> None:
    env.setenv("VISIONBENCH_HOME", "")
    assert paths.home() == Path.home() / ".cache" / "visionbench"
    assert len(paths.config_files()) == 1


def test_specific_variables_and_explicit_arguments_win(env, tmp_path: Path) -> None:
    env.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    env.setenv("VISIONBENCH_RESULTS", str(tmp_path / "res"))
    env.setenv("VISIONBENCH_WEIGHTS", str(tmp_path / "w"))
    env.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert paths.results_dir() == tmp_path / "res"
    assert paths.records_dir() == tmp_path / "res" / "records"
    assert paths.results_dir(tmp_path / "given") == tmp_path / "given"
    assert paths.work_dir(tmp_path / "given") == tmp_path / "given" / "work"
    assert paths.weights_dir() == tmp_path / "w"
    assert paths.cache_dir() == tmp_path / "home" / "arrow"  # not moved by the others
    assert paths.config_files() == [
        tmp_path / "home" / "config.toml",
        tmp_path / "xdg" / "visionbench" / "config.toml",
    ]


def test_the_package_resolves_home_only_in_paths() -> None:
    """No other module (outside the metrics core, which may not import the package) reads
    VISIONBENCH_HOME: one resolution, not four."""
    root = Path(paths.__file__).parent
    readers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.relative_to(root).parts[0] != "metrics" and 'VISIONBENCH_HOME")' in p.read_text()
    )
    assert readers == ["paths.py"]
