"""Compiled fast accepts of the vectorized checks (:mod:`citygov.quality.vector`): one pass per row over
the fixed-width byte matrix of a :class:`~citygov.quality.vector.TextColumn`, where the NumPy form made
several passes and float64 copies of it. Each returns, per row, whether the value surely passes; the
engine hands every other value to the rule itself (its module in :mod:`citygov.quality.registry`), so these only decide
what is accepted without a closer look. Compiled by numba, cached per installation."""

from __future__ import annotations

import numpy as np
from numba import njit

_RIC_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_RIC_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8).copy()


@njit(cache=True, nogil=True)
def digits_value(row: np.ndarray, start: int, count: int) -> int:
    """The value of ``count`` ASCII digits of the bytes ``row`` at ``start``, or -1 if one is no digit."""
    value = 0
    for j in range(start, start + count):
        c = row[j] - 48
        if c < 0 or c > 9:
            return -1
        value = value * 10 + c
    return value


@njit(cache=True, nogil=True)
def real_date(y: int, m: int, d: int, min_year: int) -> bool:
    """Whether year ``y`` ≥ ``min_year``, month ``m`` and day ``d`` make a proleptic Gregorian date."""
    if y < min_year or m < 1 or m > 12 or d < 1:
        return False
    if m == 2:
        return d <= (29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28)
    return d <= (30 if m in (4, 6, 9, 11) else 31)


@njit(cache=True, nogil=True)
def _ric(m: np.ndarray, limit: int, divisions: np.ndarray, min_year: int, weights: np.ndarray,
         check_chars: np.ndarray) -> np.ndarray:
    out = np.zeros(m.shape[0], dtype=np.bool_)
    for i in range(m.shape[0]):
        row = m[i]
        total = 0
        digits = True
        for j in range(17):
            c = row[j] - 48
            if c < 0 or c > 9:
                digits = False
                break
            total += weights[j] * c
        last = row[17]
        if not digits or not ((48 <= last <= 57) or last == 88) or check_chars[total % 11] != last:
            continue
        born = digits_value(row, 6, 8)
        if born > limit or not real_date(born // 10000, born // 100 % 100, born % 100, min_year):
            continue
        out[i] = divisions[digits_value(row, 0, 6)]
    return out


def ric(m: np.ndarray, limit: int, divisions: np.ndarray, min_year: int) -> np.ndarray:
    """Rows (18 bytes) that are an 18-character 公民身份号码 with upper-case ``X``: 17 digits and the
    right check character, a real birth date from ``min_year`` up to ``limit`` (``YYYYMMDD``) and a
    known GB/T 2260 division (``divisions``: a million flags)."""
    return _ric(np.ascontiguousarray(m), limit, divisions, min_year, _RIC_W, _RIC_CHECK)


@njit(cache=True, nogil=True)
def iso_day_not_after(m: np.ndarray, limit: int) -> np.ndarray:
    """Rows whose first 10 bytes are ``DDDD-DD-DD`` (ASCII digits) spelling ``YYYYMMDD`` ≤ ``limit``."""
    out = np.zeros(m.shape[0], dtype=np.bool_)
    for i in range(m.shape[0]):
        row = m[i]
        if row[4] != 45 or row[7] != 45:
            continue
        y, mo, d = digits_value(row, 0, 4), digits_value(row, 5, 2), digits_value(row, 8, 2)
        if y >= 0 and mo >= 0 and d >= 0:
            out[i] = y * 10000 + mo * 100 + d <= limit
    return out


@njit(cache=True, nogil=True)
def known_division(m: np.ndarray, divisions: np.ndarray) -> np.ndarray:
    """Rows of six ASCII digits that are a flagged code of ``divisions`` (a million flags)."""
    out = np.zeros(m.shape[0], dtype=np.bool_)
    for i in range(m.shape[0]):
        code = digits_value(m[i], 0, 6)
        out[i] = code >= 0 and divisions[code]
    return out


def warm() -> None:
    """Compile the kernels, or load them from numba's cache (a fixed cost per process)."""
    m = np.zeros((1, 18), dtype=np.uint8)
    flags = np.zeros(1_000_000, dtype=np.bool_)
    ric(m, 0, flags, 0)
    iso_day_not_after(m, 0)
    known_division(m, flags)
