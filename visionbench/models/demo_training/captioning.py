"""The demo captioner's "weights" (``models/weights/demo_captioner_coco_mini.npz``): the
tiny-image features and captions of ``coco-mini`` train2017, stored for retrieval."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionbench.models.demo_captioning import (
    DEMO_CAP_PREPROCESS,
    FILE_FORMAT,
    TinyImageFeatures,
)

__all__ = ["fit_demo_captioner", "write"]


def fit_demo_captioner(root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features and captions of coco-mini ``train2017`` (deterministic).

    Returns:
        ``(features [160, 768] float64, captions [160, 5] str, image_ids [160] int64)`` in
        the order of the annotation file's ``images``.
    """
    from visionbench.loaders.mini import coco_mini_captions

    ds = coco_mini_captions(root, "train2017")
    module = TinyImageFeatures()
    feats, caps, ids = [], [], []
    for i in range(len(ds)):
        s = ds[i]
        x, _ = DEMO_CAP_PREPROCESS(s.image.load())
        feats.append(module(x[None])[0].numpy())
        caps.append(list(s.target.captions)[:5])
        ids.append(int(s.sample_id))
    width = min(len(c) for c in caps)
    return np.stack(feats), np.array([c[:width] for c in caps]), np.array(ids, dtype=np.int64)


def write(out: str | Path, *, epochs: int | None = None) -> str:
    """Store the training set in ``out`` (written to a temporary file, then renamed; nothing
    is trained: ``epochs`` is ignored); the report line."""
    feats, caps, ids = fit_demo_captioner()
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(
        tmp, features=feats, captions=caps, image_ids=ids, format=np.array(FILE_FORMAT)
    )
    tmp.replace(out)
    return f"wrote {out} ({len(ids)} training images)"
