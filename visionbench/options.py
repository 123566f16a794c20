"""Declared, typed options: what a protocol, a dataset or a model accepts, parsed and validated.

An :class:`Option` has a name, a kind (``bool``, ``int``, ``float``, ``str``, ``path``,
``ints``, ``floats``), a default, a help line and optional choices. :func:`validate_options`
turns user values (Python values, or the strings of ``-M KEY=VALUE`` on the command line)
into a complete, typed dict; an unknown key is a one-line :class:`OptionError` that lists
the valid keys with a did-you-mean.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from visionbench.errors import VisionbenchError

__all__ = [
    "Option",
    "OptionError",
    "validate_options",
    "parse_given",
    "parse_key_values",
    "format_options",
]

KINDS = ("bool", "int", "float", "str", "path", "ints", "floats")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


class OptionError(VisionbenchError, ValueError):
    """An option key is unknown or its value does not parse to the declared type."""


@dataclass(frozen=True)
class Option:
    """One declared option.

    Attributes:
        name: the key (``iou_type``); on the CLI ``-M iou_type=segm``.
        kind: ``bool``, ``int``, ``float``, ``str``, ``path``, ``ints`` (comma-separated
            integers, e.g. ``topk=1,5``) or ``floats``.
        default: the value when not given (None allowed: "not set").
        help: one line for ``bench describe``.
        choices: allowed values (after parsing), or None.
        nullable: the strings ``none`` / ``null`` mean None ("not set").
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"option {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )

    def parse(self, value: Any, *, where: str = "option") -> Any:
        """``value`` (a Python value or a CLI string) as this option's type."""
        if value is None or (
            self.nullable and isinstance(value, str) and value.strip().lower() in ("none", "null")
        ):
            return None
        try:
            out = _PARSERS[self.kind](value)
        except (TypeError, ValueError) as e:
            raise OptionError(
                f"{where} {self.name}={value!r}: expected {self.kind} ({e})"
                if str(e)
                else f"{where} {self.name}={value!r}: expected {self.kind}"
            ) from None
        if self.choices is not None and out not in self.choices:
            close = difflib.get_close_matches(str(out), [str(c) for c in self.choices], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(
                f"{where} {self.name}={value!r}: expected one of "
                f"{', '.join(str(c) for c in self.choices)}{hint}"
            )
        return out

    def describe(self) -> str:
        """``name (kind, default X[, one of a|b]): help``."""
        extra = f", one of {'|'.join(str(c) for c in self.choices)}" if self.choices else ""
        return f"{self.name} ({self.kind}, default {_show(self.default)}{extra}): {self.help}"


def validate_options(
    declared: Sequence[Option],
    given: Mapping[str, Any] | None,
    *,
    where: str = "option",
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The complete typed option dict: ``defaults`` (e.g. a catalog entry's), then ``given``.

    Raises:
        OptionError: an unknown key (one line: the valid keys and a did-you-mean), or a
            value that does not parse.
    """
    by_name = {o.name: o for o in declared}
    out = {o.name: o.default for o in declared}
    for source in (defaults or {}, given or {}):
        for key, value in source.items():
            if key not in by_name:
                raise OptionError(unknown_key_message(key, by_name, where))
            out[key] = by_name[key].parse(value, where=where)
    return out


def unknown_key_message(key: str, valid: Iterable[str], where: str) -> str:
    names = sorted(valid)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}: unknown key {key!r}{hint} valid: {', '.join(names) if names else '(none)'}"


def parse_key_values(items: Sequence[str] | None, *, flag: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` (repeated ``--flag KEY=VALUE``) -> ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise OptionError(f"{flag} {item!r}: expected KEY=VALUE")
        if key in out:
            raise OptionError(f"{flag} {key!r} given twice")
        out[key] = value
    return out


def parse_given(
    declared: Sequence[Option], given: Mapping[str, Any] | None, *, where: str = "option"
) -> dict[str, Any]:
    """Only the ``given`` keys, typed and validated (the callee keeps its own defaults)."""
    by_name = {o.name: o for o in declared}
    out: dict[str, Any] = {}
    for key, value in (given or {}).items():
        if key not in by_name:
            raise OptionError(unknown_key_message(key, by_name, where))
        out[key] = by_name[key].parse(value, where=where)
    return out


def format_options(declared: Sequence[Option]) -> list[str]:
    """One ``describe()`` line per option."""
    return [o.describe() for o in declared]


# ---------------------------------------------------------------------------------------


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError("true/false, yes/no, 1/0")


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("an integer, not a bool")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("an integer")
        return int(v)
    return int(str(v).strip()) if isinstance(v, str) else int(v)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("a number, not a bool")
    return float(v)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("a string")
    return v


def _seq(v: Any, item: Any) -> tuple[Any, ...]:
    if isinstance(v, str):
        parts = [p for p in v.replace(" ", "").split(",") if p]
        return tuple(item(p) for p in parts)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (item(v),)
    return tuple(item(x) for x in v)


_PARSERS = {
    "bool": _bool,
    "int": _int,
    "float": _float,
    "str": _str,
    "path": lambda v: str(v),
    "ints": lambda v: _seq(v, _int),
    "floats": lambda v: _seq(v, _float),
}


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(str(x) for x in v)
    return repr(v) if isinstance(v, str) else str(v)
