"""What the CLI prints to a pipe never cuts a name, id or path (issue 11), through the
installed ``bench`` console script at 80 columns; JSON / CSV for scripts; ``--task``."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = shutil.which("bench") or str(Path(sys.executable).parent / "bench")


def bench(args, home, *, columns=80, check=True):
    env = dict(os.environ, VISIONBENCH_HOME=str(home), COLUMNS=str(columns))
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"bench {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


@pytest.mark.parametrize("kind", ["models", "datasets", "metrics"])
@pytest.mark.parametrize("columns", [80, 40])
def test_list_piped_contains_every_full_name(kind, columns, tmp_path):
    from visionbench import registry

    names = [e.name for e in getattr(registry, kind)]
    text = bench(["list", kind], tmp_path, columns=columns).stdout
    assert "…" not in text
    lines = text.splitlines()
    for n in names:  # each name whole, on one line
        assert any(n in ln for ln in lines), n
    rows = json.loads(bench(["list", kind, "--format", "json"], tmp_path).stdout)
    assert [r["name"] for r in rows] == names
    rows = list(csv.DictReader(io.StringIO(bench(["list", kind, "-f", "csv"], tmp_path).stdout)))
    assert [r["name"] for r in rows] == names and "description" in rows[0]


def test_data_verify_piped_names_every_broken_file(tmp_path):
    root = tmp_path / "a-long-folder-name-so-that-paths-exceed-eighty-columns" / "coco"
    bench(["data", "synth", "coco-mini", "--out", str(root)], tmp_path)
    images = sorted((root / "val2017").glob("*.jpg"))
    images[0].unlink()
    images[1].write_bytes(b"not a jpeg")
    args = ["data", "verify", "coco", "--data-root", str(root), "--split", "val2017"]
    p = bench(args, tmp_path, check=False)
    assert p.returncode == 1 and "…" not in p.stdout
    for img in images[:2]:
        assert len(str(img)) > 80  # longer than the terminal: a table would fold or cut it
        assert any(str(img) in ln for ln in p.stdout.splitlines()), p.stdout
    p = bench([*args, "--format", "json"], tmp_path, check=False)
    assert p.returncode == 1
    rows = json.loads(p.stdout)
    assert {r["file"] for r in rows} >= {str(images[0]), str(images[1])}
    assert {r["kind"] for r in rows} >= {"missing", "unreadable"}
    p = bench([*args, "-f", "csv"], tmp_path, check=False)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert p.returncode == 1 and str(images[0]) in {r["file"] for r in rows}


def test_leaderboard_task_short_forms_and_unknown(tmp_path):
    from visionbench.leaderboard.table import TASK_ALIASES, parse_task_filter
    from visionbench.tasks import Task

    assert set(TASK_ALIASES.values()) == {t.value for t in Task}
    for short, task in [("seg", "semantic_segmentation"), ("segmentation", "semantic_segmentation"),
                        ("det", "detection"), ("cls", "classification"), ("sg", "scene_graph"),
                        ("cap", "captioning"), ("Detection", "detection")]:  # fmt: skip
        assert parse_task_filter(short) == task
    p = bench(["leaderboard", "--task", "segmentatoin"], tmp_path, check=False)
    assert p.returncode == 2
    assert "unknown task 'segmentatoin'" in p.stderr and "semantic_segmentation" in p.stderr
    assert "seg" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = bench(["leaderboard", "--task", "seg"], tmp_path)
    assert "no run records yet" in p.stdout
