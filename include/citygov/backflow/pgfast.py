"""The PostgreSQL fast path of the backflow load: a plain UTF-8 CSV batch is split and validated over
blocks of bytes, and its good lines go to the target as binary ``COPY``.

Taken when the target is PostgreSQL, the data file is UTF-8 CSV without any quote, carriage return or
NUL byte and ends with a line break, and the target table's columns have the types the loader gives them
(:func:`eligible`): then every line is one record and every comma a field separator. Per block:

- :func:`citygov.backflow.copybin.split` (compiled) finds each line's fields; lines with the wrong number
  of fields, blank lines, whitespace-only fields, an empty primary key or a typed value not already in
  canonical form (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, plain digits) are handed to the loader's
  per-record logic (:class:`~citygov.backflow.rows.RowPreparer`), exactly as the general path treats
  them;
- the suite's row expectations run vectorized (:func:`citygov.quality.vector.vector_expected`): the first
  failing one, in suite order, is the row's reason;
- the primary key is hashed (64 bits); a row whose hash was seen before is held back as a *suspect* and
  decided after the COPY against the rows loaded (an equal key: ``duplicate_key``; a hash collision: it
  is loaded). A ``full`` batch into a table keyed by a constraint skips the hashes at first: rebuilding
  the primary key proves the keys unique, and only when it finds a repeat does the batch go again, from a
  savepoint, with the hashes (:meth:`FastLoad.run`);
- :func:`~citygov.backflow.copybin.encode` (compiled) writes the good lines, with their batch id, as
  binary COPY tuples (dates, timestamps and numbers already converted: the server parses no text), sent
  while the next block is parsed (psycopg's queued writer sends from its own thread). Good rows the
  per-record logic made canonical follow in one CSV ``COPY`` after it.

A ``full`` batch empties the table (``TRUNCATE``, or ``DELETE`` when other tables reference it) and
COPYs straight into it, with its indexes dropped during the COPY and rebuilt after (much faster than
maintaining them row by row). Its rows go in primary-key order when the key's text columns are collated
"C" and the file fits :data:`SORT_MEMORY` (:func:`copybin.key_order`: compiled passes over the file,
read into memory, code the keys; a radix sort orders them; the blocks are gathered in that order), so
that PostgreSQL's sort finds the rebuilt key's input already sorted, which halves the rebuild. An
``incremental`` batch COPYs into a temporary table and upserts from it
(:func:`citygov.backflow.upsert.upsert`, the general load's upsert too).
Everything happens in the caller's transaction; refused rows go to ``backflow_quarantine`` with one COPY
at the end (spooled to a temporary file meanwhile: memory stays bounded by the block size).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from citygov.backflow import copybin
from citygov.backflow.batches import Batch, BatchProblemError, Problem, open_batch_file, plain_lines
from citygov.backflow.rows import RowPreparer, expectation_failures, has_key
from citygov.backflow.upsert import upsert, written_columns
from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.system_objects import BACKFLOW_QUARANTINE as QUARANTINE_TABLE
from citygov.system_objects import BACKFLOW_ROWS, BACKFLOW_SUSPECTS, LINEAGE_COLUMN

BLOCK = 8 << 20
"""Bytes of the data file parsed at once (whole lines)."""
SORT_MEMORY = 256 << 20
"""A full load sends its rows in primary-key order when the data file (read into memory for that) and
:data:`copybin.KEY_BYTES_PER_LINE` per line fit in this many bytes; larger files go in file order. The
default of :func:`citygov.settings.backflow_sort_memory` (``CITYGOV_BACKFLOW_SORT_MEMORY_MIB``)."""
_PAD = 64

_SPACE_LIKE = np.zeros(256, dtype=bool)
# Bytes that may belong to a character str.isspace() accepts: ASCII whitespace and separators, UTF-8
# continuation bytes and the lead bytes of U+0080–U+00BF, U+1000–U+3FFF. A field without any other byte
# might be whitespace only (checked exactly, per record); a field with one never is.
_SPACE_LIKE[[*range(0x09, 0x0E), *range(0x1C, 0x21), *range(0x80, 0xC0), 0xC2, 0xE1, 0xE2, 0xE3]] = True


_KINDS = {ColumnType.DATE: copybin.DATE, ColumnType.DATETIME: copybin.TIMESTAMP, ColumnType.NUMBER: copybin.NUMBER}
_PG_TYPES = {copybin.TEXT: ("text", "character varying"), copybin.DATE: ("date",),
             copybin.TIMESTAMP: ("timestamp without time zone",), copybin.NUMBER: ("numeric",)}
"""The column types binary COPY tuples of each kind are written for (what the loader creates)."""


def eligible(conn: Connection, batch: Batch, table: sa.Table, entry: CatalogEntry) -> bool:
    """Whether ``batch`` can take the fast path into ``table`` in the PostgreSQL target of ``conn`` (the
    file's :func:`~citygov.backflow.batches.plain_lines`, noted by the verification pass). A target
    table whose column types differ from what the loader creates (altered by hand, or created before a
    catalog change) takes the general path, which lets PostgreSQL convert the text."""
    manifest = batch.manifest
    if conn.dialect.name != "postgresql" or manifest is None or manifest.format != "csv" or manifest.encoding != "utf-8":
        return False
    actual = dict(conn.exec_driver_sql(
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = %(t)s::regclass AND attnum > 0 AND NOT attisdropped",
        {"t": conn.dialect.identifier_preparer.quote(table.name)},
    ).all())
    wanted = {c.name: _KINDS.get(c.dtype, copybin.TEXT) for c in entry.columns} | {LINEAGE_COLUMN: copybin.TEXT}
    if any(actual.get(name) not in _PG_TYPES[kind] for name, kind in wanted.items()):
        return False
    return plain_lines(batch.data_path)


# --- primary-key hashes -----------------------------------------------------------------------------------

def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def key_hashes(columns: list[Any]) -> np.ndarray:
    """A 64-bit hash per row of the key columns (:class:`~citygov.quality.vector.TextColumn`), the same
    for the same UTF-8 bytes however the column was built and whatever the other rows hold. Collisions
    are possible (and handled by the caller)."""
    import hashlib

    n = len(columns[0])
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in columns:
            width = col.codes.shape[1]
            words = -(-width // 8)
            packed = np.zeros((n, words * 8), dtype=np.uint8)
            packed[:, :width] = np.where(np.arange(width) < col.lengths[:, None], col.codes, 0)
            packed_words = packed.view(np.uint64)
            part = _mix(col.lengths.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
            for j in range(words):  # only the words a value reaches: padding must not count
                part = np.where(col.lengths > 8 * j, _mix(part ^ packed_words[:, j]), part)
            for i in np.flatnonzero(col.lengths > width):  # long values: hash all their bytes
                digest = hashlib.blake2b(col.values[i].encode("utf-8"), digest_size=8).digest()
                part[i] = np.frombuffer(digest, dtype=np.uint64)[0]
            h = _mix(h * np.uint64(31) + part)
    return h


@dataclass
class _Seen:
    """Hashes of the keys of the rows sent to the target so far, with their lines, as sorted runs."""

    runs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def hit(self, ordered: np.ndarray) -> np.ndarray:
        """Which of the (sorted: the binary searches then walk the runs in order) hashes were seen."""
        found = np.zeros(len(ordered), dtype=bool)
        for run, _lines in self.runs:
            i = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            found |= run[i] == ordered
        return found

    def add(self, ordered: np.ndarray, lines: np.ndarray) -> None:
        """Add sorted hashes with their lines."""
        if not len(ordered):
            return
        self.runs.append((ordered, lines))
        if len(self.runs) > 6:
            h = np.concatenate([r[0] for r in self.runs])
            ln = np.concatenate([r[1] for r in self.runs])
            order = np.argsort(h, kind="stable")
            self.runs = [(h[order], ln[order])]

    def first_line(self, value: int) -> int | None:
        best = None
        key = np.uint64(value)
        for run, lines in self.runs:
            lo, hi = np.searchsorted(run, key, "left"), np.searchsorted(run, key, "right")
            if hi > lo:
                found = int(lines[lo:hi].min())
                best = found if best is None else min(best, found)
        return best


# --- the load ---------------------------------------------------------------------------------------------


@dataclass
class _Spool:
    """Rows written as CSV to a temporary file, for one COPY once the data COPY is done."""

    handle: IO[str] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(32 << 20, mode="w+", encoding="utf-8", newline=""))
    count: int = 0

    def __post_init__(self) -> None:
        self.writer = csv.writer(self.handle, lineterminator="\n")

    def add(self, row: list[Any]) -> None:
        self.writer.writerow(row)
        self.count += 1

    def copy_into(self, conn: Connection, statement: str) -> int:
        """COPY the rows with ``statement``; returns the rows the server took."""
        if not self.count:
            return 0
        self.handle.seek(0)
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(statement) as copy:
            while block := self.handle.read(1 << 20):
                copy.write(block)
        return cursor.rowcount


def _padded(chunk: bytes) -> np.ndarray:
    # 64 spare bytes: TextColumn.from_buffer reads a fixed width past the last field
    return np.frombuffer(chunk + bytes(_PAD), dtype=np.uint8)


def _changed(path: Any, digest: str | None = None, sha256: str | None = None) -> BatchProblemError:
    """The data file changed after its verification: cut short or grown (``unreadable``), or with other
    bytes (``checksum_mismatch``, when the ``digest`` read differs from the manifest's ``sha256``)."""
    if digest is None or sha256 is None:
        return BatchProblemError(Problem("unreadable", f"{path} changed while it was being loaded"))
    return BatchProblemError(Problem(
        "checksum_mismatch",
        f"{path} changed while it was being loaded: it now has sha256 {digest[:12]}…, the manifest declares "
        f"{sha256[:12]}… (what was verified); nothing of it was loaded",
    ))


def _blocks(path: Any, sha256: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Whole lines of the data file after the header, in blocks (with :data:`_PAD` zero bytes after
    them), with the line number of each line. The first blocks are smaller (1/16, then 1/4 of
    :data:`BLOCK`): the server waits for the first one. The bytes read are hashed: after the last
    block, a file whose SHA-256 is no longer ``sha256`` raises (the caller's transaction rolls back)."""
    digest = hashlib.sha256()
    with open_batch_file(path) as handle:
        digest.update(handle.readline())
        line, rest, size = 2, b"", max(BLOCK // 16, 1)
        while block := handle.read(size):
            digest.update(block)
            size = min(size * 4, BLOCK)
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                continue
            chunk, rest = block[:cut], block[cut:]
            count = chunk.count(b"\n")
            yield _padded(chunk), np.arange(line, line + count)
            line += count
        if rest:  # eligible() saw a final line break; a file growing meanwhile is not ours to load
            raise _changed(path)
    if digest.hexdigest() != sha256:
        raise _changed(path, digest.hexdigest(), sha256)


def _key_ordered_blocks(path: Any, key_fields: list[int], sha256: str) -> Iterator[tuple[np.ndarray, np.ndarray]] | None:
    """The lines of the data file as :func:`_blocks` gives them, but in the byte order of the key fields
    (at ``key_fields`` of the header): blocks of lines gathered from the file read into memory. None when
    that needs more than :data:`SORT_MEMORY` (or its setting) or a key field is longer than :data:`copybin.KEY_LIMIT`.
    The bytes read are hashed beside the key order: a file whose SHA-256 is no longer ``sha256`` raises
    before anything is sent."""
    from citygov.settings import backflow_sort_memory

    budget = backflow_sort_memory(SORT_MEMORY)
    with open_batch_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0 or size > budget:
            return None
        # Read, not mapped: a mapped file cut short by its sender meanwhile would kill the worker (SIGBUS).
        buf = np.empty(size, dtype=np.uint8)
        view, got = memoryview(buf), 0
        while got < size and (n := handle.readinto(view[got:])):
            got += n
        grew = bool(handle.read(1))
    if got < size or grew or buf[-1] != 10:
        raise _changed(path)
    buf.flags.writeable = False
    begin = copybin.line_after(buf, 0)  # after the header
    with ThreadPoolExecutor(1) as hasher:  # hashlib lets go of the GIL
        hashing = hasher.submit(lambda: hashlib.sha256(buf).hexdigest())
        ordered = copybin.key_order(buf, begin, key_fields, budget)
        if hashing.result() != sha256:
            raise _changed(path, hashing.result(), sha256)
    if ordered is None:
        return None
    order, at, length = ordered.order, ordered.at, ordered.length

    def blocks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = max(1, len(order) * BLOCK // size)
        step, first = max(rows // 16, 1), 0
        while first < len(order):
            part = slice(first, first + step)
            yield copybin.gather(buf, at[part], length[part], _PAD), order[part] + 2
            first += step
            step = min(step * 4, rows)

    return blocks()


class FastLoad:
    """One batch through the fast path, in the caller's transaction; see the module docstring."""

    def __init__(self, conn: Connection, table: sa.Table, batch: Batch, entry: CatalogEntry, checks: list[Any],
                 header: list[str]) -> None:
        self.conn, self.table, self.batch, self.entry, self.checks, self.header = conn, table, batch, entry, checks, header
        self.names = [c.name for c in entry.columns]
        self.position = {name: header.index(name) for name in header}
        self.prepare = RowPreparer(entry, header, self.names, postgres=True)
        self.to_header = [self.names.index(h) for h in header]
        self.pk = list(entry.primary_key)
        dtypes = {c.name: c.dtype for c in entry.columns}
        self.kinds = np.array([_KINDS.get(dtypes[h], copybin.TEXT) for h in header], dtype=np.int8)
        self.required = np.array([h in self.pk for h in header], dtype=np.bool_)
        self.tail = np.frombuffer(batch.batch_id.encode("utf-8"), dtype=np.uint8)  # the lineage field
        self.quote = conn.dialect.identifier_preparer.quote
        self.hash_keys = True
        self._fresh()

    def _fresh(self) -> None:
        self.quarantine = _Spool()
        self.suspects = _Spool()
        self.late = _Spool()  # good rows the per-record logic made canonical: CSV, COPYed after the binary COPY
        self.seen = _Seen()
        self.records = self.written = 0

    # -- per block ------------------------------------------------------------------------------------

    def _block(self, padded: np.ndarray, lines: np.ndarray) -> bytes:
        from citygov.quality.vector import TextColumn

        buf = padded[:-_PAD]
        starts, ends, fs, fl, values, fast = copybin.split(buf, len(self.header), self.kinds, self.required, _SPACE_LIKE)
        rows = np.flatnonzero(fast)
        self.records += len(rows)

        # The fast rows' columns straight from the buffer; the slow ones through the per-record logic.
        fast_fs, fast_fl = (fs, fl) if len(rows) == len(fast) else (fs[rows], fl[rows])
        columns = {name: TextColumn.from_buffer(padded, fast_fs[:, self.position[name]], fast_fl[:, self.position[name]])
                   for name in self._needed()}

        def fast_values(i: int) -> list[str]:
            return self._fast_values(buf, fs[rows[i]], fl[rows[i]])

        good = self._validate(columns, lines[rows], fast_values)
        keep = self._unseen(good, columns, lines[rows], fast_values)
        slow = ~fast
        slow_rows = self._slow(buf, starts[slow], ends[slow], lines[slow])
        if slow_rows:
            slow_lines = np.array([r[-1] for r in slow_rows])
            slow_columns = {name: TextColumn([r[i] for r in slow_rows]) for i, name in enumerate(self.names)}
            slow_good = self._validate({n: slow_columns[n] for n in self._needed()}, slow_lines,
                                       lambda i: slow_rows[i][:-1])
            for i in np.flatnonzero(self._unseen(slow_good, slow_columns, slow_lines, lambda i: slow_rows[i][:-1])):
                self.late.add([*[slow_rows[i][j] or None for j in self.to_header], self.batch.batch_id])
        return copybin.encode(buf, fs, fl, values, rows[keep], self.kinds, self.tail).tobytes()

    def _needed(self) -> list[str]:
        return sorted({n for check, _ in self.checks for n in check.columns} | set(self.pk))

    def _fast_values(self, buf: np.ndarray, fs: np.ndarray, fl: np.ndarray) -> list[str]:
        fields = [buf[s : s + n].tobytes().decode("utf-8") for s, n in zip(fs, fl, strict=True)]
        return [fields[self.position[name]] for name in self.names]

    def _slow(self, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray) -> list[list[Any]]:
        """Records the vectorized split does not cover, through the loader's per-record logic; returns the
        good ones as their values plus the line; refused ones go to the quarantine spool."""
        width = len(self.header)
        good = []
        for start, end, line in zip(starts.tolist(), ends.tolist(), lines.tolist(), strict=True):
            fields = buf[start:end].tobytes().decode("utf-8").split(",")
            if not (fields and fields[0].strip()) and not "".join(fields).strip():
                continue  # a blank line, or one of empty fields only (not a record: RecordStream's rule)
            self.records += 1
            fault = None
            if len(fields) != width:
                word = "extra" if len(fields) > width else "missing"
                fault = ("field_count", f"line {line}: {len(fields)} fields where the header has {width} ({word} fields)")
            row = self.prepare(line, fields, fault)
            if row[1] is not None:
                self._refuse(line, row[1], row[2], row[3], row[4])
            else:
                good.append([*row[5:], line])
        return good

    def _validate(self, columns: dict[str, Any], lines: np.ndarray, values: Callable[[int], list[str]]) -> np.ndarray:
        """The suite's row expectations over a block's rows: True for rows passing all; the others are
        quarantined with the first failing expectation (:func:`~citygov.backflow.rows.expectation_failures`)."""
        good, failures = expectation_failures(self.checks, columns, lines)
        for i, code, column, reason in failures:
            self._refuse(int(lines[i]), code, column, reason, self._record(values(i)))
        return good

    def _record(self, values: list[str]) -> str:
        return json.dumps(dict(zip(self.names, [v or None for v in values], strict=True)), ensure_ascii=False)

    def _refuse(self, line: int, code: str, column: str | None, reason: str, record: str) -> None:
        b = self.batch
        self.quarantine.add([b.batch_id, self.entry.code, b.logical_date.isoformat() if b.logical_date else "", line,
                             code, column or "", reason, record])

    def _unseen(self, good: np.ndarray, columns: dict[str, Any], lines: np.ndarray,
                values: Callable[[int], list[str]]) -> np.ndarray:
        """The good rows to send: a row whose key hash was seen before is held back as a suspect."""
        keep = good.copy()
        if self.pk and self.hash_keys:
            idx = np.flatnonzero(good)
            hashes = key_hashes([_take(columns[k], idx) for k in self.pk])
            order = np.argsort(hashes, kind="stable")  # one sort: repeats in the block, lookups, the new run
            ordered = hashes[order]
            repeat_sorted = np.concatenate([[False], ordered[1:] == ordered[:-1]]) | self.seen.hit(ordered)
            repeat = np.empty_like(repeat_sorted)
            repeat[order] = repeat_sorted
            for j in np.flatnonzero(repeat):
                i = int(idx[j])
                row = values(i)
                self.suspects.add([int(lines[i]), int(hashes[j].view(np.int64)), self._record(row),
                                   *[v if v else None for v in row]])
            keep[idx[repeat]] = False
            self.seen.add(ordered[~repeat_sorted], lines[idx[order[~repeat_sorted]]])
        self.written += int(keep.sum())
        return keep

    # -- the whole batch ------------------------------------------------------------------------------

    def run(self) -> tuple[int, int]:
        """Load the batch; returns (loaded, quarantined). Raises BatchProblemError for a row-count mismatch.

        A full load into a table whose key is a constraint first goes without the key hashes (about a
        quarter of the Python work): the rebuilt primary key (or, in a table other tables reference, the
        key kept through the COPY) proves the keys unique. Should it find a repeat, the attempt is rolled
        back to a savepoint and the batch goes again with the key hashes, which name each repeated line
        and the line it repeats: such a batch costs two passes."""
        from psycopg.errors import UniqueViolation

        manifest = self.batch.manifest
        assert manifest is not None
        if manifest.mode == "full" and self.pk and has_key(self.conn, self.table.name, self.pk):
            savepoint = self.conn.begin_nested()
            self.hash_keys = False
            try:
                result = self._run()
            except (sa.exc.IntegrityError, UniqueViolation) as exc:
                if not isinstance(getattr(exc, "orig", exc), UniqueViolation):
                    raise
                savepoint.rollback()
                self.hash_keys = True
                self._fresh()
            else:
                savepoint.commit()
                return result
        return self._run()

    def _run(self) -> tuple[int, int]:
        from psycopg.copy import QueuedLibpqWriter

        conn, q = self.conn, self.quote
        manifest = self.batch.manifest
        assert manifest is not None
        full = manifest.mode == "full"
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        if full:
            restore = _empty_table(conn, self.table.name)
            dest = self.table.name
        else:
            restore = []
            dest = BACKFLOW_ROWS
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {q(dest)} (LIKE {q(self.table.name)}) ON COMMIT DROP")
        columns = ", ".join(q(h) for h in self.header) + ", " + q(LINEAGE_COLUMN)
        blocks = self._order(full)
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {q(dest)} ({columns}) FROM STDIN (FORMAT binary)", writer=QueuedLibpqWriter(cursor)) as copy:
            copy.write(copybin.SIGNATURE)
            for padded, lines in blocks:
                copy.write(self._block(padded, lines))
            copy.write(copybin.TRAILER)
        copied = cursor.rowcount + self.late.copy_into(conn, f"COPY {q(dest)} ({columns}) FROM STDIN (FORMAT csv)")
        if copied != self.written:
            raise RuntimeError(f"COPY took {copied} rows, {self.written} were sent")
        if self.records != manifest.declared_rows:
            raise BatchProblemError(Problem(
                "row_count_mismatch",
                f"{self.batch.folder.name}: the manifest declares {manifest.declared_rows} rows, "
                f"{self.batch.data_path.name} holds {self.records}",
            ))
        for statement in restore:
            conn.exec_driver_sql(statement)
        loaded = self.written + self._resolve_suspects(dest)
        if not full:
            loaded = self._upsert(dest)
        self.quarantine.copy_into(conn, (
            f"COPY {q(QUARANTINE_TABLE)} (batch_id, resource_code, logical_date, line, reason_code, column_name, "
            "reason, record) FROM STDIN (FORMAT csv)"
        ))
        return loaded, self.quarantine.count

    def _order(self, full: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The blocks of lines to send: in primary-key order when that makes the key's rebuild cheaper (a
        full load without key hashes, every key column text in the "C" collation: the index's order is
        the bytes'), else in file order. The order changes no outcome: a line's reasons and line number
        are its own, and rows held back or made canonical per record go after either way."""
        if full and not self.hash_keys and self.pk and all(k == copybin.TEXT for k in self.kinds[self._key_fields()]) \
                and _c_collated(self.conn, self.table.name, self.pk):
            ordered = _key_ordered_blocks(self.batch.data_path, self._key_fields(), self._sha256())
            if ordered is not None:
                return ordered
        return _blocks(self.batch.data_path, self._sha256())

    def _sha256(self) -> str:
        assert self.batch.manifest is not None
        return self.batch.manifest.sha256

    def _key_fields(self) -> list[int]:
        return [self.position[k] for k in self.pk]

    def _resolve_suspects(self, dest: str) -> int:
        """Decide the held-back rows: a key equal to a loaded row's (or to an earlier suspect's) is a
        ``duplicate_key``; the first of a key that was only a hash collision is loaded. Returns rows loaded."""
        if not self.suspects.count:
            return 0
        conn, q = self.conn, self.quote
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {BACKFLOW_SUSPECTS} (_cg_line bigint, _cg_hash bigint, _cg_record text, "
            f"LIKE {q(dest)}) ON COMMIT DROP"
        )
        names = ", ".join(q(n) for n in self.names)
        if dest != self.table.name:
            conn.exec_driver_sql(f"CREATE INDEX ON {q(dest)} ({', '.join(q(k) for k in self.pk)})")
        self.suspects.copy_into(conn, (
            f"COPY {BACKFLOW_SUSPECTS} (_cg_line, _cg_hash, _cg_record, {names}) FROM STDIN (FORMAT csv)"
        ))
        keys = " AND ".join(f"d.{q(k)} = s.{q(k)}" for k in self.pk)
        part = ", ".join(f"s.{q(k)}" for k in self.pk)
        rows = conn.exec_driver_sql(
            f"SELECT s._cg_line, s._cg_hash, s._cg_record, EXISTS (SELECT 1 FROM {q(dest)} d WHERE {keys}), "
            f"min(s._cg_line) OVER (PARTITION BY {part}) FROM {BACKFLOW_SUSPECTS} s ORDER BY s._cg_line"
        ).all()
        what = ", ".join(self.pk)
        collided = []
        for line, hashed, record, loaded, first in rows:
            if not loaded and line == first:
                collided.append(line)
                continue
            if loaded:
                first = self.seen.first_line(int(np.int64(hashed).view(np.uint64)))
            self._refuse(line, "duplicate_key", self.pk[0],
                         f"line {line}: primary key {what} repeats line {first} of the same batch", record)
        if collided:
            conn.exec_driver_sql(
                f"INSERT INTO {q(dest)} ({names}, {q(LINEAGE_COLUMN)}) SELECT {names}, %(batch)s "
                f"FROM {BACKFLOW_SUSPECTS} WHERE _cg_line = ANY(%(lines)s)",
                {"batch": self.batch.batch_id, "lines": collided},
            )
        return len(collided)

    def _upsert(self, stage: str) -> int:
        """Write the rows COPYed into the temporary table ``stage`` into the resource's table (incremental)."""
        staged = sa.table(stage, *[sa.column(c) for c in written_columns(self.names)])
        return upsert(self.conn, self.table, sa.select(*staged.c), self.names, self.pk, full=False)


def _take(column: Any, idx: np.ndarray) -> Any:
    """The rows ``idx`` of a TextColumn (for hashing: lengths, bytes and, for long values, the text)."""
    from citygov.quality.vector import TextColumn

    out = TextColumn.__new__(TextColumn)
    values = column.values
    out._init(column.lengths[idx], column.codes[idx], _Rows(values, idx))
    return out


class _Rows:
    def __init__(self, values: Any, idx: np.ndarray) -> None:
        self.values, self.idx = values, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: int) -> Any:
        return self.values[int(self.idx[i])]


def _c_collated(conn: Connection, table: str, columns: list[str]) -> bool:
    """Whether every one of ``columns`` of ``table`` sorts in the "C" collation (byte order)."""
    found = conn.exec_driver_sql(
        "SELECT count(*) FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
        "WHERE a.attrelid = %(t)s::regclass AND a.attname = ANY(%(c)s) AND c.collname IN ('C', 'POSIX')",
        {"t": conn.dialect.identifier_preparer.quote(table), "c": columns},
    ).scalar()
    return found == len(columns)


def _empty_table(conn: Connection, name: str) -> list[str]:
    """Empty the table for a full load and drop its indexes; returns the statements that rebuild them.

    ``TRUNCATE`` and the index DDL are transactional: a rollback leaves table and indexes as they were.
    A table other tables reference keeps its indexes and is emptied with ``DELETE``."""
    q = conn.dialect.identifier_preparer.quote
    oid = conn.exec_driver_sql("SELECT %(t)s::regclass::oid", {"t": q(name)}).scalar()
    if conn.exec_driver_sql("SELECT 1 FROM pg_constraint WHERE confrelid = %(o)s LIMIT 1", {"o": oid}).first():
        conn.exec_driver_sql(f"DELETE FROM {q(name)}")
        return []
    conn.exec_driver_sql(f"TRUNCATE {q(name)}")
    restore = []
    for con, definition in conn.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %(o)s AND contype IN ('p', 'u')",
        {"o": oid},
    ).all():
        conn.exec_driver_sql(f"ALTER TABLE {q(name)} DROP CONSTRAINT {q(con)}")
        restore.append(f"ALTER TABLE {q(name)} ADD CONSTRAINT {q(con)} {definition}")
    for schema, index, definition in conn.exec_driver_sql(
        "SELECT n.nspname, i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace "
        "WHERE x.indrelid = %(o)s",
        {"o": oid},
    ).all():
        conn.exec_driver_sql(f"DROP INDEX {q(schema)}.{q(index)}")
        restore.append(definition)
    return restore
