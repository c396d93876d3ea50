"""The PostgreSQL path configured the way Kingbase, openGauss and GaussDB servers differ from PostgreSQL, on the
local PostgreSQL (skipped when it does not answer, unless CITYGOV_REQUIRE_POSTGRES is set: :mod:`tests.pg`).

What is reproduced here: a ``version()`` that is not PostgreSQL's (openGauss's own words, which SQLAlchemy
cannot read), a database in a Chinese encoding (``EUC_CN``: PostgreSQL has no GBK server encoding) with a
GBK ``client_encoding`` set on the database, tables in a schema of the user's own name or on a
``search_path`` set per database or per connection, upper- and mixed-case names (how Oracle-mode Kingbase
and DM-migrated tables are named), and ``standard_conforming_strings = off``. Census (``inspect_source``),
patrol (``check_entry`` on what ``inspect_source`` sampled) and quality (stream, fused and gx engines) must
read each as on a plain database: the quality counts are SQLite's for the same rows (:mod:`tests.quality_cases`).
Databases and roles are named ``a_…`` and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from citygov.catalog.schema import (
    CatalogEntry,
    ColumnType,
    DeclaredColumn,
    Layer,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    UpdateCycle,
)
from citygov.identifiers import make_ric
from citygov.inventory import inspect_source
from citygov.patrol import SAMPLE_ROWS, check_entry
from citygov.quality import engine as qengine
from citygov.sources import open_source
from citygov.sources.connection import ConnectionInfo
from citygov.sources.database import source_engine, table_blocks
from citygov.sources.pgfamily import PG_FAMILY_TYPES, version_from_settings
from tests.pg import PG_ADMIN_URL, pg_problem
from tests.quality_cases import PARAMS, _digest, _fill, _lookup, _rows, _rows_digest, _suite

pytestmark = pytest.mark.postgres

ENGINES = ("stream", "fused", "gx")
GX_OWN_SQL = {"expect_column_value_lengths_to_be_between"}
"""GX's own SQL for lengths, the same on every PostgreSQL database (the other helpers' tests compare it)."""
OPENGAUSS_VERSION = "(openGauss 5.0.0 build a07d57c3) compiled at 2023-03-29 03:07:56 commit 0 last mr"
"""What openGauss 5's ``version()`` says (no ``PostgreSQL x.y`` in it)."""


def _require_pg() -> None:
    problem = pg_problem()
    if problem:
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")


def _admin() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@contextmanager
def _database(label: str, options: str = "", *settings: str) -> Iterator[str]:
    """A database ``a_<label>_<hex>`` (``options`` after CREATE DATABASE, ``settings`` as ALTER DATABASE …
    SET); yields its name."""
    _require_pg()
    name = f"a_{label}_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" {options}')
        for setting in settings:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET {setting}')
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _url(database: str, user: str | None = None) -> sa.URL:
    return make_url(PG_ADMIN_URL).set(database=database, **({"username": user} if user else {}))


def _conn(database: str, conn_type: str = "opengauss", user: str | None = None) -> ConnectionInfo:
    url = _url(database, user)
    return ConnectionInfo(conn_id=f"dept_{conn_type}", conn_type=conn_type, host=url.host, port=url.port,
                          schema=database, login=url.username, password=url.password)


def _owner_engine(database: str) -> sa.Engine:
    """The administrator's engine on ``database`` (to build what the department holds)."""
    return sa.create_engine(_url(database))


def _validate(source: sa.Engine, suite: Any, engine: str, table: str = "t", keys: tuple[str, ...] = ("pk",)) -> Any:
    return qengine.validate_table(source, table, suite, parameters=PARAMS, base_lookup=_lookup(source), engine=engine,
                                  key_columns=keys)[0]


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('pgfamily') / 'source.db'}")
    _fill(engine, _rows())
    yield engine
    engine.dispose()


def _same_as_sqlite(source: sa.Engine, sqlite_source: sa.Engine, engine: str) -> None:
    expected = _validate(sqlite_source, _suite(), "fused")
    result = _validate(source, _suite(), engine)
    skipped = GX_OWN_SQL if engine == "gx" else set()
    assert [d for d in _digest(result) if d[0] not in skipped] == [d for d in _digest(expected) if d[0] not in skipped]
    if engine != "gx":
        assert _rows_digest(result) == _rows_digest(expected)
    assert sum(not r.success for r in result.results) >= 15  # the planted defects were found, not skipped


def _entry(location: str, columns: list[tuple[str, ColumnType]], conn_id: str) -> CatalogEntry:
    return CatalogEntry(
        code="E1", name="人口", provider="公安局", layer=Layer.BASE,
        columns=tuple(DeclaredColumn(n, t) for n, t in columns), share_type=ShareType.CONDITIONAL,
        open_attr=OpenAttr.NOT_OPEN, update_cycle=UpdateCycle.DAILY, conn_id=conn_id, location=location,
        sensitivity=Sensitivity.L3, provider_code="GAJ", summary="户籍人口", format=ResourceFormat.DATABASE,
    )


def _patrol(conn: ConnectionInfo, entry: CatalogEntry) -> list[tuple[str, str | None]]:
    """The patrol's schema findings for ``entry`` as it reads a source (sampled columns included), with their
    columns."""
    inventory = inspect_source(conn, locations=[entry.location], sample=SAMPLE_ROWS)
    findings, observation = check_entry(entry, inventory, None, date(2026, 11, 28))
    assert observation.reachable, inventory
    return sorted((f.rule_id, f.column) for f in findings if f.rule_id.startswith("patrol.schema"))


# -- connection types and versions -----------------------------------------------------------------------


@pytest.mark.parametrize("conn_type", PG_FAMILY_TYPES)
def test_family_connection_types_are_read_as_postgresql(conn_type: str) -> None:
    info = ConnectionInfo("dept", conn_type, host="db.example", port=54321, schema="rk", login="u", password="p")
    assert info.sqlalchemy_url().render_as_string(hide_password=False) == "postgresql+psycopg://u:p@db.example:54321/rk"
    with open_source(info) as source:
        assert source.kind == "database"


def test_version_from_settings() -> None:
    assert version_from_settings("90204", "9.2.4") == (9, 2, 4)  # openGauss
    assert version_from_settings("120001", "12.1") == (12, 1)  # Kingbase V8R6
    assert version_from_settings("150020", None) == (15, 20)
    assert version_from_settings(None, "9.2.4") == (9, 2, 4)
    assert version_from_settings("", "V008R006") is None


@pytest.fixture(scope="module")
def opengauss_like(sqlite_source: sa.Engine) -> Iterator[str]:
    """A database whose ``version()`` says what openGauss 5 says (the function replaced in this database only)."""
    with _database("og") as name:
        owner = _owner_engine(name)
        _fill(owner, _rows())
        with owner.begin() as conn:
            conn.exec_driver_sql("SET LOCAL allow_system_table_mods = on")
            conn.exec_driver_sql(f"CREATE OR REPLACE FUNCTION pg_catalog.version() RETURNS text LANGUAGE sql"
                                 f" AS $$ SELECT '{OPENGAUSS_VERSION}'::text $$")
        owner.dispose()
        yield name


def test_sqlalchemy_alone_cannot_read_an_opengauss_version(opengauss_like: str) -> None:
    """SQLAlchemy's own reading of the version refuses this server; citygov's wrapper of it reads the settings."""
    from sqlalchemy.dialects.postgresql.base import PGDialect

    engine = sa.create_engine(_url(opengauss_like))
    try:
        with engine.connect() as conn:
            with pytest.raises(AssertionError, match="Could not determine version"):
                PGDialect._get_server_version_info.__wrapped__(engine.dialect, conn)
            assert engine.dialect._get_server_version_info(conn) == engine.dialect.server_version_info
    finally:
        engine.dispose()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_opengauss_version_string_connects_and_validates(engine: str, opengauss_like: str, sqlite_source: sa.Engine) -> None:
    source = source_engine(_conn(opengauss_like, "opengauss"))
    sent: list[str] = []
    sa.event.listen(source, "before_cursor_execute", lambda *a: sent.append(a[2]))
    try:
        with source.connect() as conn:
            assert conn.exec_driver_sql("SELECT version()").scalar() == OPENGAUSS_VERSION
        assert source.dialect.server_version_info == version_from_settings(
            *_admin_settings("server_version_num", "server_version"))
        _same_as_sqlite(source, sqlite_source, engine)
    finally:
        source.dispose()
    # JIT is only turned off where the server has the setting (PostgreSQL 11 on; openGauss has none)
    assert any("jit" in s for s in sent) == (source.dialect.server_version_info >= (11,))


def _admin_settings(*names: str) -> list[str]:
    admin = _admin()
    with admin.connect() as conn:
        values = [conn.exec_driver_sql(f"SHOW {n}").scalar() for n in names]
    admin.dispose()
    return values


def test_jit_is_left_alone_on_a_server_older_than_11(opengauss_like: str) -> None:
    """What the source sends on an openGauss (a 9.2 server, no ``jit`` setting): read here from a source whose
    settings say 9.2.4, as openGauss's do."""
    from citygov.quality import sqlcond

    source = source_engine(_conn(opengauss_like, "opengauss"))
    sent: list[str] = []
    sa.event.listen(source, "before_cursor_execute", lambda *a: sent.append(a[2]))
    try:
        with source.connect() as conn:
            source.dialect.server_version_info = (9, 2, 4)
            sqlcond.prepare_connection(conn)
            assert conn.exec_driver_sql("SHOW DateStyle").scalar() == "ISO, YMD"
    finally:
        source.dispose()
    assert not any("jit" in s for s in sent)


# -- a Chinese-encoded database, GBK client encoding ----------------------------------------------------------


CHINESE_DATABASES = {
    "euc_cn": ("ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", (), "EUC_CN", "EUC_CN"),
    "utf8_gbk": ("ENCODING 'UTF8' TEMPLATE template0", ("client_encoding = 'GBK'",), "UTF8", "GBK"),
    "utf8_gb18030": ("ENCODING 'UTF8' TEMPLATE template0", ("client_encoding = 'GB18030'",), "UTF8", "GB18030"),
}
"""A database in ``EUC_CN`` (GB2312; PostgreSQL has no GBK server encoding, and does not convert between GBK and
EUC_CN), and UTF-8 databases whose ``client_encoding`` is set to GBK or GB18030 (what a GBK shop sets on
the database): (CREATE DATABASE options, ALTER DATABASE settings, server_encoding, client_encoding)."""


@pytest.fixture(scope="module", params=sorted(CHINESE_DATABASES))
def gbk_database(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    options, settings, server, client = CHINESE_DATABASES[request.param]
    with _database(request.param, options, *settings) as name:
        owner = _owner_engine(name)
        _fill(owner, _rows())
        with owner.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "人口信息" ("姓名" varchar(20), "身份证号" varchar(18), "住址" text)')
            conn.execute(sa.text('INSERT INTO "人口信息" VALUES (:xm, :sfz, :zz)'), [
                {"xm": "张三", "sfz": make_ric("320706", date(1990, 1, 2), 15), "zz": "连云港市海州区朝阳路1号"},
                {"xm": "李四", "sfz": "32070619900102001", "zz": "灌云县伊山镇"},
            ])
        owner.dispose()
        yield name, request.param


def test_the_chinese_databases_really_talk_their_encodings(gbk_database: tuple[str, str]) -> None:
    """The database says GBK (or EUC_CN, GB18030) to a client that does not ask; a source asks for UTF-8."""
    name, label = gbk_database
    plain = _owner_engine(name)
    source = source_engine(_conn(name, "kingbase"))
    try:
        with plain.connect() as conn:
            assert conn.exec_driver_sql("SHOW server_encoding").scalar() == CHINESE_DATABASES[label][2]
            assert conn.exec_driver_sql("SHOW client_encoding").scalar() == CHINESE_DATABASES[label][3]
            assert sorted(conn.exec_driver_sql('SELECT "姓名" FROM "人口信息"').scalars()) == sorted(["张三", "李四"])
        with source.connect() as conn:
            assert conn.exec_driver_sql("SHOW client_encoding").scalar() == "UTF8"
    finally:
        plain.dispose()
        source.dispose()


@pytest.mark.parametrize("made_by", ["source", "plain"])
def test_copy_reads_gbk_text_as_unicode(made_by: str, gbk_database: tuple[str, str]) -> None:
    """Binary COPY hands text in the client encoding: a source's engine asks for UTF-8, and the COPY reader asks
    for it itself on any other engine (the database's GBK or EUC_CN otherwise)."""
    name, label = gbk_database
    engine = source_engine(_conn(name, "kingbase")) if made_by == "source" else _owner_engine(name)
    try:
        (block,) = table_blocks(engine, "人口信息", ["姓名", "住址"], 100)
        assert sorted(block.text(i, 0) for i in range(block.rows)) == sorted(["张三", "李四"])
        assert sorted(block.text(i, 1) for i in range(block.rows)) == sorted(["连云港市海州区朝阳路1号", "灌云县伊山镇"])
        with engine.connect() as conn:  # the COPY's setting ended with its transaction
            want = "UTF8" if made_by == "source" else CHINESE_DATABASES[label][3]
            assert conn.exec_driver_sql("SHOW client_encoding").scalar() == want
    finally:
        engine.dispose()


def test_census_and_patrol_read_a_gbk_database(gbk_database: tuple[str, str]) -> None:
    conn = _conn(gbk_database[0], "kingbase")
    inventory = inspect_source(conn, sample=5)
    assert inventory.error is None
    found = {r.location: r for r in inventory.resources}
    assert set(found) == {"t", "base", "人口信息"}
    people = found["人口信息"]
    assert [c.name for c in people.columns] == ["姓名", "身份证号", "住址"] and people.row_count == 2
    assert sorted(people.samples["姓名"]) == sorted(["张三", "李四"])
    assert sorted(people.samples["住址"]) == sorted(["连云港市海州区朝阳路1号", "灌云县伊山镇"])
    entry = _entry("人口信息", [("姓名", ColumnType.STRING), ("身份证号", ColumnType.STRING), ("籍贯", ColumnType.STRING)],
                   conn.conn_id)
    assert _patrol(conn, entry) == [("patrol.schema.missing_column", "籍贯"), ("patrol.schema.unexpected_column", "住址")]


PLATE = "expect_column_values_to_be_valid_plate"


@pytest.mark.parametrize("engine", ENGINES)
def test_quality_on_a_gbk_database_is_sqlites(engine: str, gbk_database: tuple[str, str], sqlite_source: sa.Engine) -> None:
    name, label = gbk_database
    source = source_engine(_conn(name, "gaussdb"))
    try:
        if label == "euc_cn" and engine != "stream":
            _plate_sql_cannot_reach_gb2312(source, sqlite_source, engine)
        else:
            _same_as_sqlite(source, sqlite_source, engine)
    finally:
        source.dispose()


def _plate_sql_cannot_reach_gb2312(source: sa.Engine, sqlite_source: sa.Engine, engine: str) -> None:
    """A known gap: the plate rule's SQL names the separator '·' (U+00B7), which GB2312 (EUC_CN) lacks, and the
    server refuses a statement it cannot convert. The streaming engine (``auto``'s choice) runs it in Python;
    without the plate rule the SQL engines count as everywhere."""
    import great_expectations as gx

    full = _suite()
    if engine == "fused":  # the one fused scan carries every condition: the table cannot be validated so
        with pytest.raises(sa.exc.DataError, match="EUC_CN"):
            _validate(source, full, engine)
    else:  # GX computes each expectation apart: only the plate rule fails
        result = _validate(source, full, engine)
        plate = [r for r in result.results if r.expectation_config.type == PLATE]
        assert plate and not plate[0].success and "EUC_CN" in str(plate[0].exception_info)
    without = gx.ExpectationSuite(name="no_plate", expectations=[
        e.configuration.to_domain_obj() for e in full.expectations if e.expectation_type != PLATE])
    expected, result = _validate(sqlite_source, without, "fused"), _validate(source, without, engine)
    skipped = GX_OWN_SQL if engine == "gx" else set()
    assert [d for d in _digest(result) if d[0] not in skipped] == [d for d in _digest(expected) if d[0] not in skipped]


# -- schemas: the user's own, a database's search_path, a connection's search_path ------------------------------


@pytest.fixture(scope="module")
def user_schema(sqlite_source: sa.Engine) -> Iterator[tuple[str, str]]:
    """openGauss and Kingbase give each user a schema of its own name, first on ``"$user", public``: a role
    ``a_dept_<hex>`` whose tables live there, and a decoy ``t`` in public (what it must not read)."""
    role = f"a_dept_{uuid.uuid4().hex[:8]}"
    with _database("usr") as name:
        admin = _admin()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        try:
            owner = _owner_engine(name)
            with owner.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
            user = sa.create_engine(_url(name, role))
            _fill(user, _rows())
            user.dispose()
            with owner.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE public.t (pk text)")  # a decoy the user must not read
                conn.exec_driver_sql("INSERT INTO public.t VALUES ('decoy')")
            owner.dispose()
            yield name, role
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
            admin.dispose()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_users_own_schema_is_read(engine: str, user_schema: tuple[str, str], sqlite_source: sa.Engine) -> None:
    name, role = user_schema
    conn = _conn(name, "opengauss", user=role)
    inventory = inspect_source(conn)
    assert {(r.location, r.row_count) for r in inventory.resources} == {("t", 400), ("base", 10)}
    source = source_engine(conn)
    try:
        with source.connect() as db:
            assert db.exec_driver_sql("SELECT current_schema()").scalar() == role
        _same_as_sqlite(source, sqlite_source, engine)
    finally:
        source.dispose()


@pytest.fixture(scope="module")
def path_database() -> Iterator[str]:
    """Tables in schema ``rk`` on the database's own ``search_path`` (``ALTER DATABASE … SET search_path``), and a
    decoy ``t`` in public."""
    with _database("sp", "", "search_path = rk, public") as name:
        owner = _owner_engine(name)
        with owner.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA rk")
        _fill(owner, _rows())
        with owner.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE public.t (pk text)")
        owner.dispose()
        yield name


@pytest.mark.parametrize("engine", ["stream", "fused"])
def test_a_databases_search_path_is_followed(engine: str, path_database: str, sqlite_source: sa.Engine) -> None:
    source = source_engine(_conn(path_database, "kingbase"))
    try:
        with source.connect() as db:
            assert db.exec_driver_sql("SELECT count(*) FROM rk.t").scalar() == 400
            assert db.exec_driver_sql("SELECT count(*) FROM public.t").scalar() == 0
        _same_as_sqlite(source, sqlite_source, engine)
    finally:
        source.dispose()


def test_a_connections_search_path_and_the_statement_timeout_both_hold(path_database: str, sqlite_source: sa.Engine) -> None:
    """A ``generic`` connection's URL may carry libpq ``options`` (a ``search_path``): the source keeps them and
    adds its statement timeout."""
    url = _url(path_database).set(query={"options": "-csearch_path=public"})
    conn = ConnectionInfo("dept_url", "generic", host=url.render_as_string(hide_password=False))
    source = source_engine(conn)
    try:
        with source.connect() as db:
            assert db.exec_driver_sql("SHOW search_path").scalar() == "public"
            assert db.exec_driver_sql("SHOW statement_timeout").scalar() not in ("0", None)
    finally:
        source.dispose()
    inventory = inspect_source(conn, locations=["t"])
    assert [(r.location, r.row_count) for r in inventory.resources] == [("t", 0)]  # public's, as the URL asked


# -- upper- and mixed-case names ------------------------------------------------------------------------------


_RIC = make_ric("320706", date(1990, 1, 2), 15)


@pytest.fixture(scope="module")
def upper_case(sqlite_source: sa.Engine) -> Iterator[str]:
    with _database("uc") as name:
        owner = _owner_engine(name)
        with owner.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "RKXX" ("XM" varchar(20), "SFZH" varchar(20), "CSRQ" date, "Bz" text)')
            conn.exec_driver_sql('CREATE TABLE rkxx ("xm" varchar(20))')  # the lower-case twin: another table
            conn.execute(sa.text('INSERT INTO "RKXX" VALUES (:xm, :sfz, :csrq, :bz)'), [
                {"xm": "张三", "sfz": _RIC, "csrq": date(1990, 1, 2), "bz": "甲"},
                {"xm": "李四", "sfz": _RIC[:17] + "0" if _RIC[17] != "0" else _RIC[:17] + "1", "csrq": date(1990, 1, 2), "bz": None},
                {"xm": "王五", "sfz": _RIC, "csrq": date(1991, 1, 2), "bz": "乙"},
            ])
        with sqlite_source.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE IF NOT EXISTS "RKXX" ("XM" TEXT, "SFZH" TEXT, "CSRQ" TEXT, "Bz" TEXT)')
            conn.exec_driver_sql('DELETE FROM "RKXX"')
            conn.execute(sa.text('INSERT INTO "RKXX" SELECT :xm, :sfz, :csrq, :bz'), [
                {"xm": "张三", "sfz": _RIC, "csrq": "1990-01-02", "bz": "甲"},
                {"xm": "李四", "sfz": _RIC[:17] + "0" if _RIC[17] != "0" else _RIC[:17] + "1", "csrq": "1990-01-02", "bz": None},
                {"xm": "王五", "sfz": _RIC, "csrq": "1991-01-02", "bz": "乙"},
            ])
        owner.dispose()
        yield name


def _upper_suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    return gx.ExpectationSuite(name="upper", expectations=[
        ce.ExpectColumnValuesToBeValidRic(column="SFZH"),
        e.ExpectColumnValuesToBeUnique(column="SFZH"),
        ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A="SFZH", column_B="CSRQ"),
        e.ExpectColumnValuesToNotBeNull(column="Bz"),
        e.ExpectColumnValuesToBeInSet(column="Bz", value_set=["甲"]),
    ])


@pytest.mark.parametrize("engine", ENGINES)
def test_upper_and_mixed_case_names(engine: str, upper_case: str, sqlite_source: sa.Engine) -> None:
    conn = _conn(upper_case, "kingbase")
    inventory = inspect_source(conn)
    assert sorted((r.location, r.row_count) for r in inventory.resources) == [("RKXX", 3), ("rkxx", 0)]
    upper = inventory.find("RKXX")
    assert upper is not None and [c.name for c in upper.columns] == ["XM", "SFZH", "CSRQ", "Bz"]
    entry = _entry("RKXX", [("XM", ColumnType.STRING), ("SFZH", ColumnType.STRING), ("CSRQ", ColumnType.DATE),
                            ("Bz", ColumnType.STRING)], conn.conn_id)
    assert _patrol(conn, entry) == []
    source = source_engine(conn)
    try:
        result = qengine.validate_table(source, "RKXX", _upper_suite(), engine=engine, key_columns=["XM"])[0]
    finally:
        source.dispose()
    expected = qengine.validate_table(sqlite_source, "RKXX", _upper_suite(), engine="fused", key_columns=["XM"])[0]
    counts = [(r.result or {}).get("unexpected_count") for r in result.results]
    assert counts == [(r.result or {}).get("unexpected_count") for r in expected.results] == [1, 2, 1, 1, 1]


# -- standard_conforming_strings = off ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def escapes() -> Iterator[tuple[str, str]]:
    """Two databases with the same table of backslashes and quotes: ``standard_conforming_strings`` on and off
    (backslashes in ordinary string literals are escapes there, as on old servers and some settings of the
    family)."""
    with _database("scs_on") as on, _database("scs_off", "", "standard_conforming_strings = off") as off:
        for name in (on, off):
            owner = _owner_engine(name)
            with owner.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE paths (p text)")
                conn.execute(sa.text("INSERT INTO paths VALUES (:p)"),
                             [{"p": v} for v in ["C:\\dept\\rk", "it's", "C:dept", "C:\\\\dept\\\\rk", "\\n"]])
            owner.dispose()
        yield on, off


@pytest.mark.parametrize("engine", ENGINES)
def test_literals_are_written_for_each_databases_string_setting(engine: str, escapes: tuple[str, str]) -> None:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name="escapes", expectations=[
        gx.expectations.ExpectColumnValuesToBeInSet(column="p", value_set=["C:\\dept\\rk", "it's", "\\n"]),
    ])
    counts = {}
    for name in escapes:  # on first: its compiled text must not be reused where backslashes are escapes
        source = source_engine(_conn(name, "opengauss"))
        try:
            with source.connect() as conn:
                counts[conn.exec_driver_sql("SHOW standard_conforming_strings").scalar()] = [
                    (r.result or {}).get("unexpected_count")
                    for r in qengine.validate_table(source, "paths", suite, engine=engine)[0].results
                ]
        finally:
            source.dispose()
    assert counts == {"on": [2], "off": [2]}
