"""The fast path's compiled kernels (:mod:`citygov.backflow.copybin`): which lines they pass as canonical,
and that PostgreSQL reads their binary COPY tuples as the values the text would have given."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.backflow import copybin, ingest_landing, pgfast
from citygov.catalog.importer import import_catalog
from tests.pg import scratch_database
from tests.store.test_backflow import sample_rows, to_csv, write_batch
from tests.store.test_backflow_pgfast import count_calls

KINDS = np.array([copybin.TEXT, copybin.DATE, copybin.TIMESTAMP, copybin.NUMBER], dtype=np.int8)
GOOD = [
    ("名字", "2024-02-29", "2026-11-27 02:03:04", "0"),
    ("", "0001-01-01", "9999-12-31 23:59:59", "999999999999999999"),
    ("z", "2000-01-01", "1999-12-31 23:59:59", "100000000"),
    ("q", "", "", "10000"),
    ("r", "1970-01-01", "2000-01-01 00:00:00", ""),
    ("s", "2100-03-01", "1900-02-28 12:00:00", "7"),
    ("t", "1600-02-29", "2026-01-01 00:00:01", "123456789012345678"),
]
NOT_CANONICAL = [
    ("a", "2023-02-29", "", ""),  # no such day
    ("a", "2024-13-01", "", ""),
    ("a", "0000-01-01", "", ""),
    ("a", "2024-1-01", "", ""),
    ("a", "2024/01/01", "", ""),
    ("a", "", "2024-01-01 24:00:00", ""),
    ("a", "", "2024-01-01 12:60:00", ""),
    ("a", "", "2024-01-01T12:00:00", ""),
    ("a", "", "2024-01-01 12:00:00+08:00", ""),
    ("a", "", "", "007"),
    ("a", "", "", "1234567890123456789"),  # 19 digits
    ("a", "", "", "-5"),
    ("a", "", "", "1.5"),
    (" a", "", "", ""),  # may be whitespace only: checked per record
    ("", "", "", ""),  # all fields empty
]


def _split(lines: list[str], required: list[bool] | None = None):  # type: ignore[no-untyped-def]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    need = np.array(required or [False] * 4, dtype=np.bool_)
    return buf, copybin.split(buf, 4, KINDS, need, pgfast._SPACE_LIKE)


def test_split_passes_canonical_lines_only() -> None:
    lines = [",".join(r) for r in GOOD + NOT_CANONICAL] + ["a,b,c", "a,b,c,d,e", ""]
    _buf, (starts, ends, fs, fl, _values, fast) = _split(lines)
    assert fast.tolist() == [True] * len(GOOD) + [False] * (len(NOT_CANONICAL) + 3)
    assert len(starts) == len(ends) == len(lines)
    assert fl[0].tolist() == [len("名字".encode()), 10, 19, 1]


def test_split_holds_back_an_empty_required_field() -> None:
    _buf, (*_, fast) = _split(["a,,,", ",,,1"], required=[True, False, False, False])
    assert fast.tolist() == [True, False]


def test_postgres_reads_the_binary_tuples_as_the_text_values() -> None:
    buf, (_starts, _ends, fs, fl, values, fast) = _split([",".join(r) for r in GOOD])
    out = copybin.encode(buf, fs, fl, values, np.flatnonzero(fast), KINDS, np.frombuffer(b"B-1", dtype=np.uint8))
    with scratch_database("citygov_copybin") as url:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE t (t text, d date, ts timestamp, n numeric, b varchar(128))")
                cursor = conn.connection.dbapi_connection.cursor()
                with cursor.copy("COPY t FROM STDIN (FORMAT binary)") as copy:
                    copy.write(copybin.SIGNATURE + out.tobytes() + copybin.TRAILER)
                got = conn.exec_driver_sql("SELECT t, d, ts, n, b FROM t").all()
        finally:
            engine.dispose()
    expected = [
        (t or None, date.fromisoformat(d) if d else None, datetime.fromisoformat(ts) if ts else None,
         Decimal(n) if n else None, "B-1")
        for t, d, ts, n in GOOD
    ]
    assert [tuple(r) for r in got] == expected


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_target_table_with_other_column_types_takes_the_general_path(
    store: Engine, city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column altered by hand (a date kept as text) would make binary tuples wrong: the batch takes the
    general path, and PostgreSQL converts the text as before."""
    import_catalog(store, city / "catalog.csv")
    header, rows = sample_rows(city, 10)
    data = (to_csv(header, []) + "\n".join(",".join(r) for r in rows) + "\n").encode("utf-8")
    runs = count_calls(monkeypatch, pgfast.FastLoad, "run")
    with scratch_database("citygov_types") as url:
        target = sa.create_engine(url)
        try:
            write_batch(tmp_path / "a", "TYPES-001", data, declared=len(rows))
            (first,) = ingest_landing(store, target, tmp_path / "a")
            assert first.status == "loaded" and runs["n"] == 1
            with target.begin() as conn:
                conn.exec_driver_sql('ALTER TABLE "hl_sbcbxx" ALTER COLUMN "cbrq" TYPE text')
            write_batch(tmp_path / "b", "TYPES-002", data, declared=len(rows), logical_date="2026-11-30")
            (second,) = ingest_landing(store, target, tmp_path / "b")
            assert second.status == "loaded", second.reason
            assert runs["n"] == 1, "the altered table took the general path"
            assert second.loaded_rows == first.loaded_rows
        finally:
            target.dispose()
