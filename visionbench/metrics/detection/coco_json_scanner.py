"""numba byte scanners behind :mod:`visionbench.metrics.detection.coco_json` (imported lazily).

Status codes: 0 ok, 1 malformed or unsupported input (the caller falls back to a full
JSON parser).
"""

# ruff: noqa: SIM109  (explicit byte comparisons compile to the tightest numba code)
from __future__ import annotations

import numba as nb
import numpy as np

_QUOTE, _BSLASH, _LBRACE, _RBRACE, _LBRACK, _RBRACK, _COMMA, _COLON = (
    34,
    92,
    123,
    125,
    91,
    93,
    44,
    58,
)


@nb.njit(cache=True, nogil=True, inline="always")
def _ws(b: np.ndarray, i: int, n: int) -> int:
    while i < n and (b[i] == 32 or b[i] == 10 or b[i] == 13 or b[i] == 9):
        i += 1
    return i


@nb.njit(cache=True, nogil=True)
def _skip_string(b: np.ndarray, i: int, n: int) -> int:
    """b[i] is the opening quote; returns the index after the closing quote, or -1."""
    i += 1
    while i < n:
        c = b[i]
        if c == _BSLASH:
            i += 2
        elif c == _QUOTE:
            return i + 1
        else:
            i += 1
    return -1


@nb.njit(cache=True, nogil=True)
def _skip_value(b: np.ndarray, i: int, n: int) -> int:
    """Index after the JSON value starting at b[i], or -1."""
    c = b[i]
    if c == _QUOTE:
        return _skip_string(b, i, n)
    if c == _LBRACE or c == _LBRACK:
        depth = 0
        while i < n:
            c = b[i]
            if c == _QUOTE:
                i = _skip_string(b, i, n)
                if i < 0:
                    return -1
                continue
            if c == _LBRACE or c == _LBRACK:
                depth += 1
            elif c == _RBRACE or c == _RBRACK:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    while i < n:
        c = b[i]
        if c == _COMMA or c == _RBRACE or c == _RBRACK or c == 32 or c == 10 or c == 13 or c == 9:
            return i
        i += 1
    return i


@nb.njit(cache=True, nogil=True, inline="always")
def _number(b: np.ndarray, i: int, n: int, pow10: np.ndarray) -> tuple[float, int, int]:
    """Parse a JSON number at b[i] -> (value, next index, status 0 exact / 2 slow / 1 bad).

    Exact fast path (Clinger): the digits form an integer m <= 2**53 and the decimal
    exponent e is within ±22; then m * 10**e (or m / 10**-e) is one correctly rounded
    operation on exact doubles, i.e. the double nearest to the decimal number.
    """
    neg = False
    if i < n and b[i] == 45:
        neg = True
        i += 1
    mant = np.int64(0)
    s0 = i
    while i < n:
        d = np.int64(b[i]) - 48
        if d < 0 or d > 9:
            break
        mant = mant * 10 + d
        i += 1
    n_dig = i - s0
    if n_dig == 0:
        return 0.0, i, 1
    exp10 = 0
    if i < n and b[i] == 46:
        i += 1
        f0 = i
        while i < n:
            d = np.int64(b[i]) - 48
            if d < 0 or d > 9:
                break
            mant = mant * 10 + d
            i += 1
        if i == f0:
            return 0.0, i, 1
        exp10 = f0 - i
        n_dig += i - f0
    if i < n and (b[i] == 101 or b[i] == 69):
        i += 1
        eneg = False
        if i < n and (b[i] == 43 or b[i] == 45):
            eneg = b[i] == 45
            i += 1
        e = 0
        e0 = i
        while i < n:
            d = np.int64(b[i]) - 48
            if d < 0 or d > 9:
                break
            if e < 100000:
                e = e * 10 + d
            i += 1
        if i == e0:
            return 0.0, i, 1
        exp10 += -e if eneg else e
    if n_dig > 18 or mant > 9007199254740992 or exp10 > 22 or exp10 < -22:
        return 0.0, i, 2
    v = np.float64(mant)
    if exp10 >= 0:
        v = v * pow10[exp10]
    else:
        v = v / pow10[-exp10]
    return (-v if neg else v), i, 0


@nb.njit(cache=True, nogil=True)
def _key_index(b: np.ndarray, s: int, e: int, key_bytes: np.ndarray, key_off: np.ndarray) -> int:
    for j in range(len(key_off) - 1):
        ks, ke = key_off[j], key_off[j + 1]
        if ke - ks != e - s:
            continue
        same = True
        for q in range(e - s):
            if b[s + q] != key_bytes[ks + q]:
                same = False
                break
        if same:
            return j
    return -1


@nb.njit(cache=True, nogil=True)
def scan_objects(
    b: np.ndarray,
    start: int,
    end: int,
    key_bytes: np.ndarray,
    key_off: np.ndarray,
    widths: np.ndarray,
    col_off: np.ndarray,
    n_max: int,
    pow10: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Columns of ``[{key: number | [numbers] | anything}, ...]``; see ``scan_object_array``.

    Returns (values [n_max, C], present [n_max, K], slow [S, 4] (row, col, start, end) of
    numbers to re-read with ``float()``, number of objects, status).
    """
    n_keys = len(widths)
    values = np.zeros((n_max, col_off[-1]), dtype=np.float64)
    present = np.zeros((n_max, n_keys), dtype=np.bool_)
    slow = np.zeros((16, 4), dtype=np.int64)
    n_slow = 0
    i = _ws(b, start, end)
    if i >= end or b[i] != _LBRACK:
        return values, present, slow[:0], 0, 1
    i = _ws(b, i + 1, end)
    row = 0
    if i < end and b[i] == _RBRACK:
        return values, present, slow[:0], 0, 0
    while True:
        if i >= end or b[i] != _LBRACE or row >= n_max:
            return values, present, slow[:0], row, 1
        i = _ws(b, i + 1, end)
        if i < end and b[i] == _RBRACE:
            i += 1
        else:
            while True:
                if i >= end or b[i] != _QUOTE:
                    return values, present, slow[:0], row, 1
                ks = i + 1
                ke = ks
                while ke < end and b[ke] != _QUOTE:
                    if b[ke] == _BSLASH:
                        return values, present, slow[:0], row, 1
                    ke += 1
                i = _ws(b, ke + 1, end)
                if i >= end or b[i] != _COLON:
                    return values, present, slow[:0], row, 1
                i = _ws(b, i + 1, end)
                if i >= end:
                    return values, present, slow[:0], row, 1
                j = _key_index(b, ks, ke, key_bytes, key_off)
                if j < 0 or widths[j] == 0:
                    i = _skip_value(b, i, end)
                    if i < 0:
                        return values, present, slow[:0], row, 1
                    if j >= 0:
                        present[row, j] = True
                else:
                    w = widths[j]
                    c0 = col_off[j]
                    if w == 1:
                        ns = i
                        v, i, st = _number(b, i, end, pow10)
                        if st == 1:
                            return values, present, slow[:0], row, 1
                        if st == 2:
                            if n_slow == len(slow):
                                slow = np.concatenate((slow, np.zeros_like(slow)))
                            slow[n_slow, 0] = row
                            slow[n_slow, 1] = c0
                            slow[n_slow, 2] = ns
                            slow[n_slow, 3] = i
                            n_slow += 1
                        values[row, c0] = v
                    else:
                        if b[i] != _LBRACK:
                            return values, present, slow[:0], row, 1
                        i = _ws(b, i + 1, end)
                        for q in range(w):
                            ns = i
                            v, i, st = _number(b, i, end, pow10)
                            if st == 1:
                                return values, present, slow[:0], row, 1
                            if st == 2:
                                if n_slow == len(slow):
                                    slow = np.concatenate((slow, np.zeros_like(slow)))
                                slow[n_slow, 0] = row
                                slow[n_slow, 1] = c0 + q
                                slow[n_slow, 2] = ns
                                slow[n_slow, 3] = i
                                n_slow += 1
                            values[row, c0 + q] = v
                            i = _ws(b, i, end)
                            if q < w - 1:
                                if i >= end or b[i] != _COMMA:
                                    return values, present, slow[:0], row, 1
                                i = _ws(b, i + 1, end)
                        if i >= end or b[i] != _RBRACK:
                            return values, present, slow[:0], row, 1
                        i += 1
                    if present[row, j]:  # duplicate key: let the full parser decide
                        return values, present, slow[:0], row, 1
                    present[row, j] = True
                i = _ws(b, i, end)
                if i < end and b[i] == _COMMA:
                    i = _ws(b, i + 1, end)
                    continue
                if i < end and b[i] == _RBRACE:
                    i += 1
                    break
                return values, present, slow[:0], row, 1
        row += 1
        i = _ws(b, i, end)
        if i < end and b[i] == _COMMA:
            i = _ws(b, i + 1, end)
            continue
        if i < end and b[i] == _RBRACK:
            i = _ws(b, i + 1, end)
            if i != end:
                return values, present, slow[:0], row, 1
            return values, present, slow[:n_slow], row, 0
        return values, present, slow[:0], row, 1


@nb.njit(cache=True, nogil=True)
def object_spans(
    b: np.ndarray, key_bytes: np.ndarray, key_off: np.ndarray
) -> tuple[np.ndarray, int]:
    """[K, 2] byte spans of the values of the top-level object's keys (-1 where absent)."""
    n = len(b)
    n_keys = len(key_off) - 1
    spans = -np.ones((n_keys, 2), dtype=np.int64)
    i = _ws(b, 0, n)
    if i >= n or b[i] != _LBRACE:
        return spans, 1
    i = _ws(b, i + 1, n)
    if i < n and b[i] == _RBRACE:
        return spans, 0
    while True:
        if i >= n or b[i] != _QUOTE:
            return spans, 1
        ks = i + 1
        ke = _skip_string(b, i, n)
        if ke < 0:
            return spans, 1
        i = _ws(b, ke, n)
        if i >= n or b[i] != _COLON:
            return spans, 1
        i = _ws(b, i + 1, n)
        if i >= n:
            return spans, 1
        vs = i
        i = _skip_value(b, i, n)
        if i < 0:
            return spans, 1
        j = _key_index(b, ks, ke - 1, key_bytes, key_off)
        if j >= 0:
            if spans[j, 0] >= 0:
                return spans, 1
            spans[j, 0] = vs
            spans[j, 1] = i
        i = _ws(b, i, n)
        if i < n and b[i] == _COMMA:
            i = _ws(b, i + 1, n)
            continue
        if i < n and b[i] == _RBRACE:
            return spans, 0
        return spans, 1
