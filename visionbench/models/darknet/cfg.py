"""Darknet ``.cfg`` files: the parser and the cfgs shipped with the package.

A cfg is an INI-like file of repeated sections (REFERENCE.md §6): a ``[net]`` header
followed by one section per layer, in order. Layers are numbered 0.. after ``[net]``;
``[route] layers=-1, 61`` and ``[shortcut] from=-3`` refer to them relatively (negative)
or absolutely (0-based). :class:`~visionbench.models.darknet.network.Darknet` builds a
network from the parsed sections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from visionbench.errors import VisionbenchError

__all__ = ["CfgSection", "DarknetCfgError", "parse_cfg", "packaged_cfg"]


class DarknetCfgError(VisionbenchError, ValueError):
    """A darknet cfg is malformed or uses something the builder does not support."""


@dataclass
class CfgSection:
    """One ``[type]`` section of a cfg.

    Attributes:
        type: the section name without brackets, lower-case (``"convolutional"``).
        options: ``key -> raw string value`` in file order.
        line: 1-based line number of the ``[type]`` header, for messages.
        source: the file (or ``"<string>"``) it came from.
    """

    type: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0
    source: str = "<string>"

    def where(self) -> str:
        return f"{self.source}:{self.line} [{self.type}]"

    def get_int(self, key: str, default: int | None = None) -> int:
        return int(self._get(key, default, int))

    def get_float(self, key: str, default: float | None = None) -> float:
        return float(self._get(key, default, float))

    def get_str(self, key: str, default: str | None = None) -> str:
        return str(self._get(key, default, str))

    def get_ints(self, key: str, default: list[int] | None = None) -> list[int]:
        """A comma-separated list of ints (``anchors = 10,13,  16,30``)."""
        if key not in self.options:
            if default is None:
                raise DarknetCfgError(f"{self.where()}: missing required option {key!r}")
            return list(default)
        raw = self.options[key]
        try:
            return [int(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            raise DarknetCfgError(
                f"{self.where()}: option {key!r} must be a comma-separated list of integers, "
                f"got {raw!r}"
            ) from None

    def _get(self, key: str, default: object, kind: type) -> object:
        if key not in self.options:
            if default is None:
                raise DarknetCfgError(f"{self.where()}: missing required option {key!r}")
            return default
        raw = self.options[key]
        try:
            return kind(raw)
        except ValueError:
            raise DarknetCfgError(
                f"{self.where()}: option {key!r} must be {kind.__name__}, got {raw!r}"
            ) from None


_SECTION = re.compile(r"^\[([A-Za-z_0-9]+)\]$")


def parse_cfg(path: str | Path | None = None, *, text: str | None = None) -> list[CfgSection]:
    """Parse a darknet cfg into its sections, in file order (repeated sections kept).

    Comments start with ``#`` or ``;``; blank lines are ignored; whitespace around keys and
    values is stripped (``mask = 6,7,8``). The first section must be ``[net]`` or
    ``[network]``.

    Args:
        path: the cfg file. Exactly one of ``path`` and ``text`` is given.
        text: the cfg contents.

    Raises:
        DarknetCfgError: naming the file and line of a malformed line.
    """
    if (path is None) == (text is None):
        raise ValueError("give exactly one of `path` and `text`")
    source = "<string>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DarknetCfgError(f"darknet cfg not found: {source}") from None
    assert text is not None
    sections: list[CfgSection] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        m = _SECTION.match(line)
        if m:
            sections.append(CfgSection(m.group(1).lower(), {}, lineno, source))
            continue
        if "=" not in line:
            raise DarknetCfgError(
                f"{source}:{lineno}: expected `[section]` or `key=value`, got {raw!r}"
            )
        if not sections:
            raise DarknetCfgError(f"{source}:{lineno}: option {raw.strip()!r} before any [section]")
        key, value = (s.strip() for s in line.split("=", 1))
        sections[-1].options[key] = value
    if not sections or sections[0].type not in ("net", "network"):
        first = sections[0].type if sections else "nothing"
        raise DarknetCfgError(f"{source}: a darknet cfg starts with [net], found {first}")
    return sections


def packaged_cfg(name: str) -> Path:
    """Path of a cfg shipped in ``visionbench/models/cfg/`` (``"yolov3"``, ``"yolov3-tiny"``)."""
    ref = resources.files("visionbench.models").joinpath("cfg", f"{name}.cfg")
    path = Path(str(ref))
    if not path.is_file():
        raise DarknetCfgError(f"no packaged darknet cfg {name!r} (looked for {path})")
    return path
