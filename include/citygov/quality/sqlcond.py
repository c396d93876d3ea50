"""The one dialect-neutral builder the rules write their SQL conditions with (SQLite and PostgreSQL).

A rule's SQL form (in its module of :mod:`citygov.quality.registry`) is a boolean SQLAlchemy expression
that is true exactly when its Python check finds no problem with a non-NULL value (tests hold the two
to agreement on thousands of generated values), written with the pieces here: :func:`as_text`,
:func:`matches` (character classes), :func:`digits_at`, :func:`real_date`, :func:`concat`,
:func:`char_index`, :func:`in_divisions`, :func:`never_null`. Only these pieces know the dialects. The
same expressions serve GX's ``SqlAlchemyExecutionEngine`` (the custom expectations' SQL partials) and the
fused single-scan validation (:mod:`citygov.quality.tables`).

Character classes are matched with ``GLOB`` on SQLite and ``~`` on PostgreSQL (SQLite has no regular
expressions by default). PostgreSQL does not promise to evaluate ``AND`` operands in order, so every
``CAST(... AS INTEGER)`` sits in a ``CASE`` branch that only digit strings reach.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.sql.elements import ColumnElement

from citygov.quality.cells import RIC_MIN_YEAR
from citygov.quality.reference import current_division_codes, known_division_codes

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
"""Dialects the conditions are written and tested for."""

DIGIT = "[0-9]"
"""The character class of one ASCII digit (for :func:`matches`)."""


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


def contains(expr: ColumnElement[str], char_class: str, dialect: str) -> ColumnElement[bool]:
    """Whether ``expr`` holds a character of ``char_class`` (``[0-9]``) anywhere."""
    if dialect == "sqlite":
        return expr.op("GLOB")(f"*{char_class}*")
    if dialect == "postgresql":
        return expr.op("~")(char_class)
    raise UnsupportedDialect(f"the domain expectations have no SQL for dialect {dialect!r}")


def char_index(alphabet: str, char: ColumnElement[str], dialect: str) -> ColumnElement[int]:
    """The 1-based position of ``char`` in ``alphabet`` (0 when absent)."""
    position = sa.func.instr if dialect == "sqlite" else sa.func.strpos
    return position(sa.literal(alphabet), char)


def digits_at(expr: ColumnElement[str], start: int, length: int) -> ColumnElement[int]:
    """``length`` characters of ``expr`` from ``start`` (1-based) as a number: put it in a ``CASE``
    branch that only digit strings reach (PostgreSQL does not evaluate ``AND`` in order)."""
    return sa.cast(sa.func.substr(expr, start, length), sa.Integer)


def real_date(y: ColumnElement[int], m: ColumnElement[int], d: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether year, month and day make a date from :data:`~citygov.quality.cells.RIC_MIN_YEAR` on."""
    leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
    days = sa.case(
        (m == 2, sa.case((leap, 29), else_=28)),
        (m.in_([4, 6, 9, 11]), 30),
        else_=31,
    )
    return sa.and_(y >= RIC_MIN_YEAR, m >= 1, m <= 12, d >= 1, d <= days)


def concat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """``a || b || …`` with strings as literals."""
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


def in_divisions(expr: ColumnElement[str], dialect: str, current_only: bool = False) -> ColumnElement[bool]:
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


def never_null(condition: ColumnElement[Any]) -> ColumnElement[bool]:
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
