"""The one reader of label-map images: Cityscapes labelIds / instanceIds, ADE20K and VOC
annotations, semantic-segmentation result PNGs, label columns of Hugging Face datasets.

``read_label_png(source)`` returns the same array as ``np.array(PIL.Image.open(source))``.
The PNGs label maps use — greyscale or palette, 8 or 16 bits, not interlaced — are decoded
here; every other PNG (and any other image format) is handed to Pillow. The fast path is
faster than Pillow because:

- the zlib stream is inflated by libdeflate when it is available (the ``deflate``
  package, else the system ``libdeflate`` through ctypes), else by :mod:`zlib`;
- the PNG row filters are undone by a numba kernel (compiled once, cached on disk);
- both release the GIL, so frames decode in parallel threads.

Palette PNGs give palette indices (as Pillow does); 16-bit PNGs give ``uint16``. With
``single_channel=True`` (what the loaders and protocols ask for) anything but one integer
label id per pixel is refused, naming the file.

The loaders (and the protocols) read label images through this module: it imports numpy
and the standard library only (numba when the first PNG is decoded), nothing of the
rest of visionbench.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["read_label_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_label_png(
    source: str | os.PathLike[str] | bytes, *, single_channel: bool = False, name: str | None = None
) -> np.ndarray:
    """Decode a label-map image (a PNG file, or its bytes) to a numpy array.

    Args:
        source: a file path, or the encoded image as ``bytes``.
        single_channel: refuse images that are not one integer label id per pixel
            (RGB, grey + alpha, floats); a bilevel (mode ``1``) image becomes ``uint8`` 0/1.
        name: what error messages call ``source`` (default: the path, or ``<bytes>``).

    Returns:
        ``[H, W]`` ``uint8`` or ``uint16`` array for greyscale / palette PNGs (palette
        indices, not colours); other images as ``np.array(PIL.Image.open(source))`` would
        give them (e.g. ``[H, W, 3]`` for RGB, unless ``single_channel``).

    Raises:
        MetricInputError: the file is missing or not a readable image, or (with
            ``single_channel``) not a single-channel integer image; the message starts
            with the file's name.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, where = bytes(source), name or "<bytes>"
    else:
        where = name or str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise MetricInputError(f"{where}: cannot read label image ({_reason(exc)})") from None
    try:
        arr = _decode(data)
    except (ValueError, struct.error, zlib.error) as exc:
        raise MetricInputError(f"{where}: not a readable PNG file ({exc})") from None
    if arr is None:
        arr = _decode_with_pillow(data, where)
    if single_channel:
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)  # (a view would show Pillow's 0/255 bytes)
        if arr.ndim != 2 or arr.dtype.kind not in "ui":
            raise MetricInputError(
                f"{where}: expected a single-channel label image (one integer id per pixel), "
                f"got shape {list(arr.shape)} dtype {arr.dtype}"
            )
    return arr


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _decode(data: bytes) -> np.ndarray | None:
    """Decode ``data``; None when it is a PNG of a kind left to Pillow, or no PNG at all."""
    if data[:8] != _SIGNATURE:
        return None
    pos = 8
    idat: list[bytes] = []
    header = None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError(f"truncated {kind!r} chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise ValueError("missing IHDR or IDAT")
    width, height, depth, color, _, _, interlace = header
    if color not in (0, 3) or depth not in (8, 16) or interlace or (color == 3 and depth != 8):
        return None
    bpp = depth // 8
    rowbytes = width * bpp
    size = height * (rowbytes + 1)
    raw = _inflater()(b"".join(idat), size)
    if raw.size != size:
        raise ValueError(f"image data has {raw.size} bytes, expected {size}")
    padded = np.empty((height + 1, rowbytes), np.uint8)
    padded[0] = 0
    if _unfilter_kernel()(raw, height, rowbytes, bpp, padded) != 0:
        raise ValueError("unknown PNG row filter")
    out = padded[1:]
    if depth == 16:
        return out.view(">u2").astype(np.uint16)
    return out


def _decode_with_pillow(data: bytes, where: str) -> np.ndarray:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.array(im)
    except UnidentifiedImageError:
        raise MetricInputError(f"{where}: not a PNG file (nor another image format)") from None
    except OSError as exc:
        raise MetricInputError(f"{where}: not a readable image ({exc})") from None


@cache
def _inflater() -> Callable[[bytes, int], np.ndarray]:
    """The fastest available ``inflate(zlib_stream, size) -> uint8 array``."""
    try:  # pragma: no cover - optional package
        import deflate

        return lambda buf, size: np.frombuffer(deflate.zlib_decompress(buf, size), np.uint8)
    except ImportError:
        pass
    name = ctypes.util.find_library("deflate")
    if name:
        try:
            lib = ctypes.CDLL(name)
            lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
            lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
            fn = lib.libdeflate_zlib_decompress
            fn.restype = ctypes.c_int
            fn.argtypes = [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_size_t,
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_size_t),
            ]
        except (OSError, AttributeError):
            fn = None
        if fn is not None:

            def inflate(buf: bytes, size: int) -> np.ndarray:
                # one decompressor per call: they are cheap and not thread-safe
                dec = lib.libdeflate_alloc_decompressor()
                out = np.empty(size, np.uint8)
                got = ctypes.c_size_t(0)
                try:
                    status = fn(dec, buf, len(buf), out.ctypes.data, size, ctypes.byref(got))
                finally:
                    lib.libdeflate_free_decompressor(dec)
                if status != 0:  # 1 bad data, 2 short output, 3 output too small
                    raise zlib.error(f"libdeflate status {status}")
                return out[: got.value]

            return inflate
    return lambda buf, size: np.frombuffer(zlib.decompress(buf, bufsize=max(size, 1)), np.uint8)


@cache
def _unfilter_kernel() -> Callable[..., int]:
    """The PNG unfilter kernel (numba, imported on first use: numba's import costs ~0.2 s)."""
    from visionbench.metrics.segmentation.label_png_kernels import unfilter

    return unfilter
