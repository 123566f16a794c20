"""visionbench.metrics: the metrics core, numpy in, numbers out.

Imports nothing from the rest of visionbench and never imports torch.
"""

from __future__ import annotations

from visionbench.metrics.base import Evaluator, MetricResult
from visionbench.metrics.errors import MetricInputError

__all__ = ["Evaluator", "MetricResult", "MetricInputError"]
