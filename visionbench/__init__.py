"""visionbench: dataset-and-evaluation benchmark suite for vision and vision-language models."""

from __future__ import annotations

__version__ = "0.1.0"
