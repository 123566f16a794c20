"""The built-in demo captioner: nearest-neighbour caption retrieval on ``coco-mini``.

The classic retrieval baseline (Devlin et al., "Exploring Nearest Neighbor Approaches for
Image Captioning", 2015) on "tiny images" (Torralba et al. 2008): an image is described by
its pixels resized to 16x16 (RGB, centred on mid-grey, L2-normalised, 768 numbers); the
``k = 5`` most similar training images (cosine) pool their captions, and the caption with
the highest mean ROUGE-L against the other pooled captions (the consensus caption) is the
prediction. Nothing is learned beyond storing the training set: the "weights"
(``models/weights/demo_captioner_coco_mini.npz``) are the 160 feature vectors and 800
captions of coco-mini ``train2017``, written by
:mod:`visionbench.models.demo_training.captioning`
(``python -m visionbench.models.demo_training demo-captioner --out PATH``). A demo of the
pipeline, not a COCO model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from visionbench.errors import WeightsError
from visionbench.label_spaces import get_label_space
from visionbench.models.adapter import ModelAdapter
from visionbench.models.preprocess import Preprocess
from visionbench.tasks import Batch
from visionbench.types import CaptionPrediction, Prediction, Task

__all__ = [
    "DEMO_CAP_PREPROCESS",
    "TinyImageFeatures",
    "DemoCaptionerAdapter",
    "build_demo_captioner",
    "FILE_FORMAT",
    "consensus_caption",
]

SIZE = 16
K = 5
DEMO_CAP_PREPROCESS = Preprocess(
    mode="resize",
    size=(SIZE, SIZE),
    interpolation="bilinear",
    mean=(0.5, 0.5, 0.5),
    std=(1.0, 1.0, 1.0),
)
_WEIGHTS = "demo_captioner_coco_mini.npz"
#: Version of the ``.npz`` layout (``features``, ``captions``, ``image_ids``, ``format``).
FILE_FORMAT = 1


class TinyImageFeatures(nn.Module):
    """[B, 3, 16, 16] (pixels - 0.5) -> [B, 768] unit vectors; no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1).double()
        return flat / flat.norm(dim=1, keepdim=True).clamp(min=1e-12)


class DemoCaptionerAdapter(ModelAdapter):
    """Retrieval captioner (task ``captioning``): k nearest training images, consensus caption.

    Args:
        features: [M, 768] float64 unit vectors of the training images.
        captions: [M, 5] training captions.
        k: neighbours pooled.
    """

    def __init__(
        self,
        features: np.ndarray,
        captions: np.ndarray,
        *,
        k: int = K,
        weights: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            "demo-captioner",
            Task.CAPTIONING,
            get_label_space("text"),
            TinyImageFeatures(),
            DEMO_CAP_PREPROCESS,
            weights=weights,
        )
        self.features = torch.from_numpy(np.asarray(features, dtype=np.float64))
        self.captions = np.asarray(captions)
        self.k = k

    def postprocess(self, outputs: Any, batch: Batch) -> Sequence[Prediction]:
        sims = outputs.cpu().double() @ self.features.T  # [B, M]
        k = min(self.k, sims.shape[1])
        # stable: ties to the lower training index, identical on every machine
        order = np.argsort(-sims.numpy(), axis=1, kind="stable")[:, :k]
        out = []
        for row, meta in zip(order, batch.metas):
            pool = [str(c) for i in row for c in self.captions[i]]
            out.append(CaptionPrediction(consensus_caption(pool), sample_id=meta.get("sample_id")))
        return out


def consensus_caption(candidates: Sequence[str]) -> str:
    """The candidate with the highest mean ROUGE-L against the others (first on ties)."""
    from visionbench.metrics.captioning.rouge import rouge_l_sentence

    if len(candidates) == 1:
        return candidates[0]
    tokens = [" ".join(c.lower().split()) for c in candidates]
    best, best_score = 0, -1.0
    for i, c in enumerate(tokens):
        others = tokens[:i] + tokens[i + 1 :]
        score = sum(rouge_l_sentence(c, [o]) for o in others) / len(others)
        if score > best_score:
            best, best_score = i, score
    return candidates[best]


def build_demo_captioner(weights: str | None = None) -> DemoCaptionerAdapter:
    """The demo captioner with its shipped training set, or ``weights`` (an ``.npz`` written
    by :mod:`visionbench.models.demo_training.captioning`: path, cache name or URL).

    Raises:
        WeightsError: ``random`` (nothing to initialise), a missing or unreadable file,
            missing arrays, inconsistent shapes.
    """
    from visionbench.models.weights import is_random, resolve_weights, sha256_file, shipped_weights

    if is_random(weights):
        raise WeightsError("demo-captioner has no random initialisation (it is a retrieval model)")
    path = resolve_weights(
        shipped_weights(
            "demo-captioner",
            weights,
            _WEIGHTS,
            maker="python -m visionbench.models.demo_training demo-captioner --out PATH",
        )
    )
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:
        raise WeightsError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    missing = {"features", "captions"} - set(arrays)
    if missing:
        raise WeightsError(f"{path}: lacks arrays {sorted(missing)}")
    feats, caps = arrays["features"], arrays["captions"]
    if (
        feats.ndim != 2
        or feats.shape[1] != 3 * SIZE * SIZE
        or caps.ndim != 2
        or len(caps) != len(feats)
    ):
        raise WeightsError(
            f"{path}: expected features [M, {3 * SIZE * SIZE}] and captions [M, R], got "
            f"{list(feats.shape)} and {list(caps.shape)}"
        )
    info = {"path": str(path), "sha256": sha256_file(path)}
    return DemoCaptionerAdapter(feats, caps, weights=info)
