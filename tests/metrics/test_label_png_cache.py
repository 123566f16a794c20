"""The PNG unfilter kernel compiles once per machine, not once per process: a second
process loads it from numba's on-disk cache (as a closure over another dispatcher it
missed the cache every time: ~3 s of every Cityscapes ``bench eval``)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

CODE = """
import sys
from visionbench.metrics.segmentation.label_png import read_label_png
a = read_label_png(sys.argv[1])
print("sum", int(a.sum()))
"""


def test_unfilter_kernel_loads_from_the_disk_cache_in_a_new_process(tmp_path):
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 34, size=(40, 64), dtype=np.uint8)
    lab[10:20] = 7  # flat rows: Paeth / Up filters
    png = tmp_path / "x_gtFine_labelIds.png"
    Image.fromarray(lab).save(png, optimize=True)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), NUMBA_DEBUG_CACHE="1")
    outs = [
        subprocess.run(
            [sys.executable, "-c", CODE, str(png)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )  # fmt: skip
        for _ in range(2)
    ]
    for p in outs:
        assert p.returncode == 0, p.stderr
        assert f"sum {int(lab.astype(np.int64).sum())}" in p.stdout
    first, second = (p.stdout + p.stderr for p in outs)
    if "unfilter" not in first:  # decoded without the kernel (e.g. no numba): nothing to cache
        return
    assert "data saved" in first and "unfilter" in first
    lines = [ln for ln in second.splitlines() if "unfilter" in ln]
    assert any("data loaded" in ln for ln in lines), second
    assert not any("data saved" in ln for ln in lines), second
