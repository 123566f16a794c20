"""The one weights loader of every model family: finding, downloading, verifying, loading.

``--weights`` takes ``random`` (:data:`~visionbench.types.RANDOM_WEIGHTS`: a random init),
a local path, a file name in the weights cache directory, or an ``http(s)://`` /
``file://`` URL, optionally followed by ``#sha256=<hex>`` (the full digest or a prefix of
at least 8 characters; pip's spelling). URLs are downloaded into the cache with a progress
bar, resumed with an HTTP ``Range`` request when a previous download was interrupted (the
partial file is kept as ``<name>.part``), and every kind of file is checked against the
sha256 when one is given.

:func:`load_weights` loads the file into a module, dispatching on its format: a PyTorch
state dict (``torch.load(weights_only=True)`` only: a checkpoint that needs arbitrary
pickled objects is refused; keys and shapes are checked before anything is copied) or,
for the families that accept it, a darknet ``.weights`` file
(:mod:`visionbench.models.darknet.weights`). It returns the run record's description of
the weights. :func:`default_weights` supplies a family's default file from the cache when
no ``--weights`` is given, or stops: no model runs on random weights without being asked.

Cache directory: ``cache_dir`` argument, else ``$VISIONBENCH_WEIGHTS``, else
``$VISIONBENCH_HOME/weights``, else ``~/.cache/visionbench/weights``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import torch
from torch import nn

from visionbench.errors import WeightsError
from visionbench.types import RANDOM_WEIGHTS

__all__ = [
    "RANDOM_INIT_SOURCE",
    "TORCH",
    "DARKNET",
    "default_cache_dir",
    "is_random",
    "random_init_info",
    "split_sha256",
    "resolve_weights",
    "weights_format",
    "load_weights",
    "default_weights",
    "shipped_weights",
    "sha256_file",
    "load_state_dict_file",
    "load_into",
    "find_default_weights",
    "no_weights_hint",
]

_CHUNK = 1 << 20
_CONTAINER_KEYS = ("state_dict", "model_state", "model_state_dict", "model", "ema")

#: ``model.weights.source`` of a randomly initialised model in the run record.
RANDOM_INIT_SOURCE = "random-init"
#: Spellings of ``--weights`` that ask for a random init (compared case-insensitively).
_RANDOM_SPELLINGS = (RANDOM_WEIGHTS, "none")

#: Weight file formats :func:`load_weights` reads.
TORCH = "torch"
DARKNET = "darknet"

_SHA_MARK = "#sha256="


def default_cache_dir() -> Path:
    """``$VISIONBENCH_WEIGHTS``, else ``$VISIONBENCH_HOME/weights``, else
    ``~/.cache/visionbench/weights`` (:func:`visionbench.paths.weights_dir`)."""
    from visionbench.paths import weights_dir

    return weights_dir()


def is_random(spec: str | Path | None) -> bool:
    """Whether ``spec`` asks for a random init (``random`` or ``none``, any case)."""
    return spec is not None and str(spec).strip().lower() in _RANDOM_SPELLINGS


def random_init_info(**extra: Any) -> dict[str, Any]:
    """The run record's description of a random init (plus ``extra`` fields: a seed, a note)."""
    return {"name": RANDOM_WEIGHTS, "source": RANDOM_INIT_SOURCE, **extra}


def split_sha256(spec: str) -> tuple[str, str | None]:
    """``"URL-or-path#sha256=HEX"`` -> ``("URL-or-path", "HEX")``; no digest: ``(spec, None)``."""
    head, mark, digest = spec.rpartition(_SHA_MARK)
    return (head, digest) if mark else (spec, None)


def resolve_weights(
    spec: str,
    *,
    sha256: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """The local file that ``spec`` names, downloading it if it is a URL.

    Args:
        spec: a path, a file name inside ``cache_dir``, or an ``http(s)://`` / ``file://`` URL,
            optionally ending in ``#sha256=<hex>``.
        sha256: expected hex digest (the full 64 characters, or a prefix of at least 8);
            checked for every kind of ``spec``. Overrides a digest in ``spec``.
        cache_dir: where URLs are downloaded to and bare names are looked up.
        progress: show a rich progress bar while downloading.
        timeout: socket timeout in seconds.

    Returns:
        The path of the verified file.

    Raises:
        WeightsError: missing file, interrupted or truncated download (run again to resume),
            HTTP error, or checksum mismatch.
    """
    return _resolve(spec, sha256, cache_dir, progress, timeout)[0]


def _resolve(
    spec: str,
    sha256: str | None,
    cache_dir: str | Path | None,
    progress: bool,
    timeout: float,
) -> tuple[Path, str | None]:
    """:func:`resolve_weights`, also returning the file's sha256 when it was computed."""
    spec, digest = split_sha256(str(spec))
    sha256 = sha256 if sha256 is not None else digest
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if sha256 is not None and (
        len(sha256) < 8 or any(c not in "0123456789abcdef" for c in sha256.lower())
    ):
        raise WeightsError(
            f"sha256 {sha256!r} of weights {spec!r} is not a hex digest (or a prefix of >= 8 "
            "characters)"
        )
    parsed = urlparse(spec)
    if parsed.scheme in ("http", "https"):
        name = Path(unquote(parsed.path)).name or "weights"
        dest = cache / name
        if not dest.exists():
            _download(spec, dest, progress=progress, timeout=timeout)
            part = dest.with_name(dest.name + ".part")
            try:
                got = _check_sha256(part, sha256, spec)
            except WeightsError:
                part.unlink(missing_ok=True)
                raise
            os.replace(part, dest)
            return dest, got
        return dest, _check_sha256(dest, sha256, spec)
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(spec).expanduser()
    candidates = [path] if path.is_absolute() or parsed.scheme == "file" else [path, cache / path]
    for p in candidates:
        if p.is_file():
            return p, _check_sha256(p, sha256, spec)
    looked = ", ".join(str(p.resolve()) for p in candidates)
    raise WeightsError(
        f"weights file {spec!r} not found (looked at: {looked}); {no_weights_hint()}"
    )


def weights_format(path: str | Path, formats: Sequence[str] = (TORCH,)) -> str:
    """The format of a weights file among those a family accepts.

    A ``torch.save`` file (a zip archive, or a legacy pickle stream) or a ``.pt``/``.pth``
    name is :data:`TORCH`; any other file is :data:`DARKNET` when the family accepts it
    (darknet's ``.weights`` carry no magic number), else :data:`TORCH` (whose reader then
    says why the file cannot be read).
    """
    p = Path(path)
    if DARKNET in formats and p.suffix.lower() not in (".pt", ".pth"):
        with open(p, "rb") as f:
            head = f.read(4)
        if not (head.startswith(b"PK\x03\x04") or _is_pickle_head(head)):
            return DARKNET
    return TORCH


def load_weights(
    module: nn.Module,
    spec: str | Path,
    *,
    formats: Sequence[str] = (TORCH,),
    sha256: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    random_info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load the weights ``spec`` names into ``module`` in place; the run record's description.

    Args:
        module: the freshly built network.
        spec: ``random`` (keep the module's initialisation), or a path / cache name / URL,
            optionally ``#sha256=<hex>`` (see :func:`resolve_weights`).
        formats: the formats this family reads (:data:`TORCH`, :data:`DARKNET`).
        sha256: expected digest (instead of one in ``spec``).
        cache_dir: the weights cache (default :func:`default_cache_dir`).
        progress: show a progress bar while downloading.
        random_info: extra fields of the description of a random init (a seed, a note).

    Returns:
        ``random_init_info(...)`` for a random init, else ``{"name": spec, "path",
        "sha256", "format"}`` (darknet files add their ``version`` and ``seen``).

    Raises:
        WeightsError: one line naming the file: not found, checksum mismatch, unreadable,
            keys or shapes that do not fit the module, a darknet file of the wrong size.
    """
    spec = str(spec)
    if is_random(spec):
        return random_init_info(**(random_info or {}))
    name, digest = split_sha256(spec)
    path, got = _resolve(name, sha256 if sha256 is not None else digest, cache_dir, progress, 30.0)
    fmt = weights_format(path, formats)
    info: dict[str, Any] = {"name": name, "path": str(path)}
    if fmt == DARKNET:
        from visionbench.models.darknet.weights import load_darknet_weights

        header = load_darknet_weights(module, path)
        extra: dict[str, Any] = {"version": header.version, "seen": header.seen}
    else:
        load_into(module, load_state_dict_file(path), source=f"weights file {path}")
        extra = {}
    return {**info, "sha256": got or sha256_file(path), "format": fmt, **extra}


def default_weights(model: str, weights: str | Path | None, filenames: Sequence[str]) -> str:
    """``weights`` as given, or (``None``) the first of ``filenames`` found in the weights
    cache; call it before building the network, so that a refusal costs nothing.

    Raises:
        WeightsError: ``weights`` is None and no default file is there
            (:func:`find_default_weights`).
    """
    if weights is not None:
        return str(weights)
    return str(find_default_weights(model, list(filenames)))


def shipped_weights(model: str, weights: str | Path | None, filename: str, *, maker: str) -> str:
    """``weights`` as given, or (``None``) ``filename`` shipped in
    ``visionbench/models/weights/`` (the demo models' files).

    Raises:
        WeightsError: ``weights`` is None and the shipped file is missing; the message says
            how to make it (``maker``, a command line).
    """
    if weights is not None:
        return str(weights)
    path = Path(str(resources.files("visionbench.models").joinpath("weights", filename)))
    if not path.is_file():
        raise WeightsError(
            f"{model}: its shipped weights {path} are missing (make them with `{maker}`); "
            f"{no_weights_hint()}"
        )
    return str(path)


def find_default_weights(model: str, filenames: list[str]) -> Path:
    """The default weights of ``model``: the first of ``filenames`` found in the weights
    cache directory (:func:`default_cache_dir`). A model given no ``--weights`` uses
    them, or stops: no model ever runs on random weights without being asked.

    Raises:
        WeightsError: none found; one line naming every path looked at and how to pass
            ``--weights PATH`` or ``--weights random``.
    """
    cache = default_cache_dir()
    looked = [cache / f for f in filenames]
    for p in looked:
        if p.is_file():
            return p
    raise WeightsError(
        f"{model}: no weights given and no default weights found (looked at: "
        f"{', '.join(str(p) for p in looked)}; $VISIONBENCH_WEIGHTS or $VISIONBENCH_HOME "
        "moves that folder); "
        f"{no_weights_hint()}"
    )


def no_weights_hint() -> str:
    """How to pass weights on the command line."""
    return "pass --weights PATH (a weights file), or --weights random for a random init"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict with ``torch.load(weights_only=True)``.

    A checkpoint dict that wraps the state dict under ``state_dict``, ``model_state``,
    ``model_state_dict``, ``model`` or ``ema`` is unwrapped, and a ``module.`` prefix on
    every key (DistributedDataParallel) is removed.

    Raises:
        WeightsError: missing, empty, truncated or corrupt file; pickled objects other than
            tensors and containers; no tensors in it.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file {str(p)!r} does not exist")
    size = p.stat().st_size
    if size == 0:
        raise WeightsError(f"weights file {str(p)!r} is empty (0 bytes)")
    try:
        obj = _load_weights_only(p)
    except Exception as e:
        text = str(e)
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
        msg = detail[0] if detail and detail[0] else type(e).__name__
        blocked = re.search(
            r"(?:unsupported|Unsupported) (?:global|GLOBAL):? ?(?:GLOBAL )?(\S+)", text
        )
        if blocked:
            what = f" (it names {blocked.group(1)})"
            raise WeightsError(
                f"weights file {str(p)!r} holds pickled Python objects other than tensors{what}; "
                "refused: loading it could run code. visionbench loads with "
                "torch.load(weights_only=True) only — save a plain state_dict of tensors"
            ) from None
        if _is_plain_pickle(p):
            raise WeightsError(
                f"weights file {str(p)!r} is a plain pickle, not a torch.save file; refused: "
                "unpickling it could run code. Save a plain state_dict with torch.save"
            ) from None
        raise WeightsError(
            f"cannot read weights file {str(p)!r} ({size} bytes): truncated or corrupt "
            f"({type(e).__name__}: {msg})"
        ) from None
    return _unwrap(obj, p)


def _is_plain_pickle(p: Path) -> bool:
    """A pickle stream (protocol 2+ starts with 0x80) rather than torch.save's zip archive."""
    with open(p, "rb") as f:
        return _is_pickle_head(f.read(2))


def _is_pickle_head(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def load_into(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "state dict"
) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with a readable error.

    Raises:
        WeightsError: listing the missing keys, the unexpected keys and the keys whose
            shapes differ (expected vs found), at most 10 of each.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k}: expected {list(own[k].shape)}, found {list(state_dict[k].shape)}"
        for k in own
        if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = [f"{source} does not fit {type(module).__name__}:"]
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", shapes),
        ):
            if keys:
                more = f" ... (+{len(keys) - 10} more)" if len(keys) > 10 else ""
                parts.append(f"{len(keys)} {what}: {', '.join(keys[:10])}{more}")
        raise WeightsError(" ".join(parts))
    module.load_state_dict(state_dict, strict=True)


# ---------------------------------------------------------------------------------------

#: numpy globals that training scripts leave in checkpoints (a ``best_score`` numpy float,
#: metric arrays); rebuilding them runs no code, so they are allowed beside tensors.
_NUMPY_SAFE = ("multiarray.scalar", "multiarray._reconstruct", "numpy.dtype", "numpy.ndarray")


def _load_weights_only(path: Path) -> Any:
    """``torch.load(weights_only=True)``, also allowing numpy scalars/arrays/dtypes."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if "Unsupported global" not in str(e):
            raise
        try:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:
            raise e from None
        if not names or not all(
            n.startswith("numpy.") and (n.endswith(_NUMPY_SAFE) or n.startswith("numpy.dtypes."))
            for n in names
        ):
            raise
        import numpy as np

        objs = [_resolve_global(n) for n in names]
        objs += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
        with torch.serialization.safe_globals(objs):
            return torch.load(path, map_location="cpu", weights_only=True)


def _resolve_global(name: str) -> Any:
    import importlib

    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in _CONTAINER_KEYS:
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(v, torch.Tensor) for v in obj.values())
    ):
        raise WeightsError(
            f"weights file {str(path)!r} is not a state dict (a mapping of names to tensors, "
            f"optionally under one of {list(_CONTAINER_KEYS)}); found {type(obj).__name__}"
        )
    sd = dict(obj)
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def _check_sha256(path: Path, expected: str | None, spec: str) -> str | None:
    """The file's sha256 when ``expected`` is given (and matches), else None."""
    if expected is None:
        return None
    got = sha256_file(path)
    if not got.startswith(expected.lower()):
        raise WeightsError(
            f"sha256 mismatch for weights {spec!r} ({path}): expected {expected.lower()}, got {got}"
        )
    return got


def _download(url: str, dest: Path, *, progress: bool, timeout: float) -> None:
    """Download ``url`` to ``dest.part``, resuming a partial file with a Range request."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "visionbench"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part file is complete
            total = _total_from_content_range(e.headers.get("Content-Range"))
            if total == have:
                return
            part.unlink()
            return _download(url, dest, progress=progress, timeout=timeout)
        raise WeightsError(f"downloading {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise WeightsError(f"downloading {url}: {getattr(e, 'reason', e)}") from None
    with resp:
        if have and resp.status == 206:
            total = _total_from_content_range(resp.headers.get("Content-Range"))
            mode = "ab"
        else:  # 200: the server ignored the range, start over
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length is not None else None
        got = _copy(resp, part, mode, have, total, url, progress)
    if total is not None and got != total:
        raise WeightsError(
            f"download of {url} interrupted: got {got} of {total} bytes; the partial file "
            f"{part} is kept, run again to resume"
        )


def _copy(
    resp: Any, part: Path, mode: str, have: int, total: int | None, url: str, progress: bool
) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    got = have
    columns = (
        TextColumn("{task.description}", style="bold", markup=False),  # a file name: text
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, disable=not progress) as bar, open(part, mode) as f:
        task = bar.add_task(Path(part.stem).name, total=total, completed=have)
        try:
            while chunk := resp.read(_CHUNK):
                f.write(chunk)
                got += len(chunk)
                bar.update(task, completed=got)
        except (OSError, ValueError, http.client.HTTPException) as e:  # reset, IncompleteRead
            f.flush()
            raise WeightsError(
                f"download of {url} interrupted after {got}"
                f"{f' of {total}' if total is not None else ''} bytes ({type(e).__name__}); "
                f"the partial file {part} is kept, run again to resume"
            ) from None
    return got


def _total_from_content_range(value: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if not value or "/" not in value:
        return None
    tail = value.rsplit("/", 1)[1].strip()
    return int(tail) if tail.isdigit() else None
