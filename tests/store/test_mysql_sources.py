"""MySQL/MariaDB department sources, against the local MariaDB (skipped when it does not answer, unless
CITYGOV_REQUIRE_MYSQL is set: :mod:`tests.mysql`).

The generated table of :mod:`tests.quality_cases` (every compiled rule, good and bad values) is validated
with ``engine="stream"``, ``"fused"`` and ``"gx"`` on MariaDB and must give SQLite's results. Then what
MySQL does differently: case-insensitive collations that also ignore trailing spaces (``'abc'``,
``'ABC'`` and ``'abc '`` are three values to the rules), check characters in lower case, zero dates,
a GBK table holding Chinese text, a ZEROFILL column; and the census's view of a MySQL source (tables,
views, exact counts, the server's update time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from citygov.identifiers import make_ric, make_uscc
from citygov.inventory import inspect_source
from citygov.quality import engine as qengine
from citygov.quality import sqlcond
from citygov.quality.registry import native_types
from citygov.sources.blocks import value_text
from citygov.sources.connection import ConnectionInfo
from citygov.sources.database import source_engine, table_blocks
from tests.mysql import mysql_connection, scratch_mysql_database
from tests.quality_cases import PARAMS, ROWS, _digest, _fill, _lookup, _rows, _rows_digest, _suite

ENGINES = ("stream", "fused", "gx")

UNIQUENESS = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
"""Grouped by :func:`citygov.quality.tables._sql_unique` in the fused engine, by the column's collation
until it groups by :func:`citygov.quality.sqlcond.exact`: see :func:`test_fused_uniqueness_is_exact_text`."""

SKIPPED = {"stream": set(), "fused": UNIQUENESS, "gx": UNIQUENESS}
"""``engine="gx"`` runs the expectations GX's own SQL counts by collation or in bytes on MySQL in the fused
engine's SQL (:data:`citygov.quality.tables.GX_COUNTS_BY_COLLATION`): nothing else is skipped for it."""


def _compare(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], skipped: set[str]) -> None:
    assert [d for d in got if d[0] not in skipped] == [d for d in want if d[0] not in skipped]


@pytest.fixture(scope="module")
def mysql_url() -> Iterator[str]:
    with scratch_mysql_database("citygov_mysql") as url:
        yield url


@pytest.fixture(scope="module")
def mysql_source(mysql_url: str) -> Iterator[sa.Engine]:
    """The engine the pipeline opens for a ``mariadb`` connection, over the generated table."""
    engine = source_engine(mysql_connection(mysql_url))
    _fill(engine, _rows(), sa.String(64))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('mysql') / 'source.db'}")
    _fill(engine, _rows())
    yield engine
    engine.dispose()


def _validate(source: sa.Engine, suite: Any, engine: str, table: str = "t", keys: tuple[str, ...] = ("pk",)) -> Any:
    return qengine.validate_table(source, table, suite, parameters=PARAMS, base_lookup=_lookup(source), engine=engine,
                                  key_columns=keys)[0]


def test_a_mariadb_connection_is_pymysql_in_utf8mb4(mysql_source: sa.Engine) -> None:
    assert mysql_source.url.drivername == "mysql+pymysql"
    assert mysql_source.url.query["charset"] == "utf8mb4"
    assert mysql_source.dialect.name in sqlcond.SUPPORTED_DIALECTS
    assert ConnectionInfo("m", "mysql", host="db").sqlalchemy_url().render_as_string() == "mysql+pymysql://db?charset=utf8mb4"


@pytest.mark.parametrize("engine", ENGINES)
def test_every_rule_counts_on_mariadb_what_it_counts_on_sqlite(
    engine: str, mysql_source: sa.Engine, sqlite_source: sa.Engine
) -> None:
    expected = _validate(sqlite_source, _suite(), "fused")
    result = _validate(mysql_source, _suite(), engine)
    assert result.meta["engine"] == engine
    _compare(_digest(result), _digest(expected), SKIPPED[engine])
    if engine != "gx":  # the failing rows named by key: GX's own engine names them its own way
        kept = [i for i, r in enumerate(expected.results) if r.expectation_config.type not in SKIPPED[engine]]
        got_rows, want_rows = _rows_digest(result), _rows_digest(expected)
        assert [got_rows[i] for i in kept] == [want_rows[i] for i in kept]
    failing = {r.expectation_config.type for r in result.results if not r.success}
    assert failing >= set(native_types()) - {"expect_table_row_count_to_be_between"}


def test_mysql_streams_rows_through_an_unbuffered_cursor(mysql_source: sa.Engine) -> None:
    with mysql_source.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(sa.text("SELECT pk FROM t"))
        assert type(result.cursor).__name__ == "SSCursor"  # PyMySQL's unbuffered cursor: rows as read
        result.close()
    blocks = list(table_blocks(mysql_source, "t", ["pk", "n"], 150))
    assert [b.rows for b in blocks] == [150, 150, ROWS - 300]


# What MySQL does differently. Each case: its DDL, its rows, the same rows for SQLite, and a suite.
_RIC = make_ric("320706", date(1990, 1, 2), 15)
_RIC_X = next(r for r in (make_ric("320706", date(1990, 1, 2), s) for s in range(1000)) if r.endswith("X"))
_USCC = make_uscc("320706", 1234)


def _quirk_rows() -> list[dict[str, Any]]:
    return [
        {"pk": "abc", "k1": "a", "k2": "1", "ric": _RIC, "born": "1990-01-02", "day": "2026-01-02", "kind": "甲", "n": 123, "uscc": _USCC},
        {"pk": "ABC", "k1": "A", "k2": "1", "ric": _RIC_X.lower(), "born": "0000-00-00", "day": "0000-00-00", "kind": "甲 ", "n": 1, "uscc": _USCC.lower()},
        {"pk": "abc ", "k1": "a ", "k2": "1", "ric": _RIC_X, "born": "1990-01-02", "day": "2027-01-01", "kind": "乙", "n": 99, "uscc": _USCC},
        {"pk": "Abc", "k1": "a", "k2": "1", "ric": _RIC[:17] + "x", "born": None, "day": None, "kind": "丙", "n": 100000, "uscc": _USCC[:17] + "x"},
        {"pk": "abc", "k1": "b", "k2": "2", "ric": None, "born": "1990-01-02", "day": "2026-11-28", "kind": "乙", "n": None, "uscc": None},
    ]


_QUIRK_DDL = (
    "CREATE TABLE q (pk VARCHAR(16), k1 VARCHAR(8), k2 VARCHAR(8), ric VARCHAR(20), born DATE, day DATE,"
    " kind VARCHAR(8) CHARACTER SET gbk COLLATE gbk_chinese_ci, n INT(6) ZEROFILL, uscc VARCHAR(20))"
    " DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci"
)


def _quirk_suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    p = {"$PARAMETER": "logical_date"}
    return gx.ExpectationSuite(name="mysql_quirks", expectations=[
        e.ExpectColumnValuesToBeUnique(column="pk"),
        e.ExpectCompoundColumnsToBeUnique(column_list=["k1", "k2"]),
        ce.ExpectColumnValuesToBeValidRic(column="ric", as_of=p),
        ce.ExpectColumnValuesToBeValidUscc(column="uscc"),
        ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A="ric", column_B="born"),
        ce.ExpectColumnValuesToBeDateNotInFuture(column="day", reference_date=p),
        e.ExpectColumnValuesToBeInSet(column="kind", value_set=["甲", "乙"]),
        e.ExpectColumnValuesToBeInSet(column="pk", value_set=["abc", "Abc"]),
        e.ExpectColumnValuesToBeInSet(column="n", value_set=[1, 99, 123]),
        e.ExpectColumnValueLengthsToBeBetween(column="n", min_value=1, max_value=3),
        e.ExpectColumnValueLengthsToBeBetween(column="kind", min_value=1, max_value=1),
        e.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=1000),
    ])


@pytest.fixture(scope="module")
def quirks(mysql_source: sa.Engine, sqlite_source: sa.Engine) -> tuple[sa.Engine, sa.Engine]:
    rows = _quirk_rows()
    with mysql_source.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")  # zero dates are what old department tables hold
        conn.exec_driver_sql(_QUIRK_DDL)
        conn.execute(sa.text("INSERT INTO q VALUES (:pk, :k1, :k2, :ric, :born, :day, :kind, :n, :uscc)"), rows)
    with sqlite_source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE q (pk TEXT, k1 TEXT, k2 TEXT, ric TEXT, born TEXT, day TEXT, kind TEXT, n INTEGER, uscc TEXT)")
        conn.execute(sa.text("INSERT INTO q VALUES (:pk, :k1, :k2, :ric, :born, :day, :kind, :n, :uscc)"), rows)
    return mysql_source, sqlite_source


def test_the_quirk_table_holds_what_mysql_collations_would_merge(quirks: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, _ = quirks
    with mysql.connect() as conn:
        # the server's own comparison: 'abc', 'ABC', 'Abc', 'abc ' are one value to GROUP BY
        assert conn.exec_driver_sql("SELECT count(DISTINCT pk) FROM q").scalar() == 1
        assert conn.exec_driver_sql("SELECT kind FROM q WHERE n = 123").scalar() == "甲"  # GBK arrives as Unicode
        assert conn.exec_driver_sql("SELECT CAST(n AS CHAR) FROM q WHERE n = 123").scalar() == "000123"


def _text_digest(result: Any) -> list[tuple[Any, ...]]:
    """:func:`_digest` with samples as the text the rules read: MariaDB's DATE column hands back dates
    where SQLite's text column hands back their text."""
    out = []
    for r in result.results:
        body = r.result or {}
        samples = body.get("partial_unexpected_list")
        texts = None if samples is None else Counter(
            repr(tuple(map(value_text, s)) if isinstance(s, list) else value_text(s)) for s in samples
        )
        out.append((r.expectation_config.type, r.success, body.get("element_count"), body.get("unexpected_count"),
                    body.get("missing_count"), texts))
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_mysql_quirks_count_as_on_sqlite(engine: str, quirks: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, sqlite = quirks
    expected = _validate(sqlite, _quirk_suite(), "fused", "q")
    result = _validate(mysql, _quirk_suite(), engine, "q")
    _compare(_text_digest(result), _text_digest(expected), SKIPPED[engine])
    counts = {(d[0], i): d[3] for i, d in enumerate(_digest(expected))}
    assert counts[("expect_column_values_to_be_unique", 0)] == 2  # only the two 'abc' are duplicates
    assert counts[("expect_compound_columns_to_be_unique", 1)] == 2  # ('a','1') twice; ('A','1'), ('a ','1') apart


def test_stream_reads_mysql_values_as_the_rules_expect(quirks: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, _ = quirks
    (block,) = table_blocks(mysql, "q", ["pk", "born", "kind", "n"], 100)
    assert [block.text(i, 0) for i in range(block.rows)] == ["abc", "ABC", "abc ", "Abc", "abc"]
    assert [block.text(i, 1) for i in range(block.rows)] == ["1990-01-02", "0000-00-00", "1990-01-02", None, "1990-01-02"]
    assert [block.text(i, 2) for i in range(block.rows)] == ["甲", "甲 ", "乙", "丙", "乙"]
    assert [block.text(i, 3) for i in range(block.rows)] == ["123", "1", "99", "100000", None]


def test_census_describes_a_mysql_source(mysql_url: str) -> None:
    conn = mysql_connection(mysql_url)
    engine = sa.create_engine(mysql_url)
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as db:
        db.exec_driver_sql("CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(20), changed DATETIME) ENGINE=InnoDB")
        db.exec_driver_sql("INSERT INTO people VALUES (1, '张三', '2026-11-01 08:00:00'), (2, '李四', '2026-11-02 09:30:00')")
        db.exec_driver_sql("CREATE VIEW people_v AS SELECT id, name FROM people WHERE id > 1")
    engine.dispose()
    inventory = inspect_source(conn, locations=["people", "people_v"])
    assert inventory.error is None and inventory.kind == "database"
    found = {r.location: r for r in inventory.resources}
    assert {(r.location, r.kind) for r in found.values()} == {("people", "table"), ("people_v", "view")}
    people, view = found["people"], found["people_v"]
    assert people.error is None and view.error is None
    assert [c.name for c in people.columns] == ["id", "name", "changed"]
    assert (people.row_count, view.row_count) == (2, 1)  # exact counts, never TABLE_ROWS estimates
    # no update-time column: the server's own last change of the table
    assert people.last_updated is not None and before <= people.last_updated <= datetime.now(UTC) + timedelta(seconds=1)
    with_column = inspect_source(conn, locations=["people"], update_columns={"people": "changed"}).resources[0]
    assert with_column.last_updated is not None
    assert with_column.last_updated.replace(tzinfo=None) == datetime(2026, 11, 2, 9, 30)


@pytest.mark.parametrize("engine", ["fused", "gx"])
def test_fused_uniqueness_is_exact_text(engine: str, quirks: tuple[sa.Engine, sa.Engine]) -> None:
    mysql, sqlite = quirks
    want = [d for d in _text_digest(_validate(sqlite, _quirk_suite(), "fused", "q")) if d[0] in UNIQUENESS]
    result = _validate(mysql, _quirk_suite(), engine, "q")
    got = [d for d in _text_digest(result) if d[0] in UNIQUENESS]
    assert got == want
    if engine == "gx":  # GX's own GROUP BY would merge 'abc' and 'ABC': the exact SQL ran, and says so
        assert set(result.meta["exact_sql"]) >= UNIQUENESS | {"expect_column_values_to_be_in_set"}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_final_newline_is_no_match_on_mysql(engine: str, mysql_source: sa.Engine) -> None:
    """MariaDB's PCRE (and MySQL's ICU) ``$`` matches before a final newline; the rules' does not."""
    import great_expectations as gx

    from citygov.quality import expectations as ce

    values = ["13800000000", "13800000000\n", "1380000000\n", "\n13800000000", "13800000000x", "320706", "320706\n"]
    with mysql_source.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS nl (m VARCHAR(20))")
        conn.exec_driver_sql("DELETE FROM nl")
        conn.execute(sa.text("INSERT INTO nl VALUES (:m)"), [{"m": v} for v in values])
    suite = gx.ExpectationSuite(name="nl", expectations=[
        ce.ExpectColumnValuesToBeValidMobile(column="m"), ce.ExpectColumnValuesToBeValidDivisionCode(column="m"),
    ])
    result = _validate(mysql_source, suite, engine, "nl", keys=())
    assert [(r.result or {}).get("unexpected_count") for r in result.results] == [6, 6]


@pytest.mark.parametrize("engine", ["stream", "fused"])
def test_mysql_typed_columns_read_as_the_driver_hands_them(engine: str, mysql_source: sa.Engine) -> None:
    """A ZEROFILL number is its number (``013800000000`` is the mobile 13800000000), a DATETIME's and a
    DATE's text is ISO (zero dates are no date), a DECIMAL keeps its scale (``1.50``: four characters),
    GBK text is compared as Unicode and ``'中文 '`` is not ``'中文'``."""
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    with mysql_source.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS typed (z BIGINT(12) ZEROFILL, ts DATETIME(3), d DATE,"
                             " x DECIMAL(6,2), g VARCHAR(10) CHARACTER SET gbk)")
        conn.exec_driver_sql("DELETE FROM typed")
        conn.exec_driver_sql("INSERT INTO typed VALUES (13800000000, '2026-07-01 00:00:00.5', '0000-00-00', 1.5, '中文'),"
                             " (1380000000, '2026-01-01 00:00:00', '2026-07-01', 12.25, '中文 '),"
                             " (NULL, '0000-00-00 00:00:00', NULL, NULL, ' ')")
    suite = gx.ExpectationSuite(name="typed", expectations=[
        ce.ExpectColumnValuesToBeValidMobile(column="z"),
        e.ExpectColumnValueLengthsToBeBetween(column="z", min_value=11, max_value=11),
        ce.ExpectColumnValuesToBeDateNotInFuture(column="ts", reference_date="2026-06-01"),
        ce.ExpectColumnValuesToBeDateNotInFuture(column="d", reference_date="2026-06-01"),
        e.ExpectColumnValueLengthsToBeBetween(column="x", min_value=4, max_value=4),
        ce.ExpectColumnValuesToNotBeBlank(column="g"),
        e.ExpectColumnValuesToBeInSet(column="g", value_set=["中文"]),
    ])
    result = _validate(mysql_source, suite, engine, "typed", keys=())
    assert [(r.result or {}).get("unexpected_count") for r in result.results] == [1, 1, 1, 1, 1, 1, 2]


_GBK_ROWS = [  # (统一社会信用代码, 名称, 状态, 更新时间)
    (_USCC, "连云港甲公司", "在业", "2026-11-01 08:00:00"),
    (_USCC[:17] + ("0" if _USCC[17] != "0" else "1"), "连云港乙公司", "在业 ", "2026-11-02 09:30:00"),  # a wrong check character; '在业 ' not in the set
    (make_uscc("320706", 77), " ", "注销", "2026-10-01 00:00:00"),
    (make_uscc("320706", 77), "连云港丙公司", "吊销", None),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_gbk_table_with_chinese_names_is_listed_and_counts_as_on_sqlite(
    engine: str, mysql_url: str, mysql_source: sa.Engine, sqlite_source: sa.Engine
) -> None:
    """A department table created in GBK, its table and column names Chinese: the census lists it with its
    columns, exact count and the update-time column's latest value; every engine counts it as SQLite."""
    import great_expectations as gx

    from citygov.quality import expectations as ce

    insert = sa.text("INSERT INTO `企业登记` VALUES (:a, :b, :c, :d)")
    rows = [dict(zip("abcd", r, strict=True)) for r in _GBK_ROWS]
    with mysql_source.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS `企业登记`")
        conn.exec_driver_sql("CREATE TABLE `企业登记` (`统一社会信用代码` VARCHAR(20), `名称` VARCHAR(40), `状态` VARCHAR(4),"
                             " `更新时间` DATETIME) DEFAULT CHARSET = gbk")
        conn.execute(insert, rows)
        assert conn.exec_driver_sql("SELECT TABLE_COLLATION FROM information_schema.TABLES"
                                    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '企业登记'").scalar() == "gbk_chinese_ci"
    with sqlite_source.begin() as conn:
        conn.exec_driver_sql('DROP TABLE IF EXISTS "企业登记"')
        conn.exec_driver_sql('CREATE TABLE "企业登记" ("统一社会信用代码" TEXT, "名称" TEXT, "状态" TEXT, "更新时间" TEXT)')
        conn.execute(sa.text('INSERT INTO "企业登记" VALUES (:a, :b, :c, :d)'), rows)

    (listed,) = inspect_source(mysql_connection(mysql_url), locations=["企业登记"],
                               update_columns={"企业登记": "更新时间"}).resources
    assert listed.error is None and listed.kind == "table" and listed.row_count == len(_GBK_ROWS)
    assert [c.name for c in listed.columns] == ["统一社会信用代码", "名称", "状态", "更新时间"]
    assert listed.last_updated is not None and listed.last_updated.replace(tzinfo=None) == datetime(2026, 11, 2, 9, 30)

    e = gx.expectations
    suite = gx.ExpectationSuite(name="gbk", expectations=[
        ce.ExpectColumnValuesToBeValidUscc(column="统一社会信用代码"),
        e.ExpectColumnValuesToBeUnique(column="统一社会信用代码"),
        ce.ExpectColumnValuesToNotBeBlank(column="名称"),
        e.ExpectColumnValuesToBeInSet(column="状态", value_set=["在业", "注销"]),
    ])
    keys = ("统一社会信用代码",)
    want = _text_digest(_validate(sqlite_source, suite, "fused", "企业登记", keys))
    got = _text_digest(_validate(mysql_source, suite, engine, "企业登记", keys))
    _compare(got, want, SKIPPED[engine])
    assert [d[3] for d in want] == [1, 2, 1, 2]


def test_zero_dates_in_the_update_time_column_are_no_update_time(mysql_url: str) -> None:
    """The census's and the patrol's latest update: zero dates are not a time (a real one still wins), never
    an unreadable table."""
    engine = sa.create_engine(mysql_url)
    with engine.begin() as db:
        db.exec_driver_sql("SET SESSION sql_mode = ''")
        db.exec_driver_sql("CREATE TABLE zero_only (id INT, gxsj DATETIME)")
        db.exec_driver_sql("INSERT INTO zero_only VALUES (1, '0000-00-00 00:00:00'), (2, '0000-00-00 00:00:00')")
        db.exec_driver_sql("CREATE TABLE zero_some (id INT, gxsj DATETIME)")
        db.exec_driver_sql("INSERT INTO zero_some VALUES (1, '0000-00-00 00:00:00'), (2, '2026-11-27 20:15:00')")
    engine.dispose()
    inventory = inspect_source(mysql_connection(mysql_url), locations=["zero_only", "zero_some"],
                               update_columns={"zero_only": "gxsj", "zero_some": "gxsj"})
    found = {r.location: r for r in inventory.resources}
    assert all(r.error is None and r.row_count == 2 for r in found.values())
    assert found["zero_only"].last_updated is None
    assert found["zero_some"].last_updated is not None
    assert found["zero_some"].last_updated.replace(tzinfo=None) == datetime(2026, 11, 27, 20, 15)


def test_mysql_column_types_map_to_the_catalog_letters(mysql_url: str) -> None:
    """What the patrol compares with the 信息项 types: MySQL's own types get the letter of what they hold
    (a YEAR is a number, TINYINT(1) too, TIMESTAMP a date-time, ENUM text)."""
    engine = sa.create_engine(mysql_url)
    with engine.begin() as db:
        db.exec_driver_sql("CREATE TABLE typed_letters (nd YEAR, flag TINYINT(1), amount DECIMAL(12,2), ratio DOUBLE,"
                           " z INT(6) ZEROFILL, d DATE, ts TIMESTAMP NULL, dt DATETIME(3), kind ENUM('a','b'),"
                           " note MEDIUMTEXT, g VARCHAR(8) CHARACTER SET gbk, raw VARBINARY(8))")
    engine.dispose()
    (resource,) = inspect_source(mysql_connection(mysql_url), locations=["typed_letters"]).resources
    assert {c.name: c.letter.value for c in resource.columns} == {
        "nd": "N", "flag": "N", "amount": "N", "ratio": "N", "z": "N", "d": "D", "ts": "T", "dt": "T", "kind": "C",
        "note": "C", "g": "C", "raw": "B",
    }
