"""Fast reader for label-map PNGs (Cityscapes labelIds, instanceIds, result PNGs).

``read_label_png(path)`` returns the same array as ``np.array(PIL.Image.open(path))`` for
the PNGs label maps use — greyscale or palette, 8 or 16 bits, not interlaced — and hands
every other PNG to Pillow. It is faster than Pillow because:

- the zlib stream is inflated by libdeflate when it is available (the ``deflate``
  package, else the system ``libdeflate`` through ctypes), else by :mod:`zlib`;
- the PNG row filters are undone by a numba kernel (compiled once, cached on disk);
- both release the GIL, so frames decode in parallel threads.

Palette PNGs give palette indices (as Pillow does); 16-bit PNGs give ``uint16``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from visionbench.metrics.errors import MetricInputError

__all__ = ["read_label_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_label_png(path: str | Path) -> np.ndarray:
    """Decode a label-map PNG to a numpy array.

    Args:
        path: a PNG file.

    Returns:
        ``[H, W]`` ``uint8`` or ``uint16`` array for greyscale / palette PNGs (palette
        indices, not colours); other PNGs as ``np.array(PIL.Image.open(path))`` would
        give them (e.g. ``[H, W, 3]`` for RGB).

    Raises:
        MetricInputError: the file is not a readable PNG.
    """
    data = Path(path).read_bytes()
    try:
        fast = _decode(data)
    except (ValueError, struct.error, zlib.error) as exc:
        raise MetricInputError(f"{path}: not a readable PNG file ({exc})") from None
    if fast is not None:
        return fast
    return _decode_with_pillow(path)


def _decode(data: bytes) -> np.ndarray | None:
    """Decode ``data``; None when the PNG is of a kind left to Pillow."""
    if data[:8] != _SIGNATURE:
        raise ValueError("no PNG signature")
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
    if len(raw) != size:
        raise ValueError(f"image data has {len(raw)} bytes, expected {size}")
    out = np.empty((height, rowbytes), np.uint8)
    if _unfilter_kernel()(np.frombuffer(raw, np.uint8), height, rowbytes, bpp, out) != 0:
        raise ValueError("unknown PNG row filter")
    if depth == 16:
        return out.view(">u2").astype(np.uint16)
    return out


def _decode_with_pillow(path: str | Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.array(im)
    except OSError as exc:
        raise MetricInputError(f"{path}: not a readable image ({exc})") from None


@cache
def _inflater() -> Callable[[bytes, int], bytes]:
    """The fastest available ``inflate(zlib_stream, size) -> bytes``."""
    try:  # pragma: no cover - optional package
        import deflate

        return lambda buf, size: deflate.zlib_decompress(buf, size)
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

            def inflate(buf: bytes, size: int) -> bytes:
                # one decompressor per call: they are cheap and not thread-safe
                dec = lib.libdeflate_alloc_decompressor()
                try:
                    out = ctypes.create_string_buffer(size)
                    got = ctypes.c_size_t(0)
                    status = fn(dec, buf, len(buf), out, size, ctypes.byref(got))
                finally:
                    lib.libdeflate_free_decompressor(dec)
                if status != 0:
                    raise zlib.error(f"libdeflate status {status}")
                return out.raw[: got.value]

            return inflate
    return lambda buf, size: zlib.decompress(buf, bufsize=max(size, 1))


@cache
def _unfilter_kernel() -> Callable[..., int]:
    import numba

    @numba.njit(nogil=True, cache=True)
    def unfilter(raw, height, rowbytes, bpp, out):  # pragma: no cover - compiled
        stride = rowbytes + 1
        for r in range(height):
            base = r * stride
            ft = raw[base]
            src = base + 1
            if ft == 0:
                for i in range(rowbytes):
                    out[r, i] = raw[src + i]
            elif ft == 1:
                for i in range(rowbytes):
                    left = np.int32(out[r, i - bpp]) if i >= bpp else np.int32(0)
                    out[r, i] = (np.int32(raw[src + i]) + left) & 0xFF
            elif ft == 2:
                if r == 0:
                    for i in range(rowbytes):
                        out[r, i] = raw[src + i]
                else:
                    for i in range(rowbytes):
                        out[r, i] = (np.int32(raw[src + i]) + np.int32(out[r - 1, i])) & 0xFF
            elif ft == 3:
                for i in range(rowbytes):
                    left = np.int32(out[r, i - bpp]) if i >= bpp else np.int32(0)
                    up = np.int32(out[r - 1, i]) if r > 0 else np.int32(0)
                    out[r, i] = (np.int32(raw[src + i]) + ((left + up) >> 1)) & 0xFF
            elif ft == 4:
                for i in range(rowbytes):
                    a = np.int32(out[r, i - bpp]) if i >= bpp else np.int32(0)
                    b = np.int32(out[r - 1, i]) if r > 0 else np.int32(0)
                    c = np.int32(out[r - 1, i - bpp]) if (r > 0 and i >= bpp) else np.int32(0)
                    p = a + b - c
                    pa = abs(p - a)
                    pb = abs(p - b)
                    pc = abs(p - c)
                    if pa <= pb and pa <= pc:
                        pred = a
                    elif pb <= pc:
                        pred = b
                    else:
                        pred = c
                    out[r, i] = (np.int32(raw[src + i]) + pred) & 0xFF
            else:
                return 1
        return 0

    return unfilter
