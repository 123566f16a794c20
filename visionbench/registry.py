"""One generic registry of lazily imported objects.

An entry is a name and a ``"module:attr"`` string; nothing is imported until the entry is
resolved. Built-in entries are explicit tables (``visionbench/models/catalog.py``,
``visionbench/loaders/catalog.py``, ``visionbench/metrics/catalog.py``) — registration is never
an import side effect. Third-party packages add entries through the entry-point groups
``visionbench.models`` and ``visionbench.datasets``::

    [project.entry-points."visionbench.models"]
    my_net = "mypkg.models:build_my_net"

Unknown names raise :class:`~visionbench.errors.RegistryError` that suggests the closest
names and lists what exists; registering a name twice is an error. What an entry builds is
checked against the kind's base protocol (models: :class:`visionbench.tasks.Model`,
datasets: :class:`visionbench.tasks.Dataset`) by :meth:`Registry.build`, so a factory that
returns something else stops with one line naming the entry and the missing members.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from visionbench.errors import RegistryError

__all__ = [
    "Entry",
    "Registry",
    "import_object",
    "protocol_members",
    "missing_members",
    "check_protocol",
    "models",
    "datasets",
    "metrics",
]


@dataclass(frozen=True)
class Entry:
    """A registry entry: ``target`` is ``"module:attr"``; ``info`` is free metadata
    (task, label space, description) shown by ``bench list``."""

    name: str
    target: str
    info: Mapping[str, Any]
    origin: str = "builtin"


def import_object(target: str, *, what: str = "object") -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(f"{what} {target!r} is not of the form 'package.module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        raise RegistryError(
            f"cannot import module {module_name!r} for {what} {target!r}: {e}"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistryError(
                f"module {module_name!r} has no attribute {attr!r} (for {what} {target!r})"
            ) from None
    return obj


#: Special methods a protocol may declare (other underscore names are typing's own).
_PROTOCOL_DUNDERS = ("__len__", "__getitem__", "__iter__", "__contains__", "__call__")


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The attributes and methods ``protocol`` (a ``typing.Protocol``) declares, in
    declaration order, bases first."""
    names: dict[str, None] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        if klass.__module__ == "typing":
            continue
        for n in getattr(klass, "__annotations__", {}):
            names.setdefault(n)
        for n, v in vars(klass).items():
            if callable(v) and (not n.startswith("_") or n in _PROTOCOL_DUNDERS):
                names.setdefault(n)
    return tuple(names)


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (a declared method that ``obj`` has
    but cannot call counts as missing)."""
    out = []
    for n in protocol_members(protocol):
        is_method = callable(getattr(protocol, n, None))
        if not hasattr(obj, n) or (is_method and not callable(getattr(obj, n, None))):
            out.append(n)
    return out


def check_protocol(
    obj: Any, protocol: type, *, what: str, error: type[Exception] = RegistryError
) -> Any:
    """``obj`` when it has every member of ``protocol``; else a one-line ``error``:
    ``<what> is a <type>, not a visionbench <Protocol> (missing: ...; see <protocol>)``."""
    missing = missing_members(obj, protocol)
    if missing:
        raise error(
            f"{what} is {_a(type(obj).__name__)}, not a visionbench {protocol.__name__} "
            f"(missing: {', '.join(missing)}; see {protocol.__module__}.{protocol.__qualname__})"
        )
    return obj


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


class Registry:
    """Named lazy entries of one kind (models, datasets, metrics)."""

    def __init__(
        self,
        kind: str,
        *,
        builtin: str | None = None,
        group: str | None = None,
        prefixes: str | None = None,
        user_targets: bool = False,
        base: str | None = None,
    ) -> None:
        """Args:
        kind: what the entries are, for messages ("model", "dataset").
        builtin: ``"module:TABLE"`` of a dict name -> (target, info) loaded on first use.
        group: entry-point group of third-party plug-ins.
        prefixes: ``"module:TABLE"`` of a dict prefix -> (target, info): a name
            ``<prefix><spec>`` resolves to ``target`` with ``spec`` as first argument
            (``hf:PATH`` -> ``hf_dataset("PATH", ...)``).
        user_targets: a name ``pkg.module:attr`` that is neither registered nor prefixed
            resolves to that object (a user's dataset factory).
        base: ``"module:Protocol"`` that what an entry builds must satisfy
            (:meth:`build`, :meth:`check`); imported on first check.
        """
        self._user_targets = user_targets
        self.kind = kind
        self._builtin = builtin
        self._group = group
        self._prefix_table = prefixes
        self._base = base
        self._prefixes: dict[str, tuple[str, dict[str, Any]]] | None = None
        self._entries: dict[str, Entry] | None = None
        self._builtins: dict[str, Entry] | None = None

    # -- registration -------------------------------------------------------------------

    def register(self, name: str, target: str, *, origin: str = "user", **info: Any) -> None:
        """Add an entry; a name that exists already is an error."""
        entries = self._load()
        if name in entries:
            raise RegistryError(
                f"{self.kind} {name!r} is already registered (by {entries[name].origin}: "
                f"{entries[name].target}); choose another name"
            )
        if ":" not in target:
            raise RegistryError(f"{self.kind} {name!r}: target {target!r} is not 'module:attr'")
        entries[name] = Entry(name, target, dict(info), origin)

    # -- lookup -------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._load() or (isinstance(name, str) and self._prefix(name) is not None)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._load().values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._load())

    def names(self) -> list[str]:
        return sorted(self._load())

    def entry(self, name: str) -> Entry:
        """The entry of ``name``, or a RegistryError with suggestions.

        A built-in name resolves without scanning the installed packages' entry points
        (``importlib.metadata``: ~40 ms of every ``bench`` call); a plug-in of the same
        name is reported by any listing and by names that are not built in."""
        builtin = self._builtin_entries()
        if name in builtin and (self._entries is None or name in self._entries):
            return (self._entries or builtin)[name]
        entries = self._load()
        if name in entries:
            return entries[name]
        pre = self._prefix(name)
        if pre is not None:
            target, info = self._prefixes[pre]  # type: ignore[index]
            return Entry(name, target, dict(info), "builtin")
        if self._user_targets and ":" in name:
            return Entry(name, name, {}, "user")
        close = difflib.get_close_matches(name, list(entries), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise RegistryError(
            f"unknown {self.kind} {name!r}{hint}; available: {', '.join(sorted(entries)) or '(none)'}"
        )

    def get(self, name: str) -> Any:
        """Resolve ``name`` to the object its target names (imports it now)."""
        e = self.entry(name)
        obj = import_object(e.target, what=f"{self.kind} {name!r}")
        known = name in self._builtin_entries() or name in self._load()
        pre = self._prefix(name) if not known else None
        if pre is not None:
            import functools

            return functools.partial(obj, name[len(pre) :])
        return obj

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Resolve ``name``, call its factory with ``args`` / ``kwargs`` and :meth:`check`
        what it returns."""
        return self.check(self.get(name)(*args, **kwargs), name)

    def check(self, obj: Any, name: str) -> Any:
        """``obj`` (what entry ``name`` built) when it satisfies the base protocol (or there
        is none), else a one-line :class:`RegistryError` naming the entry and its target."""
        if self._base is None:
            return obj
        protocol = import_object(self._base, what=f"{self.kind} base protocol")
        try:
            target = self.entry(name).target
        except RegistryError:
            target = name
        where = f" (factory {target})" if target != name else ""
        return check_protocol(obj, protocol, what=f"{self.kind} {name!r}{where}")

    def _prefix(self, name: str) -> str | None:
        """The registered prefix ``name`` starts with (and has more after), or None."""
        if self._prefixes is None:
            self._prefixes = (
                dict(import_object(self._prefix_table, what=f"{self.kind} prefixes"))
                if self._prefix_table
                else {}
            )
        for pre in self._prefixes:
            if name.startswith(pre) and len(name) > len(pre):
                return pre
        return None

    # -- internals ----------------------------------------------------------------------

    def _builtin_entries(self) -> dict[str, Entry]:
        if self._builtins is None:
            out: dict[str, Entry] = {}
            if self._builtin:
                table = import_object(self._builtin, what=f"{self.kind} table")
                for name, (target, info) in table.items():
                    out[name] = Entry(name, target, dict(info), "builtin")
            self._builtins = out
        return self._builtins

    def _load(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, Entry] = dict(self._builtin_entries())
        if self._group:
            from importlib.metadata import entry_points

            for ep in entry_points(group=self._group):
                if ep.name in entries:
                    raise RegistryError(
                        f"{self.kind} {ep.name!r} from plug-in {ep.value!r} clashes with "
                        f"{entries[ep.name].origin} entry {entries[ep.name].target!r}"
                    )
                dist = getattr(ep, "dist", None)
                entries[ep.name] = Entry(
                    ep.name, ep.value, {}, f"plug-in {dist.name if dist else ep.value}"
                )
        self._entries = entries
        return entries


models = Registry(
    "model",
    builtin="visionbench.models.catalog:MODELS",
    group="visionbench.models",
    base="visionbench.tasks:Model",
)
datasets = Registry(
    "dataset",
    builtin="visionbench.loaders.catalog:DATASETS",
    group="visionbench.datasets",
    prefixes="visionbench.loaders.catalog:PREFIXES",
    user_targets=True,
    base="visionbench.tasks:Dataset",
)
metrics = Registry("metric", builtin="visionbench.metrics.catalog:METRICS")
