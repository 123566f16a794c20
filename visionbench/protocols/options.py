"""Declared, typed options of a protocol: :mod:`visionbench.options` (a contract, so that
loaders can declare their dataset options with the same type)."""

from __future__ import annotations

from visionbench.options import (
    Option,
    OptionError,
    format_options,
    parse_key_values,
    unknown_key_message,
    validate_options,
)

__all__ = [
    "Option",
    "OptionError",
    "format_options",
    "parse_key_values",
    "unknown_key_message",
    "validate_options",
]
