"""Where the real-format fixtures of ``../shared/fixtures`` are.

The Visual Genome excerpts (6.9 MB) are not copied into the repository (COCO and
Cityscapes are, under ``tests/data/fixtures``). They are read from ``shared/`` beside the
checkout (as CI has it), ``$VISIONBENCH_SHARED``, or ``/work/shared``. Without them the
tests that need them skip locally, but under CI (``CI`` set) that is an error: a silently
skipped exactness test is a defect.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_fixtures(sub: str) -> Path | None:
    """``<shared>/fixtures/<sub>`` if it exists; under CI, raise when it does not."""
    roots = [REPO.parent / "shared", Path("/work/shared")]
    if os.environ.get("VISIONBENCH_SHARED"):
        roots.insert(0, Path(os.environ["VISIONBENCH_SHARED"]))
    for root in roots:
        p = root / "fixtures" / sub
        if p.exists():
            return p
    if os.environ.get("CI"):
        raise RuntimeError(
            f"fixtures/{sub} not found in {[str(r) for r in roots]}: CI must have shared/ beside "
            "the checkout (or set VISIONBENCH_SHARED)"
        )
    return None
