"""numba kernels of :mod:`visionbench.metrics.segmentation.label_png`, at module level so
that numba's on-disk cache finds them in the next process: defined in a function, the
closure over ``_paeth`` (a dispatcher, pickled differently by each process) missed the
cache every time and recompiled (~3 s of every Cityscapes ``bench eval``). Imported
lazily: numba's import costs ~0.2 s CPU."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(inline="always", cache=True)
def _paeth(a, b, c):  # pragma: no cover - compiled
    pa = abs(b - c)
    pb = abs(a - c)
    pc = abs(a + b - 2 * c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


@nb.njit(nogil=True, cache=True)
def unfilter(raw, height, rowbytes, bpp, out):  # pragma: no cover - compiled
    # out has height + 1 rows; row 0 is the zero row above the image
    stride = rowbytes + 1
    for r in range(1, height + 1):
        ft = raw[(r - 1) * stride]
        base = (r - 1) * stride + 1
        if ft == 0:  # None
            for i in range(rowbytes):
                out[r, i] = raw[base + i]
        elif ft == 1:  # Sub
            for i in range(bpp):
                out[r, i] = raw[base + i]
            for i in range(bpp, rowbytes):
                out[r, i] = (np.int32(raw[base + i]) + out[r, i - bpp]) & 0xFF
        elif ft == 2:  # Up
            for i in range(rowbytes):
                out[r, i] = (np.int32(raw[base + i]) + out[r - 1, i]) & 0xFF
        elif ft == 3:  # Average
            for i in range(bpp):
                out[r, i] = (np.int32(raw[base + i]) + (np.int32(out[r - 1, i]) >> 1)) & 0xFF
            for i in range(bpp, rowbytes):
                s = np.int32(out[r, i - bpp]) + np.int32(out[r - 1, i])
                out[r, i] = (np.int32(raw[base + i]) + (s >> 1)) & 0xFF
        elif ft == 4:  # Paeth
            for i in range(bpp):  # a = c = 0: the predictor is b
                out[r, i] = (np.int32(raw[base + i]) + out[r - 1, i]) & 0xFF
            if bpp == 1:  # the left neighbour stays in a register
                a = np.int32(out[r, 0])
                for i in range(1, rowbytes):
                    b = np.int32(out[r - 1, i])
                    c = np.int32(out[r - 1, i - 1])
                    x = np.int32(raw[base + i])
                    if x == 0 and a == b and b == c:  # flat label regions
                        out[r, i] = a
                        continue
                    a = (x + _paeth(a, b, c)) & 0xFF
                    out[r, i] = a
            else:
                for i in range(bpp, rowbytes):
                    a = np.int32(out[r, i - bpp])
                    b = np.int32(out[r - 1, i])
                    c = np.int32(out[r - 1, i - bpp])
                    x = np.int32(raw[base + i])
                    if x == 0 and a == b and b == c:
                        out[r, i] = a
                        continue
                    out[r, i] = (x + _paeth(a, b, c)) & 0xFF
        else:
            return 1
    return 0
