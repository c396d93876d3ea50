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

from typing import NamedTuple

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


# --- key order ---------------------------------------------------------------------------------------------
# A full load sends its rows in primary-key order when it can: the key rebuilt after the COPY then finds
# its input already sorted (PostgreSQL's sort checks for that first) and costs about half as much. The
# order is the key's byte order, which is the index's for text columns collated "C". Each key column is
# coded per byte position with only the symbols that occur there (the end of a shorter value first), so
# that a key usually packs into one 64-bit word, and the words are radix-sorted.

_BYTE = np.uint64(255)
KEY_LIMIT = 64
"""Key fields longer than this many bytes: the rows go in file order."""


KEY_BYTES_PER_LINE = 57
"""Memory the key order takes per line, at most (line starts, key words, the radix sort's arrays, the
order; the key fields' offsets and lengths are freed before the sort)."""


@njit(cache=True, nogil=True)
def count_lines(buf: np.ndarray, begin: int, end: int) -> int:
    n = 0
    for i in range(begin, end):
        n += buf[i] == 10
    return n


@njit(cache=True, nogil=True)
def line_after(buf: np.ndarray, pos: int) -> int:
    """The start of the first line that begins after ``pos`` (``len(buf)`` if none)."""
    while pos < len(buf) and buf[pos] != 10:
        pos += 1
    return min(pos + 1, len(buf))


@njit(cache=True, nogil=True)
def key_symbols(buf: np.ndarray, begin: int, first: int, n: int, key_fields: np.ndarray, starts: np.ndarray,
                at: np.ndarray, length: np.ndarray):  # noqa: ANN201
    """One pass over ``n`` lines of ``buf`` from ``begin`` (whole lines, each ending in ``\\n``), lines
    ``first`` to ``first + n`` of the file's: their starts (``starts[first + n]``: after the last), the
    offset in its line and the length of each key field (``at[k, r]``, ``length[k, r]``; a field the
    line lacks is empty).

    Returns which bytes occur at each position of each key field (``used[k, p, byte + 1]``), each key
    field's greatest and smallest length, and ``ok``: False if one is longer than :data:`KEY_LIMIT` (then
    the rest is incomplete)."""
    keys = len(key_fields)
    used = np.zeros((keys, KEY_LIMIT, 257), np.bool_)
    widths = np.zeros(keys, np.int64)
    shortest = np.full(keys, KEY_LIMIT, np.int64)
    last = key_fields.max()
    pos = begin
    for r in range(first, first + n):
        starts[r] = pos
        at[:, r] = 0
        length[:, r] = 0
        field, begin_field = 0, pos
        while True:
            b = buf[pos]
            if b == 10 or b == 44:
                if field <= last:
                    for k in range(keys):
                        if key_fields[k] == field:
                            size = pos - begin_field
                            if size > KEY_LIMIT:
                                return used, widths, shortest, False
                            at[k, r], length[k, r] = begin_field - starts[r], size
                            widths[k] = max(widths[k], size)
                            shortest[k] = min(shortest[k], size)
                            for p in range(size):
                                used[k, p, buf[begin_field + p] + 1] = True
                if b == 10:
                    break
                field += 1
                begin_field = pos + 1
            pos += 1
        if field < last:  # a key field the line lacks counts as empty
            shortest[:] = 0
        pos += 1
    starts[first + n] = pos
    return used, widths, shortest, True


def key_layout(used: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From :func:`key_symbols` (with ``used[k, p, 0]`` set where a value ends at or before ``p``): per key
    field, position and symbol its code (the symbol's rank among those occurring there), and per position
    the word it goes to (-1: none, one symbol occurs there) and its shift; plus the bits used in each word,
    from the top."""
    keys = len(widths)
    codes = np.zeros(used.shape, np.uint64)
    word = np.full((keys, KEY_LIMIT), -1, np.int64)
    shift = np.zeros((keys, KEY_LIMIT), np.uint64)
    bits = [0]
    for k in range(keys):
        for p in range(int(widths[k])):
            present = used[k, p]
            count = int(present.sum())
            width = (count - 1).bit_length()
            codes[k, p, present] = np.arange(count, dtype=np.uint64)
            if not width:
                continue
            if bits[-1] + width > 64:
                bits.append(0)
            word[k, p] = len(bits) - 1
            bits[-1] += width
            shift[k, p] = 64 - bits[-1]
    return codes, word, shift, np.array(bits, dtype=np.int64)


@njit(cache=True, nogil=True)
def key_words(buf: np.ndarray, starts: np.ndarray, at: np.ndarray, length: np.ndarray, lo: int, hi: int,
              widths: np.ndarray, codes: np.ndarray, word: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """The keys of lines ``lo`` to ``hi`` (:func:`key_symbols`) as 64-bit words into ``out[w, r]``
    (:func:`key_layout`): their order is the keys' byte order."""
    for k in range(at.shape[0]):
        active = np.array([p for p in range(widths[k]) if word[k, p] >= 0], dtype=np.int64)
        for r in range(lo, hi):
            s, size = starts[r] + at[k, r], length[k, r]
            for p in active:
                symbol = buf[s + p] + 1 if p < size else 0
                out[word[k, p], r] |= codes[k, p, symbol] << shift[k, p]


class KeyOrder(NamedTuple):
    order: np.ndarray
    """Line indexes (0: the first line from ``begin``) in key order."""
    at: np.ndarray
    """Where each line of ``order`` starts in the buffer."""
    length: np.ndarray
    """How long each line of ``order`` is, with its line break."""
    bits: np.ndarray
    """The bits of each key word (one word is the usual case)."""


def key_order(buf: np.ndarray, begin: int, key_fields: list[int], budget: int, threads: int = 2) -> KeyOrder | None:
    """The lines of ``buf`` from ``begin`` in the byte order of their fields ``key_fields`` (empty when a
    line lacks one), with what :func:`gather` needs to read them in that order. None if that needs more
    than ``budget`` bytes with the file (see :data:`KEY_BYTES_PER_LINE`) or a key field is longer than
    :data:`KEY_LIMIT`.

    The passes over the file run in ``threads`` threads over as many parts of it (the kernels release
    the GIL), then one radix sort."""
    from concurrent.futures import ThreadPoolExecutor
    from itertools import repeat

    cuts = [begin] + [line_after(buf, begin + (len(buf) - begin) * i // threads) for i in range(1, threads)] + [len(buf)]
    fields = np.array(key_fields, dtype=np.int64)
    with ThreadPoolExecutor(threads) as pool:
        counts = list(pool.map(count_lines, repeat(buf), cuts[:-1], cuts[1:]))
        n = sum(counts)
        if len(buf) + n * KEY_BYTES_PER_LINE > budget:
            return None
        firsts = np.cumsum([0, *counts]).tolist()
        starts = np.empty(n + 1, np.int64)
        at = np.empty((len(key_fields), n), np.int32)
        length = np.empty((len(key_fields), n), np.uint8)
        same = [repeat(x, threads) for x in (fields, starts, at, length)]
        found = list(pool.map(key_symbols, repeat(buf), cuts[:-1], firsts[:-1], counts, *same))
        if not all(ok for *_, ok in found):
            return None
        used = np.logical_or.reduce([f[0] for f in found])
        widths = np.max([f[1] for f in found], axis=0)
        shortest = np.min([f[2] for f in found], axis=0)
        for k in range(len(key_fields)):  # the end of a shorter value, a symbol below every byte
            used[k, shortest[k] : widths[k], 0] = True
        codes, word, shift, bits = key_layout(used, widths)
        words = np.zeros((len(bits), n), np.uint64)
        same = [repeat(x, threads) for x in (buf, starts, at, length)]
        more = [repeat(x, threads) for x in (widths, codes, word, shift, words)]
        list(pool.map(key_words, *same, firsts[:-1], firsts[1:], *more))
    del at, length
    order = radix_order(words, bits)
    del words
    return KeyOrder(order, *spans(starts, order), bits)


@njit(cache=True, nogil=True)
def radix_order(keys: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The order of the rows by their key words (``keys[w, r]``, most significant word first; ``bits[w]``
    of each word are used, from the top): a least-significant-digit radix sort, 8 bits per pass."""
    n = keys.shape[1]
    idx = np.arange(n)
    spare = np.empty(n, np.int64)
    k = np.empty(n, np.uint64)
    spare_k = np.empty(n, np.uint64)
    for w in range(keys.shape[0] - 1, -1, -1):
        for i in range(n):
            k[i] = keys[w, idx[i]]
        low = 64 - bits[w]
        while low < 64:
            shift = np.uint64(low)
            count = np.zeros(257, np.int64)
            for i in range(n):
                count[np.int64((k[i] >> shift) & _BYTE) + 1] += 1
            for d in range(256):
                count[d + 1] += count[d]
            for i in range(n):
                d = np.int64((k[i] >> shift) & _BYTE)
                j = count[d]
                spare[j] = idx[i]
                spare_k[j] = k[i]
                count[d] = j + 1
            idx, spare = spare, idx
            k, spare_k = spare_k, k
            low += 8
    return idx


@njit(cache=True, nogil=True)
def spans(starts: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each line of ``order`` (indexes into ``starts``) begins and how long it is, in that order:
    :func:`gather` then reads them one after the other instead of looking each up."""
    at = np.empty(len(order), np.int64)
    length = np.empty(len(order), np.int32)
    for i in range(len(order)):
        r = order[i]
        at[i] = starts[r]
        length[i] = starts[r + 1] - starts[r]
    return at, length


@njit(cache=True, nogil=True)
def gather(buf: np.ndarray, at: np.ndarray, length: np.ndarray, pad: int) -> np.ndarray:
    """The spans of ``buf`` at ``at`` of ``length`` bytes, one after the other, then ``pad`` zero bytes."""
    total = 0
    for n in length:
        total += n
    out = np.zeros(total + pad, np.uint8)
    p = 0
    for i in range(len(at)):
        s, n = at[i], length[i]
        out[p : p + n] = buf[s : s + n]
        p += n
    return out


def warm() -> None:
    """Compile the kernels, or load them from numba's cache (a fixed cost per process, under a second
    once cached), so that the first block does not pay for it."""
    line = np.frombuffer(b"a\n", dtype=np.uint8)
    one = np.zeros((1, 1), dtype=np.int64)
    split(line, 1, np.zeros(1, dtype=np.int8), np.zeros(1, dtype=np.bool_), np.zeros(256, dtype=np.bool_))
    encode(line, one, one, one, np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int8), line[:1])
    ordered = key_order(line, 0, [0], 1 << 20)
    assert ordered is not None
    gather(line, ordered.at, ordered.length, 0)
