"""The streaming engine counts exactly what the fused SQL engine and GX's engine count, on every rule.

One generated table holds good values and every kind of defect (bad check characters, spaces, lower case,
empty text, NULLs, duplicates, compound duplicates, out-of-range numbers, non-ASCII lengths) for a suite
that uses every expectation type a rule compiles. It is validated with ``engine="stream"``, ``"fused"``
and ``"gx"`` on SQLite and on PostgreSQL (binary COPY), and as a CSV file; the results (success, counts,
samples) must be the same. Then the parts a small table never reaches: hashes spilled to disk past the
budget, and hash collisions (counted by exact value, never as duplicates).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from citygov.quality import engine as qengine
from citygov.quality import stream
from citygov.quality.registry import native_types
from citygov.sources.base import MissingColumns
from citygov.sources.database import table_blocks
from tests.pg import scratch_database
from tests.quality_cases import (
    PARAMS,
    ROWS,
    TEXT_COLUMNS,
    _digest,
    _fill,
    _lookup,
    _rows,
    _rows_digest,
    _suite,
)


def test_the_suite_uses_every_compiled_rule() -> None:
    used = {e.expectation_type for e in _suite().expectations}
    assert set(native_types()) <= used


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('stream') / 'source.db'}")
    _fill(engine, _rows())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_source() -> Any:
    with scratch_database("citygov_stream") as url:
        engine = sa.create_engine(url)
        _fill(engine, _rows())
        yield engine
        engine.dispose()


def _three(source: sa.Engine, keys: tuple[str, ...] = ("pk",)) -> dict[str, Any]:
    suite = _suite()
    return {
        engine: qengine.validate_table(source, "t", suite, parameters=PARAMS, base_lookup=_lookup(source), engine=engine,
                                       key_columns=keys)[0]
        for engine in ("stream", "fused", "gx")
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stream_fused_and_gx_agree_on_every_rule(backend: str, request: pytest.FixtureRequest) -> None:
    source = request.getfixturevalue("sqlite_source" if backend == "sqlite" else "pg_source")
    results = _three(source)
    assert results["stream"].meta["engine"] == "stream"
    assert _digest(results["stream"]) == _digest(results["fused"])
    assert _digest(results["stream"]) == _digest(results["gx"])
    assert _rows_digest(results["stream"]) == _rows_digest(results["fused"])
    failing = {r.expectation_config.type for r in results["stream"].results if not r.success}
    # every rule found its planted defects
    assert failing >= set(native_types()) - {"expect_table_row_count_to_be_between"}


def test_a_file_streams_to_the_same_counts(sqlite_source: sa.Engine, tmp_path: Path) -> None:
    rows = _rows(blanks=False)  # a file cannot tell "" from NULL: leave those out of the comparison
    path = tmp_path / "t.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*TEXT_COLUMNS, "n"])
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in [*TEXT_COLUMNS, "n"]])
    database = sa.create_engine(f"sqlite:///{tmp_path / 'same.db'}")
    _fill(database, rows)
    suite = _suite()
    # a file holds text: a value set of numbers is a database column's rule (a file's suite lists texts)
    suite.expectations = [e for e in suite.expectations if not (e.expectation_type.endswith("in_set") and e.column == "n")]
    from_file, n = qengine.validate_file(path, suite, parameters=PARAMS, base_lookup=_lookup(database), key_columns=("pk",))
    from_sql, _ = qengine.validate_table(database, "t", suite, parameters=PARAMS, base_lookup=_lookup(database),
                                         engine="fused", key_columns=("pk",))
    assert n == ROWS
    counts = lambda res: [(r.success, (r.result or {}).get("unexpected_count"), (r.result or {}).get("element_count")) for r in res.results]  # noqa: E731
    assert counts(from_file) == counts(from_sql)
    database.dispose()


def test_hashes_spilled_past_the_budget_find_the_same_duplicates(sqlite_source: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _digest(_three(sqlite_source)["fused"])
    monkeypatch.setenv("CITYGOV_QUALITY_HASH_BUDGET_MIB", "1")
    monkeypatch.setattr(stream, "hash_budget", lambda: 64)  # a block's hashes exceed it: every block spills
    spilled = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source),
                                     engine="stream", key_columns=("pk",))[0]
    assert _digest(spilled) == expected


def test_hash_collisions_are_not_duplicates(sqlite_source: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _digest(_three(sqlite_source)["fused"])
    # every value hashes alike: all rows are candidates, and only equal values may be counted
    monkeypatch.setattr(stream, "_hashes", lambda block, names: np.zeros(block.rows, dtype=np.uint64))
    collided = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source),
                                      engine="stream", key_columns=("pk",))[0]
    assert _digest(collided) == expected


def test_hash_spool_counts_repeats_in_memory_and_on_disk() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**63, 10_000, dtype=np.uint64)
    values[::1000] = values[1]  # ten rows repeat one value
    for budget in (1 << 30, 4096):
        spool = stream.HashSpool(budget)
        for part in np.array_split(values, 17):
            spool.add(part)
        assert spool.spilled is (budget == 4096)
        assert list(spool.repeated()) == [values[1]]


def test_auto_picks_per_dialect_and_refuses_an_unknown_engine(sqlite_source: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from citygov.quality import tables

    result, _ = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source))
    assert result.meta["engine"] == qengine.choose_engine("sqlite") == "stream"
    assert qengine.choose_engine("postgresql") == "stream"
    monkeypatch.setitem(tables.AUTO_ENGINE, "sqlite", "fused")  # a dialect where one SQL scan measured faster
    result, _ = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source))
    assert result.meta["engine"] == "fused"
    with pytest.raises(ValueError, match="engine must be one of"):
        qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, engine="fast")


def test_binary_copy_keeps_null_apart_from_empty_text_and_decodes_types(pg_source: sa.Engine) -> None:
    with pg_source.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "we""ird tab" ("a b" text, "n" int, "d" date, "x" numeric, "ts" timestamp)')
        conn.exec_driver_sql(
            """INSERT INTO "we""ird tab" VALUES ('', 1, '2026-01-02', 1.50, '2026-01-02 03:04:05'), (NULL, NULL, NULL, NULL, NULL),"""
            """ ('名字 ', -7, '1999-12-31', -0.25, '2026-01-02 03:04:05.5')"""
        )
    blocks = list(table_blocks(pg_source, 'we"ird tab', ["a b", "n", "d", "x", "ts"], 2))
    assert [b.rows for b in blocks] == [2, 1]
    values = [[b.value(i, j) for j in range(5)] for b in blocks for i in range(b.rows)]
    from datetime import datetime
    from decimal import Decimal

    assert values == [
        ["", 1, date(2026, 1, 2), Decimal("1.50"), datetime(2026, 1, 2, 3, 4, 5)],
        [None, None, None, None, None],
        ["名字 ", -7, date(1999, 12, 31), Decimal("-0.25"), datetime(2026, 1, 2, 3, 4, 5, 500000)],
    ]
    assert [b.null[i, 0] for b in blocks for i in range(b.rows)] == [False, True, False]
    with pytest.raises(MissingColumns):
        table_blocks(pg_source, 'we"ird tab', ["nope"])
    # leaving early closes the COPY and gives the connection back in a usable state
    for _ in table_blocks(pg_source, "t", ["pk"], 10):
        break
    with pg_source.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == ROWS


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_many_repeated_values_are_counted_by_a_grouped_read(backend: str, request: pytest.FixtureRequest,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    source = request.getfixturevalue("sqlite_source" if backend == "sqlite" else "pg_source")
    expected = _digest(_three(source)["fused"])
    monkeypatch.setattr(stream, "SUSPECTS", 1)  # past it: the spool and GROUP BY, not the suspects' values
    many = qengine.validate_table(source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(source),
                                  engine="stream", key_columns=("pk",))[0]
    assert _digest(many) == expected
