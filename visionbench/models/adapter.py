"""The model adapter: an ``nn.Module`` plus what it needs to be evaluated reproducibly.

Every reference model, torchvision adapter and user model is wrapped in a
:class:`ModelAdapter`, which implements the whole :class:`visionbench.tasks.Model`
protocol (the surface the engine uses): its task, its output label space, its
preprocessing, ``forward`` / ``postprocess`` (``predict`` is both) returning one contract
prediction per sample in original-image pixels, ``to``, ``describe`` and ``weights_id``
for the run record. A subclass writes ``postprocess`` and overrides what differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from visionbench.label_spaces import LabelSpace
from visionbench.models.preprocess import Preprocess
from visionbench.records import weights_identity
from visionbench.tasks import Batch
from visionbench.types import ClassificationPrediction, Prediction, Task

__all__ = ["ModelAdapter", "ClassifierAdapter"]


class ModelAdapter:
    """Base adapter. Subclasses implement :meth:`postprocess`.

    Attributes:
        name: registry name (e.g. ``"yolov3"``, ``"tv:mobilenet_v3_large"``).
        task: the task its predictions are for.
        label_space: the label space of its outputs.
        module: the torch module.
        preprocess_config: the :class:`Preprocess` its weights need.
        weights: a description of the weights (path or name, sha256) for the run record.
        profile_info: what ``bench run --profile`` measured
            (:func:`visionbench.models.profiling.profile_model`), else None.
    """

    profile_info: dict[str, Any] | None = None

    def __init__(
        self,
        name: str,
        task: Task,
        label_space: LabelSpace,
        module: nn.Module,
        preprocess: Preprocess,
        *,
        weights: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.task = task
        self.label_space = label_space
        self.module = module.eval()
        self.preprocess_config = preprocess
        self.weights = weights or {}

    # -- the Model protocol -------------------------------------------------------------

    def preprocess(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """uint8 [3, H, W] -> (float [3, h, w], meta). Runs in DataLoader workers."""
        return self.preprocess_config(image)

    @torch.inference_mode()
    def predict(self, batch: Batch) -> Sequence[Prediction]:
        """Forward the batch and postprocess to contract predictions."""
        return self.postprocess(self.forward(batch.images), batch)

    def forward(self, images: torch.Tensor) -> Any:
        return self.module(images)

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        raise NotImplementedError(
            f"{type(self).__name__} ({self.name!r}) does not implement postprocess()"
        )

    # -- helpers ------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        p = next(iter(self.module.parameters()), None)
        return p.device if p is not None else torch.device("cpu")

    def to(self, device: str | torch.device, *, channels_last: bool = False) -> ModelAdapter:
        self.module.to(device)
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
        return self

    def num_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def describe(self) -> dict[str, Any]:
        """What the run record says about this model."""
        profile = self.profile_info
        return {
            "name": self.name,
            "task": self.task.value,
            "label_space": self.label_space.name,
            "params": self.num_params(),
            "gflops": (profile or {}).get("gflops"),
            "preprocess": self.preprocess_config.to_dict(),
            "weights": self.weights,
            "profile": profile,
        }

    def weights_id(self) -> str | None:
        """:func:`~visionbench.records.weights_identity` of :attr:`weights`; for weights
        described by nothing (a user model), ``state:<sha256 of the state dict, 16 hex>``."""
        wid = weights_identity(self.weights)
        if wid is not None:
            return wid
        h = hashlib.sha256()
        for k, v in self.module.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return "state:" + h.hexdigest()[:16]


class ClassifierAdapter(ModelAdapter):
    """A classifier whose module maps [B, 3, H, W] to logits [B, C] in ``label_space`` order."""

    def __init__(
        self,
        name: str,
        label_space: LabelSpace,
        module: nn.Module,
        preprocess: Preprocess,
        **kw: Any,
    ) -> None:
        super().__init__(name, Task.CLASSIFICATION, label_space, module, preprocess, **kw)

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        logits = outputs.float().cpu().numpy()
        return [
            ClassificationPrediction(scores=row, sample_id=m.get("sample_id"))
            for row, m in zip(logits, batch.metas)
        ]
