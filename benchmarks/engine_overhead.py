"""Harness overhead: `visionbench.engine.run` vs a bare loop over the same model and data.

Both use the same DataLoader settings (workers, batch size), the same decode + preprocess
and the same model; the bare loop only does forward + argmax. The engine adds the
prediction cache (Parquet), metric updates, timing and the run record. Target: <= 5%
overhead (engine wall / bare wall - 1). Medians over --repeats, alternating the order.

    python benchmarks/engine_overhead.py [--model tv:mobilenet_v3_small] [--repeat-data 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from visionbench.engine.data import EvalItems, make_loader
from visionbench.engine.run import RunOptions, run
from visionbench.loaders.mini import imagenet_mini
from visionbench.models.resolve import build_model
from visionbench.tasks import GroundTruth
from visionbench.types import Sample


class Repeated:
    """The dataset repeated k times with distinct sample ids (more images to time)."""

    def __init__(self, base, k: int) -> None:
        self.base, self.k = base, k
        self.name, self.task, self.label_space, self.split, self.root = (
            base.name,
            base.task,
            base.label_space,
            base.split,
            base.root,
        )

    def __len__(self) -> int:
        return len(self.base) * self.k

    def __getitem__(self, i: int) -> Sample:
        s = self.base[i % len(self.base)]
        return Sample(f"{s.sample_id}#{i // len(self.base)}", s.image, s.target)

    def ground_truth(self) -> GroundTruth:
        g = self.base.ground_truth()
        ids = [f"{sid}#{r}" for r in range(self.k) for sid in g.sample_ids]
        return GroundTruth(g.task, g.label_space, ids, list(g.targets) * self.k)


def bare(model, ds, batch_size: int, workers: int) -> float:
    loader = make_loader(
        EvalItems(ds, range(len(ds)), model.preprocess),
        batch_size=batch_size,
        workers=workers,
        pin_memory=False,
    )
    t0 = time.perf_counter()
    with torch.inference_mode():
        for images, _metas, _targets, _failed in loader:
            model.module(images).argmax(1)
    return time.perf_counter() - t0


def engine(model, ds, batch_size: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run(
            model,
            ds,
            RunOptions(
                results=tmp,
                batch_size=batch_size,
                workers=workers,
                progress=False,
                command=["bench"],
            ),
        )
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tv:mobilenet_v3_small")
    ap.add_argument("--repeat-data", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = (
        build_model(args.model, weights="random")
        if args.model.startswith("tv:")
        else build_model(args.model)
    )
    ds = Repeated(imagenet_mini(), args.repeat_data)
    bare(model, ds, args.batch_size, args.workers)  # warm-up: page cache, threads
    b, e = [], []
    for r in range(args.repeats):
        if r % 2:
            e.append(engine(model, ds, args.batch_size, args.workers))
            b.append(bare(model, ds, args.batch_size, args.workers))
        else:
            b.append(bare(model, ds, args.batch_size, args.workers))
            e.append(engine(model, ds, args.batch_size, args.workers))
    mb, me = statistics.median(b), statistics.median(e)
    print(
        f"model {args.model}, {len(ds)} images, batch {args.batch_size}, workers {args.workers}, {args.repeats} repeats"
    )
    print(
        f"bare loop   median {mb:.3f} s  ({len(ds) / mb:.1f} img/s)  all: {[round(x, 3) for x in b]}"
    )
    print(
        f"engine run  median {me:.3f} s  ({len(ds) / me:.1f} img/s)  all: {[round(x, 3) for x in e]}"
    )
    print(f"overhead    {100 * (me / mb - 1):+.1f}%  (target <= 5%)")


if __name__ == "__main__":
    main()
