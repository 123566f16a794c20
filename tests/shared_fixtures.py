"""Where the real-format fixtures of ``../shared/fixtures`` are, and the reference packages.

The Visual Genome excerpts (6.9 MB) are not copied into the repository (COCO and
Cityscapes are, under ``tests/data/fixtures``). They are read from ``shared/`` beside the
checkout (as CI has it), ``$VISIONBENCH_SHARED``, or ``/work/shared``. Without them the
tests that need them skip locally, but under CI (``CI`` set) that is an error: a silently
skipped exactness test is a defect.

The same holds for the reference implementations the parity tests compare with
(:func:`reference_module`): CI installs ``.[test]``, which lists every one of them, so a
reference that does not import under CI fails the tests instead of skipping them.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

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


def reference_module(name: str) -> ModuleType:
    """Import ``name`` (a reference package, or a module of one) for a parity test.

    Locally a missing package skips the calling test or module (``pytest.importorskip``);
    under CI (``CI`` set) it fails it: pyproject's ``[test]`` extras install every
    reference, so a missing one is a broken environment, not a reason to skip.
    """
    if not os.environ.get("CI"):
        return pytest.importorskip(name)
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(
            f"reference package {name!r} does not import under CI ({e}); the parity tests "
            "need it: add it to pyproject's [test] extras",
            pytrace=False,
        )
