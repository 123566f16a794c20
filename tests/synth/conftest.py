"""Shared fixtures of the synth tests: each dataset generated once per session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from visionbench import synth


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory):
    """``generated(name)``: the dataset ``name`` written once (seed 0) for this test session."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = synth.generate(name, tmp_path_factory.mktemp(name) / "root")
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tree_digest():
    """``tree_digest(root)``: relative path -> sha256 of every file under ``root``."""

    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    return digest
