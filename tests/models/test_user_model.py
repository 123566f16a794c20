"""Your own model (--model pkg.module:factory), and build_model's name resolution."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from visionbench.errors import RegistryError
from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ClassifierAdapter, ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.models.resolve import build_model
from visionbench.models.task_adapters import DetectionAdapter, SegmentationAdapter
from visionbench.models.user_model import load_user_model
from visionbench.tasks import Batch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_model.py"


def test_example_file_spec_builds_and_predicts() -> None:
    a = load_user_model(f"{EXAMPLE}:build", image_size=64)
    assert isinstance(a, ClassifierAdapter) and a.label_space.name == "imagenet1k"
    assert (a.preprocess_config.resize, a.preprocess_config.crop) == (73, 64)
    x, meta = a.preprocess(torch.randint(0, 256, (3, 50, 90), dtype=torch.uint8))
    assert x.shape == (3, 64, 64)
    (p,) = a.predict(Batch(x[None], [{**meta, "sample_id": "a"}]))
    assert p.scores.shape == (1000,) and p.sample_id == "a"


def test_example_weights_roundtrip(tmp_path: Path) -> None:
    a = load_user_model(f"{EXAMPLE}:build")
    sd = {k: torch.full_like(v, 0.5) for k, v in a.module.state_dict().items()}
    torch.save(sd, tmp_path / "w.pt")
    b = build_model(f"{EXAMPLE}:build", weights=str(tmp_path / "w.pt"))
    assert torch.equal(b.module.head.weight, torch.full_like(b.module.head.weight, 0.5))


# a module-importable factory package, written for the test
FACTORIES = """
import torch
from torch import nn
from visionbench.models.preprocess import Preprocess

class Seg(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 2, x.shape[2] // 2, x.shape[3] // 2)

class Det(nn.Module):
    def forward(self, x):
        return [{"boxes": torch.tensor([[1.0, 2.0, 3.0, 4.0]]), "labels": torch.tensor([0]),
                 "scores": torch.tensor([0.5])} for _ in range(x.shape[0])]

def seg_dict():
    return {"module": Seg(), "task": "semantic_segmentation", "label_space": "cityscapes34",
            "class_ids": [7, 26], "name": "my-seg"}

def det_tuple():
    return Det(), "detection", "coco91", Preprocess(mode="none", mean=None, std=None)

def bad():
    return 42

def bad_dict():
    return {"module": Seg(), "task": "semantic_segmentation"}
"""


@pytest.fixture
def factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "vb_user_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "vb_user_pkg.models"
    for m in [m for m in sys.modules if m.startswith("vb_user_pkg")]:
        del sys.modules[m]


def test_dict_and_tuple_returns(factories: str) -> None:
    seg = build_model(f"{factories}:seg_dict")
    assert isinstance(seg, SegmentationAdapter) and seg.name == "my-seg"
    (p,) = seg.predict(Batch(torch.zeros(1, 3, 6, 8), [{"orig_size": (6, 8), "sample_id": 1}]))
    assert p.mask.shape == (6, 8) and set(p.mask.ravel().tolist()) == {7}  # ties -> channel 0
    det = load_user_model(f"{factories}:det_tuple")
    assert isinstance(det, DetectionAdapter)
    (d,) = det.predict(Batch(torch.zeros(1, 3, 10, 10), [{"orig_size": (10, 10), "sample_id": 2}]))
    assert d.labels.tolist() == [1] and d.boxes.tolist() == [[1, 2, 3, 4]]  # label 0 -> id 1


def test_bad_returns_and_imports(factories: str) -> None:
    with pytest.raises(RegistryError, match="returned int; expected a ModelAdapter"):
        load_user_model(f"{factories}:bad")
    with pytest.raises(RegistryError, match=r"returned a dict with keys \['module', 'task'\]"):
        load_user_model(f"{factories}:bad_dict")
    with pytest.raises(RegistryError, match="has no attribute 'nope'"):
        load_user_model(f"{factories}:nope")
    with pytest.raises(RegistryError, match="cannot import module 'no_such_pkg_xyz.mod'"):
        build_model("no_such_pkg_xyz.mod:build")
    with pytest.raises(RegistryError, match="does not exist"):
        load_user_model("/no/such/file.py:build")


def test_build_model_resolution() -> None:
    a = build_model("tv:squeezenet1_1", weights="random")
    assert a.name == "tv:squeezenet1_1" and a.weights["name"] == "random"
    f = build_model("mobile_former_26m", weights="random")
    assert isinstance(f, ModelAdapter) and f.name == "mobile_former_26m"
    with pytest.raises(
        RegistryError, match="unknown model 'mobile_former_26'; did you mean 'mobile_former_26m'"
    ):
        build_model("mobile_former_26")


def test_adapter_passthrough(tmp_path: Path) -> None:
    (tmp_path / "adapter_factory.py").write_text(
        "from torch import nn\n"
        "from visionbench.label_spaces import get_label_space\n"
        "from visionbench.models.adapter import ClassifierAdapter\n"
        "from visionbench.models.preprocess import Preprocess\n"
        "def build(weights=None):\n"
        "    return ClassifierAdapter('mine', get_label_space('imagenet1k'), nn.Identity(), Preprocess())\n"
    )
    a = load_user_model(f"{tmp_path / 'adapter_factory.py'}:build")
    assert a.name == "mine" and a.label_space == get_label_space("imagenet1k")
    assert isinstance(a.preprocess_config, Preprocess) and isinstance(a.module, nn.Identity)
