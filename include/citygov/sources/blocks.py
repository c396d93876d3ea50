"""Columns of a resource as blocks of UTF-8 text: what the streaming quality engine reads.

A :class:`TextBlock` holds a block of rows of some columns as one byte buffer and, per row and column,
where its text starts and how long it is, and whether it is NULL. Readers make blocks without a Python
object per value where they can (PostgreSQL's binary ``COPY``, a plain CSV's bytes split by a compiled
kernel); the others pack the rows a :meth:`citygov.sources.base.Source.read` gives (:func:`pack_rows`).
The quality engine views each column as a :class:`citygov.quality.vector.TextColumn` and decodes a value
to a Python object only when a rule has to look at it (:meth:`TextBlock.value`).

A value's text is the one the rules read (:mod:`citygov.quality.cells`): a date as ``YYYY-MM-DD``, a
timestamp as ``YYYY-MM-DD HH:MM:SS``, a number in decimal digits; NULL is ``null`` (a file's empty cell
is NULL, a database's ``''`` is not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

PAD = 64
"""Bytes every block buffer extends past its last field (fixed-width views never read past it)."""

Decoder = Callable[[str], Any]
"""Text of a value -> the value as the source holds it (``int``, ``Decimal``, ``date``)."""


@dataclass
class TextBlock:
    """``rows`` rows of ``columns`` as text in one buffer (see the module docstring)."""

    columns: list[str]
    rows: int
    buffer: np.ndarray
    """uint8, at least :data:`PAD` bytes past the last field."""
    starts: np.ndarray
    """int64 ``(rows, len(columns))``: where each value's text starts in ``buffer``."""
    lengths: np.ndarray
    """int64 ``(rows, len(columns))``: its length in bytes (0 for NULL and for empty text)."""
    null: np.ndarray
    """bool ``(rows, len(columns))``."""
    objects: list[Sequence[Any] | None] = field(default_factory=list)
    """Per column, the values as the source gave them when the reader had them as objects anyway
    (:func:`pack_rows`); None (or missing) where :meth:`value` decodes the text."""
    decoders: list[Decoder | None] = field(default_factory=list)
    """Per column, how its text becomes the source's value (None: it is text)."""
    first_line: int | None = None
    """The file line of the block's first row (1 = the header line; files only), else None."""
    lines: np.ndarray | None = None
    """int64 ``(rows,)``: each row's file line (1 = the header line; lines as Python's universal newlines
    count them, a record spanning lines at its first) when the reader knows them (files), else None."""

    def index(self, name: str) -> int:
        return self.columns.index(name)

    _raw: bytes | None = field(default=None, repr=False, compare=False)

    def text(self, row: int, col: int) -> str | None:
        """The text of one value; None for NULL."""
        if self.null[row, col]:
            return None
        start = int(self.starts[row, col])
        return self._bytes()[start : start + int(self.lengths[row, col])].decode("utf-8", errors="replace")

    def _bytes(self) -> bytes:
        """The buffer as bytes, made once per block: slicing bytes is far cheaper than slicing an array."""
        if self._raw is None:
            self._raw = self.buffer.tobytes()
        return self._raw

    def holds_text(self, col: int) -> bool:
        """Whether a column's values are its text (no decoder; the reader's objects, if any, all str or
        None): then a rule comparing values may compare the bytes instead (``1`` is not ``"1"``)."""
        if col < len(self.decoders) and self.decoders[col] is not None:
            return False
        objects = self.objects[col] if col < len(self.objects) else None
        return objects is None or all(v is None or type(v) is str for v in objects)

    def values_at(self, col: int, rows: np.ndarray) -> list[Any]:
        """:meth:`value` of many rows of one column at once (the rows a rule has to judge)."""
        objects = self.objects[col] if col < len(self.objects) else None
        if objects is not None:
            return [objects[i] for i in rows.tolist()]
        raw = self._bytes()
        texts = [
            None if z else raw[s : s + n].decode("utf-8", errors="replace")
            for s, n, z in zip(self.starts[rows, col].tolist(), self.lengths[rows, col].tolist(),
                               self.null[rows, col].tolist(), strict=True)
        ]
        decoder = self.decoders[col] if col < len(self.decoders) else None
        return texts if decoder is None else [None if t is None else decoder(t) for t in texts]

    def value(self, row: int, col: int) -> Any:
        """One value as the source holds it: the reader's object, else the decoded text."""
        objects = self.objects[col] if col < len(self.objects) else None
        if objects is not None:
            return objects[row]
        raw = self.text(row, col)
        decoder = self.decoders[col] if col < len(self.decoders) else None
        return raw if raw is None or decoder is None else decoder(raw)


def value_text(value: Any) -> str | None:
    """A source's value as the text rules read; None for NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def pack_rows(columns: list[str], rows: Sequence[Sequence[Any]], *, empty_is_null: bool = False,
              first_line: int | None = None) -> TextBlock:
    """A block of rows of Python values (``rows[i][j]`` is column ``j``): each value's text
    (:func:`value_text`) in one buffer, the values kept as the block's objects. ``empty_is_null``: an
    empty text is NULL (files)."""
    width, n = len(columns), len(rows)
    starts = np.zeros((n, width), dtype=np.int64)
    lengths = np.zeros((n, width), dtype=np.int64)
    null = np.zeros((n, width), dtype=bool)
    parts: list[bytes] = []
    objects: list[list[Any]] = [[None] * n for _ in range(width)]
    at = 0
    for i, row in enumerate(rows):
        for j in range(width):
            value = row[j] if j < len(row) else None
            text = value_text(value)
            if text is None or (empty_is_null and text == ""):
                null[i, j] = True
                continue
            objects[j][i] = value
            raw = text.encode("utf-8")
            starts[i, j], lengths[i, j] = at, len(raw)
            parts.append(raw)
            at += len(raw)
    parts.append(b"\0" * PAD)
    buffer = np.frombuffer(b"".join(parts), dtype=np.uint8)
    return TextBlock(list(columns), n, buffer, starts, lengths, null, list(objects), [None] * width, first_line)
