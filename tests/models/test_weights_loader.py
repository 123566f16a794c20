"""The one weights loader (models/weights.py: load_weights) as every family uses it.

YOLOv3 through a ``file://`` URL with ``#sha256=``, a cache name and an HTTP URL (a local
server), darknet ``.weights`` and torch state dicts dispatched by format, the cache folder
under ``$VISIONBENCH_HOME``, the random sentinel, and a checksum mismatch as one line
through the installed ``bench`` console script.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from torch import nn

from visionbench.errors import WeightsError
from visionbench.models.darknet.cfg import packaged_cfg
from visionbench.models.darknet.network import Darknet
from visionbench.models.darknet.weights import save_darknet_weights
from visionbench.models.resolve import build_model
from visionbench.models.weights import (
    DARKNET,
    TORCH,
    default_cache_dir,
    is_random,
    load_weights,
    random_init_info,
    sha256_file,
    split_sha256,
    weights_format,
)
from visionbench.models.yolov3 import build_yolov3_tiny
from visionbench.records import weights_identity
from visionbench.types import RANDOM_WEIGHTS

TINY_BYTES = 35_434_956


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A yolov3-tiny darknet file of seeded random values (not the builder's seed 0), and
    the state dict it holds."""
    torch.manual_seed(7)
    net = Darknet.from_cfg(packaged_cfg("yolov3-tiny"))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    path = tmp_path_factory.mktemp("darknet") / "tiny.weights"
    assert save_darknet_weights(net, path, seen=1234) == TINY_BYTES
    return path, {k: v.clone() for k, v in net.state_dict().items()}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "weights-cache"
    d.mkdir()
    monkeypatch.setenv("VISIONBENCH_WEIGHTS", str(d))
    return d


def _same(module: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    own = module.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], state[k]) for k in own)


# -- the pieces ----------------------------------------------------------------------------


def test_cache_dir_honours_visionbench_home_and_weights_overrides_it(tmp_path, monkeypatch):
    monkeypatch.delenv("VISIONBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("VISIONBENCH_HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / "weights"
    monkeypatch.setenv("VISIONBENCH_WEIGHTS", str(tmp_path / "w"))
    assert default_cache_dir() == tmp_path / "w"
    monkeypatch.delenv("VISIONBENCH_WEIGHTS")
    monkeypatch.delenv("VISIONBENCH_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "visionbench" / "weights"


def test_random_sentinel_spellings_and_record_identity():
    assert RANDOM_WEIGHTS == "random"
    assert all(is_random(s) for s in ("random", "RANDOM", " Random ", "none", "None"))
    assert not any(is_random(s) for s in (None, "", "random.pt", "x/random", "randomize"))
    info = random_init_info(seed=3)
    assert info == {"name": "random", "source": "random-init", "seed": 3}
    assert weights_identity(info) == RANDOM_WEIGHTS


def test_split_sha256():
    assert split_sha256("https://h/x.pt#sha256=abc12345") == ("https://h/x.pt", "abc12345")
    assert split_sha256("a#b/x.pt") == ("a#b/x.pt", None)
    assert split_sha256("x.pt") == ("x.pt", None)


def test_format_dispatch(tmp_path):
    zipped = tmp_path / "state.bin"
    torch.save({"w": torch.zeros(2)}, zipped)
    legacy = tmp_path / "legacy"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    raw = tmp_path / "model.weights"
    raw.write_bytes(b"\0" * 20)
    named_pt = tmp_path / "m.pt"
    named_pt.write_bytes(b"\0" * 20)
    both = (DARKNET, TORCH)
    assert weights_format(zipped, both) == TORCH and weights_format(legacy, both) == TORCH
    assert weights_format(raw, both) == DARKNET
    assert weights_format(named_pt, both) == TORCH  # the name says torch: its reader explains
    assert weights_format(raw) == TORCH  # a family without darknet support never reads one


def test_random_keeps_the_initialisation():
    m = nn.Linear(3, 2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    assert load_weights(m, "random", random_info={"note": "n"})["note"] == "n"
    assert _same(m, before)


# -- YOLOv3 through the loader --------------------------------------------------------------


def test_yolov3_from_a_file_url_with_sha256(tiny_file):
    path, state = tiny_file
    sha = sha256_file(path)
    a = build_yolov3_tiny(f"{path.as_uri()}#sha256={sha}")
    assert _same(a.module, state)
    assert a.weights == {
        "cfg": "yolov3-tiny.cfg",
        "name": path.as_uri(),
        "path": str(path),
        "sha256": sha,
        "format": "darknet",
        "version": "0.2.0",
        "seen": 1234,
    }
    assert weights_identity(a.weights) == sha
    b = build_yolov3_tiny(f"{path}#sha256={sha[:12]}")  # a path and a digest prefix
    assert _same(b.module, state) and b.weights["sha256"] == sha


def test_yolov3_from_a_cache_name(tiny_file, cache):
    path, state = tiny_file
    shutil.copy(path, cache / "my-tiny.weights")
    m = build_model("yolov3-tiny", weights="my-tiny.weights")
    assert _same(m.module, state)
    assert m.weights["path"] == str(cache / "my-tiny.weights")


@pytest.fixture
def http_dir(tmp_path) -> Iterator[tuple[str, Path, list[str]]]:
    """A local HTTP server over a folder: (base URL, folder, requested paths)."""
    root = tmp_path / "served"
    root.mkdir()
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root, seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_yolov3_from_an_http_url_downloads_once_into_the_cache(tiny_file, cache, http_dir):
    path, state = tiny_file
    base, root, seen = http_dir
    shutil.copy(path, root / "yolov3-tiny-coco.weights")
    url = f"{base}/yolov3-tiny-coco.weights#sha256={sha256_file(path)}"
    a = build_yolov3_tiny(url)
    assert _same(a.module, state) and a.weights["format"] == "darknet"
    assert a.weights["path"] == str(cache / "yolov3-tiny-coco.weights")
    b = build_yolov3_tiny(url)  # from the cache now
    assert _same(b.module, state)
    assert seen == ["/yolov3-tiny-coco.weights"]


def test_yolov3_torch_checkpoint_is_unwrapped_like_every_family(tiny_file, tmp_path):
    _, state = tiny_file
    ckpt = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, ckpt)
    m = build_yolov3_tiny(ckpt)
    assert _same(m.module, state) and m.weights["format"] == "torch"


def test_yolov3_errors_are_one_line_and_name_the_file(tiny_file, tmp_path):
    path, _ = tiny_file
    with pytest.raises(WeightsError) as e:
        build_yolov3_tiny(f"{path.as_uri()}#sha256=0000000000")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("sha256 mismatch for weights")
    assert str(path) in msg and f"got {sha256_file(path)}" in msg
    cut = tmp_path / "cut.weights"
    cut.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(WeightsError, match=r"cut\.weights: darknet weights file truncated: "
                       r"expected 35,434,956 bytes .* found 35,434,948 bytes \(-8\)"):  # fmt: skip
        build_yolov3_tiny(cut)
    with pytest.raises(WeightsError, match=r"'nope\.weights' not found .*--weights random"):
        build_yolov3_tiny("nope.weights")


# -- the other families ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo-cnn", "mobile_former_26m", "tv:squeezenet1_1"])
def test_state_dict_families_take_cache_names_and_digests(name, cache):
    torch.manual_seed(2)
    ref = build_model(name, weights="random")
    sd = {k: v + 0.25 if v.is_floating_point() else v for k, v in ref.module.state_dict().items()}
    torch.save(sd, cache / "mine.pt")
    sha = sha256_file(cache / "mine.pt")
    m = build_model(name, weights=f"mine.pt#sha256={sha[:16]}")
    assert _same(m.module, sd)
    assert m.weights["sha256"] == sha and m.weights["format"] == "torch"
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        build_model(name, weights="mine.pt#sha256=ffffffffff")


def test_a_darknet_file_for_a_torch_only_family_is_a_clear_error(tiny_file):
    path, _ = tiny_file
    with pytest.raises(WeightsError, match=r"cannot read weights file .*tiny\.weights"):
        build_model("mobile_former_26m", weights=str(path))


# -- through the console script ---------------------------------------------------------------


def _bench() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "visionbench"]


def test_checksum_mismatch_through_bench_is_one_line(tiny_file, tmp_path):
    path, _ = tiny_file
    spec = f"{path.as_uri()}#sha256=0000000000"
    env = dict(os.environ, VISIONBENCH_WEIGHTS=str(tmp_path / "w"), COLUMNS="250")
    p = subprocess.run(
        _bench() + ["run", "--model", "yolov3-tiny", "--dataset", "coco-mini", "--weights", spec,
                    "--results", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: sha256 mismatch for weights"), lines[0]
    assert "expected 0000000000" in lines[0] and sha256_file(path) in lines[0]
    assert "Traceback" not in p.stderr and not (tmp_path / "r" / "records").exists()
