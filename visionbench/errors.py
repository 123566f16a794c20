"""The project's exceptions, in one place.

Every error a user can cause (bad data, bad arguments, missing files) is a
:class:`VisionbenchError` or a :class:`~visionbench.metrics.errors.MetricInputError`; the
CLI prints them as one line and exits with code 2 (``--debug`` shows the traceback).
Messages name the file, the field, the id and what was expected.

``MetricInputError`` is defined by the metrics core (which imports nothing of the rest of
the package) and re-exported here on first access, together with :data:`USER_ERRORS`:
importing a contract (this module, ``types``, ``tasks``, ...) does not import the metrics
package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from visionbench.metrics.errors import MetricInputError

__all__ = [
    "VisionbenchError",
    "MetricInputError",
    "ContractError",
    "AnnotationError",
    "DatasetNotFoundError",
    "RegistryError",
    "LabelSpaceError",
    "WeightsError",
    "RunError",
    "RunInterrupted",
    "USER_ERRORS",
]


class VisionbenchError(Exception):
    """Base class of visionbench's own errors."""


class ContractError(VisionbenchError, ValueError):
    """A sample, target or prediction does not match its task's contract."""


class AnnotationError(VisionbenchError, ValueError):
    """An annotation file is malformed. The message names the file, field and id."""

    def __init__(
        self, message: str, *, path: str | None = None, field: str | None = None, id: object = None
    ) -> None:
        parts = [message]
        where = ", ".join(
            f"{k}={v}" for k, v in (("file", path), ("field", field), ("id", id)) if v is not None
        )
        if where:
            parts.append(f"({where})")
        super().__init__(" ".join(parts))
        self.path, self.field, self.id = path, field, id


class DatasetNotFoundError(VisionbenchError, FileNotFoundError):
    """A dataset is not where we looked; the message says where, and what layout we expect."""


class RegistryError(VisionbenchError, KeyError):
    """Unknown or duplicate registry name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class LabelSpaceError(VisionbenchError, ValueError):
    """Two label spaces do not match and no explicit map between them exists."""


class WeightsError(VisionbenchError, ValueError):
    """Weights are missing, truncated, corrupt, have a wrong checksum, or do not fit."""


class RunError(VisionbenchError, RuntimeError):
    """A run cannot start or continue (bad options, incompatible resume, ...)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run, after the predictions made so far were saved.

    Attributes:
        saved: number of predictions in the prediction cache (this rank).
        where: the prediction cache folder.
    """

    def __init__(self, saved: int, where: str) -> None:
        super().__init__(f"interrupted; {saved} predictions saved in {where}")
        self.saved, self.where = saved, where


#: What the CLI reports as a one-line message rather than a traceback:
#: ``(VisionbenchError, MetricInputError)`` (resolved on first access, see the module doc).
USER_ERRORS: tuple[type[BaseException], ...]


def __getattr__(name: str) -> Any:
    if name in ("MetricInputError", "USER_ERRORS"):
        from visionbench.metrics.errors import MetricInputError

        globals()["MetricInputError"] = MetricInputError
        globals()["USER_ERRORS"] = (VisionbenchError, MetricInputError)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
