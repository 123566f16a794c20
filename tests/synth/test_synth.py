"""visionbench.synth: names, generate/ensure, the cache, atomic writes, seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from visionbench import synth
from visionbench.errors import RegistryError, RunError


def test_unknown_name_lists_the_names(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as err:
        synth.generate("coco-mni", tmp_path / "x")
    for name in synth.SYNTH_NAMES:
        assert name in str(err.value)
    assert "did you mean 'coco-mini'?" in str(err.value)
    with pytest.raises(RegistryError):
        synth.ensure("nope")
    assert not (tmp_path / "x").exists()


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(RunError, match="not an empty directory"):
        synth.generate("imagenet-mini", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cached_path_follows_visionbench_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    assert (
        synth.cached_path("coco-mini") == tmp_path / "synth" / f"coco-mini-v{synth.SYNTH_VERSION}"
    )
    monkeypatch.delenv("VISIONBENCH_HOME")
    assert synth.cached_path("coco-mini").parent == Path.home() / ".cache" / "visionbench" / "synth"


def test_ensure_caches_and_leaves_no_temp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    root = synth.ensure("vg-mini")
    assert root == tmp_path / "synth" / f"vg-mini-v{synth.SYNTH_VERSION}"
    marker = root / "image_data.json"
    mtime = marker.stat().st_mtime_ns
    assert synth.ensure("vg-mini") == root
    assert marker.stat().st_mtime_ns == mtime  # not regenerated
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]


def test_ensure_removes_stale_temp_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path))
    cache = tmp_path / "synth"
    stale = cache / f".vg-mini-v{synth.SYNTH_VERSION}.tmp-killed"
    fresh = cache / f".vg-mini-v{synth.SYNTH_VERSION}.tmp-running"
    for d in (stale, fresh):
        (d / "images").mkdir(parents=True)
    os.utime(stale, (0, 0))
    root = synth.ensure("vg-mini")
    assert sorted(p.name for p in cache.iterdir()) == sorted([root.name, fresh.name])


def test_ensure_race_two_processes(tmp_path: Path) -> None:
    """Two processes generating the same cache entry at once agree on one complete copy."""
    code = "from visionbench import synth; print(synth.ensure('vg-mini'))"
    env = {**os.environ, "VISIONBENCH_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    root = Path(outs[0])
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]  # loser cleaned up
    assert len(list((root / "images").glob("*.jpg"))) == 60
    assert len(json.loads((root / "image_data.json").read_text())) == 60


def test_seed_changes_output(generated, tree_digest, tmp_path: Path) -> None:
    first = tree_digest(generated("vg-mini"))
    other = tree_digest(synth.generate("vg-mini", tmp_path / "seed1", seed=1))
    assert first["image_data.json"] != other["image_data.json"]
