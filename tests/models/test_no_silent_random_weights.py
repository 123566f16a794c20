"""No model runs on random weights without being asked (issue 11), per model family.

Every registered model, built with no weights while the weights cache and the torch hub
cache are empty, either uses weights it found (the demo models' shipped files) or stops
with one line that names where it looked and how to pass ``--weights PATH`` or
``--weights random``. With a default file in the cache, the family picks it up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from visionbench.errors import WeightsError
from visionbench.models.catalog import MODELS
from visionbench.models.resolve import build_model
from visionbench.models.weights import sha256_file
from visionbench.records import weights_identity

SHIPPED = {"demo-cnn", "demo-segnet", "demo-detector", "demo-freq", "demo-captioner"}


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("VISIONBENCH_WEIGHTS", str(weights))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # get_dir() reads TORCH_HOME; restored
    return weights


def _assert_refusal(err: WeightsError, *, looked: str) -> None:
    msg = str(err)
    assert "\n" not in msg
    assert "--weights PATH" in msg or "--weights stats.npz" in msg, msg
    assert "--weights random" in msg, msg
    assert looked in msg, msg


@pytest.mark.parametrize("name", sorted(n for n in MODELS if n not in SHIPPED))
def test_registered_model_without_weights_stops(name, empty_caches):
    with pytest.raises(WeightsError) as e:
        build_model(name)
    looked = {"freq": "stats.npz", "freq_overlap": "stats.npz"}.get(name)
    if looked is None:  # the cache folder (our families) or the torch hub file (torchvision)
        looked = (
            "hub"
            if MODELS[name][0].startswith("visionbench.models.torchvision_zoo")
            else str(empty_caches)
        )
    _assert_refusal(e.value, looked=looked)


@pytest.mark.parametrize("name", ["tv:resnet18", "tv:ssdlite320_mobilenet_v3_large",
                                  "tv:lraspp_mobilenet_v3_large"])  # fmt: skip
def test_torchvision_without_hub_file_stops(name, empty_caches):
    with pytest.raises(WeightsError) as e:
        build_model(name)
    _assert_refusal(e.value, looked=str(Path(torch.hub.get_dir()) / "checkpoints"))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_demo_models_use_their_shipped_weights(name, empty_caches):
    m = build_model(name)
    wid = weights_identity(m.weights)
    assert wid == sha256_file(m.weights["path"]) and wid != "random"


def test_demo_model_with_a_missing_file_stops(tmp_path):
    with pytest.raises(WeightsError) as e:
        build_model("demo-cnn", weights=str(tmp_path / "nope.pt"))
    _assert_refusal(e.value, looked=str(tmp_path / "nope.pt"))


@pytest.mark.parametrize(
    "name", ["demo-cnn", "yolov3-tiny", "mobile_former_26m", "deeplabv3plus_mobilenetv2",
             "freq", "tv:squeezenet1_1"],
)  # fmt: skip
def test_random_only_when_asked(name, empty_caches):
    m = build_model(name, weights="random")
    assert weights_identity(m.weights) == "random"


@pytest.mark.parametrize(
    "name, file",
    [("mobile_former_26m", "mobile_former_26m.pt"),
     ("deeplabv3plus_mobilenetv2", "deeplabv3plus_mobilenetv2.pth"),
     ("yolov3-tiny", "yolov3-tiny.pt")],
)  # fmt: skip
def test_default_file_in_the_cache_is_used(name, file, empty_caches):
    torch.manual_seed(1)
    ref = build_model(name, weights="random")
    sd = {k: v + 0.5 if v.is_floating_point() else v for k, v in ref.module.state_dict().items()}
    torch.save(sd, empty_caches / file)
    m = build_model(name)
    assert weights_identity(m.weights) == sha256_file(empty_caches / file)
    for k, v in m.module.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_user_model_without_weights_warns(tmp_path):
    (tmp_path / "umod.py").write_text(
        "import torch\n"
        "def build(weights=None):\n"
        "    return torch.nn.Linear(2, 2), 'classification', 'imagenet1k'\n"
    )
    from visionbench.models.user_model import load_user_model

    with pytest.warns(UserWarning, match="no --weights given and its factory declares none"):
        m = load_user_model(f"{tmp_path / 'umod.py'}:build")
    assert m.weights == {}
    w = tmp_path / "w.pt"
    w.write_bytes(b"x")
    m = load_user_model(f"{tmp_path / 'umod.py'}:build", weights=str(w))
    assert weights_identity(m.weights) == sha256_file(w)


def test_cli_refuses_in_one_line(tmp_path):
    env = {"VISIONBENCH_WEIGHTS": str(tmp_path / "w"), "VISIONBENCH_HOME": str(tmp_path)}
    import os

    p = subprocess.run(
        [sys.executable, "-m", "visionbench", "run", "--model", "yolov3", "--dataset",
         "coco-mini", "--results", str(tmp_path / "r")],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--weights random" in lines[0] and "yolov3.weights" in lines[0]
    assert not (tmp_path / "r" / "records").exists()
