"""Darknet ``.weights`` files: reader and writer of the binary layout (REFERENCE.md §6).

Layout, little-endian::

    int32 major, int32 minor, int32 revision
    seen: int64 if (major*10 + minor >= 2 and major < 1000 and minor < 1000) else int32
    then, for each [convolutional] layer in cfg order (n = filters):
        float32 bias[n]            (the BN beta when batch_normalize=1)
        if batch_normalize: float32 gamma[n], running_mean[n], running_var[n]
        float32 weights[n * c_in/groups * size * size]   (OIHW)

The file carries no shapes, so a file of the wrong size is refused before anything is
loaded, with the byte counts expected and found. The official ``yolov3.weights`` is
248,007,048 bytes: a 20-byte header (version 0.2.0) and 62,001,757 float32.
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from visionbench.errors import WeightsError
from visionbench.models.darknet.layers import ConvLayer
from visionbench.models.darknet.network import Darknet

__all__ = [
    "DarknetHeader",
    "read_darknet_header",
    "darknet_float_count",
    "expected_weights_size",
    "load_darknet_weights",
    "save_darknet_weights",
]


@dataclass(frozen=True)
class DarknetHeader:
    """The header of a ``.weights`` file.

    Attributes:
        major, minor, revision: format version.
        seen: images seen in training.
        nbytes: header length in bytes (20 with an int64 ``seen``, 16 with an int32).
    """

    major: int
    minor: int
    revision: int
    seen: int
    nbytes: int

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.revision}"


def seen_is_int64(major: int, minor: int) -> bool:
    """Darknet's rule: ``seen`` is 64-bit from version 0.2 on (and major, minor < 1000)."""
    return major * 10 + minor >= 2 and major < 1000 and minor < 1000


def read_darknet_header(path: str | Path) -> DarknetHeader:
    """Read the header of a ``.weights`` file.

    Raises:
        WeightsError: the file is missing or shorter than its header.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(20)
    except FileNotFoundError:
        raise WeightsError(f"darknet weights file not found: {path}") from None
    if len(head) < 12:
        raise WeightsError(
            f"{path}: truncated darknet weights header: expected at least 16 bytes, found {len(head)}"
        )
    major, minor, revision = struct.unpack("<3i", head[:12])
    wide = seen_is_int64(major, minor)
    nbytes = 20 if wide else 16
    if len(head) < nbytes:
        raise WeightsError(
            f"{path}: truncated darknet weights header (version {major}.{minor}.{revision}): "
            f"expected {nbytes} bytes, found {len(head)}"
        )
    (seen,) = struct.unpack("<q" if wide else "<i", head[12:nbytes])
    return DarknetHeader(major, minor, revision, seen, nbytes)


def darknet_float_count(module: Darknet, *, upto: int | None = None) -> int:
    """Number of float32 the ``.weights`` file of ``module`` holds after its header.

    Args:
        module: the network.
        upto: count only the conv layers with layer index < ``upto`` (darknet's
            ``load_weights_upto``, e.g. ``darknet53.conv.74``); ``None`` counts all.
    """
    return sum(_layer_floats(conv) for _, conv in _convs(module, upto))


def expected_weights_size(
    module: Darknet, *, header_bytes: int = 20, upto: int | None = None
) -> int:
    """Size in bytes of the ``.weights`` file of ``module`` (header + 4 bytes per float)."""
    return header_bytes + 4 * darknet_float_count(module, upto=upto)


def load_darknet_weights(
    module: Darknet, path: str | Path, *, upto: int | None = None
) -> DarknetHeader:
    """Load a darknet ``.weights`` file into ``module`` in place.

    The file size is checked against the cfg before any tensor is touched.

    Args:
        module: a :class:`~visionbench.models.darknet.network.Darknet` built from the cfg
            the weights belong to.
        path: the ``.weights`` file.
        upto: load only the conv layers with layer index < ``upto`` (a backbone file such
            as ``darknet53.conv.74``); the file must then hold exactly those.

    Returns:
        The file's header.

    Raises:
        WeightsError: missing file, or a size that does not fit the cfg; the message
            names the file and gives the bytes expected and found.
    """
    path = Path(path)
    header = read_darknet_header(path)
    expected = expected_weights_size(module, header_bytes=header.nbytes, upto=upto)
    found = path.stat().st_size
    if found != expected:
        what = "truncated" if found < expected else "too large"
        convs = len(_convs(module, upto))
        raise WeightsError(
            f"{path}: darknet weights file {what}: expected {expected:,} bytes "
            f"({header.nbytes}-byte header v{header.version} + {(expected - header.nbytes) // 4:,} "
            f"float32 for {convs} [convolutional] layers of {module.source}), found {found:,} bytes "
            f"({found - expected:+,})"
        )
    data = np.fromfile(path, dtype="<f4", offset=header.nbytes)
    pos = 0
    with torch.no_grad():
        for _, conv in _convs(module, upto):
            for tensor in _layer_tensors(conv):
                n = tensor.numel()
                chunk = torch.from_numpy(data[pos : pos + n].astype(np.float32, copy=True))
                tensor.copy_(chunk.view_as(tensor))
                pos += n
    assert pos == data.size
    return header


def save_darknet_weights(
    module: Darknet,
    path: str | Path,
    *,
    version: tuple[int, int, int] = (0, 2, 0),
    seen: int = 0,
    upto: int | None = None,
) -> int:
    """Write ``module``'s conv and BN tensors as a darknet ``.weights`` file.

    Written to a temporary file in the same folder and renamed, so a crash never leaves
    a partial file under ``path``.

    Args:
        module: the network.
        path: destination.
        version: (major, minor, revision); decides whether ``seen`` is int64 or int32.
        seen: images seen in training.
        upto: write only the conv layers with layer index < ``upto``.

    Returns:
        Bytes written.
    """
    path = Path(path)
    major, minor, revision = version
    head = struct.pack("<3i", major, minor, revision)
    head += struct.pack("<q" if seen_is_int64(major, minor) else "<i", seen)
    parts = [head]
    for _, conv in _convs(module, upto):
        for tensor in _layer_tensors(conv):
            parts.append(tensor.detach().cpu().float().numpy().astype("<f4").tobytes())
    blob = b"".join(parts)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(blob)


# ---------------------------------------------------------------------------------------


def _convs(module: Darknet, upto: int | None) -> list[tuple[int, ConvLayer]]:
    if not isinstance(module, Darknet):
        raise WeightsError(
            f"darknet weights need a Darknet module built from a cfg, got {type(module).__name__}"
        )
    return [
        (i, m)
        for i, m in enumerate(module.layers)
        if isinstance(m, ConvLayer) and (upto is None or i < upto)
    ]


def _layer_tensors(conv: ConvLayer) -> list[torch.Tensor]:
    """The tensors of one conv layer in file order."""
    if conv.bn is not None:
        bn = conv.bn
        assert bn.running_mean is not None and bn.running_var is not None
        return [bn.bias, bn.weight, bn.running_mean, bn.running_var, conv.conv.weight]
    assert conv.conv.bias is not None
    return [conv.conv.bias, conv.conv.weight]


def _layer_floats(conv: ConvLayer) -> int:
    return sum(t.numel() for t in _layer_tensors(conv))
