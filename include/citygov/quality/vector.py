"""Vectorized conditions: columns of text as byte matrices, and a check's verdict over whole columns.

A rule's vectorized form (:attr:`citygov.quality.registry.CheckForms.vector`) is a *fast accept*: True
only for values the rule certainly accepts, computed over a :class:`TextColumn` (numpy, or the compiled
kernels of :mod:`citygov.quality.kernels`). :func:`vector_expected` hands every other value to the
rule's own check, so the verdict is always the rule's. The backflow row checks and the agreement tests
use it; the fused SQL and the file checks do not need it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

_FIXED_MAX = 64
"""Values longer than this are never fast-accepted (keeps the code-point matrix small)."""


class TextColumn:
    """A column of text values for vectorized conditions, in UTF-8 bytes: ``lengths`` (bytes; 0 is NULL,
    as an empty CSV field), and ``fixed(n)`` / ``prefix(n)`` give the rows of exactly / at least ``n``
    bytes with their first ``n`` bytes as an ``(rows, n)`` uint8 matrix. ``values`` gives the text of a
    row (None for NULL) for the rule to judge what the fast accept left.

    Build one from text (``TextColumn(values)``) or from fields of a UTF-8 buffer
    (:meth:`from_buffer`, no Python string per value)."""

    def __init__(self, values: Sequence[str | None]) -> None:
        raw = [v.encode("utf-8") if v else b"" for v in values]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        width = min(int(lengths.max(initial=0)), _FIXED_MAX)
        # longer values keep their first bytes (the S dtype truncates): prefix() and the first byte hold
        matrix = np.array(raw, dtype=f"S{max(width, 1)}").view(np.uint8).reshape(len(raw), max(width, 1))
        self._init(lengths, matrix, values)

    @classmethod
    def from_buffer(cls, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *,
                    null: np.ndarray | None = None, values: Sequence[Any] | None = None) -> TextColumn:
        """The fields ``buffer[starts[i] : starts[i] + lengths[i]]`` of a UTF-8 buffer (uint8 array that
        extends at least 64 bytes past its last field). The matrix bytes past a value's length are
        whatever follows it in the buffer: ``fixed`` and ``prefix`` never reach them.

        ``null`` (default: the empty fields) tells NULL from empty text (a database's ``''``);
        ``values`` gives a row's value as the source holds it (a number, a date) for the rule to judge,
        instead of the decoded text."""
        self = cls.__new__(cls)
        lengths = np.asarray(lengths, dtype=np.int64)
        width = max(min(int(lengths.max(initial=0)), _FIXED_MAX), 1)
        matrix = np.lib.stride_tricks.sliding_window_view(buffer, width)[starts]
        self._init(lengths, matrix, values if values is not None else _Decoded(buffer, starts, lengths), null)
        return self

    def _init(self, lengths: np.ndarray, matrix: np.ndarray, values: Sequence[Any], null: np.ndarray | None = None) -> None:
        self.values = values
        self.lengths = lengths
        self.null = lengths == 0 if null is None else np.asarray(null, dtype=bool)
        self.codes = matrix
        self._short = lengths <= matrix.shape[1]

    def __len__(self) -> int:
        return len(self.lengths)

    def fixed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows((self.lengths == n) & self._short, n)

    def prefix(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._rows((self.lengths >= n) & (n <= self.codes.shape[1]), n)

    def _rows(self, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > self.codes.shape[1]:
            return mask & False, np.zeros((0, n), np.uint8)
        return mask, self.codes[:, :n] if mask.all() else self.codes[mask, :n]  # all rows: no copy


class _Decoded(Sequence[str | None]):
    """The text of buffer fields, decoded on access (only the values a rule has to judge)."""

    def __init__(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        self.buffer, self.starts, self.lengths = buffer, starts, lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: Any) -> Any:
        start, n = int(self.starts[i]), int(self.lengths[i])
        return self.buffer[start : start + n].tobytes().decode("utf-8") if n else None


def accept(col: TextColumn, mask: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(col), dtype=bool)
    out[np.flatnonzero(mask)[ok]] = True
    return out


def not_blank(cols: Sequence[TextColumn]) -> np.ndarray:
    """Fast accept of a non-blank value."""
    c = cols[0]
    # Only spaces are stripped (cells.text): a first byte that is no space means text is left.
    return ~c.null & (c.codes[:, 0] != 32)


def in_set(values: list[Any]) -> Callable[[Sequence[TextColumn]], np.ndarray] | None:
    """Fast accept of one of ``values`` (up to 64 texts; else None: the rule judges every value)."""
    texts = [v for v in values if isinstance(v, str) and 0 < len(v.encode("utf-8")) <= _FIXED_MAX]
    if len(texts) > 64:
        return None

    by_length: dict[int, list[bytes]] = {}
    for text in texts:
        raw = text.encode("utf-8")
        by_length.setdefault(len(raw), []).append(raw)

    def cond(cols: Sequence[TextColumn]) -> np.ndarray:
        c = cols[0]
        out = np.zeros(len(c), dtype=bool)
        for n, wanted in by_length.items():
            mask, matrix = c.fixed(n)
            if n <= 8:  # each value as one integer: one isin for the lot
                packed = np.zeros((len(matrix), 8), dtype=np.uint8)
                packed[:, :n] = matrix
                wants = np.zeros((len(wanted), 8), dtype=np.uint8)
                wants[:, :n] = np.frombuffer(b"".join(wanted), dtype=np.uint8).reshape(len(wanted), n)
                out |= accept(c, mask, np.isin(packed.view(np.uint64).ravel(), wants.view(np.uint64).ravel()))
                continue
            for raw in wanted:
                out |= accept(c, mask, (matrix == np.frombuffer(raw, dtype=np.uint8)).all(axis=1))
        return out

    return cond


def kernel_accept(column: TextColumn, width: int, kernel: Callable[..., np.ndarray], *args: Any, prefix: bool = False) -> np.ndarray:
    """A compiled kernel's fast accept (:mod:`citygov.quality.kernels`) over the rows of exactly ``width``
    bytes (with ``prefix``: at least, their first ``width``), as a verdict for every row."""
    mask, matrix = column.prefix(width) if prefix else column.fixed(width)
    return accept(column, mask, kernel(np.ascontiguousarray(matrix), *args))


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
    """The *expected* verdict of a ``map`` or ``pair`` check for every row of ``columns`` (lists of text,
    None or ``""`` meaning NULL), as a boolean array: rows the check does not evaluate (NULLs of a
    ``filter_nulls`` map check, rows dropped by ``ignore_row_if``) are expected. Values the vectorized
    condition accepts are not looked at again; every other evaluated value is judged by the check's
    pandas condition, i.e. by :mod:`citygov.quality.rules`."""
    assert check.kind in {"map", "pair"} and check.pandas is not None
    n = len(columns[0])
    if check.kind == "map":
        text = columns[0] if isinstance(columns[0], TextColumn) else TextColumn(columns[0])
        evaluated = ~text.null if check.filter_nulls else np.ones(n, dtype=bool)
        accepted = check.vector([text]) if check.vector is not None else np.zeros(n, dtype=bool)
    else:
        frame = [pd.Series([v or None for v in _values(c)], dtype=object) for c in columns]
        evaluated = np.asarray(keep_frame(frame, check.ignore_row_if), dtype=bool)
        accepted = np.zeros(n, dtype=bool)
    judge = np.flatnonzero(evaluated & ~accepted)
    out = ~evaluated | accepted
    if len(judge):
        series = [pd.Series([_values(c)[i] or None for i in judge], dtype=object) for c in columns]
        out[judge] = np.asarray(check.pandas(series), dtype=bool)
    return out


def _values(column: Sequence[str | None] | TextColumn) -> Sequence[str | None]:
    return column.values if isinstance(column, TextColumn) else column


def keep_frame(cols: Sequence[pd.Series], ignore_row_if: str) -> pd.Series:
    present = [c.notna() for c in cols]
    if ignore_row_if in {"either_value_is_missing", "any_value_is_missing"}:
        out = present[0]
        for p in present[1:]:
            out = out & p
        return out
    if ignore_row_if in {"both_values_are_missing", "all_values_are_missing"}:
        out = present[0]
        for p in present[1:]:
            out = out | p
        return out
    return pd.Series(True, index=cols[0].index)

