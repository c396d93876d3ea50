"""Compiled fast accepts of the vectorized checks (:mod:`citygov.quality.vector`): one pass per row over
the UTF-8 bytes of a :class:`~citygov.quality.vector.TextColumn`, read where they lie in its buffer
(``buf[starts[i] : starts[i] + lengths[i]]``), so no matrix of the column's bytes and no temporaries are
made. Each returns, per row, whether the value surely passes; the engine hands every other value to the
rule itself (its module in :mod:`citygov.quality.registry`), so these only decide what is accepted
without a closer look: anything unusual (surrounding spaces, lower case, full-width digits, exponents)
is simply not accepted. Compiled by numba, cached per installation.

Every kernel takes ``(buf, starts, lengths, cap, …)``: ``cap`` is how many bytes of a value the buffer
holds (a column built from a byte matrix keeps only the first bytes of long values); a kernel reads no
byte of a row past ``min(lengths[i], cap)`` and never accepts a value it could not read whole when the
verdict depends on all of it. A row's length says nothing about NULL: the callers mask NULLs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_RIC_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_RIC_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8).copy()
_TEN = np.array([10.0**k for k in range(16)], dtype=np.float64)
"""Powers of ten up to 10¹⁵, each exact in float64."""

MAX_DECIMAL_DIGITS = 15
"""Numbers of at most this many digits are fast-accepted: their float64 value (what pandas compares) is
one correctly rounded division of two exact doubles, and no two of them round to the same double."""


@njit(cache=True, nogil=True, inline="always")
def digits_value(row: np.ndarray, start: int, count: int) -> int:
    """The value of ``count`` ASCII digits of the bytes ``row`` at ``start``, or -1 if one is no digit."""
    value = 0
    for j in range(start, start + count):
        c = row[j] - 48
        if c < 0 or c > 9:
            return -1
        value = value * 10 + c
    return value


@njit(cache=True, nogil=True, inline="always")
def real_date(y: int, m: int, d: int, min_year: int) -> bool:
    """Whether year ``y`` ≥ ``min_year``, month ``m`` and day ``d`` make a proleptic Gregorian date."""
    if y < min_year or m < 1 or m > 12 or d < 1:
        return False
    if m == 2:
        return d <= (29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28)
    return d <= (30 if m in (4, 6, 9, 11) else 31)


@njit(cache=True, nogil=True)
def _ric(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, limit: int, divisions: np.ndarray,
         min_year: int, allow_15_digit: bool, weights: np.ndarray, check_chars: np.ndarray) -> np.ndarray:
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n = lengths[i]
        if n > cap:
            continue
        s = starts[i]
        if n == 18:
            total = 0
            digits = True
            for j in range(17):
                c = buf[s + j] - 48
                if c < 0 or c > 9:
                    digits = False
                    break
                total += weights[j] * c
            last = buf[s + 17]
            if last == 120:  # x: the rule reads the value in upper case
                last = 88
            # the check character table holds only digits and X: a match is the shape's last character too
            if not digits or check_chars[total % 11] != last:
                continue
            born = digits_value(buf, s + 6, 8)  # digits: checked above
        elif n == 15 and allow_15_digit:
            if digits_value(buf, s, 15) < 0:
                continue
            born = 19000000 + digits_value(buf, s + 6, 6)
        else:
            continue
        if born > limit or not real_date(born // 10000, born // 100 % 100, born % 100, min_year):
            continue
        out[i] = divisions[digits_value(buf, s, 6)]
    return out


def ric(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, limit: int, divisions: np.ndarray,
        min_year: int, allow_15_digit: bool = True) -> np.ndarray:
    """Rows that are a 公民身份号码: 17 digits and the right check character (``X`` or ``x``), or with
    ``allow_15_digit`` an old number of 15 digits (born ``19YYMMDD``), with a real birth date from
    ``min_year`` up to ``limit`` (``YYYYMMDD``) and a known GB/T 2260 division (``divisions``: a million
    flags)."""
    return _ric(buf, starts, lengths, cap, limit, divisions, min_year, allow_15_digit, _RIC_W, _RIC_CHECK)


@njit(cache=True, nogil=True, inline="always")
def _iso_day(buf: np.ndarray, s: int) -> int:
    """``YYYYMMDD`` of ``DDDD-DD-DD`` or ``DDDD/DD/DD`` (ASCII digits, either separator at each place)
    at ``buf[s:]``, or -1."""
    if not (buf[s + 4] == 45 or buf[s + 4] == 47) or not (buf[s + 7] == 45 or buf[s + 7] == 47):
        return -1
    y, mo, d = digits_value(buf, s, 4), digits_value(buf, s + 5, 2), digits_value(buf, s + 8, 2)
    if y < 0 or mo < 0 or d < 0:
        return -1
    return y * 10000 + mo * 100 + d


@njit(cache=True, nogil=True, inline="always")
def _no_date(buf: np.ndarray, s: int, n: int, cap: int) -> bool:
    """Whether the text at ``buf[s:]`` (``n`` bytes) surely does not start with ``YYYY-MM-DD`` or
    ``YYYY/MM/DD`` once surrounding spaces are stripped: it starts with no space (stripping the end keeps
    the start) and is shorter or its first 10 bytes are no such date."""
    if n == 0:
        return True
    if buf[s] == 32 or (n > cap and cap < 10):
        return False
    return n < 10 or _iso_day(buf, s) < 0


@njit(cache=True, nogil=True)
def no_date_after(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, limit: int) -> np.ndarray:
    """Rows that surely hold no date after ``limit`` (``YYYYMMDD``): no date at all (:func:`_no_date`),
    or one starting the value (``YYYY-MM-DD`` or ``YYYY/MM/DD``, ASCII digits) that is not after it."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n, s = lengths[i], starts[i]
        if _no_date(buf, s, n, cap):
            out[i] = True
        elif min(n, cap) >= 10:
            day = _iso_day(buf, s)
            out[i] = 0 <= day <= limit
    return out


@njit(cache=True, nogil=True)
def known_division(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, divisions: np.ndarray) -> np.ndarray:
    """Rows of six ASCII digits that are a flagged code of ``divisions`` (a million flags)."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    if cap < 6:
        return out
    for i in range(lengths.shape[0]):
        if lengths[i] == 6:
            code = digits_value(buf, starts[i], 6)
            out[i] = code >= 0 and divisions[code]
    return out


@njit(cache=True, nogil=True)
def blank(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int) -> np.ndarray:
    """Rows of empty text or only spaces (all of it read), which the identifier rules pass."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n, s = lengths[i], starts[i]
        if n > cap:
            continue
        spaces = True
        for j in range(n):
            if buf[s + j] != 32:
                spaces = False
                break
        out[i] = spaces
    return out


@njit(cache=True, nogil=True)
def mobile(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int) -> np.ndarray:
    """Rows that are exactly ``1[3-9]`` and nine ASCII digits."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    if cap < 11:
        return out
    for i in range(lengths.shape[0]):
        if lengths[i] != 11:
            continue
        s = starts[i]
        second = buf[s + 1]
        out[i] = buf[s] == 49 and 51 <= second <= 57 and digits_value(buf, s + 2, 9) >= 0
    return out


@njit(cache=True, nogil=True)
def uscc(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, index: np.ndarray,
         weights: np.ndarray) -> np.ndarray:
    """Rows of 18 characters of the credit-code alphabet, upper case (``index``: each byte's place in
    it, -1 for bytes outside), digits at the 3rd to 8th, and the GB 32100 MOD 31 check character."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    if cap < 18:
        return out
    for i in range(lengths.shape[0]):
        if lengths[i] != 18:
            continue
        s = starts[i]
        total = 0
        ok = True
        for j in range(17):
            k = index[buf[s + j]]
            if k < 0 or (2 <= j <= 7 and k > 9):
                ok = False
                break
            total += weights[j] * k
        out[i] = ok and index[buf[s + 17]] == (31 - total % 31) % 31
    return out


@njit(cache=True, nogil=True, inline="always")
def _code_point3(buf: np.ndarray, s: int) -> int:
    """The code point of a 3-byte UTF-8 sequence at ``buf[s:]``, or -1."""
    b0, b1, b2 = buf[s], buf[s + 1], buf[s + 2]
    if b0 < 0xE0 or b0 > 0xEF or b1 < 0x80 or b1 > 0xBF or b2 < 0x80 or b2 > 0xBF:
        return -1
    return ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)


@njit(cache=True, nogil=True, inline="always")
def _plate_letter(c: int) -> bool:
    return 65 <= c <= 90 and c != 73 and c != 79  # A-Z without I and O


@njit(cache=True, nogil=True)
def plate(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, provinces: np.ndarray,
          last_words: np.ndarray) -> np.ndarray:
    """Rows that are a GA 36 plate as :data:`citygov.identifiers.PLATE_RE` reads one: a province
    (``provinces``: flags by code point), a letter (no I, O), an optional ``· ・ . - `` or space, then 5
    or 6 characters of ``A-HJ-NP-Z0-9`` with a digit among them, the last of which may instead be one of
    ``last_words`` (挂 学 警 港 澳 领, flags by code point)."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n = lengths[i]
        if n < 9 or n > 16 or n > cap:
            continue
        s = starts[i]
        end = s + n
        cp = _code_point3(buf, s)
        if cp < 0 or not provinces[cp] or not _plate_letter(buf[s + 3]):
            continue
        p = s + 4
        c = buf[p]
        if c == 46 or c == 45 or c == 32:  # . - space
            p += 1
        elif c == 0xC2 and buf[p + 1] == 0xB7:  # ·
            p += 2
        elif c == 0xE3 and buf[p + 1] == 0x83 and buf[p + 2] == 0xBB:  # ・
            p += 3
        body = 0
        digit = False
        while p < end:
            c = buf[p]
            if 48 <= c <= 57:
                digit = True
            elif not _plate_letter(c):
                break
            body += 1
            p += 1
        if not digit:
            continue
        if p == end:
            out[i] = body == 5 or body == 6
        elif end - p == 3:
            cp = _code_point3(buf, p)
            out[i] = (body == 4 or body == 5) and cp >= 0 and last_words[cp]
    return out


@njit(cache=True, nogil=True)
def luhn(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, shortest: int, longest: int) -> np.ndarray:
    """Rows of ``shortest`` to ``longest`` ASCII digits (nothing else) with a right Luhn check digit."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n = lengths[i]
        if n < shortest or n > longest or n > cap:
            continue
        s = starts[i]
        total = 0
        ok = True
        for j in range(n):
            d = buf[s + n - 1 - j] - 48  # from the right: the check digit first, then doubled ones
            if d < 0 or d > 9:
                ok = False
                break
            if j % 2 == 1:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        out[i] = ok and total % 10 == 0
    return out


@njit(cache=True, nogil=True, inline="always")
def _decimal(buf: np.ndarray, s: int, n: int, ten: np.ndarray) -> tuple[bool, float]:
    """A plain decimal number at ``buf[s : s + n]``: an optional ``-`` or ``+``, digits, optionally a dot
    and more digits, at most :data:`MAX_DECIMAL_DIGITS` digits in all; its float64 value."""
    p = s
    end = s + n
    negative = False
    if p < end and (buf[p] == 45 or buf[p] == 43):
        negative = buf[p] == 45
        p += 1
    mantissa = 0
    digits = 0
    whole = 0
    while p < end and 48 <= buf[p] <= 57:
        mantissa = mantissa * 10 + (buf[p] - 48)
        digits += 1
        whole += 1
        p += 1
    fraction = 0
    if p < end and buf[p] == 46:
        p += 1
        while p < end and 48 <= buf[p] <= 57:
            mantissa = mantissa * 10 + (buf[p] - 48)
            digits += 1
            fraction += 1
            p += 1
        if fraction == 0:
            return False, 0.0
    if p != end or whole == 0 or digits > MAX_DECIMAL_DIGITS:
        return False, 0.0
    value = float(mantissa) / ten[fraction]
    return True, -value if negative else value


@njit(cache=True, nogil=True)
def decimal_between(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, low: float, high: float,
                    strict_low: bool, strict_high: bool) -> np.ndarray:
    """Rows that are a plain decimal number (:func:`_decimal`) whose float64 value lies between ``low``
    and ``high`` (``-inf`` / ``inf`` for no bound; ``strict_*``: the bound itself is out)."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n = lengths[i]
        if n == 0 or n > MAX_DECIMAL_DIGITS + 2 or n > cap:  # a sign, the digits, a dot
            continue
        ok, v = _decimal(buf, starts[i], n, _TEN)
        if not ok:
            continue
        above = v > low if strict_low else v >= low
        below = v < high if strict_high else v <= high
        out[i] = above and below
    return out


@njit(cache=True, nogil=True, inline="always")
def _utf8_chars(buf: np.ndarray, s: int, n: int) -> int:
    """How many characters the well-formed UTF-8 ``buf[s : s + n]`` holds, or -1 when it is not
    well-formed (a lenient decoder could count its bytes otherwise)."""
    p = s
    end = s + n
    chars = 0
    while p < end:
        b = buf[p]
        if b < 0x80:
            p += 1
        else:
            if 0xC2 <= b <= 0xDF:
                k, lo, hi = 1, 0x80, 0xBF
            elif 0xE0 <= b <= 0xEF:
                k = 2
                lo = 0xA0 if b == 0xE0 else 0x80
                hi = 0x9F if b == 0xED else 0xBF
            elif 0xF0 <= b <= 0xF4:
                k = 3
                lo = 0x90 if b == 0xF0 else 0x80
                hi = 0x8F if b == 0xF4 else 0xBF
            else:
                return -1
            if p + k >= end:
                return -1
            c = buf[p + 1]
            if c < lo or c > hi:
                return -1
            for j in range(2, k + 1):
                c = buf[p + j]
                if c < 0x80 or c > 0xBF:
                    return -1
            p += k + 1
        chars += 1
    return chars


@njit(cache=True, nogil=True)
def chars_between(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int, low: int, high: int) -> np.ndarray:
    """Rows whose text has ``low`` to ``high`` characters (code points, as Python's ``len``): a value of
    ``n`` bytes has between ``ceil(n / 4)`` and ``n``, which settles most rows (long ones unread);
    the others are counted when they are well-formed UTF-8 the buffer holds whole."""
    out = np.zeros(lengths.shape[0], dtype=np.bool_)
    for i in range(lengths.shape[0]):
        n = lengths[i]
        if (n + 3) // 4 >= low and n <= high:
            out[i] = True
        elif n <= cap and n >= low:
            chars = _utf8_chars(buf, starts[i], n)
            out[i] = chars >= 0 and low <= chars <= high
    return out


@njit(cache=True, nogil=True, inline="always")
def _packed(buf: np.ndarray, s: int, n: int) -> int:
    """Up to 8 bytes as one integer (little-endian; the length tells ``"1"`` from ``"1\\0"``)."""
    value = 0
    for j in range(n):
        value |= np.int64(buf[s + j]) << (8 * j)
    return value


@njit(cache=True, nogil=True, inline="always")
def _ric_shape(buf: np.ndarray, s: int, n: int) -> bool:
    """An ID number's shape at ``buf[s:]`` (18: 17 digits and a digit, ``X`` or ``x``; 15: digits)."""
    if n == 18:
        last = buf[s + 17]
        return digits_value(buf, s, 17) >= 0 and ((48 <= last <= 57) or last == 88 or last == 120)
    return n == 15 and digits_value(buf, s, 15) >= 0


@njit(cache=True, nogil=True, inline="always")
def _id_state(buf: np.ndarray, s: int, n: int, cap: int) -> int:
    """1 when the text at ``buf[s:]`` (``n`` bytes) has an ID number's shape (:func:`_ric_shape`); -1
    when it surely has none once spaces are stripped (too short; or read whole, without surrounding
    spaces, and not of the shape); 0 when only the rule can tell."""
    if n < 15:
        return -1
    if n > cap:
        return 0
    if _ric_shape(buf, s, n):
        return 1
    return 0 if buf[s] == 32 or buf[s + n - 1] == 32 else -1


@njit(cache=True, nogil=True)
def id_birth(abuf: np.ndarray, astarts: np.ndarray, alengths: np.ndarray, acap: int,
             bbuf: np.ndarray, bstarts: np.ndarray, blengths: np.ndarray, bcap: int) -> np.ndarray:
    """Rows whose ID number (column A) and date (column B) surely agree or cannot be compared: the ID's
    birth digits are the date's (``YYYY-MM-DD`` or ``YYYY/MM/DD`` it starts with; ``19YYMMDD`` of a
    15-digit ID), or a side surely holds no ID (:func:`_id_state`) or no date (:func:`_no_date`; NULLs
    have no bytes)."""
    out = np.zeros(alengths.shape[0], dtype=np.bool_)
    for i in range(alengths.shape[0]):
        n, m, a, b = alengths[i], blengths[i], astarts[i], bstarts[i]
        state = _id_state(abuf, a, n, acap)
        if state < 0:
            out[i] = True
            continue
        day = _iso_day(bbuf, b) if min(m, bcap) >= 10 else -1
        if day < 0:
            out[i] = _no_date(bbuf, b, m, bcap)
        elif state > 0:
            born = digits_value(abuf, a + 6, 8) if n == 18 else 19000000 + digits_value(abuf, a + 6, 6)
            out[i] = born == day
    return out


@njit(cache=True, nogil=True)
def id_gender(abuf: np.ndarray, astarts: np.ndarray, alengths: np.ndarray, acap: int,
              bbuf: np.ndarray, bstarts: np.ndarray, blengths: np.ndarray, bcap: int,
              words: np.ndarray, word_lengths: np.ndarray, word_male: np.ndarray, blank_agrees: bool) -> np.ndarray:
    """Rows whose gender (column B) is exactly one of ``words`` (packed, :func:`_packed`) that agrees
    with the ID number's sequence digit (``word_male``: the word says male), or whose ID surely is none
    (:func:`_id_state`: nothing to disagree with), or whose gender has no bytes when ``blank_agrees``."""
    out = np.zeros(alengths.shape[0], dtype=np.bool_)
    for i in range(alengths.shape[0]):
        n, m, a = alengths[i], blengths[i], astarts[i]
        state = _id_state(abuf, a, n, acap)
        if state < 0 or (m == 0 and blank_agrees):
            out[i] = True
            continue
        if state == 0 or m > 8 or m > bcap:
            continue
        male = (abuf[a + (16 if n == 18 else 14)] - 48) % 2 == 1
        g = _packed(bbuf, bstarts[i], m)
        for k in range(words.shape[0]):
            if word_lengths[k] == m and words[k] == g and word_male[k] == male:
                out[i] = True
                break
    return out


def warm() -> None:
    """Compile the kernels, or load them from numba's cache (a fixed cost per process)."""
    buf = np.zeros(64, dtype=np.uint8)
    starts = np.zeros(1, dtype=np.int64)
    lengths = np.full(1, 18, dtype=np.int64)
    flags = np.zeros(1_000_000, dtype=np.bool_)
    ric(buf, starts, lengths, 64, 0, flags, 0)
    no_date_after(buf, starts, lengths, 64, 0)
    blank(buf, starts, lengths, 64)
    known_division(buf, starts, lengths, 64, flags)
    mobile(buf, starts, lengths, 64)
    uscc(buf, starts, lengths, 64, np.zeros(256, dtype=np.int64), np.zeros(17, dtype=np.int64))
    plate(buf, starts, lengths, 64, flags, flags)
    luhn(buf, starts, lengths, 64, 16, 19)
    decimal_between(buf, starts, lengths, 64, 0.0, 1.0, False, False)
    chars_between(buf, starts, lengths, 64, 0, 1)
    id_birth(buf, starts, lengths, 64, buf, starts, lengths, 64)
    words = np.zeros(1, dtype=np.int64)
    id_gender(buf, starts, lengths, 64, buf, starts, lengths, 64, words, words, np.zeros(1, dtype=np.bool_), True)
