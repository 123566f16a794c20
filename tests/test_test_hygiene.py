"""The test suite's own rules: a missing reference package fails the parity tests under CI
(and only skips them locally), every reference they import is installed by CI's
``pip install -e '.[test]'``, and importing the package changes no warning filter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]


def _pytest(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs_reference.py"
    test.write_text(
        textwrap.dedent(
            """
            from tests.shared_fixtures import reference_module

            ref = reference_module("no_such_reference_package_xyz")

            def test_parity():
                assert ref is not None
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(test)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip


def test_a_missing_reference_skips_locally_and_fails_under_ci(tmp_path: Path) -> None:
    local = _pytest(tmp_path, ci=False)
    assert local.returncode in (0, 5) and "1 skipped" in local.stdout, local.stdout + local.stderr
    assert "failed" not in local.stdout and "error" not in local.stdout.lower()
    ci = _pytest(tmp_path, ci=True)
    assert ci.returncode not in (0, 5), ci.stdout + ci.stderr
    assert "no_such_reference_package_xyz" in ci.stdout and "[test] extras" in ci.stdout


def _declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    return {re.split(r"[<>=!~\[ ;]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_every_reference_the_tests_import_is_installed_by_ci() -> None:
    """CI installs ``.[test]`` only: each module a test asks ``reference_module`` for must
    come from a distribution in the dependencies or the [test] extras."""
    wanted = set()
    for f in (REPO / "tests").rglob("*.py"):
        wanted |= set(re.findall(r"reference_module\(\s*[\"']([\w.]+)[\"']", f.read_text()))
    wanted.discard("no_such_reference_package_xyz")
    assert {"sacrebleu", "cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling"} <= wanted
    dists = packages_distributions()
    declared = _declared_distributions()
    missing = {}
    for mod in sorted(wanted):
        top = mod.split(".")[0]
        found = {d.lower().replace("_", "-") for d in dists.get(top, [])}
        if not found & declared:
            missing[mod] = sorted(found) or "not installed here"
    assert not missing, f"reference modules not installed by pip install -e '.[test]': {missing}"


@pytest.mark.parametrize("module", ["visionbench.imageio", "visionbench"])
def test_importing_leaves_the_warning_filters_unchanged(module: str) -> None:
    code = (
        "import warnings; before = list(warnings.filters); "
        f"import {module}; import visionbench.imageio; "
        "assert warnings.filters == before, [f for f in warnings.filters if f not in before]"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr


def test_decoding_still_silences_torchvisions_deprecation_and_restores_filters(tmp_path) -> None:
    """The filter is scoped to our torchvision.io calls: none of its deprecation warnings
    escape decode_image, and the caller's filters are the same afterwards."""
    import warnings

    from PIL import Image

    from visionbench.imageio import decode_image
    from visionbench.types import ImageRef

    path = tmp_path / "x.png"
    Image.new("RGB", (5, 3), (10, 20, 30)).save(path)
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = decode_image(ImageRef(path=str(path)))
        inner = list(warnings.filters)
    assert tuple(img.shape) == (3, 3, 5) and int(img[2, 0, 0]) == 30
    assert not [w for w in caught if "TorchVision" in str(w.message)]
    assert warnings.filters == before and len(inner) >= 1
