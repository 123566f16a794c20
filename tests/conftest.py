"""Keep tests out of the user's cache: without VISIONBENCH_HOME, use a session temp dir."""

from __future__ import annotations

import os
import tempfile

if not os.environ.get("VISIONBENCH_HOME"):
    os.environ["VISIONBENCH_HOME"] = tempfile.mkdtemp(prefix="visionbench-tests-")
