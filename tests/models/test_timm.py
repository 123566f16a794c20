"""timm:<name> models: timm's own preprocessing, local weights only, logits equal timm's."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import torch

from tests.shared_fixtures import reference_module

timm = reference_module("timm")

from visionbench.errors import WeightsError  # noqa: E402
from visionbench.models.timm_zoo import build_timm  # noqa: E402

NAME = (
    "test_vit"  # tiny (~0.4 M params); pretrained cfg: 160 px, bicubic, crop_pct 0.95, mean/std 0.5
)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    ref = timm.create_model(NAME, pretrained=False).eval()
    path = tmp_path_factory.mktemp("w") / "test_vit_random.pth"
    torch.save(ref.state_dict(), path)
    return path, ref


def _image(seed=0, h=120, w=200):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)


def _port_of_validate_transform(img):
    """validate.py's eval transform for test_vit, written out: resize the shorter side to
    floor(160 / 0.95) = 168 (PIL bicubic), center-crop 160, [0, 1], normalise 0.5 / 0.5."""
    from PIL import Image

    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    w, h = pil.size
    s = 168
    nw, nh = (s, int(s * h / w)) if w < h else (int(s * w / h), s)
    pil = pil.resize((nw, nh), Image.BICUBIC)
    left, top = int(round((nw - 160) / 2.0)), int(round((nh - 160) / 2.0))
    pil = pil.crop((left, top, left + 160, top + 160))
    x = torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1).float() / 255.0
    return (x - 0.5) / 0.5


def test_preprocessing_is_the_models_own_config(weights_file):
    path, _ = weights_file
    m = build_timm(f"timm:{NAME}", weights=str(path))
    cfg = m.preprocess_config.to_dict()
    assert cfg["input_size"] == [3, 160, 160] and cfg["interpolation"] == "bicubic"
    assert cfg["crop_pct"] == 0.95 and cfg["mean"] == [0.5] * 3 and cfg["std"] == [0.5] * 3
    for seed, (h, w) in enumerate([(120, 200), (300, 171), (160, 160)]):
        img = _image(seed, h, w)
        x, meta = m.preprocess(img)
        assert meta["orig_size"] == (h, w)
        want = _port_of_validate_transform(img)
        assert x.shape == want.shape == (3, 160, 160)
        assert torch.allclose(x, want, atol=1e-6), (x - want).abs().max()


def test_logits_equal_timms_model_from_a_weights_file(weights_file):
    path, ref = weights_file
    m = build_timm(f"timm:{NAME}", weights=str(path))
    assert m.label_space.name == "imagenet1k" and m.weights["path"] == str(path)
    assert len(m.weights["sha256"]) == 64
    x = torch.stack([m.preprocess(_image(s))[0] for s in range(3)])
    with torch.inference_mode():
        assert torch.equal(m.module(x), ref(x))
    rnd = build_timm(NAME, weights="random")
    with torch.inference_mode():
        assert not torch.equal(rnd.module(x), ref(x))


def test_weights_that_do_not_fit_and_missing_files(tmp_path, weights_file):
    bad = tmp_path / "bad.pth"
    torch.save({"nope": torch.zeros(3)}, bad)
    with pytest.raises(WeightsError, match="cannot load"):
        build_timm(NAME, weights=str(bad))
    with pytest.raises(WeightsError, match=r"weights file '.*absent\.pth' not found"):
        build_timm(NAME, weights=str(tmp_path / "absent.pth"))


def _bench(args, tmp_path, **env_extra):
    env = dict(os.environ, VISIONBENCH_HOME=str(tmp_path / "home"), COLUMNS="200")
    env.update(HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"), **env_extra)
    return subprocess.run(["bench", *args], capture_output=True, text=True, env=env, timeout=900)


def test_cli_uncached_weights_is_one_line(tmp_path):
    p = _bench(["run", "--model", f"timm:{NAME}", "--dataset", "imagenet-mini"], tmp_path)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and "not cached locally" in err[0] and "timm/test_vit.r160_in1k" in err[0]


def test_cli_run_with_hf_cached_weights_and_list(tmp_path, weights_file):
    """The weights in a Hugging Face cache layout: found offline, scored end to end."""
    from safetensors.torch import save_file

    _, ref = weights_file
    repo = tmp_path / "hf" / "hub" / "models--timm--test_vit.r160_in1k"
    snap = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snap.name)
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, snap / "model.safetensors")
    out = tmp_path / "res"
    p = _bench(
        ["run", "--model", f"timm:{NAME}", "--dataset", "imagenet-mini", "--workers", "0",
         "--results", str(out)], tmp_path, HF_HUB_OFFLINE="0",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    rec = json.loads(next((out / "records").glob("*.json")).read_text())
    assert rec["model"]["name"] == f"timm:{NAME}"
    assert rec["model"]["weights"]["path"].endswith("model.safetensors")
    assert rec["model"]["preprocess"]["input_size"] == [3, 160, 160]
    assert 0.0 <= rec["metrics"]["top1"]["value"] <= 100.0
    listed = _bench(["list", "models", "--timm", "test_vi*"], tmp_path)
    assert listed.returncode == 0 and "timm:test_vit\n" in listed.stdout
