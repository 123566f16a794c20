"""Build a registered dataset from its name and typed, validated options (``-D KEY=VALUE``).

A catalog entry declares its factory's options (:class:`~visionbench.options.Option`);
a plug-in dataset without declarations gets them from its factory's signature. Unknown
keys are one-line errors that list the valid keys (with a did-you-mean).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visionbench.options import Option, parse_given

__all__ = ["dataset_options", "build_dataset", "signature_options", "LENIENT_OPTIONS"]

#: Options that ``--lenient`` turns on where a dataset declares them.
LENIENT_OPTIONS = ("drop_dangling", "drop_unpaired")


def dataset_options(name: str) -> tuple[Option, ...]:
    """The declared options of dataset ``name`` (catalog ``options``, else the factory's
    keyword parameters)."""
    from visionbench.registry import datasets

    info = datasets.entry(name).info
    if "options" in info:
        return tuple(info["options"])
    return signature_options(datasets.get(name))


def build_dataset(
    name: str,
    root: str | Path | None = None,
    split: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    lenient: bool = False,
    requirements: Mapping[str, Any] | None = None,
) -> Any:
    """The dataset ``name`` built with validated ``options``.

    Args:
        options: user options (typed values or CLI strings); only these are passed, so the
            factory keeps its own defaults.
        lenient: turn on :data:`LENIENT_OPTIONS` the dataset declares.
        requirements: options the scoring protocol needs (``masks=True`` for COCO segm),
            applied where declared and not given by the user.
    """
    from visionbench.registry import datasets

    factory = datasets.get(name)
    declared = dataset_options(name)
    kw = parse_given(declared, options, where=f"dataset option of {name!r}")
    names = {o.name for o in declared}
    if lenient:
        for k in LENIENT_OPTIONS:
            if k in names:
                kw.setdefault(k, True)
    for k, v in (requirements or {}).items():
        if k in names:
            kw.setdefault(k, v)
    default_split = datasets.entry(name).info.get("split", "val")
    built = factory(root=None if root is None else str(root), split=split or default_split, **kw)
    return datasets.check(built, name)


def signature_options(factory: Any) -> tuple[Option, ...]:
    """Options read off a factory's keyword parameters (kind from the annotation or the
    default), for plug-ins that declare none."""
    out = []
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return ()
    for p in params:
        if p.name in ("root", "split") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is p.empty else p.default
        out.append(Option(p.name, _kind(p.annotation, default), default, "(undocumented)",
                          nullable=default is None))  # fmt: skip
    return tuple(out)


def _kind(annotation: Any, default: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for kind, keys in (("bool", ("bool",)), ("int", ("int",)), ("float", ("float",)),
                       ("path", ("Path",))):  # fmt: skip
        if any(text.startswith(k) for k in keys):
            return kind
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "str"
