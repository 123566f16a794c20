"""The run record's software versions, read without importing importlib.metadata, equal
``importlib.metadata.version`` for every installed distribution."""

from __future__ import annotations

import importlib.metadata as md

import pytest

from visionbench.engine.record_assembly import _VERSIONED, dist_versions, software_versions


def test_every_installed_distribution_version_equals_importlib_metadata():
    names = sorted({d.metadata["Name"] for d in md.distributions() if d.metadata["Name"]})
    assert len(names) > 50  # the test venv: torch, numpy, pytest, the peers ...
    got = dist_versions(tuple(names))
    want = {}
    for n in names:
        try:
            want[n] = md.version(n)
        except md.PackageNotFoundError:  # pragma: no cover - listed but not findable
            pass
    assert got == want


def test_record_software_keys_and_spellings(monkeypatch):
    sw = software_versions()
    assert sw["numpy"] == md.version("numpy") and sw["visionbench"] == md.version("visionbench")
    assert set(sw) <= {"python", *_VERSIONED}
    # other spellings of a name find the same distribution; a missing one is left out
    assert dist_versions(("Typer", "ORJSON", "no-such-dist-xyz")) == {
        "Typer": md.version("typer"), "ORJSON": md.version("orjson")
    }  # fmt: skip


def test_first_distribution_on_sys_path_wins(tmp_path, monkeypatch):
    for where, ver in (("a", "9.9.9"), ("b", "1.0")):
        d = tmp_path / where / f"vb_shadow-{ver}.dist-info"
        d.mkdir(parents=True)
        (d / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: vb-shadow\nVersion: {ver}\n\nbody\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path / where))
    # syspath_prepend: b is first now
    assert (
        dist_versions(("vb-shadow",))
        == {"vb-shadow": md.version("vb-shadow")}
        == {"vb-shadow": "1.0"}
    )


@pytest.mark.parametrize("kind", ["egg-info", "dist-info"])
def test_egg_and_dist_info(tmp_path, monkeypatch, kind):
    d = tmp_path / f"vb_egg-2.0.{kind}"
    d.mkdir()
    meta = "PKG-INFO" if kind == "egg-info" else "METADATA"
    (d / meta).write_text("Metadata-Version: 1.0\nName: vb_egg\nVersion: 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert dist_versions(("vb_egg",)) == {"vb_egg": md.version("vb_egg")} == {"vb_egg": "2.0"}
