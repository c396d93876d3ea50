"""The SQL the pipeline sends, written for Oracle and 达梦 DM: compiled with their SQLAlchemy dialects (no server)
and checked two ways.

Form: every statement (the fused scan over every compiled rule, the sample read, the uniqueness, duplicate,
failing-row and reference queries, the census's queries) parses as Oracle SQL (sqlglot), and holds none of
what Oracle lacks: a condition where a value is expected (a ``CASE`` result, a ``COALESCE`` argument, a
select-list item; Oracle before 23ai has no boolean values), ``~``, ``LIMIT``, ``CHAR_LENGTH``, ``STRPOS``,
a comparison with ``''`` (always unknown: ``''`` is NULL there), an ``IN`` list of more than 1,000 values.

Meaning: the compiled Oracle and DM text runs in SQLite given Oracle's (or DM's) functions: ``TRIM``,
``SUBSTR``, ``UPPER``, ``REPLACE`` that return NULL for an empty result as Oracle does, ``REGEXP_LIKE``,
``LENGTH``, ``MOD``, ``INSTR``. Every rule must then agree with its Python check value for value on the
generated values of :mod:`tests.unit.test_quality_sql` (stored as Oracle stores them: ``''`` as NULL), and the
fused scan must count what SQLite's own fused scan counts on the same rows. This is as near as this machine
gets: no Oracle or DM server runs here (README, sources).

DM's dialect (dmSQLAlchemy 2.0.17) does not import under SQLAlchemy 2.1 (its async module needs
``sqlalchemy.util.await_fallback``); its synchronous dialect module is loaded here without the package's
``__init__``. Its tests are skipped where dmSQLAlchemy is not installed (the ``dm`` extra is not in CI).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sqlite3
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from citygov.quality import engine as qengine
from citygov.quality import rules, sqlcond
from citygov.quality.checks import compile_check, substitute
from citygov.quality.registry import blank, dates, division, mobile, native_types, pairs, plate, ric, uscc
from citygov.quality.tables import (
    duplicates_query,
    fused_scan_sql,
    ref_query,
    rows_query,
    samples_sql,
    unique_query,
)
from citygov.sources.connection import ConnectionInfo
from citygov.sources.database import ORACLE_UPDATE_TIME_SQL, ident, stored_name
from tests.quality_cases import PARAMS, TEXT_COLUMNS, _rows, _suite
from tests.unit.test_quality_sql import AS_OF, _values


def _oracle19() -> sa.Dialect:
    """Oracle before 23ai, as SQLAlchemy sees it once connected: no boolean values."""
    dialect = oracle.dialect()
    dialect.supports_native_boolean = False
    return dialect


def _oracle23() -> sa.Dialect:
    """Oracle 23ai (and SQLAlchemy's Oracle dialect before it connects): boolean values exist."""
    return oracle.dialect()


def _dm() -> sa.Dialect:
    if "dmSQLAlchemy" not in sys.modules and importlib.util.find_spec("dmSQLAlchemy") is None:
        pytest.skip("dmSQLAlchemy is not installed (the dm extra)")
    if "dmSQLAlchemy.dmpython" not in sys.modules:
        try:
            importlib.import_module("dmSQLAlchemy")
        except ImportError:  # 2.0.17 under SQLAlchemy 2.1: load the dialect without the package's __init__
            sys.modules.pop("dmSQLAlchemy", None)
            spec = importlib.util.find_spec("dmSQLAlchemy")
            assert spec is not None and spec.submodule_search_locations is not None
            package = types.ModuleType("dmSQLAlchemy")
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            sys.modules["dmSQLAlchemy"] = package
    return importlib.import_module("dmSQLAlchemy.dmpython").dialect()


DIALECTS = {"oracle": _oracle19, "oracle23": _oracle23, "dm": _dm}


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request: pytest.FixtureRequest) -> sa.Dialect:
    return DIALECTS[request.param]()


def _sql(clause: Any, dialect: sa.Dialect) -> str:
    return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


# -- form ---------------------------------------------------------------------------------------------------------

def _sqlglot() -> Any:
    """sqlglot (the dev extra); the meaning tests below run without it."""
    return pytest.importorskip("sqlglot")


def _well_formed(sql: str, dialect: sa.Dialect) -> Any:
    """``sql`` parsed as Oracle SQL, with none of what Oracle (and DM) lack."""
    sqlglot = _sqlglot()
    exp = sqlglot.exp
    conditions = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)
    tree = sqlglot.parse_one(sql, read="oracle")
    assert tree is not None
    for banned in (" ~ ", " LIMIT ", "CHAR_LENGTH(", "STRPOS(", "REGEXP ", " GLOB "):
        assert banned.lower() not in sql.lower(), banned
    for node in tree.walk():
        if isinstance(node, exp.In):
            assert len(node.expressions) <= 1000  # ORA-01795
        if isinstance(node, exp.EQ | exp.NEQ) and dialect.name == "oracle":
            for side in (node.left, node.right):
                assert not (isinstance(side, exp.Literal) and side.is_string and side.this == ""), node.sql()
        if dialect.supports_native_boolean:
            continue
        if isinstance(node, exp.Case):
            for branch in [*(i.args.get("true") for i in node.args.get("ifs") or []), node.args.get("default")]:
                assert not isinstance(branch, conditions), f"a condition as a CASE result: {branch.sql()[:200]}"
        if isinstance(node, exp.Coalesce):
            for arg in [node.this, *node.expressions]:
                assert not isinstance(arg, conditions), f"a condition in COALESCE: {arg.sql()[:200]}"
        if isinstance(node, exp.Select):
            for item in node.expressions:
                item = item.this if isinstance(item, exp.Alias) else item
                assert not isinstance(item, conditions), f"a condition in a select list: {item.sql()[:200]}"
    return tree


def _target() -> sa.TableClause:
    """The table as :func:`citygov.quality.tables.validate_table` builds it: every name quoted."""
    return sa.table(ident("T"), *[sa.column(ident(c), sa.String(64)) for c in TEXT_COLUMNS],
                    sa.column(ident("n"), sa.Integer), sa.column(ident("BORN_DAY"), sa.DateTime))


def _checks() -> list[Any]:
    return [compile_check(substitute(e, PARAMS)) for e in _suite().expectations]


def test_the_suite_covers_every_rule() -> None:
    assert {c.expectation.expectation_type for c in _checks()} >= set(native_types())
    assert {"oracle", "dm"} <= set(sqlcond.SUPPORTED_DIALECTS)  # the fused engine runs them (no GX fallback)


@pytest.mark.parametrize("name", ["oracle", "dm"])
def test_the_fused_scan_and_the_sample_read_are_oracle_sql(name: str) -> None:
    """Every compiled rule in one statement (parsing it takes seconds: Oracle 23ai's form, with boolean values,
    is parsed rule by rule in :func:`test_a_rule_on_a_date_column_and_on_oracle_23`)."""
    dialect = DIALECTS[name]()
    checks = _checks()
    statement, slots = fused_scan_sql(dialect, _target(), checks)
    tree = _well_formed(statement, dialect)
    assert isinstance(tree, _sqlglot().exp.Select) and len(tree.expressions) == 1 + max(max(u or 0, f or 0) for _, u, f in slots)
    rows = [c for c in checks if c.kind in {"map", "pair"}]
    statement, names = samples_sql(dialect, _target(), rows, ["pk"])
    _well_formed(statement, dialect)
    assert names[0] == "born" and "pk" in names


def test_a_rule_on_a_date_column_and_on_oracle_23(dialect: sa.Dialect) -> None:
    """A DATE (DateTime) column is read as ISO text; on Oracle 23ai, which has boolean values, each rule parses."""
    target = _target()
    day = compile_check(substitute(
        _suite().expectations[8].__class__(column="BORN_DAY", reference_date={"$PARAMETER": "logical_date"}), PARAMS))
    assert day.expectation.expectation_type == "expect_column_values_to_be_date_not_in_future"
    statement, _ = fused_scan_sql(dialect, target, [day])
    _well_formed(statement, dialect)
    assert "TO_CHAR(\"BORN_DAY\", 'YYYY-MM-DD HH24:MI:SS')" in statement
    if dialect.supports_native_boolean:
        for check in _checks():
            if check.kind in {"map", "pair"}:
                _well_formed(fused_scan_sql(dialect, target, [check])[0], dialect)


def test_uniqueness_reference_and_row_queries_are_oracle_sql(dialect: sa.Dialect) -> None:
    target = _target()
    by_kind = {c.kind: c for c in _checks()}
    for kind in ("unique", "compound_unique"):
        _well_formed(_sql(unique_query(target, by_kind[kind], dialect.name), dialect), dialect)
    _well_formed(_sql(duplicates_query(target, by_kind["unique"], [("P00001",), ("P00002",)], ["pk"], dialect.name),
                      dialect), dialect)
    compound = duplicates_query(target, by_kind["compound_unique"], [("A1", "1"), ("A2", "2")], ["pk"], dialect.name)
    _well_formed(_sql(compound, dialect), dialect)
    _well_formed(_sql(ref_query(target, by_kind["ref"], dialect.name), dialect), dialect)
    rows = _sql(rows_query(target, by_kind["unique"], ["pk"], {("P1",): 2, (None,): 3}, dialect.name), dialect)
    _well_formed(rows, dialect)
    assert "FETCH FIRST 20 ROWS ONLY" in rows and '"pk" IS NULL' in rows


def test_census_queries_are_oracle_sql(dialect: sa.Dialect) -> None:
    """What :meth:`DatabaseSource.describe` asks (count, latest update, first rows) and Oracle's update time."""
    target = _target()
    described = sa.select(sa.func.count(), sa.func.max(target.c.day)).select_from(target)
    _well_formed(_sql(described, dialect), dialect)
    first = _sql(sa.select(*target.c).limit(200), dialect)
    _well_formed(first, dialect)
    assert "FETCH FIRST 200 ROWS ONLY" in first
    sqlglot = _sqlglot()
    tree = sqlglot.parse_one(ORACLE_UPDATE_TIME_SQL.replace(":name", "'RKXX'"), read="oracle")
    assert {t.name.upper() for t in tree.find_all(sqlglot.exp.Table)} == {"ALL_TAB_MODIFICATIONS"}


def test_names_are_read_as_oracle_stores_them() -> None:
    """Oracle keeps unquoted names in upper case and SQLAlchemy reflects them in lower case: the census, the
    patrol and the quality engines quote the stored name."""
    dialect = _oracle19()
    assert stored_name(dialect, dialect.normalize_name("RKXX")) == "RKXX"
    assert stored_name(dialect, dialect.normalize_name("Rkxx")) == "Rkxx"  # created quoted: kept
    assert stored_name(dialect, dialect.normalize_name("姓名")) == "姓名"
    assert stored_name(sa.dialects.postgresql.dialect(), "rkxx") == "rkxx"


def test_empty_text_is_null_on_oracle_and_either_on_dm() -> None:
    v = sa.column("v", sa.String)
    assert _sql(blank.not_blank_ok(v), _oracle19()) == (
        "(CASE WHEN NOT ((v IS NOT NULL AND NOT (trim(v) IS NULL))) THEN 0 ELSE 1 END = 1)")
    assert "(trim(v) IS NULL OR trim(v) = '')" in _sql(blank.not_blank_ok(v), _dm())
    assert "trim(CAST(v AS VARCHAR)) = ''" in _sql(blank.not_blank_ok(v), sa.dialects.postgresql.dialect())


@pytest.mark.parametrize("conn_type, driver", [("oracle", "oracle+oracledb"), ("dm", "dm+dmPython")])
def test_connection_types(conn_type: str, driver: str) -> None:
    info = ConnectionInfo("dept", conn_type, host="db", port=1521, schema="ORCLPDB1", login="u", password="p")
    assert info.sqlalchemy_url().drivername == driver


def test_an_oracle_source_that_does_not_answer_is_unreachable() -> None:
    """python-oracledb (thin mode, the ``oracle`` extra) is reached with its own timeout argument."""
    pytest.importorskip("oracledb")
    from citygov.sources import open_source

    with open_source(ConnectionInfo("dept_oracle", "oracle", host="127.0.0.1", port=9, schema="ORCL", login="u",
                                    password="p")) as source:
        problem = source.unreachable()
    assert problem is not None and "DPY-" in problem  # the driver's own error: it tried, nothing answered


# -- meaning --------------------------------------------------------------------------------------------------


def _oracle_text(value: Any) -> Any:
    """What Oracle keeps of a text: ``''`` is NULL."""
    return None if value == "" else value


def _functions(conn: sqlite3.Connection, *, empty_is_null: bool) -> None:
    """Oracle's (``empty_is_null``) or DM's string functions on a SQLite connection."""
    out = _oracle_text if empty_is_null else (lambda v: v)

    def text_fn(fn: Any) -> Any:
        return lambda *a: None if a[0] is None else out(fn(*a))

    conn.create_function("trim", 1, text_fn(lambda s: s.strip(" ")), deterministic=True)
    conn.create_function("upper", 1, text_fn(lambda s: s.upper()), deterministic=True)
    conn.create_function("substr", 3, text_fn(lambda s, start, n: s[start - 1 : start - 1 + n] if start >= 1 else ""),
                         deterministic=True)
    conn.create_function("replace", 3, text_fn(lambda s, a, b: s.replace(a, b or "") if a else s), deterministic=True)
    conn.create_function("length", 1, lambda s: None if s is None else len(str(s)), deterministic=True)
    conn.create_function("mod", 2, lambda a, b: None if a is None or b is None else a - b * int(a / b),
                         deterministic=True)
    # REGEXP_LIKE finds the pattern anywhere (the rules anchor theirs with ^)
    conn.create_function("regexp_like", 2, lambda s, p: None if s is None else int(re.search(p, s) is not None),
                         deterministic=True)


@pytest.fixture(params=["oracle", "dm"])
def emulated(request: pytest.FixtureRequest) -> Iterator[tuple[sa.Dialect, sa.Engine, bool]]:
    """(the dialect, a SQLite engine answering as that database's functions do, whether '' is NULL)."""
    dialect = _oracle19() if request.param == "oracle" else _dm()
    empty_is_null = request.param == "oracle"
    engine = sa.create_engine("sqlite://")
    sa.event.listen(engine, "connect", lambda c, _r: _functions(c, empty_is_null=empty_is_null))
    yield dialect, engine, empty_is_null
    engine.dispose()


def test_every_rule_agrees_with_python(emulated: tuple[sa.Dialect, sa.Engine, bool]) -> None:
    dialect, engine, empty_is_null = emulated
    name = dialect.name
    stored = _oracle_text if empty_is_null else (lambda v: v)
    values = [(stored(v), stored(p)) for v, p in _values()]
    v, p = sa.column("v", sa.String), sa.column("p", sa.String)
    conditions = [
        ric.ric_ok(v, name, as_of=AS_OF), ric.ric_ok(v, name, allow_15_digit=False), uscc.uscc_ok(v, name),
        mobile.mobile_ok(v, name), division.division_ok(v, name), division.division_ok(v, name, current_only=True),
        dates.not_future_ok(v, name, reference_date=AS_OF), blank.not_blank_ok(v), pairs.id_birth_ok(v, p, name),
        pairs.id_gender_ok(v, p, name), plate.plate_ok(v, name),
    ]
    flags = [f"CASE WHEN {_sql(c, dialect)} THEN 1 ELSE 0 END" for c in conditions]
    values_sql = [_sql(ric.ric_birth_sql(v, name), dialect), _sql(ric.ric_male_sql(v, name), dialect)]
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE vals (v TEXT, p TEXT)")
        conn.exec_driver_sql("INSERT INTO vals VALUES (?, ?)", values)
        rows = conn.exec_driver_sql(
            f"SELECT v, p, {', '.join(flags + values_sql)} FROM vals WHERE v IS NOT NULL").all()
    assert len(rows) == sum(v is not None for v, _ in values) > 12000
    for row in rows:
        value, partner = row[0], row[1]
        male = rules.ric_male(value)
        expected = (
            rules.ric_problem(value, as_of=AS_OF) is None, rules.ric_problem(value, allow_15_digit=False) is None,
            rules.uscc_problem(value) is None, rules.mobile_problem(value) is None,
            rules.division_problem(value) is None, rules.division_problem(value, current_only=True) is None,
            rules.future_date_problem(value, reference_date=AS_OF) is None, rules.not_blank_problem(value) is None,
            partner is None or rules.id_birth_problem(value, partner) is None,
            partner is None or rules.id_gender_problem(value, partner) is None,
            rules.plate_problem(value) is None, rules.ric_birth(value), None if male is None else int(male),
        )
        assert tuple(bool(x) for x in row[2:13]) + tuple(row[13:]) == expected, (value, partner)
    for column in range(2, 13):  # the values exercise both outcomes of every rule
        assert {bool(r[column]) for r in rows} == {True, False}, column


def test_the_fused_scan_counts_as_sqlites_own(emulated: tuple[sa.Dialect, sa.Engine, bool], tmp_path: Any) -> None:
    """The whole fused statement compiled for Oracle (or DM), run on the rows as that database would hold them,
    counts what SQLite's fused engine counts on the same rows."""
    dialect, engine, empty_is_null = emulated
    stored = _oracle_text if empty_is_null else (lambda v: v)
    rows = [{k: stored(v) for k, v in r.items()} for r in _rows()]
    reference = sa.create_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    meta = sa.MetaData()
    table = sa.Table("t", meta, *[sa.Column(c, sa.String) for c in TEXT_COLUMNS], sa.Column("n", sa.Integer))
    base = sa.Table("base", meta, sa.Column("tyshxydm", sa.String))
    for e in (reference, engine):
        meta.create_all(e)
        with e.begin() as conn:
            conn.execute(table.insert(), rows)
    with reference.begin() as conn:
        conn.execute(base.insert(), [{"tyshxydm": r["ref"]} for r in _rows()[:10]])
    expected = qengine.validate_table(reference, "t", _suite(), parameters=PARAMS, engine="fused")[0]
    reference.dispose()
    checks = _checks()
    target = sa.table(ident("t"), *[sa.column(ident(c), sa.String(64)) for c in TEXT_COLUMNS],
                      sa.column(ident("n"), sa.Integer))
    statement, slots = fused_scan_sql(dialect, target, checks)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(statement).one()
    assert row[0] == len(rows)
    counted = 0
    for check, u, f in slots:
        if u is None:
            continue
        want = expected.results[checks.index(check)].result
        assert row[u] == want["unexpected_count"], check.expectation.expectation_type
        if f is not None and check.kind == "map":
            assert row[f] == want["element_count"] - want["missing_count"], check.expectation.expectation_type
        counted += 1
    assert counted >= 14 and sum(row[u] for _, u, _f in slots if u is not None) > 50
