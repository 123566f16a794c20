"""Caption bootstrap benchmark: one CIDEr-D evaluation vs B = 1000 bootstrap replicates.

One command::

    python benchmarks/caption_bootstrap.py            # 5,000 images x 5 references
    python benchmarks/caption_bootstrap.py --small    # 500 images (CI size)

A COCO-caption-shaped problem (Zipf-distributed words, 8-14 tokens a caption, 5 references
an image; tokenised already, so no tokenizer time is counted). Times, in one process:

* ``CIDEr-D evaluation``: ``cider_d_from_counts`` on the evaluator's n-gram counts (what
  ``CaptionEvaluator.compute`` spends on CIDEr-D), median of ``--repeat`` runs;
* ``prepare``: the CIDEr-D part of the sample table (n-gram ids, sparse matrices; once);
* ``B replicates``: ``CiderWeighted.scores`` for B draws of ``resample_weights`` -- every
  replicate recomputes the document frequencies and log N from the weighted references.

Checks that replicate 0 with all weights 1 equals the evaluation (to 1e-12 relative) and
prints wall and CPU seconds and the ratio "bootstrap / one evaluation".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from coco_bootstrap import timed  # noqa: E402  (the same wall + CPU timer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--B", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from visionbench.metrics.bootstrap import resample_weights
    from visionbench.metrics.captioning.cider import (
        CiderWeighted,
        cider_d_from_counts,
        cider_ngram_counts,
        cider_sample_statistics,
    )

    n = 500 if a.small else 5000
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(3000)])
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()

    def cap() -> str:
        return " ".join(rng.choice(words, int(rng.integers(8, 15)), p=p))

    hyps = [cap() for _ in range(n)]
    refs = [[cap() for _ in range(5)] for _ in range(n)]
    hc = [cider_ngram_counts(h) for h in hyps]
    rc = [[cider_ngram_counts(r) for r in rs] for rs in refs]
    print(f"problem: {n} images, {5 * n} references")

    runs = [timed(lambda: cider_d_from_counts(hc, rc)) for _ in range(a.repeat)]
    (score, _), ev_wall, ev_cpu = sorted(runs, key=lambda r: r[2])[len(runs) // 2]
    cw, prep_wall, prep_cpu = timed(lambda: CiderWeighted(cider_sample_statistics(hc, rc)))
    one = cw.scores(np.ones((1, n), np.int64))[0]
    if abs(one - score) > 1e-12 * abs(score):
        print(f"MISMATCH: weights 1 give {one!r}, the evaluation {score!r}")
        sys.exit(1)

    def boot() -> np.ndarray:
        return np.concatenate([cw.scores(w) for w in resample_weights(n, a.B, 0)])

    reps, b_wall, b_cpu = timed(boot)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    print(f"CIDEr-D {score:.4f}, 95% interval [{lo:.4f}, {hi:.4f}] (B={a.B})")
    print("| step | wall s | CPU s |")
    print("|---|---:|---:|")
    print(f"| one CIDEr-D evaluation (median of {a.repeat}) | {ev_wall:.3f} | {ev_cpu:.3f} |")
    print(f"| prepare the CIDEr-D table (once) | {prep_wall:.3f} | {prep_cpu:.3f} |")
    print(f"| B = {a.B} replicates | {b_wall:.3f} | {b_cpu:.3f} |")
    print(
        f"| **(prepare + bootstrap) / one evaluation** | {(prep_wall + b_wall) / ev_wall:.1f}x "
        f"| **{(prep_cpu + b_cpu) / ev_cpu:.1f}x** |"
    )


if __name__ == "__main__":
    main()
