"""The streaming engine: a suite's checks evaluated in the worker over the columns as read, block by block.

The fused engine (:mod:`citygov.quality.tables`) asks the department's database to compute every check
in SQL: check characters, dates and a 3,000-code ``IN`` list per row, which costs the *source database*
tens of CPU seconds per 2M rows. Here the source only reads: the columns the suite needs (and the
dataset's key columns, to name failing rows) arrive as blocks of UTF-8 text
(:meth:`citygov.sources.Source.read_blocks`: PostgreSQL's binary ``COPY``, a CSV's bytes split by a
compiled kernel, else the rows a driver gives), and each check runs on each block:

- **row rules** (``map``, ``pair``) with their rule's vectorized form
  (:func:`citygov.quality.vector.vector_expected`: the compiled fast accept, and the rule itself for
  every value it leaves), so a value means exactly what it means to the SQL and GX forms;
- **uniqueness** (one column or a compound key) by hashing each value (64 bits) into a
  :class:`HashSet` while reading: no hash seen twice means no two equal values (the usual case of a key,
  settled without another query); a row whose hash came before is a *suspect*, kept with its value.
  The duplicates are then counted exactly, by value (a hash collision is no duplicate): in SQL where the
  source has it (the rows holding the suspects' values), else by a second read of that check's columns.
  Past :data:`HASH_BUDGET` or :data:`SUSPECTS`, the hashes go to a :class:`HashSpool` instead (sorted at
  the end; spilled to disk past the budget) and the duplicates are counted by a grouped read in SQL
  (``GROUP BY … HAVING count(*) > 1``) or the second read. The spool's hashes take 8 bytes a row; past
  :data:`HASH_BUDGET` they are spilled to temporary files in 16 partitions by their top bits and each
  partition is sorted on its own, so memory stays bounded whatever the table's size;
- **references** to a base table: in SQL where the source speaks it (a grouped read of the distinct
  values, an aggregate the database does well), else by counting the distinct values here;
- **failing samples**: the first :data:`~citygov.quality.checks.SAMPLE_SIZE` failing rows of each check,
  with their keys, taken while streaming (no extra query).

The counts are the fused engine's and GX's for every rule (a test asserts it, rule by rule) and the
results are built by the same code (:func:`citygov.quality.results.build_result`).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from citygov.quality.checks import (
    REF_BATCH,
    SAMPLE_SIZE,
    BaseLookup,
    Check,
    base_lookup_of,
    count_missing,
    record_duplicates,
    uniqueness_columns,
)
from citygov.quality.vector import TextColumn, kept_rows, vector_expected
from citygov.sources.base import describe_error
from citygov.sources.blocks import TextBlock

ReadBlocks = Callable[[list[str]], Iterator[TextBlock]]
"""``columns -> their blocks``: one read of the resource (called again for a second pass)."""

HASH_BUDGET = 128 << 20
"""Bytes of value hashes a uniqueness check keeps in memory: its :class:`HashSet` (16 bytes a distinct
value: 8M values) and, past that, its :class:`HashSpool` (8 bytes a row: 16M rows) before it spills to
disk; the default of ``CITYGOV_QUALITY_HASH_BUDGET_MIB``."""
ROW_KINDS = frozenset({"map", "pair", "unique", "compound_unique", "ref"})
"""Checks the streaming engine computes (``table`` checks need only the row count)."""


def hash_budget() -> int:
    """:data:`HASH_BUDGET`, or ``CITYGOV_QUALITY_HASH_BUDGET_MIB`` MiB (a positive whole number)."""
    raw = os.environ.get("CITYGOV_QUALITY_HASH_BUDGET_MIB", "").strip()
    if not raw:
        return HASH_BUDGET
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CITYGOV_QUALITY_HASH_BUDGET_MIB must be a positive whole number of MiB, not {raw!r}")
    return int(raw) << 20


# --- hashing ---------------------------------------------------------------------------------------------

_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def _mix(h: np.uint64) -> np.uint64:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@njit(cache=True, nogil=True)
def hash_values(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, null: np.ndarray,
                seed: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each value's bytes (FNV-1a, then mixed), combined into ``seed`` (per row: the
    hash of the previous columns of a compound key, or zeros). NULL hashes as a marker unlike any text."""
    out = np.empty(len(starts), dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for i in range(len(starts)):
        if null[i]:
            h = _NULL_HASH
        else:
            h = np.uint64(0xCBF29CE484222325)
            s = starts[i]
            for k in range(lengths[i]):
                h ^= np.uint64(buffer[s + k])
                h *= prime
            h ^= np.uint64(lengths[i])
        out[i] = _mix(seed[i] * np.uint64(31) + _mix(h))
    return out


class HashSpool:
    """The 64-bit hashes of a column's values, in memory up to a budget, then in 16 partition files (by
    the top four bits) in a temporary folder; :meth:`repeated` gives the hashes seen more than once."""

    PARTS = 16

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held: list[np.ndarray] = []
        self.bytes = 0
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.spilled = False

    def add(self, hashes: np.ndarray) -> None:
        self.held.append(hashes)
        self.bytes += hashes.nbytes
        if self.bytes > self.budget:
            self._spill()

    def _spill(self) -> None:
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="citygov-hashes-")
            self.spilled = True
        for hashes in self.held:
            part = (hashes >> np.uint64(60)).astype(np.int64)
            for p in range(self.PARTS):
                chosen = hashes[part == p]
                if len(chosen):
                    with open(Path(self.folder.name) / f"{p}.u64", "ab") as out:
                        chosen.tofile(out)
        self.held, self.bytes = [], 0

    def repeated(self) -> np.ndarray:
        """The hashes that occur more than once, sorted."""
        found: list[np.ndarray] = []
        if self.folder is None:
            whole = np.empty(sum(len(h) for h in self.held), dtype=np.uint64)
            at = 0
            self.held.reverse()
            while self.held:  # each part is let go once copied: the hashes are in memory once, not twice
                part = self.held.pop()
                whole[at : at + len(part)] = part
                at += len(part)
            self.bytes = 0
            parts: Iterator[np.ndarray] = iter([whole] if len(whole) else [])
        else:
            self._spill()
            folder = Path(self.folder.name)
            parts = (np.fromfile(folder / f"{p}.u64", dtype=np.uint64) for p in range(self.PARTS) if (folder / f"{p}.u64").exists())
        for hashes in parts:
            hashes.sort()
            twice = hashes[1:] == hashes[:-1]
            if twice.any():
                found.append(np.unique(hashes[1:][twice]))
        self.close()
        return np.concatenate(found) if found else np.zeros(0, dtype=np.uint64)

    def close(self) -> None:
        self.held, self.bytes = [], 0
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None


@njit(cache=True, nogil=True)
def _insert(table: np.ndarray, hashes: np.ndarray, filled: int) -> tuple[np.ndarray, int]:
    """Put ``hashes`` into the open-addressing ``table`` (0 = empty; a power of two long); returns which
    were there already (from an earlier row) and how many slots are filled."""
    seen = np.zeros(len(hashes), dtype=np.bool_)
    mask = np.uint64(len(table) - 1)
    for i in range(len(hashes)):
        h = hashes[i]
        if h == 0:
            h = np.uint64(1)
        j = h & mask
        while True:
            slot = table[j]
            if slot == 0:
                table[j] = h
                filled += 1
                break
            if slot == h:
                seen[i] = True
                break
            j = (j + np.uint64(1)) & mask
    return seen, filled


@njit(cache=True, nogil=True)
def _grown(table: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.uint64)
    mask = np.uint64(size - 1)
    for h in table:
        if h != 0:
            j = h & mask
            while out[j] != 0:
                j = (j + np.uint64(1)) & mask
            out[j] = h
    return out


class HashSet:
    """The hashes seen so far, in a table at most half full (16 bytes a distinct value), so that each row
    learns at once whether its hash came before: the second and later rows of a repeated value are known
    while they are read (the *suspects*), with their value and key. Refuses to grow past ``budget``."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.table = np.zeros(1 << 16, dtype=np.uint64)
        self.filled = 0

    def add(self, hashes: np.ndarray) -> np.ndarray | None:
        """Which of ``hashes`` were seen before; None when holding them would pass the budget."""
        size = len(self.table)
        while 2 * (self.filled + len(hashes)) > size:
            size *= 2
        if size * 8 > self.budget:
            return None
        if size != len(self.table):
            self.table = _grown(self.table, size)
        seen, self.filled = _insert(self.table, hashes, self.filled)
        return seen

    def hashes(self) -> np.ndarray:
        return self.table[self.table != 0]


SUSPECTS = 1000
"""Distinct repeated values a uniqueness check keeps while reading; past it (a column of many repeats)
they are counted afterwards, as past the hash budget."""


class _Unique:
    """What one uniqueness check gathers while reading: a :class:`HashSet` and the suspects (each repeat's
    exact text, first value and key), until a budget is passed; then a :class:`HashSpool` of every hash."""

    def __init__(self, check: Check, budget: int) -> None:
        self.check = check
        self.names, self.ignore = uniqueness_columns(check)
        self.seen: HashSet | None = HashSet(budget)
        self.spool = HashSpool(budget)
        self.suspects: dict[tuple[str | None, ...], tuple[Any, ...]] = {}
        self.suspect_hashes: list[np.ndarray] = []
        self.overflow = False
        """Too many suspects, or past the budget: counted afterwards from the spool."""

    def add(self, block: TextBlock) -> None:
        kept = _kept(block, self.names, self.ignore)
        self.check.evaluated += int(kept.sum())
        hashes = _hashes(block, self.names)[kept]
        seen = self.seen.add(hashes) if self.seen is not None and not self.overflow else None
        if seen is None:
            self._to_spool(hashes)
            return
        rows = np.flatnonzero(kept)[seen]
        self.suspect_hashes.append(hashes[seen])
        for i in rows.tolist():
            texts = _texts(block, self.names, i)
            if texts not in self.suspects:
                if len(self.suspects) >= SUSPECTS:
                    self._to_spool(np.zeros(0, dtype=np.uint64))
                    return
                self.suspects[texts] = tuple(block.value(i, block.index(n)) for n in self.names)

    def _to_spool(self, hashes: np.ndarray) -> None:
        if not self.overflow:  # everything seen so far goes to the spool, repeats included
            self.overflow = True
            if self.seen is not None:
                self.spool.add(self.seen.hashes())
                self.seen = None
            for repeats in self.suspect_hashes:
                self.spool.add(repeats)
            self.suspect_hashes, self.suspects = [], {}
        if len(hashes):
            self.spool.add(hashes)

    def close(self) -> None:
        self.spool.close()
        self.seen = None


# --- the run -------------------------------------------------------------------------------------------------


class _Values(Sequence[Any]):
    """A block column's values as the source holds them, decoded on access."""

    def __init__(self, block: TextBlock, col: int) -> None:
        self.block, self.col = block, col

    def __len__(self) -> int:
        return self.block.rows

    def __getitem__(self, i: Any) -> Any:
        return self.block.value(int(i), self.col)

    def take(self, rows: np.ndarray) -> list[Any]:
        return self.block.values_at(self.col, rows)


class _Columns:
    """The :class:`TextColumn` of each column of one block, made when first asked for."""

    def __init__(self, block: TextBlock) -> None:
        self.block = block
        self._made: dict[str, TextColumn] = {}

    def __getitem__(self, name: str) -> TextColumn:
        column = self._made.get(name)
        if column is None:
            b, j = self.block, self.block.index(name)
            column = self._made[name] = TextColumn.from_buffer(
                b.buffer, b.starts[:, j], b.lengths[:, j], null=b.null[:, j], values=_Values(b, j),
                text_values=b.holds_text(j),
            )
        return column


def _kept(block: TextBlock, names: Sequence[str], ignore_row_if: str) -> np.ndarray:
    """Rows a pair or compound check evaluates (GX's ``ignore_row_if`` over the block's NULL masks)."""
    return kept_rows([block.null[:, block.index(n)] for n in names], ignore_row_if)


def needed_columns(checks: Sequence[Check], keys: Sequence[str]) -> list[str]:
    """The columns a streaming pass reads: every streamed check's, then the key columns, each once."""
    names: list[str] = []
    for check in checks:
        if check.kind in ROW_KINDS:
            names.extend(check.columns)
    names.extend(keys)
    return list(dict.fromkeys(names))


def stream_checks(
    checks: Sequence[Check],
    read: ReadBlocks,
    keys: Sequence[str],
    *,
    sql_ref: Callable[[Check], None] | None = None,
    sql_unique: Callable[[Check, list[tuple[Any, ...]] | None], None] | None = None,
    base_lookup: BaseLookup | None = None,
    budget: int | None = None,
) -> int:
    """Compute ``checks`` (their ``unexpected``, ``evaluated``, samples and failing rows) over one read of
    their columns; returns the row count. ``sql_ref`` computes a reference check in SQL when the source
    has it; else references are counted here and looked up with ``base_lookup``. ``sql_unique(check,
    values)`` counts a uniqueness check's duplicates in SQL when its hashes repeat: the rows holding
    ``values`` (the repeated values seen while reading), or every value (None: a grouped read) past the
    budgets, instead of a second read of the column here.
    ``gx``/``table`` checks are left alone. Raises what the reader raises (the caller turns it into a
    :class:`ValidationError`)."""
    budget = hash_budget() if budget is None else budget
    rows_checks = [c for c in checks if c.kind in {"map", "pair"}]
    unique_checks = [c for c in checks if c.kind in {"unique", "compound_unique"}]
    sql_refs = [c for c in checks if c.kind == "ref" and sql_ref is not None]
    ref_checks = [c for c in checks if c.kind == "ref" and sql_ref is None]
    uniques = {id(c): _Unique(c, budget) for c in unique_checks}
    counters: dict[int, Counter[Any]] = {id(c): Counter() for c in ref_checks}
    streamed = rows_checks + unique_checks + ref_checks + sql_refs
    row_count = 0
    try:
        for block in read(needed_columns(streamed, keys)):
            row_count += block.rows
            cols = _Columns(block)
            for check in rows_checks:
                _row_check(check, block, cols, keys)
            for check in unique_checks:
                uniques[id(check)].add(block)
            for check in ref_checks:
                _count_values(check, block, counters[id(check)])
            for check in sql_refs:  # the values are looked up in SQL; the rows evaluated are counted here
                check.evaluated += int((~block.null[:, block.index(check.columns[0])]).sum())
        for check in unique_checks:
            unique = uniques[id(check)]
            if not unique.overflow:
                if not unique.suspects:
                    continue  # no hash came twice: no two values are equal
                if sql_unique is not None:  # the rows holding the suspects' values, counted by the source
                    sql_unique(check, list(unique.suspects.values()))
                else:
                    _exact_duplicates(check, read, keys, np.unique(np.concatenate(unique.suspect_hashes)))
                continue
            repeated = unique.spool.repeated()
            if not len(repeated):
                continue
            if sql_unique is not None:
                sql_unique(check, None)
            else:
                _exact_duplicates(check, read, keys, repeated)
    finally:
        for unique in uniques.values():
            unique.close()
    for check in sql_refs:
        assert sql_ref is not None
        sql_ref(check)
    for check in ref_checks:
        try:
            wanted = _look_up(check, counters[id(check)], base_lookup)
        except Exception as exc:  # one unreachable base table must not sink the other checks
            check.error = describe_error(exc)
            continue
        if wanted:
            _rows_holding(check, read, keys, wanted)
    return row_count


def _row_check(check: Check, block: TextBlock, cols: _Columns, keys: Sequence[str]) -> None:
    columns = [cols[n] for n in check.columns]
    if check.kind == "map":
        evaluated = ~columns[0].null if check.filter_nulls else np.ones(block.rows, dtype=bool)
    else:
        evaluated = _kept(block, check.columns, check.ignore_row_if)
    check.evaluated += int(evaluated.sum())
    bad = ~vector_expected(check, columns)
    failing = int(bad.sum())
    if not failing:
        return
    check.unexpected += failing
    room = SAMPLE_SIZE - len(check.samples)
    if room <= 0:
        return
    key_at = [block.index(k) for k in keys]
    for i in np.flatnonzero(bad)[:room]:
        values = tuple(c.values[int(i)] for c in columns)
        check.samples.append(values[0] if check.kind == "map" else values)
        check.add_row([block.value(int(i), k) for k in key_at] if keys else None, values)


def _hashes(block: TextBlock, names: Sequence[str]) -> np.ndarray:
    h = np.zeros(block.rows, dtype=np.uint64)
    for name in names:
        j = block.index(name)
        h = hash_values(block.buffer, block.starts[:, j], block.lengths[:, j], block.null[:, j], h)
    return h


def _texts(block: TextBlock, names: Sequence[str], i: int) -> tuple[str | None, ...]:
    return tuple(block.text(i, block.index(n)) for n in names)


def _exact_duplicates(check: Check, read: ReadBlocks, keys: Sequence[str], repeated: np.ndarray) -> None:
    """A second read of a uniqueness check's columns: the rows whose hash repeats, counted by their exact
    text (a hash collision is no duplicate), as the fused engine's ``GROUP BY … HAVING count(*) > 1``;
    the first values' rows (with their keys) are the samples."""
    names, ignore = uniqueness_columns(check)
    counts: Counter[tuple[str | None, ...]] = Counter()
    first: dict[tuple[str | None, ...], tuple[Any, ...]] = {}
    held: list[tuple[tuple[str | None, ...], tuple[Any, ...] | None]] = []
    for block in read(list(dict.fromkeys([*names, *keys]))):
        kept = _kept(block, names, ignore)
        hit = kept & np.isin(_hashes(block, names), repeated)
        key_at = [block.index(k) for k in keys]
        for i in np.flatnonzero(hit).tolist():
            texts = _texts(block, names, i)
            counts[texts] += 1
            if texts not in first:
                first[texts] = tuple(block.value(i, block.index(n)) for n in names)
            if len(held) < 50 * SAMPLE_SIZE:
                held.append((texts, tuple(block.value(i, k) for k in key_at) if keys else None))
    check.unexpected = 0
    record_duplicates(check, counts, first, held)


def _count_values(check: Check, block: TextBlock, counter: Counter[Any]) -> None:
    """A reference check's distinct non-NULL values and their rows in one block (one decode per distinct
    value: the block's hashes find them)."""
    j = block.index(check.columns[0])
    present = ~block.null[:, j]
    check.evaluated += int(present.sum())
    rows = np.flatnonzero(present)
    if not len(rows):
        return
    hashes = _hashes(block, [check.columns[0]])[rows]
    _, first, n = np.unique(hashes, return_index=True, return_counts=True)
    for at, count in zip(rows[first], n, strict=True):
        counter[block.value(int(at), j)] += int(count)


def _look_up(check: Check, counter: Counter[Any], base_lookup: BaseLookup | None) -> dict[Any, int]:
    """Count the values the base table lacks; returns the sampled ones with their row counts."""
    lookup = base_lookup_of(check, base_lookup)
    sampled: dict[Any, int] = {}
    counted = list(counter.items())
    for start in range(0, len(counted), REF_BATCH):
        count_missing(check, counted[start : start + REF_BATCH], lookup, sampled)
    return sampled


def _rows_holding(check: Check, read: ReadBlocks, keys: Sequence[str], wanted: dict[Any, int]) -> None:
    """The rows (with their keys) holding a reference check's sampled missing values: a second read of the
    column and the keys, stopped once the check has its rows."""
    name = check.columns[0]
    for block in read(list(dict.fromkeys([name, *keys]))):
        j = block.index(name)
        key_at = [block.index(k) for k in keys]
        for i in range(block.rows):
            if block.null[i, j]:
                continue
            value = block.value(i, j)
            if value in wanted:
                check.add_row([block.value(i, k) for k in key_at] if keys else None, (value,), count=wanted[value])
                if len(check.rows) >= SAMPLE_SIZE:
                    return
