"""Protocols: the official way each benchmark is scored (see :mod:`.base`).

``protocols`` is the registry of protocol classes by name; :func:`get_protocol` builds
one; :func:`dataset_protocol` builds the protocol a dataset declares (its ``protocol``
attribute, else its catalog entry, else the task's default), with the dataset's option
defaults and the user's options (``-M KEY=VALUE``) validated on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visionbench.errors import RegistryError
from visionbench.protocols.base import UNITS, Draws, MetricInfo, PerClass, Protocol, Scorer
from visionbench.protocols.options import (
    Option,
    OptionError,
    parse_key_values,
    validate_options,
)
from visionbench.registry import Registry

__all__ = [
    "UNITS",
    "Draws",
    "MetricInfo",
    "Option",
    "OptionError",
    "PerClass",
    "Protocol",
    "Scorer",
    "dataset_protocol",
    "dataset_protocol_name",
    "get_protocol",
    "get_protocol_class",
    "protocol_requirements",
    "parse_key_values",
    "protocols",
    "validate_options",
]

protocols = Registry(
    "protocol", builtin="visionbench.protocols.catalog:PROTOCOLS", group="visionbench.protocols"
)


def get_protocol_class(name: str) -> type[Protocol]:
    cls = protocols.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        raise RegistryError(
            f"protocol {name!r} ({protocols.entry(name).target}) is not a Protocol class"
        )
    return cls


def get_protocol(
    name: str,
    label_space: Any,
    options: Mapping[str, Any] | None = None,
    *,
    dataset: Any = None,
    defaults: Mapping[str, Any] | None = None,
) -> Protocol:
    """Protocol ``name`` for ``label_space`` with validated ``options``."""
    return get_protocol_class(name)(label_space, options, dataset=dataset, defaults=defaults)


def dataset_protocol_name(dataset: Any) -> tuple[str, dict[str, Any]]:
    """``(protocol name, option defaults)`` a dataset declares: its ``protocol`` /
    ``protocol_options`` attributes win over its catalog entry; a dataset with neither
    gets its task's default protocol."""
    from visionbench.protocols.catalog import DEFAULT_BY_TASK
    from visionbench.registry import datasets

    name = getattr(dataset, "protocol", None)
    defaults: dict[str, Any] = {}
    ds_name = getattr(dataset, "name", None)
    info: Mapping[str, Any] = {}
    if isinstance(ds_name, str) and ds_name in datasets:
        info = datasets.entry(ds_name).info
    if name is None:
        name = info.get("protocol")
        defaults.update(info.get("protocol_options") or {})
    defaults.update(getattr(dataset, "protocol_options", None) or {})
    task = getattr(dataset.task, "value", dataset.task)
    if name is not None and getattr(dataset, "protocol", None) is None:
        # a dataset option may change the task (vg target=regions: captions)
        entry_task = protocols.entry(str(name)).info.get("task") if str(name) in protocols else None
        if entry_task is not None and entry_task != task:
            name, defaults = None, dict(getattr(dataset, "protocol_options", None) or {})
    if name is None:
        name = DEFAULT_BY_TASK[task]
    return str(name), defaults


def protocol_requirements(dataset_name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dataset options the catalog protocol of ``dataset_name`` needs with these metric
    options (COCO ``iou_type=segm`` needs ``masks=True``), before the dataset is built."""
    from visionbench.registry import datasets

    info = datasets.entry(dataset_name).info
    name = info.get("protocol")
    if name is None:
        return {}
    cls = get_protocol_class(str(name))
    opts = validate_options(
        cls.options, options, where=f"metric option of {cls.name!r}",
        defaults=info.get("protocol_options"),
    )  # fmt: skip
    return cls.dataset_requirements(opts)


def dataset_protocol(dataset: Any, options: Mapping[str, Any] | None = None) -> Protocol:
    """The protocol ``dataset`` declares, built with ``options`` over its defaults."""
    name, defaults = dataset_protocol_name(dataset)
    return get_protocol(name, dataset.label_space, options, dataset=dataset, defaults=defaults)
