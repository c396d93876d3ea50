"""Compiled kernels of the PostgreSQL fast path (:mod:`citygov.backflow.pgfast`): splitting a block of
plain CSV lines into fields and writing the good ones as PostgreSQL's binary ``COPY`` format.

Binary ``COPY`` spares the server from parsing text (dates and timestamps above all), which is most of
what a ``COPY`` into typed columns costs it; the kernels run at memory speed in the worker, compiled by
numba (``cache=True``: compiled once per installation, then loaded from numba's cache).

Formats (PostgreSQL's ``COPY … (FORMAT binary)``, all integers big-endian): a tuple is an int16 field
count, then per field an int32 byte length (-1 for NULL) and the bytes. ``text`` is its UTF-8 bytes,
``date`` an int32 of days since 2000-01-01, ``timestamp`` an int64 of microseconds since
2000-01-01 00:00:00, ``numeric`` int16 ndigits, weight, sign, dscale and ndigits int16 base-10000 digits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from citygov.quality.kernels import digits_value, real_date

TEXT, DATE, TIMESTAMP, NUMBER = 0, 1, 2, 3
"""Field kinds, per column of the block."""

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
"""The binary COPY header (signature, flags, header extension length)."""
TRAILER = b"\xff\xff"

_EPOCH = 730425
"""Days from 0000-03-01 (the origin of the civil-day count below) to 2000-01-01, PostgreSQL's epoch."""
_MAX_DIGITS = 18
"""Plain integers up to this many digits fit an int64 and take the fast way."""


@njit(cache=True, nogil=True)
def _days(y: int, m: int, d: int) -> int:
    """Days since 2000-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - _EPOCH


@njit(cache=True, nogil=True)
def _date(buf: np.ndarray, s: int) -> tuple[bool, int]:
    """A real ``YYYY-MM-DD`` date at ``s`` (year 1–9999): (ok, days since 2000-01-01)."""
    if buf[s + 4] != 45 or buf[s + 7] != 45:
        return False, 0
    y, m, d = digits_value(buf, s, 4), digits_value(buf, s + 5, 2), digits_value(buf, s + 8, 2)
    if not real_date(y, m, d, 1):
        return False, 0
    return True, _days(y, m, d)


@njit(cache=True, nogil=True)
def _value(kind: int, buf: np.ndarray, s: int, n: int) -> tuple[bool, int]:
    """Whether a non-empty field is already in canonical form (what ``loader._canonical`` makes of it,
    and what PostgreSQL reads as the same value), and its binary value."""
    if kind == DATE:
        if n != 10:
            return False, 0
        return _date(buf, s)
    if kind == TIMESTAMP:
        if n != 19 or buf[s + 10] != 32 or buf[s + 13] != 58 or buf[s + 16] != 58:
            return False, 0
        ok, days = _date(buf, s)
        h, mi, sec = digits_value(buf, s + 11, 2), digits_value(buf, s + 14, 2), digits_value(buf, s + 17, 2)
        if not ok or h < 0 or h > 23 or mi < 0 or mi > 59 or sec < 0 or sec > 59:
            return False, 0
        return True, ((days * 24 + h) * 60 + mi) * 60 * 1_000_000 + sec * 1_000_000
    # NUMBER: plain digits without a leading zero (str(Decimal(text)) == text)
    if n > _MAX_DIGITS or (n > 1 and buf[s] == 48):
        return False, 0
    v = digits_value(buf, s, n)
    return v >= 0, v


@njit(cache=True, nogil=True)
def split(buf: np.ndarray, width: int, kinds: np.ndarray, required: np.ndarray, space_like: np.ndarray):  # noqa: ANN201
    """Split a block of whole lines (each ending in ``\\n``) into fields at every comma.

    Returns per line its start and end (the line break), per line and field start and length, the typed
    fields' binary values, and whether the line can go as it is (``fast``): exactly ``width`` fields,
    no non-empty field starting with a byte that may begin a whitespace character (``space_like``), not
    all fields empty, every ``required`` field non-empty and every typed field empty or canonical. The
    other lines go through the loader's per-record logic."""
    n = 0
    for b in buf:
        n += b == 10
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    fs = np.zeros((n, width), np.int64)
    fl = np.zeros((n, width), np.int64)
    values = np.zeros((n, width), np.int64)
    fast = np.zeros(n, np.bool_)
    pos = 0
    for r in range(n):
        starts[r] = pos
        field, begin = 0, pos
        while buf[pos] != 10:
            if buf[pos] == 44:
                if field < width:
                    fs[r, field], fl[r, field] = begin, pos - begin
                field += 1
                begin = pos + 1
            pos += 1
        if field < width:
            fs[r, field], fl[r, field] = begin, pos - begin
        ends[r] = pos
        pos += 1
        if field != width - 1:
            continue
        ok, empty = True, True
        for c in range(width):
            length = fl[r, c]
            if length == 0:
                if required[c]:
                    ok = False
                    break
                continue
            empty = False
            if space_like[buf[fs[r, c]]]:
                ok = False
                break
            if kinds[c] != TEXT:
                good, v = _value(kinds[c], buf, fs[r, c], length)
                if not good:
                    ok = False
                    break
                values[r, c] = v
        fast[r] = ok and not empty
    return starts, ends, fs, fl, values, fast


@njit(cache=True, nogil=True)
def _groups(v: int) -> int:
    """How many base-10000 digits a numeric of value ``v`` ≥ 0 sends (none for zero; PostgreSQL drops
    trailing zero digits itself)."""
    count = 0
    while v > 0:
        count += 1
        v //= 10000
    return count


@njit(cache=True, nogil=True)
def _put(out: np.ndarray, p: int, value: int, size: int) -> int:
    for i in range(size):
        out[p + i] = (value >> (8 * (size - 1 - i))) & 0xFF
    return p + size


@njit(cache=True, nogil=True)
def encode(buf: np.ndarray, fs: np.ndarray, fl: np.ndarray, values: np.ndarray, rows: np.ndarray,
           kinds: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """The binary COPY tuples of ``rows`` (fast lines of :func:`split`): their fields in order, an empty
    field as NULL, then the text field ``tail`` (the lineage batch id)."""
    width = fs.shape[1]
    total = 0
    for r in rows:
        total += 2 + 4 + len(tail)
        for c in range(width):
            n = fl[r, c]
            total += 4
            if n == 0:
                continue
            k = kinds[c]
            if k == TEXT:
                total += n
            elif k == DATE:
                total += 4
            elif k == TIMESTAMP:
                total += 8
            else:
                total += 8 + 2 * _groups(values[r, c])
    out = np.empty(total, np.uint8)
    p = 0
    for r in rows:
        p = _put(out, p, width + 1, 2)
        for c in range(width):
            n = fl[r, c]
            if n == 0:
                p = _put(out, p, -1, 4)
                continue
            k = kinds[c]
            if k == TEXT:
                p = _put(out, p, n, 4)
                s = fs[r, c]
                out[p : p + n] = buf[s : s + n]
                p += n
            elif k == DATE:
                p = _put(out, p, 4, 4)
                p = _put(out, p, values[r, c], 4)
            elif k == TIMESTAMP:
                p = _put(out, p, 8, 4)
                p = _put(out, p, values[r, c], 8)
            else:
                v = values[r, c]
                groups = _groups(v)
                p = _put(out, p, 8 + 2 * groups, 4)
                p = _put(out, p, groups, 2)  # ndigits
                p = _put(out, p, groups - 1 if groups else 0, 2)  # weight
                p = _put(out, p, 0, 4)  # sign (positive) and dscale (0)
                for i in range(groups - 1, -1, -1):  # most significant digit first
                    p = _put(out, p, (v // 10000**i) % 10000, 2)
        p = _put(out, p, len(tail), 4)
        out[p : p + len(tail)] = tail
        p += len(tail)
    return out


def warm() -> None:
    """Compile the kernels, or load them from numba's cache (a fixed cost per process, under a second
    once cached), so that the first block does not pay for it."""
    line = np.frombuffer(b"a\n", dtype=np.uint8)
    one = np.zeros((1, 1), dtype=np.int64)
    split(line, 1, np.zeros(1, dtype=np.int8), np.zeros(1, dtype=np.bool_), np.zeros(256, dtype=np.bool_))
    encode(line, one, one, one, np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int8), line[:1])
