"""A CSV or TSV file's columns as :class:`~citygov.sources.blocks.TextBlock` s, split by a compiled kernel.

The file is read as UTF-8 bytes (a UTF-8 file as it is, any other encoding transcoded as it is read), about
two blocks' worth per read (4 MiB at least), and each read cut after its last line end. :func:`split_plain`
splits the lines into the asked columns' field starts and lengths in one pass over the bytes (checking the
UTF-8 and which rows are blank as it goes), so a block's buffer is the bytes as read and no value becomes a
Python object; blocks hold at most ``block_rows`` rows, most exactly that many (a block whose rows come
from two reads gets their bytes copied into one buffer; rows left at the end of a read go as a smaller
block when they are at least a quarter of one, :class:`_Assembler`). The kernel stops at a line holding a double quote or a lone carriage return: there CSV quoting (a field with a
delimiter, a line break or a doubled quote inside) may apply, so the records from that line up to a record
boundary (:func:`record_end`) are parsed by Python's :mod:`csv` module — the reader
:func:`citygov.sources.folder.read_table_file` uses — and their values packed into a buffer of their own
(:func:`_pack_text`, the layout of :func:`~citygov.sources.blocks.pack_rows`); then the kernel takes
over again.

The rows are exactly those of :func:`citygov.sources.folder.read_file_chunks` with ``empty=None``: blank
rows (every cell whitespace, as ``str.strip`` sees it) skipped, short rows padded with NULL, cells beyond
the header dropped, an empty cell NULL, values not stripped. Each row also carries its file line (the header
is line 1; lines as Python's universal newlines count them).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numba import njit

from citygov.sources.blocks import PAD, TextBlock

READ_BYTES = 4 << 20
"""Bytes read (or transcoded) at a time, at least: large enough that a Python step per read costs nothing."""
BLOCK_READ_CAP = 64 << 20
"""Reads grow to about two blocks' bytes (so that few blocks take rows of two reads, whose bytes are then
copied into one buffer), up to this."""
QUOTED_WINDOW = 1 << 16
"""Bytes of records handed to :mod:`csv` at a time at most. After a quote only its record goes to
:mod:`csv`; when the kernel then meets the next one within a few lines, twice as many bytes as the last
time (from 4 KiB), so a file where every field is quoted goes through in steps of this size."""
FAST_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
"""Encodings whose bytes are split as they are read; others are transcoded to UTF-8 first."""

_DONE, _FULL, _QUOTED, _BAD_UTF8 = 0, 1, 2, 3
"""What stopped :func:`split_plain`: the end of its bytes, its row capacity, a line for :mod:`csv`, an
invalid UTF-8 sequence."""


@njit(cache=True, nogil=True)
def _utf8_length(buf: np.ndarray, i: int, hi: int) -> int:
    """Bytes of the UTF-8 sequence starting at ``buf[i]`` (≥ 0x80), or 0 when it is not valid UTF-8 as
    Python's strict decoder sees it (overlong forms, surrogates and code points past U+10FFFF refused)."""
    b = buf[i]
    if 0xC2 <= b <= 0xDF:
        n, low, high = 2, 0x80, 0xBF
    elif b == 0xE0:
        n, low, high = 3, 0xA0, 0xBF
    elif 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
        n, low, high = 3, 0x80, 0xBF
    elif b == 0xED:
        n, low, high = 3, 0x80, 0x9F
    elif b == 0xF0:
        n, low, high = 4, 0x90, 0xBF
    elif 0xF1 <= b <= 0xF3:
        n, low, high = 4, 0x80, 0xBF
    elif b == 0xF4:
        n, low, high = 4, 0x80, 0x8F
    else:
        return 0
    if i + n > hi or not low <= buf[i + 1] <= high:
        return 0
    for j in range(i + 2, i + n):
        if not 0x80 <= buf[j] <= 0xBF:
            return 0
    return n


@njit(cache=True, nogil=True)
def _wide_space(buf: np.ndarray, i: int, n: int) -> bool:
    """Whether the ``n``-byte UTF-8 character at ``buf[i]`` is whitespace to ``str.strip`` (U+0085, U+00A0,
    U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)."""
    b0 = buf[i]
    if n == 2:
        return b0 == 0xC2 and (buf[i + 1] == 0x85 or buf[i + 1] == 0xA0)
    if n != 3:
        return False
    b1, b2 = buf[i + 1], buf[i + 2]
    if b0 == 0xE1:
        return b1 == 0x9A and b2 == 0x80
    if b0 == 0xE2:
        if b1 == 0x80:
            return b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF
        return b1 == 0x81 and b2 == 0x9F
    return b0 == 0xE3 and b1 == 0x80 and b2 == 0x80


_ORDINARY, _SPACE, _NEWLINE, _DELIMITER, _QUOTE, _CR, _LEAD2, _LEAD3, _LEAD_OTHER, _INVALID = range(10)
"""Byte classes of :func:`split_plain`: an ASCII byte that is text, one that is whitespace, ``\n``, the
delimiter, ``"``, ``\r``; a UTF-8 lead byte of two bytes, of three (E4–EC, EE, EF: no whitespace, no
range to check beyond continuation bytes: most CJK), any other lead (checked by :func:`_utf8_length`);
a byte no UTF-8 character starts with."""


def byte_classes(delimiter: str) -> np.ndarray:
    """The class of each byte value for :func:`split_plain` with this delimiter."""
    classes = np.full(256, _INVALID, dtype=np.uint8)
    classes[:0x80] = _ORDINARY
    for b in (9, 10, 11, 12, 13, 28, 29, 30, 31, 32):
        classes[b] = _SPACE
    classes[0xC2:0xE0] = _LEAD2
    classes[0xE0:0xF5] = _LEAD_OTHER
    classes[0xE4:0xED] = _LEAD3
    classes[0xEE:0xF0] = _LEAD3
    classes[10], classes[34], classes[13] = _NEWLINE, _QUOTE, _CR
    classes[ord(delimiter)] = _DELIMITER
    return classes


@njit(cache=True, nogil=True)
def split_plain(buf: np.ndarray, lo: int, hi: int, classes: np.ndarray, width: int, asked: np.ndarray,  # noqa: ANN201
                capacity: int):
    """Split the lines of ``buf[lo:hi]`` (UTF-8; ``hi`` just past a ``\\n`` or the end of the file) at
    every delimiter byte, for as long as each line is one record: no double quote, no carriage return but
    the one of a ``\\r\\n``. ``classes``: :func:`byte_classes` of the delimiter.

    Returns per kept row (at most ``capacity``) and asked column the field's start in ``buf`` and its
    length (0: empty, hence NULL; also for a column the row is too short to have, which starts at the
    line's end), the row's line (0 = the line at ``lo``), the row's bytes (start, end: every field lies
    within), how many rows were kept, where it stopped (a line start), how many lines it
    passed, and why it stopped (``_DONE``, ``_FULL``, ``_QUOTED``: the line at the stop needs :mod:`csv`,
    ``_BAD_UTF8``: that line is not valid UTF-8). A row whose every cell is whitespace is passed, not kept.
    ``asked[j]`` is the header position of asked column ``j`` (< ``width``).
    """
    k = asked.shape[0]
    starts = np.empty((capacity, k), np.int64)
    lengths = np.empty((capacity, k), np.int64)
    lines = np.empty(capacity, np.int64)
    spans = np.empty((capacity, 2), np.int64)
    fs = np.zeros(width, np.int64)
    fl = np.zeros(width, np.int64)
    r, line, pos = 0, 0, lo
    while pos < hi:
        if r == capacity:
            return starts, lengths, lines, spans, r, pos, line, _FULL
        field, begin, content = 0, pos, False
        i, stop, after = pos, hi, hi
        while i < hi:
            c = classes[buf[i]]
            if c == _ORDINARY:
                content = True
                i += 1
                while i < hi and classes[buf[i]] == _ORDINARY:
                    i += 1
            elif c == _DELIMITER:
                if field < width:
                    fs[field], fl[field] = begin, i - begin
                field += 1
                i += 1
                begin = i
            elif c == _LEAD3:
                if i + 3 > hi or buf[i + 1] & 0xC0 != 0x80 or buf[i + 2] & 0xC0 != 0x80:
                    return starts, lengths, lines, spans, r, pos, line, _BAD_UTF8
                content = True
                i += 3
                while (  # runs of text and of CJK in tight loops: fewer mispredicted branches
                    i + 3 <= hi and classes[buf[i]] == _LEAD3 and buf[i + 1] & 0xC0 == 0x80 and buf[i + 2] & 0xC0 == 0x80
                ):
                    i += 3
            elif c == _SPACE:
                i += 1
            elif c == _NEWLINE:
                stop, after = i, i + 1
                break
            elif c == _CR:
                if i + 1 < hi and buf[i + 1] == 10:
                    stop, after = i, i + 2
                    break
                return starts, lengths, lines, spans, r, pos, line, _QUOTED
            elif c == _QUOTE:
                return starts, lengths, lines, spans, r, pos, line, _QUOTED
            elif c == _INVALID:
                return starts, lengths, lines, spans, r, pos, line, _BAD_UTF8
            else:
                n = _utf8_length(buf, i, hi)
                if n == 0:
                    return starts, lengths, lines, spans, r, pos, line, _BAD_UTF8
                if not content:
                    content = not _wide_space(buf, i, n)
                i += n
        if field < width:
            fs[field], fl[field] = begin, stop - begin
            for f in range(field + 1, width):
                fs[f], fl[f] = stop, 0
        if content:
            for j in range(k):
                p = asked[j]
                starts[r, j] = fs[p]
                lengths[r, j] = fl[p]
            lines[r] = line
            spans[r, 0], spans[r, 1] = pos, stop
            r += 1
        line += 1
        pos = after
    return starts, lengths, lines, spans, r, pos, line, _DONE


@njit(cache=True, nogil=True)
def record_end(buf: np.ndarray, lo: int, hi: int, delim: int, target: int) -> int:
    """Just past the first line end (``\\n``, or a ``\\r`` no ``\\n`` follows) of ``buf[lo:hi]`` that ends
    a record (``lo`` starting one) at or past ``target``, or -1 when none does: the states of Python's :mod:`csv` reader (excel dialect: a quote opens a quoted field only
    at the field's start, ``""`` inside one is a quote, text after its closing quote joins the field), of
    which only "inside a quoted field" keeps a line break from ending the record."""
    state = 0  # 0: a field's start, 1: in an unquoted field, 2: in a quoted field, 3: a quote in one
    for i in range(lo, hi):
        b = buf[i]
        if state == 2:
            if b == 34:
                state = 3
            continue
        if state == 3 and b == 34:
            state = 2
        elif b == 10 or (b == 13 and i + 1 < hi and buf[i + 1] != 10):  # a line's end: the record's
            state = 0
            if i + 1 >= target:
                return i + 1
        elif b == 13 or b == delim:
            state = 0
        elif state == 0 and b == 34:
            state = 2
        else:
            state = 1
    return -1


@njit(cache=True, nogil=True)
def last_line_end(buf: np.ndarray, lo: int, hi: int) -> int:
    """The position of the last line end in ``buf[lo:hi]``: a ``\\n``, or a ``\\r`` known not to be
    followed by one (a file of old Mac line ends is read a few MB at a time too); -1 when there is none."""
    for i in range(hi - 1, lo - 1, -1):
        if buf[i] == 10 or (buf[i] == 13 and i + 1 < hi):
            return i
    return -1


class Utf8Reader:
    """A text file's bytes as UTF-8: read as they are when the file is UTF-8 (a BOM dropped), else decoded
    with ``encoding`` and encoded again as they are read."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.name = path.name
        self._handle: BinaryIO = path.open("rb")
        self._decoder = None if encoding in FAST_ENCODINGS else codecs.getincrementaldecoder(encoding)()
        self._spill = b""
        self._ended = False
        if encoding in FAST_ENCODINGS and self._handle.read(3) != codecs.BOM_UTF8:
            self._handle.seek(0)

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the file goes; fewer bytes than asked only at its end."""
        want, got = len(view), 0
        if self._decoder is None:
            while got < want:
                n = self._handle.readinto(view[got:])
                if not n:
                    break
                got += n
            return got
        while got < want:
            if not self._spill:
                if self._ended:
                    break
                raw = self._handle.read(max(want - got, 1 << 16))
                self._ended = not raw
                self._spill = self._decoder.decode(raw, final=self._ended).encode("utf-8")
                continue
            n = min(want - got, len(self._spill))
            view[got : got + n] = self._spill[:n]
            self._spill = self._spill[n:]
            got += n
        return got

    def close(self) -> None:
        self._handle.close()


@dataclass
class CsvFile:
    """A CSV or TSV file open for :meth:`blocks`, its first line read (the caller makes it the header)."""

    reader: Utf8Reader
    first: str
    """The first line as ``readline`` gives it (line break included)."""
    rest: np.ndarray
    """The bytes read past the first line (UTF-8)."""
    ended: bool
    """Whether ``rest`` holds the whole rest of the file."""

    @classmethod
    def open(cls, path: Path, encoding: str) -> CsvFile:
        reader = Utf8Reader(path, encoding)
        try:
            head = np.empty(0, np.uint8)
            ended = False
            while True:
                more = np.empty(max(len(head), 1 << 16), np.uint8)
                got = reader.readinto(memoryview(more))
                head = np.concatenate([head, more[:got]])
                ended = got < len(more)
                # the line ends at the first \n or \r (with the \n of a \r\n), as readline(newline="") has it
                breaks = np.flatnonzero((head == 10) | (head == 13))
                cut = int(breaks[0]) + 1 if breaks.size else -1
                if cut > 0 and head[cut - 1] == 13 and cut == len(head) and not ended:
                    continue  # a \n may follow the \r in the next read
                if cut > 0 and head[cut - 1] == 13 and cut < len(head) and head[cut] == 10:
                    cut += 1
                if cut > 0 or ended:
                    cut = cut if cut > 0 else len(head)
                    break
            first = head[:cut].tobytes().decode("utf-8")
        except BaseException:
            reader.close()
            raise
        return cls(reader, first, head[cut:], ended)

    def close(self) -> None:
        self.reader.close()

    def blocks(self, columns: list[str], positions: list[int], *, delimiter: str, width: int,
               block_rows: int) -> Iterator[TextBlock]:
        """``columns`` (at header ``positions`` of a header ``width`` wide) of the rows after the first
        line, in blocks of at most ``block_rows`` rows (most of them that many), each row's file line in
        the block's ``lines``. Closes the file when done."""
        asked = np.asarray(positions, dtype=np.int64)
        delim, classes = ord(delimiter), byte_classes(delimiter)
        out = _Assembler(list(columns), block_rows)
        pending, ended, line = self.rest, self.ended, 2
        base = want = READ_BYTES
        line_bytes, window, hint = 0.0, 0, 1 << 62
        try:
            while True:
                size = len(pending) + (0 if ended else want)
                buf = np.empty(size + PAD, np.uint8)
                buf[: len(pending)] = pending
                end = len(pending)
                if not ended:
                    got = self.reader.readinto(memoryview(buf)[end:size])
                    ended, end = got < want, end + got
                buf[end:] = 0
                hi = end if ended else last_line_end(buf, 0, end) + 1
                if not line_bytes:
                    sample = buf[: min(hi, 1 << 16)]
                    line_bytes = max(len(sample) / max(int(np.count_nonzero(sample == 10)), 1), 2.0)
                    base = want = max(READ_BYTES, min(BLOCK_READ_CAP, int(2 * block_rows * line_bytes)))
                pos = 0
                while pos < hi:
                    # room for the rest of the read, or for a few more rows than ran between quotes
                    capacity = min(int((hi - pos) / line_bytes * 1.1) + 64, hint)
                    starts, lengths, lines, spans, r, stop, passed, why = split_plain(
                        buf, pos, hi, classes, width, asked, capacity
                    )
                    yield from out.add(buf, starts[:r], lengths[:r], lines[:r] + line, spans[:r])
                    if passed:
                        line_bytes = max((stop - pos) / passed, 2.0)
                    line, pos = line + passed, stop
                    if why == _BAD_UTF8:
                        raise _bad_utf8(buf, pos, hi, line, self.reader.name)
                    if why != _QUOTED:
                        hint = hint * 4 if why == _FULL else hint
                        continue
                    hint = max(2 * passed, 256)
                    window = min(max(2 * window, 4096), QUOTED_WINDOW) if passed < 16 else 0
                    cut = record_end(buf, pos, hi, delim, pos + max(window, 1))
                    if cut < 0:
                        if not ended:
                            break  # the record goes on past these bytes: read it whole next time
                        cut = hi
                    parsed, passed = _parse_records(buf[pos:cut], positions, delimiter, line)
                    if parsed is not None:
                        yield from out.add(*parsed, None)
                    line, pos = line + passed, cut
                if ended:
                    break
                pending = buf[pos:end]
                want = want * 2 if pos == 0 else base  # a record longer than a read: read more
            yield from out.finish()
        finally:
            self.close()


def _parse_records(raw: np.ndarray, positions: list[int], delimiter: str, line: int) -> tuple[
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, int
]:
    """Whole records (their bytes; the first starting at file line ``line``) parsed by :mod:`csv` as
    :func:`citygov.sources.folder.read_table_file` parses them: the non-blank ones' values at ``positions``
    packed (:func:`_pack_text`) with their lines, or None when all are blank; and how many lines they span."""
    reader = csv.reader(io.StringIO(raw.tobytes().decode("utf-8"), newline=""), delimiter=delimiter)
    cells: list[str] = []
    lines: list[int] = []
    while True:
        before = reader.line_num
        values = next(reader, None)
        if values is None:
            break
        if any(v.strip() for v in values):
            n = len(values)
            cells.extend([values[p] if p < n else "" for p in positions])
            lines.append(line + before)
    if not lines:
        return None, reader.line_num
    buffer, starts, lengths = _pack_text(cells, len(lines), len(positions))
    return (buffer, starts, lengths, np.asarray(lines, dtype=np.int64)), reader.line_num


def _pack_text(cells: list[str], rows: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` × ``width`` texts (row by row) in one UTF-8 buffer with each one's start and length (an
    empty text: length 0, NULL), as :func:`citygov.sources.blocks.pack_rows` lays them out for a file's
    text but without Python work per value: the texts are joined and encoded once, and character offsets
    become byte offsets through the positions of the bytes that start a character."""
    chars = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    data = "".join(cells).encode("utf-8")
    buffer = np.zeros(len(data) + PAD, np.uint8)
    buffer[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    ends = np.cumsum(chars)
    starts = ends - chars
    if len(data) != (int(ends[-1]) if ends.size else 0):  # not all ASCII
        at = np.append(np.flatnonzero((buffer[: len(data)] & 0xC0) != 0x80), len(data))
        starts, ends = at[starts], at[ends]
    return buffer, starts.reshape(rows, width), (ends - starts).reshape(rows, width)


def _bad_utf8(buf: np.ndarray, pos: int, hi: int, line: int, name: str) -> UnicodeDecodeError:
    """The decoding error of the first line at or after ``pos`` (file line ``line``) that is not UTF-8."""
    text = buf[pos:hi].tobytes()
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line += text.count(b"\n", 0, exc.start)
        return UnicodeDecodeError(
            "utf-8", exc.object, exc.start, exc.end, f"{exc.reason} ({name} line {line}: not UTF-8 from there on)"
        )
    return UnicodeDecodeError("utf-8", text, 0, 1, f"{name} line {line}: not UTF-8")


@dataclass
class _Rows:
    """Consecutive rows in one buffer, waiting to be a block."""

    buffer: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    lines: np.ndarray
    lo: int
    hi: int
    """The bytes of ``buffer`` all their fields lie within."""


class _Assembler:
    """Rows from splits of consecutive reads, regrouped into blocks of at most ``block_rows`` rows. A block
    within one read views its rows' bytes in the read's buffer; one across reads gets them copied into one,
    which is only worth it for a few rows: rows held when the next ones come from another buffer go as a
    block of their own when they are at least a quarter of one."""

    def __init__(self, columns: list[str], block_rows: int) -> None:
        self.columns = columns
        self.block_rows = max(block_rows, 1)
        self.held: list[_Rows] = []
        self.count = 0

    def add(self, buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, lines: np.ndarray,
            spans: np.ndarray | None) -> Iterator[TextBlock]:
        """Rows of ``buffer``; ``spans``: each row's (start, end) bytes, None for all of the buffer."""
        at, n = 0, len(lines)
        if self.held and buffer is not self.held[-1].buffer and self.count >= self.block_rows // 4:
            yield self._block()
        while at < n:
            take = min(self.block_rows - self.count, n - at)
            end = at + take
            lo, hi = (int(spans[at, 0]), int(spans[end - 1, 1])) if spans is not None else (0, len(buffer) - PAD)
            self.held.append(_Rows(buffer, starts[at:end], lengths[at:end], lines[at:end], lo, hi))
            self.count += take
            at = end
            if self.count == self.block_rows:
                yield self._block()

    def finish(self) -> Iterator[TextBlock]:
        if self.count:
            yield self._block()

    def _block(self) -> TextBlock:
        held, rows = self.held, self.count
        self.held, self.count = [], 0
        lengths = held[0].lengths if len(held) == 1 else np.concatenate([part.lengths for part in held])
        lines = held[0].lines if len(held) == 1 else np.concatenate([part.lines for part in held])
        if all(part.buffer is held[0].buffer for part in held):
            # rows of one read: a view of just their bytes (TextBlock.text copies a block's buffer once)
            lo, hi = held[0].lo, held[-1].hi
            buffer = held[0].buffer[lo : hi + PAD]
            starts = held[0].starts - lo if len(held) == 1 else np.concatenate([part.starts for part in held]) - lo
        else:
            buffer = np.empty(sum(part.hi - part.lo for part in held) + PAD, np.uint8)
            starts = np.empty((rows, len(self.columns)), np.int64)
            at = row = 0
            for part in held:
                size, n = part.hi - part.lo, len(part.lines)
                buffer[at : at + size] = part.buffer[part.lo : part.hi]
                np.add(part.starts, at - part.lo, out=starts[row : row + n])
                at, row = at + size, row + n
            buffer[at:] = 0
        width = len(self.columns)
        return TextBlock(
            list(self.columns), rows, buffer, starts, lengths, lengths == 0, [], [None] * width,
            int(lines[0]), lines=lines,
        )
