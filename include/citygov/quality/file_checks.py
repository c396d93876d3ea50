"""Validating a CSV/XLSX file: the suite's checks over bounded pandas chunks, with GX's results.

Each chunk is checked with the rules' pandas forms (the same per-value checks the custom expectations'
pandas partials use); uniqueness and referential checks count distinct values across chunks. Types no
rule compiles are reported as not evaluated (an error in their result) rather than guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from citygov.quality.cells import text
from citygov.quality.checks import (
    REF_BATCH,
    SAMPLE_SIZE,
    BaseLookup,
    Check,
    ValidationError,
    compile_check,
    native_types,
    present_keys,
    substitute,
)
from citygov.quality.files import CHUNK_ROWS, iter_chunks
from citygov.quality.results import build_result, suite_result
from citygov.quality.vector import keep_frame
from citygov.sources.base import describe_error


def validate_file(
    path: Path,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    chunk_rows: int = CHUNK_ROWS,
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate a CSV/XLSX file with ``suite`` in chunks of ``chunk_rows`` rows; returns (result, rows).

    Memory is bounded by the chunk plus, for uniqueness and referential checks, one counter of the
    distinct values of their columns (and, when they fail, a second pass for the keys of the sampled
    rows). Expectation types no rule compiles are reported as not evaluated (an error in their
    result) rather than guessed. ``key_columns`` as in :func:`validate_table`.
    """
    parameters = dict(parameters or {})
    try:
        header, chunks = iter_chunks(Path(path), chunk_rows)
    except Exception as exc:
        raise ValidationError(f"file {Path(path).name} cannot be read: {describe_error(exc)}") from exc
    checks = [compile_check(substitute(e, parameters)) for e in suite.expectations]
    for check in checks:
        missing = [c for c in check.columns if c and c not in header]
        if missing:
            check.error = f"column {', '.join(missing)} is not in file {Path(path).name}"
        elif check.kind == "gx":
            check.error = f"{check.type} is not supported on files (supported: {', '.join(native_types())})"
    live = [c for c in checks if c.error is None]
    keys = present_keys(key_columns, header)
    counters: dict[int, Counter[Any]] = {id(c): Counter() for c in live if c.kind in {"unique", "compound_unique", "ref"}}
    row_count = 0
    try:
        for frame in chunks:
            row_count += len(frame)
            for check in live:
                _pandas_chunk(check, frame, counters.get(id(check)), keys)
    except Exception as exc:
        raise ValidationError(f"file {Path(path).name} cannot be read: {describe_error(exc)}") from exc
    wanted: dict[int, dict[tuple[Any, ...], int]] = {id(c): {} for c in live}
    for check in live:
        counter = counters.get(id(check))
        if counter is None:
            continue
        if check.kind in {"unique", "compound_unique"}:
            for value, n in counter.items():
                if n > 1:
                    check.unexpected += n
                    sample = value if check.kind == "unique" else dict(zip(check.columns, value, strict=True))
                    if len(check.samples) < SAMPLE_SIZE:
                        wanted[id(check)][value if check.kind == "compound_unique" else (value,)] = n
                    check.samples.extend([sample] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
        else:
            try:
                wanted[id(check)] = _pandas_ref(check, counter, base_lookup)
            except Exception as exc:
                check.error = describe_error(exc)
    if any(wanted.values()):
        try:
            _file_rows_of(Path(path), chunk_rows, [c for c in live if wanted.get(id(c))], wanted, keys)
        except Exception as exc:
            raise ValidationError(f"file {Path(path).name} cannot be read: {describe_error(exc)}") from exc
    results = [build_result(c, row_count, keys) for c in checks]
    info = {"engine": "pandas-chunks", "file": Path(path).name, "chunk_rows": chunk_rows, **(meta or {})}
    return suite_result(suite, results, info, parameters), row_count


def _file_rows_of(path: Path, chunk_rows: int, checks: list[Check], wanted: Mapping[int, Mapping[tuple[Any, ...], int]],
                  keys: Sequence[str]) -> None:
    """A second pass over a file for the rows (with their keys) holding the sampled failing values of
    uniqueness and referential checks, until each check has :data:`SAMPLE_SIZE` rows."""
    _, chunks = iter_chunks(path, chunk_rows)
    for frame in chunks:
        for check in checks:
            values = wanted[id(check)]
            if len(check.rows) >= SAMPLE_SIZE:
                continue
            hit = frame[check.columns[0]].isin([v[0] for v in values])
            for _, row in frame[hit].iterrows():
                combo = tuple(row[c] for c in check.columns)
                if combo in values and len(check.rows) < SAMPLE_SIZE:
                    check.add_row([row[k] for k in keys] if keys else None, combo, count=values[combo])
        if all(len(c.rows) >= SAMPLE_SIZE for c in checks):
            return


def _frame_keys(frame: pd.DataFrame, keys: Sequence[str], index: pd.Index) -> list[tuple[Any, ...] | None]:
    if not keys:
        return [None] * len(index)
    return list(frame.loc[index, list(keys)].itertuples(index=False, name=None))


def _pandas_chunk(check: Check, frame: pd.DataFrame, counter: Counter[Any] | None, keys: Sequence[str] = ()) -> None:
    cols = [frame[c] for c in check.columns]
    if check.kind == "map":
        data = cols[0]
        if check.filter_nulls:
            present = data.notna()
            check.evaluated += int(present.sum())
            sub = [data[present]]
        else:
            check.evaluated += len(data)
            sub = [data]
        if len(sub[0]) == 0:
            return
        bad = ~check.pandas(sub).astype(bool)
        check.unexpected += int(bad.sum())
        failing = sub[0][bad].head(SAMPLE_SIZE - len(check.samples))
        for value, key in zip(failing, _frame_keys(frame, keys, failing.index), strict=True):
            check.samples.append(value)
            check.add_row(key, (value,))
    elif check.kind == "pair":
        keep = keep_frame(cols, check.ignore_row_if)
        check.evaluated += int(keep.sum())
        sub = [c[keep] for c in cols]
        if len(sub[0]) == 0:
            return
        bad = ~check.pandas(sub).astype(bool)
        check.unexpected += int(bad.sum())
        room = SAMPLE_SIZE - len(check.samples)
        a, b = sub[0][bad].head(room), sub[1][bad].head(room)
        for pair, key in zip(zip(a, b, strict=True), _frame_keys(frame, keys, a.index), strict=True):
            check.samples.append(pair)
            check.add_row(key, pair)
    elif check.kind == "unique" or check.kind == "ref":
        present = cols[0].notna()
        check.evaluated += int(present.sum())
        assert counter is not None
        counter.update(cols[0][present].tolist())
    elif check.kind == "compound_unique":
        keep = keep_frame(cols, check.ignore_row_if)
        check.evaluated += int(keep.sum())
        assert counter is not None
        counter.update(zip(*[c[keep].tolist() for c in cols], strict=True))


def _pandas_ref(check: Check, counter: Counter[Any], base_lookup: BaseLookup | None) -> dict[tuple[Any, ...], int]:
    """Count the values not found in the base table; returns the sampled ones with their row counts."""
    e = check.expectation
    sampled: dict[tuple[Any, ...], int] = {}
    if base_lookup is None:
        raise ValidationError(f"no way to reach base table {e.base_entry} for {check.type}")
    values = [v for v in counter if text(v) != ""]  # a blank is the not-blank rule's
    for start in range(0, len(values), REF_BATCH):
        batch = values[start : start + REF_BATCH]
        found = base_lookup(e.base_entry, e.base_column, batch)
        for value in batch:
            if value not in found:
                n = counter[value]
                check.unexpected += n
                if len(check.samples) < SAMPLE_SIZE:
                    sampled[(value,)] = n
                check.samples.extend([value] * max(0, min(n, SAMPLE_SIZE - len(check.samples))))
    return sampled

