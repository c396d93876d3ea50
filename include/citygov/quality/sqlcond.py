"""The domain checks of :mod:`citygov.quality.rules` as SQLAlchemy conditions, for SQLite and PostgreSQL.

Each ``*_ok`` builder returns a boolean SQL expression that is true exactly when the matching rule in
:mod:`citygov.quality.rules` finds no problem with a non-NULL value (tests hold the two to agreement on
thousands of generated values). The same expressions serve GX's ``SqlAlchemyExecutionEngine`` (the
custom expectations' SQL partials) and the fused single-scan validation (:mod:`citygov.quality.engine`).

Character classes are matched with ``GLOB`` on SQLite and ``~`` on PostgreSQL (SQLite has no regular
expressions by default). PostgreSQL does not promise to evaluate ``AND`` operands in order, so every
``CAST(... AS INTEGER)`` sits in a ``CASE`` branch that only digit strings reach.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.sql.elements import ColumnElement

from citygov.identifiers import PLATE_PROVINCES, USCC_ALPHABET
from citygov.quality.reference import current_division_codes, known_division_codes
from citygov.quality.rules import FEMALE_VALUES, MALE_VALUES, RIC_MIN_YEAR

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
"""Dialects the conditions are written and tested for."""

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_CLASS = "[0-9ABCDEFGHJKLMNPQRTUWXY]"
_DIGIT = "[0-9]"


class UnsupportedDialect(NotImplementedError):
    """The SQL conditions are not written for this database; validate it with GX's own engine."""


def dialect_name(bind: Any) -> str:
    """The dialect name of an engine, connection, dialect or dialect module (``sqlite``, ``postgresql``)."""
    for attr in ("dialect", None):
        obj = getattr(bind, attr, None) if attr else bind
        name = getattr(obj, "name", None)
        if isinstance(name, str):
            return name
        inner = getattr(obj, "dialect", None)
        if inner is not None and isinstance(getattr(inner, "name", None), str):
            return inner.name
    raise UnsupportedDialect(f"cannot tell the SQL dialect of {bind!r}")


def as_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A value as trimmed text (``TRIM(CAST(x AS VARCHAR))``), the form :func:`rules.text` reads."""
    return sa.func.trim(sa.cast(column, sa.String))


def matches(expr: ColumnElement[str], classes: Sequence[str], dialect: str, *, prefix: bool = False) -> ColumnElement[bool]:
    """Whether ``expr`` is exactly the sequence of single-character ``classes`` (``[0-9]``, ``X``…);
    with ``prefix`` it only has to start with them."""
    if dialect == "sqlite":
        return expr.op("GLOB")("".join(classes) + ("*" if prefix else ""))
    if dialect == "postgresql":
        return expr.op("~")("^" + "".join(classes) + ("" if prefix else "$"))
    raise UnsupportedDialect(f"the domain expectations have no SQL for dialect {dialect!r}")


def _int(expr: ColumnElement[str], start: int, length: int) -> ColumnElement[int]:
    return sa.cast(sa.func.substr(expr, start, length), sa.Integer)


def _real_date(y: ColumnElement[int], m: ColumnElement[int], d: ColumnElement[int]) -> ColumnElement[bool]:
    leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
    days = sa.case(
        (m == 2, sa.case((leap, 29), else_=28)),
        (m.in_([4, 6, 9, 11]), 30),
        else_=31,
    )
    return sa.and_(y >= RIC_MIN_YEAR, m >= 1, m <= 12, d >= 1, d <= days)


def _concat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    out: ColumnElement[Any] = sa.literal(parts[0]) if isinstance(parts[0], str) else parts[0]
    for part in parts[1:]:
        out = out.op("||")(sa.literal(part) if isinstance(part, str) else part)
    return out


@cache
def _division_array(current_only: bool) -> str:
    codes = sorted(current_division_codes() if current_only else known_division_codes())
    assert all(c.isascii() and c.isdigit() and len(c) == 6 for c in codes)  # safe to inline
    return "{" + ",".join(codes) + "}"


SQLITE_DIVISION_FUNCTION = "citygov_division_known"
"""SQLite function (registered on every SQLite connection of this process) telling whether a code is in
the shipped GB/T 2260 table: ``citygov_division_known(code, current_only)``."""


def _in_divisions(expr: ColumnElement[str], dialect: str, current_only: bool = False) -> ColumnElement[bool]:
    """Membership in the GB/T 2260 table without thousands of literals in every statement (parsing them
    cost more than validating a small table): one array literal on PostgreSQL (hashed by the executor),
    a registered function on SQLite."""
    if dialect == "postgresql":
        array = sa.cast(sa.literal(_division_array(current_only), literal_execute=True), sa.ARRAY(sa.String))
        return expr == sa.any_(array)
    if dialect == "sqlite":
        return getattr(sa.func, SQLITE_DIVISION_FUNCTION)(expr, int(current_only)) == 1
    raise UnsupportedDialect(f"the domain expectations have no SQL for dialect {dialect!r}")


def _sqlite_division_known(code: object, current_only: int) -> int:
    codes = current_division_codes() if current_only else known_division_codes()
    return int(code in codes)


@event.listens_for(Engine, "connect")
def _register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(SQLITE_DIVISION_FUNCTION, 2, _sqlite_division_known, deterministic=True)


def _iso(day: date | str) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)[:10]


# --- resident ID ---------------------------------------------------------------------------------------


def _ric_shapes(t: ColumnElement[str], dialect: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    shape18 = matches(t, [_DIGIT] * 17 + ["[0-9X]"], dialect)
    shape15 = matches(t, [_DIGIT] * 15, dialect)
    return shape18, shape15


def ric_ok(
    column: ColumnElement[Any],
    dialect: str,
    *,
    as_of: date | str | None = None,
    allow_15_digit: bool = True,
    division_in_birth_year: bool = False,
) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.ric_problem` is None."""
    if division_in_birth_year:
        raise UnsupportedDialect("division_in_birth_year is checked in Python only (pandas or GX fallback)")
    t = sa.func.upper(as_text(column))
    shape18, shape15 = _ric_shapes(t, dialect)
    total = sum((_int(t, i + 1, 1) * w for i, w in enumerate(_RIC_WEIGHTS)), sa.literal(0))
    check_ok = sa.func.substr(sa.literal("10X98765432"), (total % 11) + 1, 1) == sa.func.substr(t, 18, 1)
    div_ok = _in_divisions(sa.func.substr(t, 1, 6), dialect)
    y18, m18, d18 = _int(t, 7, 4), _int(t, 11, 2), _int(t, 13, 2)
    ok18 = [check_ok, _real_date(y18, m18, d18), div_ok]
    y15, m15, d15 = _int(t, 7, 2) + 1900, _int(t, 9, 2), _int(t, 11, 2)
    ok15 = [_real_date(y15, m15, d15), div_ok]
    if as_of is not None:
        ref = _iso(as_of).replace("-", "")
        ok18.append(sa.func.substr(t, 7, 8) <= ref)
        ok15.append(_concat("19", sa.func.substr(t, 7, 6)) <= ref)
    whens = [(t == "", sa.true()), (shape18, sa.and_(*ok18))]
    if allow_15_digit:
        whens.append((shape15, sa.and_(*ok15)))
    return _true(sa.case(*whens, else_=sa.false()))


def ric_birth(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """SQL for :func:`citygov.quality.rules.ric_birth` (``YYYY-MM-DD`` or NULL)."""
    t = sa.func.upper(as_text(column))
    shape18, shape15 = _ric_shapes(t, dialect)
    born18 = _concat(sa.func.substr(t, 7, 4), "-", sa.func.substr(t, 11, 2), "-", sa.func.substr(t, 13, 2))
    born15 = _concat("19", sa.func.substr(t, 7, 2), "-", sa.func.substr(t, 9, 2), "-", sa.func.substr(t, 11, 2))
    real18 = _real_date(_int(t, 7, 4), _int(t, 11, 2), _int(t, 13, 2))
    real15 = _real_date(_int(t, 7, 2) + 1900, _int(t, 9, 2), _int(t, 11, 2))
    return sa.case(
        (shape18, sa.case((real18, born18), else_=sa.null())),
        (shape15, sa.case((real15, born15), else_=sa.null())),
        else_=sa.null(),
    )


def ric_male(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """1 when the ID number's sequence digit is odd (male), 0 when even, NULL for no ID shape."""
    t = sa.func.upper(as_text(column))
    shape18, shape15 = _ric_shapes(t, dialect)
    return sa.case(
        (shape18, _int(t, 17, 1) % 2),
        (shape15, _int(t, 15, 1) % 2),
        else_=sa.null(),
    )


# --- other identifiers -----------------------------------------------------------------------------------


def uscc_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.uscc_problem` is None."""
    t = sa.func.upper(as_text(column))
    shape = matches(t, [_USCC_CLASS] * 2 + [_DIGIT] * 6 + [_USCC_CLASS] * 10, dialect)
    position = sa.func.instr if dialect == "sqlite" else sa.func.strpos

    def value(i: int) -> ColumnElement[int]:
        return position(sa.literal(USCC_ALPHABET), sa.func.substr(t, i + 1, 1)) - 1

    total = sum((value(i) * w for i, w in enumerate(_USCC_WEIGHTS)), sa.literal(0))
    check = sa.func.substr(sa.literal(USCC_ALPHABET), ((31 - total % 31) % 31) + 1, 1)
    return _true(sa.case((t == "", sa.true()), (shape, check == sa.func.substr(t, 18, 1)), else_=sa.false()))


def mobile_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.mobile_problem` is None."""
    t = as_text(column)
    return _true(sa.or_(t == "", matches(t, ["1", "[3-9]"] + [_DIGIT] * 9, dialect)))


_PLATE_LETTER = "[A-HJ-NP-Z]"
_PLATE_BODY = "[A-HJ-NP-Z0-9]"
_PLATE_LAST = "[A-HJ-NP-Z0-9挂学警港澳领]"
_PLATE_SEPARATORS = (None, "[·]", "[・]", "[.]", "[-]", "[ ]")


def plate_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.plate_problem` is None: one of the shapes (with or without a
    separator, 5 or 6 characters after it) and a digit somewhere (only the part after the letter can
    hold one)."""
    t = as_text(column)
    shapes = [
        matches(t, [f"[{PLATE_PROVINCES}]", _PLATE_LETTER, *([sep] if sep else []), *[_PLATE_BODY] * n, _PLATE_LAST], dialect)
        for sep in _PLATE_SEPARATORS
        for n in (4, 5)
    ]
    digit = t.op("GLOB")("*[0-9]*") if dialect == "sqlite" else t.op("~")("[0-9]")
    return _true(sa.or_(t == "", sa.and_(sa.or_(*shapes), digit)))


def division_ok(column: ColumnElement[Any], dialect: str, *, current_only: bool = False) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.division_problem` is None."""
    t = as_text(column)
    return _true(sa.or_(t == "", sa.and_(matches(t, [_DIGIT] * 6, dialect), _in_divisions(t, dialect, current_only))))


# --- dates ---------------------------------------------------------------------------------------------


def _temporal(column: ColumnElement[Any], dialect: str) -> str | None:
    """``date`` or ``datetime`` for a PostgreSQL column typed so (its text is always ISO there, with
    ``DateStyle`` ISO); None for text, and for SQLite, whose DATE columns hold whatever was written."""
    if dialect != "postgresql":
        return None
    kind = getattr(column, "type", None)
    if isinstance(kind, sa.DateTime):
        return "datetime"
    if isinstance(kind, sa.Date):
        return "date"
    return None


def date_text(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """SQL for :func:`citygov.quality.rules.date_text` (``YYYY-MM-DD`` or NULL)."""
    temporal = _temporal(column, dialect)
    if temporal == "date":
        return sa.cast(column, sa.String)
    if temporal == "datetime":
        return sa.func.substr(sa.cast(column, sa.String), 1, 10)
    t = as_text(column)
    shape = matches(t, [_DIGIT] * 4 + ["[/-]"] + [_DIGIT] * 2 + ["[/-]"] + [_DIGIT] * 2, dialect, prefix=True)
    return sa.case((shape, sa.func.replace(sa.func.substr(t, 1, 10), "/", "-")), else_=sa.null())


def not_future_ok(column: ColumnElement[Any], dialect: str, *, reference_date: date | str) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.future_date_problem` is None."""
    temporal = _temporal(column, dialect)
    if temporal == "date":
        return _true(column <= sa.cast(sa.literal(_iso(reference_date)), sa.Date))
    if temporal == "datetime":
        return _true(sa.cast(column, sa.Date) <= sa.cast(sa.literal(_iso(reference_date)), sa.Date))
    day = date_text(column, dialect)
    return _true(sa.or_(day.is_(None), day <= _iso(reference_date)))


def not_blank_ok(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.not_blank_problem` is None (NULL counts as blank)."""
    return _true(sa.and_(column.is_not(None), as_text(column) != ""))


# --- consistency ---------------------------------------------------------------------------------------


def id_birth_ok(id_column: ColumnElement[Any], birth_column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.id_birth_problem` is None."""
    born = ric_birth(id_column, dialect)
    day = date_text(birth_column, dialect)
    return _true(sa.or_(born.is_(None), day.is_(None), born == day))


def id_gender_ok(
    id_column: ColumnElement[Any],
    gender_column: ColumnElement[Any],
    dialect: str,
    *,
    male_values: Collection[str] = MALE_VALUES,
    female_values: Collection[str] = FEMALE_VALUES,
) -> ColumnElement[bool]:
    """SQL for :func:`citygov.quality.rules.id_gender_problem` is None."""
    male = ric_male(id_column, dialect)
    g = as_text(gender_column)
    wrong = sa.or_(
        sa.and_(male == 1, g.in_(list(female_values))),
        sa.and_(male == 0, g.in_(list(male_values))),
    )
    return _true(sa.not_(sa.func.coalesce(wrong, sa.false())))


def _true(condition: ColumnElement[Any]) -> ColumnElement[bool]:
    """Never NULL: a NULL condition (NULL operands) counts as true, the rules' "no problem found"."""
    return sa.func.coalesce(condition, sa.true())


def prepare_connection(conn: sa.Connection) -> None:
    """Make a source connection ready for the rule conditions, once per transaction. PostgreSQL: ISO text for dates whatever the server's DateStyle
    (the rules read dates as text), and no JIT: compiling these large conditions cost PostgreSQL
    seconds per statement, more than it saved on millions of rows, and the sample read stops after a
    few pages anyway (bench/quality_bench.py). SQLite: the rule functions registered on the connection."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL datestyle = 'ISO, YMD'")
        conn.exec_driver_sql("SET LOCAL jit = off")
    elif conn.dialect.name == "sqlite":
        # connections opened before citygov.quality.sqlcond was imported lack its function
        _register_sqlite_functions(conn.connection.dbapi_connection, None)
