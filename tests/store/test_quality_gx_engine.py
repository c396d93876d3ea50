"""Database validation on both engines and dialects: names reach SQL quoted, dialects mix in one process.

A catalog 资源位置 such as ``t"; DROP TABLE x; --`` is refused at import, but an entry written into the
store directly (or a source whose table really has that name) must still reach SQL only as a quoted
identifier, on the fused engine and on GX's own, on SQLite and on PostgreSQL; and one process must be
able to validate a PostgreSQL table and a SQLite table one after the other with ``engine="gx"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from citygov.quality import engine as qengine
from citygov.quality.suites import gx_context
from tests.pg import scratch_database

NASTY_TABLE = 't"; DROP TABLE x; --'
NASTY_COLUMN = "a b'c; DROP TABLE x"
TABLE = sa.table(NASTY_TABLE, sa.column(NASTY_COLUMN), sa.column("Mobile"))


def _suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    return gx.ExpectationSuite(
        name="names",
        expectations=[
            e.ExpectColumnValuesToNotBeNull(column=NASTY_COLUMN),
            e.ExpectColumnValuesToBeUnique(column=NASTY_COLUMN),
            e.ExpectColumnValueLengthsToBeBetween(column=NASTY_COLUMN, min_value=2),
            ce.ExpectColumnValuesToBeValidMobile(column="Mobile"),
            e.ExpectTableRowCountToBeBetween(min_value=1),
        ],
    )


def _fill(engine: sa.Engine) -> None:
    meta = sa.MetaData()
    nasty = sa.Table(NASTY_TABLE, meta, sa.Column(NASTY_COLUMN, sa.String), sa.Column("Mobile", sa.String))
    sa.Table("x", meta, sa.Column("a", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(nasty.insert(), [{NASTY_COLUMN: v, "Mobile": m} for v, m in [("ab", "13800000000"), ("ab", "12345"), ("c", None)]])


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('names') / 'source.db'}")
    _fill(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_source() -> Iterator[sa.Engine]:
    with scratch_database("citygov_names") as url:
        engine = sa.create_engine(url)
        _fill(engine)
        yield engine
        engine.dispose()


@contextmanager
def _statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement the driver is handed while the block runs (GX's own engine included: listened
    on the Engine class, since GX opens its own engine from the URL)."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", listen)


def _outside_identifiers(statement: str, dialect: sa.Dialect) -> str:
    """The statement with the two names' properly quoted forms taken out."""
    quote = dialect.identifier_preparer.quote_identifier
    return statement.replace(quote(NASTY_TABLE), "").replace(quote(NASTY_COLUMN), "")


@pytest.mark.parametrize("engine", ["fused", "gx"])
@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_names_reach_sql_only_quoted(request: pytest.FixtureRequest, dialect: str, engine: str) -> None:
    source: sa.Engine = request.getfixturevalue("sqlite_source" if dialect == "sqlite" else "pg_source")
    with _statements(source) as seen:
        result, rows = qengine.validate_table(source, NASTY_TABLE, _suite(), parameters={}, engine=engine)
    assert rows == 3
    mentioning = [s for s in seen if "DROP" in s]
    assert mentioning, "the table was never read"
    for statement in mentioning:
        assert "DROP" not in _outside_identifiers(statement, source.dialect), statement
    assert not [s for s in seen if s.lstrip().upper().startswith("DROP")]
    assert sa.inspect(source).has_table("x")
    # The checks ran on the data: the quoted names found the rows.
    outcome = [(r.success, (r.result or {}).get("unexpected_count")) for r in result.results]
    assert outcome == [(True, 0), (False, 2), (False, 1), (False, 1), (True, None)], [r.exception_info for r in result.results]


@pytest.mark.postgres
@pytest.mark.parametrize("order", [("postgresql", "sqlite"), ("sqlite", "postgresql")], ids="-then-".join)
def test_gx_engine_validates_dialects_in_any_order(
    sqlite_source: sa.Engine, pg_source: sa.Engine, order: tuple[str, str]
) -> None:
    gx_context.cache_clear()  # a fresh process: the first dialect validated is the first one GX sees
    sources = {"sqlite": sqlite_source, "postgresql": pg_source}
    for name in [*order, order[0]]:
        result, rows = qengine.validate_table(sources[name], NASTY_TABLE, _suite(), parameters={}, engine="gx")
        assert rows == 3
        assert result.meta["dialect"] == name
        assert [r.success for r in result.results] == [True, False, False, False, True]

