"""The layers hold at import time, checked in fresh interpreters:

* the contracts (types, tasks, label spaces, registry, errors, paths, the run record)
  load nothing but numpy and the standard library: no torch, PIL, numba, pandas, pyarrow,
  and no part of the metrics package;
* the record-assembly and offline-scoring halves of the engine import no torch;
* the leaderboard imports no torch, models, loaders or engine;
* the real ``bench`` console script imports no torch for ``bench eval --help``,
  ``bench eval`` on a small COCO file and ``bench leaderboard`` (a ``sitecustomize`` on
  ``PYTHONPATH`` writes the subprocess's ``sys.modules`` when it exits).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = shutil.which("bench") or str(Path(sys.executable).with_name("bench"))
CONTRACTS = (
    "visionbench.types",
    "visionbench.tasks",
    "visionbench.label_spaces",
    "visionbench.registry",
    "visionbench.errors",
    "visionbench.paths",
    "visionbench.records",
)
HEAVY = ("torch", "torchvision", "PIL", "numba", "pandas", "pyarrow", "scipy", "matplotlib")


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def _modules_after(code: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after running ``code``, minus what the bare
    interpreter had already loaded (site, the editable-install finder)."""
    script = f"import sys, json\nbase = set(sys.modules)\n{code}\nprint(json.dumps(sorted(set(sys.modules) - base)))"
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


def _top(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.parametrize("module", CONTRACTS)
def test_a_contract_loads_only_numpy_and_the_standard_library(module: str) -> None:
    mods = _modules_after(f"import {module}")
    foreign = _top(mods) - set(sys.stdlib_module_names) - {"numpy", "visionbench"}
    assert not foreign, sorted(foreign)
    ours = {m for m in mods if m.startswith("visionbench.")}
    assert ours <= set(CONTRACTS), sorted(ours - set(CONTRACTS))  # no metrics, no engine


def test_all_contracts_together_load_no_heavy_package() -> None:
    mods = _modules_after("\n".join(f"import {m}" for m in CONTRACTS))
    assert not _top(mods) & set(HEAVY), sorted(_top(mods) & set(HEAVY))
    assert not any(m.startswith("visionbench.metrics") for m in mods)


def test_the_metrics_error_is_still_reachable_from_errors() -> None:
    from visionbench import errors
    from visionbench.metrics.errors import MetricInputError

    assert errors.MetricInputError is MetricInputError
    assert (errors.VisionbenchError, MetricInputError) == errors.USER_ERRORS
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        errors.Nope  # noqa: B018


@pytest.mark.parametrize(
    "module", ["visionbench.engine.offline", "visionbench.engine.record_assembly"]
)
def test_offline_scoring_and_record_assembly_import_no_torch(module: str) -> None:
    mods = _modules_after(f"import {module}")
    assert not {"torch", "torchvision"} & _top(mods), module
    assert "visionbench.engine.run" not in mods


@pytest.mark.parametrize(
    "module",
    [
        "visionbench.leaderboard.table",
        "visionbench.leaderboard.report",
        "visionbench.leaderboard.html",
        "visionbench.leaderboard.compare",
    ],
)
def test_the_leaderboard_imports_no_torch_models_loaders_or_engine(module: str) -> None:
    mods = _modules_after(f"import {module}")
    assert not {"torch", "torchvision"} & _top(mods), module
    bad = sorted(m for m in mods if m.startswith(("visionbench.models", "visionbench.loaders",
                                                  "visionbench.engine")))  # fmt: skip
    assert not bad, bad


# -- the real console script ------------------------------------------------------------

SITECUSTOMIZE = """
import atexit, os, sys

def _dump():
    with open(os.environ["VB_MODULES_OUT"], "w") as f:
        f.write("\\n".join(sorted(sys.modules)))

atexit.register(_dump)
"""


def _bench_modules(tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.txt"
    env = _env(VB_MODULES_OUT=str(out), VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=600)
    assert out.is_file(), f"the sitecustomize did not run:\n{p.stderr}"
    return p, set(out.read_text().split())


@pytest.fixture
def coco_files(tmp_path: Path) -> tuple[Path, Path]:
    gt = {
        "images": [{"id": i, "width": 64, "height": 48, "file_name": f"{i}.jpg"} for i in (1, 2)],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 10], "area": 200,
             "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 8, 30, 20], "area": 600,
             "iscrowd": 0},
        ],
    }  # fmt: skip
    dets = [
        {"image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 10], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [40, 30, 10, 10], "score": 0.8},
    ]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    return tmp_path / "gt.json", tmp_path / "dets.json"


def test_bench_eval_help_imports_no_torch(tmp_path: Path) -> None:
    p, mods = _bench_modules(tmp_path, ["eval", "--help"])
    assert p.returncode == 0 and "--predictions" in p.stdout, p.stderr
    assert not {"torch", "torchvision"} & _top(mods)


def test_bench_eval_then_leaderboard_import_no_torch(tmp_path: Path, coco_files) -> None:
    gt, dets = coco_files
    results = tmp_path / "results"
    p, mods = _bench_modules(tmp_path, ["eval", "--gt", str(gt), "--predictions", str(dets),
                                        "--results", str(results)])  # fmt: skip
    assert p.returncode == 0, p.stderr
    (rec,) = (json.loads(f.read_text()) for f in (results / "records").glob("*.json"))
    # one of two boxes found exactly (the higher score), the other missed: precision 1 up
    # to recall 0.5, then 0 -- 51 of COCO's 101 recall points, at every IoU threshold
    assert rec["metrics"]["AP"]["value"] == pytest.approx(51 / 101, abs=1e-12)
    assert rec["metrics"]["AR100"]["value"] == 0.5
    assert not {"torch", "torchvision"} & _top(mods)
    assert not any(m.startswith("visionbench.models") for m in mods)
    # piped, bench eval prints plain columns and loads neither rich nor pydantic (typer
    # >= 0.29 coerces through pydantic: +0.15 s CPU per call; see pyproject's pin)
    assert not {"rich", "pydantic", "click"} & _top(mods), sorted(
        {"rich", "pydantic", "click"} & _top(mods)
    )
    # nor importlib.metadata (with email, zipfile's friends: ~40 ms): the record's versions
    # are read from the dist-info folders, the registries do not scan entry points for a
    # built-in name
    assert "importlib.metadata" not in mods
    ap = next(line for line in p.stdout.splitlines() if line.startswith("AP "))
    assert ap.split() == ["AP", f"{51 / 101:.4f}", "[0.0000,", "1.0000]", "0-1"], p.stdout
    assert "│" not in p.stdout and "┃" not in p.stdout

    p, mods = _bench_modules(tmp_path, ["leaderboard", "--results", str(results)])
    assert p.returncode == 0 and "dets" in p.stdout, p.stderr
    assert not {"torch", "torchvision"} & _top(mods)
    bad = sorted(m for m in mods if m.startswith(("visionbench.models", "visionbench.loaders",
                                                  "visionbench.engine.run")))  # fmt: skip
    assert not bad, bad
