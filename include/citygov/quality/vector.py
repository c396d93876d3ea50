"""Vectorized conditions: columns of text as UTF-8 bytes, and a check's verdict over whole columns.

A rule's vectorized form (:attr:`citygov.quality.registry.CheckForms.vector`) is a *fast accept*: True
only for values (or pairs of values) the rule certainly accepts, computed over :class:`TextColumn` s
(numpy, or the compiled kernels of :mod:`citygov.quality.kernels`, which read the bytes in place).
:func:`vector_expected` hands every other evaluated value to the rule's own check, so the verdict is
always the rule's. The streaming engine, the backflow row checks and the agreement tests use it; the
fused SQL does not need it.

NULL is the column's ``null`` mask, never a length of 0: a database's ``''`` is present, empty text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

_FIXED_MAX = 64
"""The widest ``codes`` matrix (the key hashes read longer values whole), and the padding after the
buffer of a column made from text."""


class TextColumn:
    """A column of text values for vectorized conditions, in UTF-8 bytes: each row's bytes lie in one
    ``buffer`` at ``starts`` for ``lengths`` bytes, ``null`` tells NULL apart (an empty but present text,
    a database's ``''``, is not NULL), and ``values`` gives a row's value for the rule to judge what the
    fast accept left. The compiled kernels (:mod:`citygov.quality.kernels`) read the buffer in place;
    ``fixed(n)`` / ``prefix(n)`` give the rows of exactly / at least ``n`` bytes with their first ``n``
    bytes as an ``(rows, n)`` uint8 matrix for NumPy conditions.

    Build one from text (``TextColumn(values)``: None or ``""`` is NULL, as an empty CSV field) or from
    fields of a UTF-8 buffer (:meth:`from_buffer`, no Python string per value)."""

    buffer: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    """Bytes per row (0 for NULL and for empty text)."""
    null: np.ndarray
    values: Sequence[Any]
    text_values: bool
    """Whether ``values`` are the texts themselves (str or None), so a rule that compares Python objects
    (a value set's ``isin``) sees what the bytes say; False when they are a source's objects (``1`` is
    not ``"1"`` to ``isin``)."""
    cap: int
    """Bytes of a value the buffer holds: all of them, except in a column made from a byte matrix
    (:meth:`_init`), which keeps the first ``cap`` of longer values."""

    def __init__(self, values: Sequence[str | None]) -> None:
        raw = [v.encode("utf-8") if v else b"" for v in values]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        starts = np.zeros(len(raw), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        buffer = np.frombuffer(b"".join(raw) + bytes(_FIXED_MAX), dtype=np.uint8)
        self._init_buffer(buffer, starts, lengths, values, lengths == 0)

    @classmethod
    def from_buffer(cls, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *,
                    null: np.ndarray | None = None, values: Sequence[Any] | None = None,
                    text_values: bool | None = None) -> TextColumn:
        """The fields ``buffer[starts[i] : starts[i] + lengths[i]]`` of a UTF-8 buffer (uint8 array that
        extends at least 64 bytes past its last field). The bytes past a value's length are whatever
        follows it in the buffer: no condition reads them.

        ``null`` (default: the empty fields) tells NULL from empty text (a database's ``''``);
        ``values`` gives a row's value as the source holds it (a number, a date) for the rule to judge,
        instead of the decoded text; ``text_values`` says they are the text all the same (a text
        column's str values; default: only when ``values`` is not given)."""
        self = cls.__new__(cls)
        # contiguous (a block's columns are strided views): one compiled form of each kernel, not two
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        null = lengths == 0 if null is None else np.ascontiguousarray(null, dtype=bool)
        self._init_buffer(buffer, starts, lengths, values if values is not None else _Decoded(buffer, starts, lengths, null), null)
        self.text_values = values is None if text_values is None else text_values
        return self

    def _init_buffer(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, values: Sequence[Any],
                     null: np.ndarray) -> None:
        self.buffer, self.starts, self.lengths, self.null, self.values = buffer, starts, lengths, null, values
        self.text_values = True
        self.cap = int(np.iinfo(np.int64).max)
        self._codes: np.ndarray | None = None

    def _init(self, lengths: np.ndarray, matrix: np.ndarray, values: Sequence[Any], null: np.ndarray | None = None) -> None:
        """A column from a ``(rows, width)`` byte matrix (the first ``width`` bytes of each value)."""
        matrix = np.ascontiguousarray(matrix)
        rows, width = matrix.shape
        lengths = np.asarray(lengths, dtype=np.int64)
        self._init_buffer(matrix.reshape(-1), np.arange(rows, dtype=np.int64) * width, lengths, values,
                          lengths == 0 if null is None else np.asarray(null, dtype=bool))
        self.cap = width
        self._codes = matrix

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def codes(self) -> np.ndarray:
        """The first bytes of every row (up to 64, the longest value's length at most) as a matrix,
        made on first use: the conditions read the buffer, the key hashes read this."""
        if self._codes is None:
            width = max(min(int(self.lengths.max(initial=0)), _FIXED_MAX), 1)
            self._codes = np.lib.stride_tricks.sliding_window_view(self.buffer, width)[self.starts]
        return self._codes

    def fixed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows(self.lengths == n, n)

    def prefix(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows(self.lengths >= n, n)

    def _rows(self, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.cap or n < 1:
            return mask & False, np.zeros((0, max(n, 0)), np.uint8)
        if self._codes is not None and n <= self._codes.shape[1]:
            return mask, self._codes[:, :n] if mask.all() else self._codes[mask, :n]  # all rows: no copy
        starts = self.starts[mask]
        if not len(starts):  # (the buffer may be shorter than n)
            return mask, np.zeros((0, n), np.uint8)
        return mask, np.lib.stride_tricks.sliding_window_view(self.buffer, n)[starts]

    def judged_values(self, rows: np.ndarray) -> list[Any]:
        """The values of ``rows`` for the rule to judge: None for NULL, else the column's value."""
        values, null = self.values, self.null[rows]
        take = getattr(values, "take", None)  # a sequence that gives many values at once, cheaper than one by one
        if take is not None:
            return [None if z else v for v, z in zip(take(rows), null.tolist(), strict=True)]
        return [None if z else values[i] for i, z in zip(rows.tolist(), null.tolist(), strict=True)]


class _Decoded(Sequence[str | None]):
    """The text of buffer fields, decoded on access (only the values a rule has to judge)."""

    def __init__(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, null: np.ndarray) -> None:
        self.buffer, self.starts, self.lengths, self.null = buffer, starts, lengths, null

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: Any) -> Any:
        if self.null[i]:
            return None
        start, n = int(self.starts[i]), int(self.lengths[i])
        return self.buffer[start : start + n].tobytes().decode("utf-8")


def accept(col: TextColumn, mask: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(col), dtype=bool)
    out[np.flatnonzero(mask)[ok]] = True
    return out


_MISSING_TEXTS = ("nan", "NaN", "NaT", "<NA>", "-nan", "-NaN", "sNaN", "-sNaN")
"""How a source's missing-value objects read as text (a float or Decimal NaN, pandas' NaT and NA): not
NULL in the column, yet missing to pandas' ``notna`` and to the not-blank rule."""


def missing_like(column: TextColumn) -> np.ndarray:
    """Rows whose text is exactly one of :data:`_MISSING_TEXTS` (only rows of 3 to 5 bytes are read),
    which the presence fast accepts leave to their rule."""
    out = np.zeros(len(column), dtype=bool)
    for n in sorted({len(t) for t in _MISSING_TEXTS}):
        mask, matrix = column.fixed(n)
        if len(matrix):
            wanted = np.array([t.encode("ascii") for t in _MISSING_TEXTS if len(t) == n], dtype=f"S{n}")
            out |= accept(column, mask, np.isin(np.ascontiguousarray(matrix).view(f"S{n}").ravel(), wanted))
    return out


def not_null(cols: Sequence[TextColumn]) -> np.ndarray:
    """Fast accept of a value that is not NULL (empty text included), but for :func:`missing_like` ones."""
    c = cols[0]
    return ~c.null & ~missing_like(c)


def not_blank(cols: Sequence[TextColumn]) -> np.ndarray:
    """Fast accept of a non-blank value: present, not empty, and not starting with a space (only spaces
    are stripped, :func:`citygov.quality.cells.text`; a first byte that is none means text is left),
    but for :func:`missing_like` ones."""
    c = cols[0]
    present = ~c.null & (c.lengths > 0)
    first = c.buffer[np.minimum(c.starts, len(c.buffer) - 1)]
    return present & (first != 32) & ~missing_like(c)


def in_set(values: Sequence[Any], *, blank: bool = False) -> Callable[[Sequence[TextColumn]], np.ndarray]:
    """Fast accept of one of the texts among ``values`` (any number of them), for columns whose values
    are their text (:attr:`TextColumn.text_values`): ``isin`` tells ``1`` from ``"1"``, so a source's
    numbers are left to the rule. Rows are compared by their exact bytes, per byte length: as one
    integer up to 8 bytes, as fixed-width byte strings beyond. ``blank``: empty text and only spaces
    are accepted too (a rule that passes them, as the base-table reference does)."""
    by_length: dict[int, list[bytes]] = {}
    for text in dict.fromkeys(v for v in values if isinstance(v, str) and v):
        raw = text.encode("utf-8")
        by_length.setdefault(len(raw), []).append(raw)
    wanted: dict[int, np.ndarray] = {}
    for n, raws in by_length.items():
        if n <= 8:  # each value as one integer
            packed = np.zeros((len(raws), 8), dtype=np.uint8)
            packed[:, :n] = np.frombuffer(b"".join(raws), dtype=np.uint8).reshape(len(raws), n)
            wanted[n] = packed.view(np.uint64).ravel()
        else:  # equal-length byte strings: numpy's S dtype compares them byte for byte
            wanted[n] = np.array(raws, dtype=f"S{n}")

    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        c = cols[0]
        out = np.zeros(len(c), dtype=bool)
        if blank:
            from citygov.quality import kernels

            out |= kernels.blank(c.buffer, c.starts, c.lengths, c.cap)
        if not c.text_values:
            return out & ~c.null
        for n, want in wanted.items():
            mask, matrix = c.fixed(n)
            if not len(matrix):
                continue
            if n <= 8:
                rows = np.zeros((len(matrix), 8), dtype=np.uint8)
                rows[:, :n] = matrix
                out |= accept(c, mask, np.isin(rows.view(np.uint64).ravel(), want))
            else:
                out |= accept(c, mask, np.isin(np.ascontiguousarray(matrix).view(f"S{n}").ravel(), want))
        return out & ~c.null

    return cond


def kernel_accept(column: TextColumn, kernel: Callable[..., np.ndarray], *args: Any, blank: bool = False) -> np.ndarray:
    """A compiled kernel's fast accept (:mod:`citygov.quality.kernels`) over a column's bytes in place,
    as a verdict for every row (NULLs never accepted). ``blank``: empty text and only spaces are
    accepted too (:func:`citygov.quality.kernels.blank`): the identifier rules pass them, leaving
    them to the not-blank rule, and a database may hold ``''`` where a file has NULL."""
    out = kernel(column.buffer, column.starts, column.lengths, column.cap, *args)
    if blank:
        from citygov.quality import kernels

        out |= kernels.blank(column.buffer, column.starts, column.lengths, column.cap)
    return out & ~column.null


def pair_kernel_accept(a: TextColumn, b: TextColumn, kernel: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
    """A compiled kernel's fast accept of a column pair (:func:`citygov.quality.kernels.id_birth`): the
    kernel reads both columns' bytes in place; NULLs count as no bytes (the kernels accept rows with a
    side too short to hold what the rule compares)."""
    a_lengths = np.where(a.null, 0, a.lengths)
    b_lengths = np.where(b.null, 0, b.lengths)
    return kernel(a.buffer, a.starts, a_lengths, a.cap, b.buffer, b.starts, b_lengths, b.cap, *args)


@functools.cache
def division_table(current_only: bool) -> np.ndarray:
    """A million flags: is ``NNNNNN`` a (current) GB/T 2260 code."""
    from citygov.quality.reference import current_division_codes, known_division_codes

    table = np.zeros(1_000_000, dtype=bool)
    codes = current_division_codes() if current_only else known_division_codes()
    table[[int(c) for c in codes if len(c) == 6 and c.isascii() and c.isdigit()]] = True
    return table


def iso_number(day: Any) -> int:
    """``YYYYMMDD`` of a date or a date-like string, as a number."""
    return int(str(day.isoformat() if hasattr(day, "isoformat") else day)[:10].replace("-", ""))


def vector_expected(check: Any, columns: Sequence[Sequence[str | None] | TextColumn]) -> np.ndarray:
    """The *expected* verdict of a ``map`` or ``pair`` check for every row of ``columns``
    (:class:`TextColumn` s, or lists of text where None or ``""`` is NULL), as a boolean array: rows the
    check does not evaluate (NULLs of a ``filter_nulls`` map check, rows dropped by ``ignore_row_if``)
    are expected. Values the check's fast accept (``check.vector``) takes are not looked at again; every
    other evaluated row is judged by the check's pandas condition, i.e. by the rule itself
    (:mod:`citygov.quality.registry`), with None for its NULLs and the column's value otherwise. Only
    those rows become Python objects."""
    assert check.kind in {"map", "pair"} and check.pandas is not None
    cols = [c if isinstance(c, TextColumn) else TextColumn(c) for c in columns]
    n = len(cols[0])
    if check.kind == "map":
        evaluated = ~cols[0].null if check.filter_nulls else np.ones(n, dtype=bool)
    else:
        evaluated = kept_rows([c.null for c in cols], check.ignore_row_if)
    accepted = np.asarray(check.vector(cols), dtype=bool) if check.vector is not None else np.zeros(n, dtype=bool)
    judge = np.flatnonzero(evaluated & ~accepted)
    out = ~evaluated | accepted
    if len(judge):
        out[judge] = _judged(check, [c.judged_values(judge) for c in cols])
    return out


def _judged(check: Any, columns: list[list[Any]]) -> np.ndarray:
    """The rule's verdicts of the rows ``columns`` hold, each distinct row judged once: what the fast
    accept leaves is mostly the same few odd or bad values (``无``, ``0``, blanks), and a Python check per
    value costs microseconds. Values are told apart by type and text (``1`` from ``"1"``,
    ``Decimal("1.0")`` from ``Decimal("1.00")``), never merged by equality alone."""
    keys: Sequence[Any] = [_key(v) for v in columns[0]] if len(columns) == 1 else [
        tuple(map(_key, row)) for row in zip(*columns, strict=True)
    ]
    slot_of: dict[Any, int] = {}
    slots = np.fromiter((slot_of.setdefault(k, len(slot_of)) for k in keys), dtype=np.int64, count=len(keys))
    if len(slot_of) == len(keys):
        return np.asarray(check.pandas([pd.Series(c, dtype=object) for c in columns]), dtype=bool)
    firsts = np.unique(slots, return_index=True)[1].tolist()  # slots are numbered in order of first sight
    series = [pd.Series([c[i] for i in firsts], dtype=object) for c in columns]
    return np.asarray(check.pandas(series), dtype=bool)[slots]


def _key(value: Any) -> Any:
    return value if type(value) is str else (type(value), repr(value))


def kept_rows(nulls: Sequence[np.ndarray], ignore_row_if: str) -> np.ndarray:
    """Which rows a ``pair`` or ``compound_unique`` check evaluates, from its columns' NULL masks."""
    if ignore_row_if in {"either_value_is_missing", "any_value_is_missing"}:
        return ~np.logical_or.reduce(nulls)
    if ignore_row_if in {"both_values_are_missing", "all_values_are_missing"}:
        return ~np.logical_and.reduce(nulls)
    return np.ones(len(nulls[0]), dtype=bool)


def keep_frame(cols: Sequence[pd.Series], ignore_row_if: str) -> pd.Series:
    """:func:`kept_rows` of a chunk's pandas Series (NA is NULL)."""
    return pd.Series(kept_rows([c.isna().to_numpy(dtype=bool) for c in cols], ignore_row_if), index=cols[0].index)
