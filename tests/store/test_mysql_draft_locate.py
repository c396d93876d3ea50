"""Drafting a suite and locating a disputed record on a MySQL/MariaDB department source (issue 19, item 1),
against the local MariaDB (skipped when it does not answer, unless CITYGOV_REQUIRE_MYSQL is set).

Drafting profiles the table in the database: on MySQL its collations would merge ``'在业'`` with
``'在业 '`` and ``'A'`` with ``'a'`` when counting distinct values and listing a code column's values,
so a value set could be drafted from the wrong spelling and a case variant would hide a duplicate key.
The draft must be the one the same rows give on SQLite, and the drafted suite must find exactly the
planted rows on every engine. The locator reads the key columns in Python: a case or space variant,
a ZEROFILL number, a zero date and GBK text are located as on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from citygov import disputes as dq
from citygov.catalog.schema import ColumnType, Layer
from citygov.disputes.locate import locate_record
from citygov.disputes.recordkeys import PREVIOUS_ENV, SECRET_ENV
from citygov.quality import drafting as qd
from citygov.quality import engine as qengine
from citygov.quality.profile import profile_table
from citygov.sources import ConnectionInfo
from citygov.store import engine_for, session_scope
from citygov.store.models import CatalogEntryRow
from tests.mysql import mysql_connection, scratch_mysql_database
from tests.store.test_disputes_queue import _prepare
from tests.unit.test_quality_draft import BASE, DAY, ENTRY, PLANTED, ROWS, _base_check, _entry, city  # noqa: F401

ENGINES = ("stream", "fused", "gx")
"""``engine="gx"`` on MySQL runs value sets in the exact SQL (:data:`citygov.quality.tables.GX_COUNTS_BY_COLLATION`)."""


@pytest.fixture(scope="module")
def mysql_url() -> Iterator[str]:
    with scratch_mysql_database("c_draft") as url:
        yield url


@pytest.fixture(scope="module")
def mysql_city(mysql_url: str, city: sa.Engine) -> Iterator[sa.Engine]:  # noqa: F811
    """The drafting test's 参保 table and base table, copied into MariaDB (csrq as a DATE, xm in GBK)."""
    engine = sa.create_engine(mysql_url)
    with city.connect() as conn:
        cb = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM cb"))]
        fr = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM fr"))]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE cb (cbbh VARCHAR(16), sfzhm VARCHAR(20), xm VARCHAR(16) CHARACTER SET gbk, csrq DATE,"
            " xb VARCHAR(2), sjhm VARCHAR(16), dwdm VARCHAR(20), cblx VARCHAR(4), xzqdm VARCHAR(6),"
            " hphm VARCHAR(10), bz VARCHAR(8)) DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci")
        conn.execute(sa.text("INSERT INTO cb VALUES (:cbbh, :sfzhm, :xm, :csrq, :xb, :sjhm, :dwdm, :cblx, :xzqdm, :hphm, :bz)"), cb)
        conn.exec_driver_sql("CREATE TABLE fr (tyshxydm VARCHAR(20), mc VARCHAR(20))")
        conn.execute(sa.text("INSERT INTO fr VALUES (:tyshxydm, :mc)"), fr)
    yield engine
    engine.dispose()


def _labels(suite: Any) -> list[tuple[str, Any, Any]]:
    """Each drafted rule: type, arguments, evidence (what must not depend on the database)."""
    return [(e.expectation_type, e.configuration.kwargs, (e.meta or {}).get("support")) for e in suite.expectations]


def _failed(result: Any) -> dict[tuple[str, str | None], int]:
    return {(r.expectation_config.type, r.expectation_config.kwargs.get("column")): r.result["unexpected_count"]
            for r in result.results if not r.success}


@pytest.mark.parametrize("engine", [*ENGINES, "gx"])  # no text here that the collation would fold
def test_a_suite_drafted_from_a_mariadb_table_is_the_sqlite_draft_and_finds_the_planted_rows(
    engine: str, mysql_url: str, mysql_city: sa.Engine, city: sa.Engine  # noqa: F811
) -> None:
    # through the path `govern suites draft` takes: the entry's connection opened as a source
    drafted = qd.draft_entry_suite(ENTRY, lambda conn_id: mysql_connection(mysql_url, conn_id), catalog=[BASE, ENTRY],
                                   base_check=_base_check(mysql_city), policy=qd.DraftPolicy())
    assert drafted.unreadable is None and drafted.rows == ROWS
    on_sqlite = qd.draft_suite(ENTRY, profile_table(city, "cb"), catalog=[BASE, ENTRY], base_check=_base_check(city),
                               policy=qd.DraftPolicy())
    assert _labels(drafted.suite) == _labels(on_sqlite)
    assert drafted.suite.meta["citygov"]["columns"] == on_sqlite.meta["citygov"]["columns"]
    result, rows = qengine.validate_table(mysql_city, "cb", drafted.suite, parameters={"logical_date": DAY.isoformat()},
                                          base_lookup=_base_check(mysql_city), engine=engine)
    assert rows == ROWS and _failed(result) == PLANTED


# --- what MySQL's collations and types would change in a profile -----------------------------------------

S, N, D = ColumnType.STRING, ColumnType.NUMBER, ColumnType.DATE
QUIRKS = _entry("ZT", [("id", S), ("zt", S), ("lx", S), ("clrq", D), ("zczb", N), ("bm", S)], layer=Layer.DEPARTMENT, pk=("id",))
QUIRK_ROWS = 200


def _quirk_rows() -> list[dict[str, Any]]:
    """The rare spellings come first: MySQL's GROUP BY keeps the first row's spelling for a merged group."""
    rows = []
    for i in range(QUIRK_ROWS):
        rows.append({
            "id": "z0000" if i == QUIRK_ROWS - 1 else f"Z{i:04d}",  # a case variant: a different key, not a duplicate
            "zt": "在业 " if i == 0 else "在业" if i < 140 else "注销",  # one '在业 ' (rare, a finding)
            "lx": "a" if i == 0 else "A" if i < 120 else "B",  # one 'a' (rare, a finding)
            "clrq": "0000-00-00" if i == 1 else None if i == 2 else (date(2020, 1, 1) + timedelta(days=i)).isoformat(),
            "zczb": i * 10,
            "bm": f"B{i:05d}",
        })
    return rows


@pytest.fixture(scope="module")
def quirk_tables(mysql_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    mysql = sa.create_engine(mysql_url)
    sqlite = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('zt') / 'zt.db'}")
    insert = sa.text("INSERT INTO zt VALUES (:id, :zt, :lx, :clrq, :zczb, :bm)")
    with mysql.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")  # zero dates, as old department tables hold them
        conn.exec_driver_sql("CREATE TABLE zt (id VARCHAR(8), zt VARCHAR(4) CHARACTER SET gbk COLLATE gbk_chinese_ci,"
                             " lx VARCHAR(2), clrq DATE, zczb INT(8) ZEROFILL, bm VARCHAR(8))"
                             " DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci")
        conn.execute(insert, _quirk_rows())
    with sqlite.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE zt (id TEXT, zt TEXT, lx TEXT, clrq TEXT, zczb INTEGER, bm TEXT)")
        conn.execute(insert, _quirk_rows())
    yield mysql, sqlite
    mysql.dispose()
    sqlite.dispose()


def test_the_collation_would_merge_what_the_rules_keep_apart(quirk_tables: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, _ = quirk_tables
    with mysql.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(DISTINCT id), count(DISTINCT zt), count(DISTINCT lx) FROM zt").one() == (199, 2, 2)
        assert conn.exec_driver_sql("SELECT zt FROM zt GROUP BY zt ORDER BY count(*) DESC LIMIT 1").scalar() == "在业 "


def test_a_mariadb_profile_counts_values_as_the_rules_see_them(quirk_tables: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, sqlite = quirk_tables
    got, want = profile_table(mysql, "zt"), profile_table(sqlite, "zt")
    assert got.rows == want.rows == QUIRK_ROWS
    for name in ("id", "zt", "lx", "bm"):
        g, w = got.columns[name], want.columns[name]
        assert (g.nulls, g.blanks, g.distinct, g.min_length, g.max_length, g.enum_counts) == (
            w.nulls, w.blanks, w.distinct, w.min_length, w.max_length, w.enum_counts), name
    assert got.columns["id"].distinct == QUIRK_ROWS  # 'z0000' is not 'Z0000'
    assert got.columns["zt"].enum_counts == {"在业 ": 1, "在业": 139, "注销": 60}
    assert got.columns["lx"].enum_counts == {"a": 1, "A": 119, "B": 80}
    # a ZEROFILL number is its number (000010 is 10), a zero date is no date but is a value
    assert (got.columns["zczb"].distinct, got.columns["zczb"].min_length, got.columns["zczb"].max_length) == (200, 1, 4)
    assert got.columns["zczb"].sample[:3] == [0, 10, 20]
    assert (got.columns["clrq"].nulls, got.columns["clrq"].distinct) == (1, 199)
    assert got.columns["clrq"].sample[1] == "0000-00-00"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_quirk_table_drafts_as_on_sqlite_and_its_rare_spellings_are_the_findings(
    engine: str, mysql_url: str, quirk_tables: tuple[sa.Engine, sa.Engine]
) -> None:
    mysql, sqlite = quirk_tables
    drafted = qd.draft_entry_suite(QUIRKS, lambda conn_id: mysql_connection(mysql_url, conn_id), catalog=[QUIRKS],
                                   base_check=None, policy=qd.DraftPolicy())
    assert drafted.unreadable is None
    on_sqlite = qd.draft_suite(QUIRKS, profile_table(sqlite, "zt"), policy=qd.DraftPolicy())
    assert _labels(drafted.suite) == _labels(on_sqlite)
    rules = {(t, k.get("column")): k for t, k, _ in _labels(drafted.suite)}
    assert rules[("expect_column_values_to_be_in_set", "zt")]["value_set"] == ["在业", "注销"]
    assert rules[("expect_column_values_to_be_in_set", "lx")]["value_set"] == ["A", "B"]
    assert ("expect_column_values_to_be_unique", "id") in rules
    assert ("expect_column_values_to_be_between", "zczb") in rules
    assert rules[("expect_column_value_lengths_to_be_between", "bm")] == {"column": "bm", "min_value": 6, "max_value": 6}
    parameters = {"logical_date": "2026-12-01"}
    result = qengine.validate_table(mysql, "zt", drafted.suite, parameters=parameters, engine=engine)[0]
    want = qengine.validate_table(sqlite, "zt", on_sqlite, parameters=parameters, engine="fused")[0]
    assert _failed(result) == _failed(want) == {
        ("expect_column_values_to_be_in_set", "zt"): 1, ("expect_column_values_to_be_in_set", "lx"): 1,
        ("expect_column_values_to_not_be_blank", "clrq"): 1,  # the NULL date; the zero date is a value
    }


# --- the record locator ------------------------------------------------------------------------------------

GAJ_PERSON = "320700-GAJ-0001"  # tests.store.test_disputes_record_keys: 人口基本信息, of 公安局's dept_gaj
ID = "32070619860101123X"
SECRET = "c" * 20 + "-locator-secret"
LOCATE_ROWS = [  # (bh, rq, sfzhm, xm, n)
    ("abc", "2026-01-02", ID.lower(), "张三", 123),
    ("ABC", "2026-01-02", ID + " ", "张三 ", 1),
    ("abc ", "0000-00-00", "320706198601011246", "李四", 99),
    ("Abc", None, "320706198601011262", "王五", 7),
]


@pytest.fixture
def located(tmp_path: Path, mysql_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[sa.Engine, dict[str, dict[str, ConnectionInfo]]]]:
    """A queue store, and 公安局's table on MariaDB (case and space variants, a zero date, GBK names, a
    ZEROFILL number) and the same rows on SQLite."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(PREVIOUS_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    _prepare(url, tmp_path)
    source = sa.create_engine(mysql_url)
    rows = [dict(zip(("bh", "rq", "sfzhm", "xm", "n"), r, strict=True)) for r in LOCATE_ROWS]
    insert = sa.text("INSERT INTO rkjbxx_m VALUES (:bh, :rq, :sfzhm, :xm, :n)")
    with source.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")
        conn.exec_driver_sql("DROP TABLE IF EXISTS rkjbxx_m")
        conn.exec_driver_sql("CREATE TABLE rkjbxx_m (bh VARCHAR(8), rq DATE, sfzhm VARCHAR(20),"
                             " xm VARCHAR(8) CHARACTER SET gbk, n INT(6) ZEROFILL) DEFAULT CHARSET = utf8mb4")
        conn.execute(insert, rows)
    source.dispose()
    lite = sa.create_engine(f"sqlite:///{tmp_path / 'gaj.db'}")
    with lite.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE rkjbxx_m (bh TEXT, rq TEXT, sfzhm TEXT, xm TEXT, n INTEGER)")
        conn.execute(insert, rows)
    lite.dispose()
    store = engine_for(url)
    sources = {
        "mariadb": {"dept_gaj": mysql_connection(mysql_url, "dept_gaj")},
        "sqlite": {"dept_gaj": ConnectionInfo("dept_gaj", "sqlite", host=str(tmp_path / "gaj.db"))},
    }
    yield store, sources
    store.dispose()


def _keyed_by(store: sa.Engine, columns: list[str]) -> None:
    with session_scope(store) as session:
        entry = session.get(CatalogEntryRow, GAJ_PERSON)
        assert entry is not None
        entry.location, entry.primary_key = "rkjbxx_m", columns


def _locate(store: sa.Engine, sources: dict[str, dict[str, ConnectionInfo]], key: str) -> dict[str, list[dict[str, Any]]]:
    item = dq.raise_dispute(store, dataset=GAJ_PERSON, by="citizen", claim="记录有误", record_key=key).dispute
    found = {kind: locate_record(store, item.id, by="li", connections=conns) for kind, conns in sources.items()}
    assert {f.scanned for f in found.values()} == {len(LOCATE_ROWS)}
    return {kind: f.matches for kind, f in found.items()}


def test_the_locator_finds_the_record_on_mariadb_as_on_sqlite(located: tuple[sa.Engine, dict[str, dict[str, ConnectionInfo]]]) -> None:
    store, sources = located
    _keyed_by(store, ["sfzhm"])  # an ID number: its x in either case, spaces around it are the same key
    found = _locate(store, sources, ID)
    assert found["mariadb"] == found["sqlite"] == [{"key": {"sfzhm": ID.lower()}}, {"key": {"sfzhm": ID + " "}}]
    _keyed_by(store, ["bh"])  # text keys: case counts (the collation's 'abc' = 'ABC' does not)
    found = _locate(store, sources, "ABC")
    assert found["mariadb"] == found["sqlite"] == [{"key": {"bh": "ABC"}}]
    found = _locate(store, sources, "abc")  # a trailing space is no other key: both 'abc' rows
    assert found["mariadb"] == found["sqlite"] == [{"key": {"bh": "abc"}}, {"key": {"bh": "abc "}}]
    _keyed_by(store, ["bh", "rq"])  # a compound key with a DATE part: ISO, and a zero date as MySQL holds it
    found = _locate(store, sources, "abc, 2026-01-02")
    assert found["mariadb"] == found["sqlite"] == [{"key": {"bh": "abc", "rq": "2026-01-02"}}]
    found = _locate(store, sources, "abc, 0000-00-00")
    assert found["mariadb"] == found["sqlite"] == [{"key": {"bh": "abc ", "rq": "0000-00-00"}}]
    _keyed_by(store, ["xm", "n"])  # GBK text arrives as Unicode; a ZEROFILL number is its number (000123 is 123)
    found = _locate(store, sources, "张三, 123")
    assert found["mariadb"] == found["sqlite"] == [{"key": {"xm": "张三", "n": 123}}]
