"""Columns of a PostgreSQL table as text blocks, read with binary ``COPY``.

``COPY (SELECT "a"::text, "b"::text … FROM "t") TO STDOUT (FORMAT binary)``: the server only reads the
rows and prints each value as text (what a client would receive anyway), and each tuple arrives as a
field count and, per field, a length (-1 for NULL) and the bytes: no quoting or escapes to undo. A
compiled kernel (:func:`parse_tuples`) finds the fields of every whole tuple in a buffer of a few MB,
which becomes one :class:`~citygov.sources.blocks.TextBlock` as it is. The bytes are read in the caller's
thread between blocks: the server keeps producing into the socket meanwhile, and a reading thread was
measured slower (psycopg hands COPY out a tuple per call, and two threads contending for the GIL cost
more than the overlap gains).

The text of each type is PostgreSQL's: dates ``YYYY-MM-DD`` (``DateStyle`` ISO, set for the statement),
timestamps ``YYYY-MM-DD HH:MM:SS[.ffffff]``, numbers in digits; :func:`decoder` turns a value a rule has
to judge back into what the driver would have given (``int``, ``Decimal``, ``date``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from numba import njit
from sqlalchemy import Engine, types

from citygov.sources.blocks import PAD, Decoder, TextBlock

READ_BYTES = 4 << 20
"""Bytes gathered from the server before a block is cut (whole tuples; the rest waits for the next)."""
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


@njit(cache=True, nogil=True)
def _int(buf: np.ndarray, at: int, size: int) -> int:
    value = 0
    for k in range(size):
        value = (value << 8) | buf[at + k]
    if value >= 1 << (8 * size - 1):
        value -= 1 << (8 * size)
    return value


@njit(cache=True, nogil=True)
def parse_tuples(buf: np.ndarray, begin: int, end: int, width: int, max_rows: int,
                 starts: np.ndarray, lengths: np.ndarray, null: np.ndarray) -> tuple[int, int, bool]:
    """The fields of the whole tuples in ``buf[begin:end]`` (at most ``max_rows``) into ``starts``,
    ``lengths``, ``null``; returns (tuples, where the first unparsed byte is, whether the trailer was
    reached). A tuple whose field count is not ``width`` stops the parse with rows = -1."""
    pos, rows = begin, 0
    while rows < max_rows and pos + 2 <= end:
        count = _int(buf, pos, 2)
        if count == -1:
            return rows, pos + 2, True
        if count != width:
            return -1, pos, False
        at = pos + 2
        whole = True
        for c in range(width):
            if at + 4 > end:
                whole = False
                break
            n = _int(buf, at, 4)
            at += 4
            if n < 0:
                starts[rows, c], lengths[rows, c], null[rows, c] = at, 0, True
                continue
            if at + n > end:
                whole = False
                break
            starts[rows, c], lengths[rows, c], null[rows, c] = at, n, False
            at += n
        if not whole:
            break
        pos = at
        rows += 1
    return rows, pos, False


def decoder(sql_type: Any) -> Decoder | None:
    """How PostgreSQL's text of a value of ``sql_type`` becomes the driver's value; None for text."""
    if isinstance(sql_type, types.Boolean):
        return lambda t: {"true": True, "false": False, "t": True, "f": False}.get(t, t)
    if isinstance(sql_type, types.Integer):
        return _lenient(int)
    if isinstance(sql_type, types.Float):
        return _lenient(float)
    if isinstance(sql_type, types.Numeric):
        return _lenient(Decimal)
    if isinstance(sql_type, types.DateTime):
        return _lenient(datetime.fromisoformat)
    if isinstance(sql_type, types.Date):
        return _lenient(date.fromisoformat)
    return None


def _lenient(parse: Any) -> Decoder:
    def decode(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, InvalidOperation, OverflowError):  # infinity, BC dates: the text stands
            return text

    return decode


def copy_blocks(engine: Engine, table: str, columns: Sequence[str], column_types: Sequence[Any],
                block_rows: int) -> Iterator[TextBlock]:
    """``columns`` of ``table`` (names as the source has them; quoted here) as text blocks of at most
    ``block_rows`` rows, streamed by binary COPY on a connection of ``engine`` (a PostgreSQL engine)."""
    preparer = engine.dialect.identifier_preparer
    select = ", ".join(f"{preparer.quote_identifier(c)}::text" for c in columns) or "1"
    statement = f"COPY (SELECT {select} FROM {preparer.quote_identifier(table)}) TO STDOUT (FORMAT binary)"
    decoders = [decoder(t) for t in column_types]
    width = len(columns) or 1
    raw = engine.raw_connection()
    gathered_chunks = _statement_chunks(raw, statement)
    try:
        tail = b""
        header_done = False
        data: bytearray
        for item in gathered_chunks:
            if tail:  # the incomplete tuple the last chunk ended with goes first (one copy per chunk)
                data = bytearray(tail)
                data += item
            else:
                data = item
            if not header_done:
                if len(data) < 19:
                    tail = bytes(data)
                    continue
                if data[:11] != _SIGNATURE:
                    raise ValueError("COPY output is not PostgreSQL's binary format")
                ext = int.from_bytes(data[15:19], "big")
                if len(data) < 19 + ext:
                    tail = bytes(data)
                    continue
                del data[: 19 + ext]
                header_done = True
            end = len(data)
            data += bytes(PAD)  # the blocks' views never reach past it
            buffer = np.frombuffer(data, dtype=np.uint8)
            pos = 0
            while True:
                n = min(block_rows, max(1, (end - pos) // (2 + 4 * width)) + 1)
                # column-major (each column's values contiguous, as the checks read them), indexed [row, col]
                starts = np.empty((width, n), dtype=np.int64).T
                lengths = np.empty((width, n), dtype=np.int64).T
                null = np.empty((width, n), dtype=bool).T
                rows, after, done = parse_tuples(buffer, pos, end, width, n, starts, lengths, null)
                if rows < 0:
                    raise ValueError("COPY output has a tuple of an unexpected width")
                if rows:
                    yield TextBlock(list(columns), rows, buffer, starts[:rows], lengths[:rows], null[:rows],
                                    [], list(decoders))
                pos = after
                if done:
                    tail = b""
                    break
                if rows < n:  # the rest is an incomplete tuple
                    tail = bytes(data[pos:end])
                    break
        if tail:
            raise ValueError("COPY output ended inside a tuple")
    finally:
        gathered_chunks.close()  # ends the COPY when the caller leaves early
        try:
            raw.rollback()
        finally:
            raw.close()


def _statement_chunks(raw: Any, statement: str) -> Iterator[bytearray]:
    """The COPY's bytes in chunks of about :data:`READ_BYTES` (whole tuples or not)."""
    with raw.cursor() as cursor:
        if raw.driver_connection.info.encoding != "utf-8":
            # COPY hands text in the client encoding (a GBK database's, or a role's setting); the blocks
            # read UTF-8. Undone with the transaction.
            cursor.execute("SET LOCAL client_encoding = 'UTF8'")
        cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        cursor.execute("SET LOCAL IntervalStyle = 'postgres'")
        with cursor.copy(statement) as copy:
            gathered = bytearray()
            read = copy.read
            while data := read():  # one tuple per call (libpq hands COPY out row by row)
                gathered += data
                if len(gathered) >= READ_BYTES:
                    yield gathered  # handed over, never touched here again
                    gathered = bytearray()
            if gathered:
                yield gathered
