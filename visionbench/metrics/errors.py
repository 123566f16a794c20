"""Errors raised by the metrics core.

The metrics core imports nothing from the rest of visionbench, so its one exception type
lives here; :mod:`visionbench.errors` re-exports it so that callers catch one family.
"""

from __future__ import annotations


class MetricInputError(ValueError):
    """Input to a metric is malformed: wrong shape, NaN, unknown id, mismatched lengths.

    The message names the argument (and the image / annotation id when there is one),
    what was expected and what arrived.
    """


class MetricUnavailableError(MetricInputError):
    """A metric needs something this machine lacks (a Java runtime, a jar, model files).

    The message says what is missing and where to put it; nothing is downloaded.
    """
