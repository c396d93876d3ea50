"""The one dialect-neutral builder the rules write their SQL conditions with (SQLite, PostgreSQL, MySQL/MariaDB).

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

MySQL and MariaDB (SQLAlchemy names both ``mysql`` through ``mysql+pymysql``, ``mariadb`` through
``mariadb+…``) compare text by the column's collation, usually a case-insensitive ``utf8mb4_general_ci``
that also ignores trailing spaces (PAD SPACE): ``'x' REGEXP '^[X]$'`` and ``'ab ' = 'ab'`` are true there.
So :func:`as_text` hands the rules the value converted to utf8mb4 under ``utf8mb4_bin`` (case-sensitive
matching and positions, whatever the column's character set, GBK included), :func:`exact` gives a
byte-exact form for equality and grouping (no padding), and a ZEROFILL number is read as its number
(``000123`` is 123, as the driver hands it to the streaming engine). ``||`` is OR there: :func:`concat`
writes ``CONCAT()``. Regular expressions: ``REGEXP`` (PCRE on MariaDB, ICU on MySQL 8), written with
``^`` and bracket classes only, which both read alike (their ``$`` also matches before a final newline:
a whole match is a prefix match of the right length).

Oracle and 达梦 DM (``oracle``, ``dm``; compiled and unit-tested here, never run against a live server:
README, "sources") have no boolean values in expressions: a condition can stand in ``WHERE`` or ``CASE
WHEN`` but not be a ``CASE`` result or a ``COALESCE`` argument, so a boolean ``CASE`` or ``COALESCE``
is written as ``(CASE … THEN 1/0 … END = 1)`` keeping SQL's three values. Oracle stores ``''`` as NULL
(``TRIM('  ')`` is NULL): :func:`empty` is ``IS NULL`` there (and ``IS NULL OR = ''`` on DM, which keeps
``''`` unless in Oracle mode). Matching is ``REGEXP_LIKE`` on a prefix plus ``LENGTH`` (characters),
lengths ``LENGTH``, positions ``INSTR``, an ``IN`` list at most 1,000 values (ORA-01795), dates as
``TO_CHAR(x, 'YYYY-MM-DD HH24:MI:SS')``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from citygov.quality.cells import RIC_MIN_YEAR
from citygov.quality.reference import current_division_codes, known_division_codes

MYSQL_DIALECTS = ("mysql", "mariadb")
"""SQLAlchemy's names of MySQL and MariaDB (``mysql+pymysql`` reports ``mysql`` against MariaDB too)."""

ORACLE_DIALECTS = ("oracle", "dm")
"""Oracle and 达梦 DM (dmSQLAlchemy's ``dm``): the conditions are written for them and tested compiled only."""

SUPPORTED_DIALECTS = ("sqlite", "postgresql", *MYSQL_DIALECTS, *ORACLE_DIALECTS)
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


class _Text(FunctionElement[str]):
    """``x`` as untrimmed text, written per dialect (see the module docstring for MySQL)."""

    type = sa.String()
    inherit_cache = True


@compiles(_Text)
def _text_default(element: _Text, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process(sa.cast(value, sa.String), **kw)


def _mysql_text(element: _Text, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    if isinstance(getattr(value, "type", None), sa.Numeric | sa.Integer):
        # + 0 drops a ZEROFILL column's padding: its value is the number, as the driver reads it
        value = value + 0
    return f"CONVERT({compiler.process(value, **kw)} USING utf8mb4) COLLATE utf8mb4_bin"


def _oracle_text(element: _Text, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    kind = getattr(value, "type", None)
    inner = compiler.process(value, **kw)
    if isinstance(kind, sa.String):  # VARCHAR2, NVARCHAR2, CHAR, CLOB: the text itself
        return inner
    if isinstance(kind, sa.DateTime):  # Oracle's DATE has a time of day (SQLAlchemy reflects it as DateTime)
        return f"TO_CHAR({inner}, 'YYYY-MM-DD HH24:MI:SS')"
    if isinstance(kind, sa.Date):
        return f"TO_CHAR({inner}, 'YYYY-MM-DD')"
    return f"TO_CHAR({inner})"


def as_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A value as trimmed text (``TRIM(CAST(x AS VARCHAR))``), the form :func:`rules.text` reads; on
    MySQL utf8mb4 under a binary collation, so matching and positions are case-sensitive."""
    return sa.func.trim(_Text(column))


_NOT_TEXT = (sa.Numeric, sa.Integer, sa.Date, sa.DateTime, sa.Time, sa.Boolean, sa.LargeBinary)


class _CharLength(FunctionElement[int]):
    """``CHAR_LENGTH(x)``; ``LENGTH(x)`` on Oracle and DM (characters there; they have no ``CHAR_LENGTH``)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(_CharLength)
def _char_length_default(element: _CharLength, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.func.char_length(*element.clauses), **kw)


def _oracle_char_length(element: _CharLength, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(sa.func.length(*element.clauses), **kw)


def char_length(expr: ColumnElement[Any]) -> ColumnElement[int]:
    """The length of a value's (untrimmed) text in characters, not bytes (MySQL's ``LENGTH`` counts bytes)."""
    return _CharLength(_Text(expr))


class _Empty(FunctionElement[bool]):
    """``x = ''``; on Oracle, which stores and computes ``''`` as NULL, ``x IS NULL``; on DM either."""

    type = sa.Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # a condition: never ``… = 1`` where booleans are numbers (Oracle < 23, DM)


@compiles(_Empty)
def _empty_default(element: _Empty, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process((value == "").self_group(), **kw)


@compiles(_Empty, "oracle")
def _empty_oracle(element: _Empty, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process(value.is_(None).self_group(), **kw)


@compiles(_Empty, "dm")
def _empty_dm(element: _Empty, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process(sa.or_(value.is_(None), value == "").self_group(), **kw)


def empty(text: ColumnElement[str]) -> ColumnElement[bool]:
    """Whether the text (of :func:`as_text`, a non-NULL value's) is empty: ``= ''``, and on Oracle
    ``IS NULL`` (``''`` is NULL there, so ``= ''`` is never true)."""
    return _Empty(text)


class _Utf8Bytes(sa.types.TypeDecorator[str]):
    """Text the database hands back as its UTF-8 bytes (MySQL's ``BINARY``): read back as ``str``, so a
    grouped value is the value the rules saw."""

    impl = sa.String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return bytes(value).decode("utf-8") if isinstance(value, (bytes, bytearray, memoryview)) else value


class _Exact(FunctionElement[str]):
    """A text compared byte for byte on MySQL (``CAST(CONVERT(x USING utf8mb4) AS BINARY)``); typed as
    text so the values it is compared with stay text literals, and read back as text."""

    type = _Utf8Bytes()
    inherit_cache = True


@compiles(_Exact)
def _exact_default(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process(value, **kw)


def _mysql_exact(element: _Exact, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = element.clauses
    return f"CAST(CONVERT({compiler.process(value, **kw)} USING utf8mb4) AS BINARY)"


def exact(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``expr`` as it must be compared for equality, grouping and value sets so that equal means the same
    text, as in Python: itself, except on MySQL, whose text collations fold case and ignore trailing
    spaces (``GROUP BY`` would merge ``'a'``, ``'A'`` and ``'a '``): there its utf8mb4 bytes. Numbers,
    dates and binary columns are left as they are."""
    if dialect in MYSQL_DIALECTS and not isinstance(getattr(expr, "type", None), _NOT_TEXT):
        return _Exact(expr)
    return expr


class _RegexpLike(FunctionElement[bool]):
    """``REGEXP_LIKE(x, 'pattern')``, a condition (Oracle and DM)."""

    name = "regexp_like"
    type = sa.Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True


@compiles(_RegexpLike)
def _regexp_like(element: _RegexpLike, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = element.clauses
    return f"REGEXP_LIKE({compiler.process(value, **kw)}, {compiler.process(pattern, **kw)})"


def _regex(expr: ColumnElement[str], pattern: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return expr.op("~")(pattern)
    if dialect in MYSQL_DIALECTS:
        # as_text's text is under utf8mb4_bin: REGEXP is case-sensitive on it
        return expr.op("REGEXP")(pattern)
    if dialect in ORACLE_DIALECTS:
        return _RegexpLike(expr, sa.literal(pattern, sa.String))
    raise UnsupportedDialect(f"the domain expectations have no SQL for dialect {dialect!r}")


def matches(expr: ColumnElement[str], classes: Sequence[str], dialect: str, *, prefix: bool = False) -> ColumnElement[bool]:
    """Whether ``expr`` is exactly the sequence of single-character ``classes`` (``[0-9]``, ``X``…);
    with ``prefix`` it only has to start with them."""
    if dialect == "sqlite":
        return expr.op("GLOB")("".join(classes) + ("*" if prefix else ""))
    if dialect in MYSQL_DIALECTS or dialect in ORACLE_DIALECTS:
        # PCRE's and ICU's ``$`` also match before a final newline: the whole text is the classes when
        # it starts with them and has that many characters (Oracle: the same form, whatever its ``$`` does)
        start = _regex(expr, "^" + "".join(classes), dialect)
        return start if prefix else sa.and_(start, _CharLength(expr) == len(classes))
    return _regex(expr, "^" + "".join(classes) + ("" if prefix else "$"), dialect)


def contains(expr: ColumnElement[str], char_class: str, dialect: str) -> ColumnElement[bool]:
    """Whether ``expr`` holds a character of ``char_class`` (``[0-9]``) anywhere."""
    if dialect == "sqlite":
        return expr.op("GLOB")(f"*{char_class}*")
    return _regex(expr, char_class, dialect)


def char_index(alphabet: str, char: ColumnElement[str], dialect: str) -> ColumnElement[int]:
    """The 1-based position of ``char`` in ``alphabet`` (0 when absent); case-sensitive everywhere."""
    if dialect in MYSQL_DIALECTS:
        return sa.func.instr(exact(sa.literal(alphabet, sa.String), dialect), exact(char, dialect))
    position = sa.func.instr if dialect == "sqlite" or dialect in ORACLE_DIALECTS else sa.func.strpos
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


class _Concat(FunctionElement[str]):
    """``a || b || …``; ``CONCAT(a, b, …)`` on MySQL, where ``||`` is OR."""

    type = sa.String()
    inherit_cache = True


@compiles(_Concat)
def _concat_default(element: _Concat, compiler: SQLCompiler, **kw: Any) -> str:
    return " || ".join(f"({compiler.process(part, **kw)})" for part in element.clauses)


def _mysql_concat(element: _Concat, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CONCAT({', '.join(compiler.process(part, **kw) for part in element.clauses)})"


for _name in MYSQL_DIALECTS:
    compiles(_Text, _name)(_mysql_text)
    compiles(_Concat, _name)(_mysql_concat)
    compiles(_Exact, _name)(_mysql_exact)


def _as_flag(value: Any, compiler: SQLCompiler, null_as: int | None = None, **kw: Any) -> str:
    """A boolean expression as 1, 0 or NULL (Oracle and DM have no boolean values); with ``null_as``, an unknown
    is that number instead (and the expression is written once)."""
    if isinstance(value, sa.sql.elements.True_):
        return "1"
    if isinstance(value, sa.sql.elements.False_):
        return "0"
    if isinstance(value, sa.sql.elements.Null):
        return "NULL" if null_as is None else str(null_as)
    cond = compiler.process(value.self_group(), **kw)
    if null_as == 1:
        return f"CASE WHEN NOT ({cond}) THEN 0 ELSE 1 END"
    if null_as == 0:
        return f"CASE WHEN ({cond}) THEN 1 ELSE 0 END"
    return f"CASE WHEN ({cond}) THEN 1 WHEN NOT ({cond}) THEN 0 END"


def _is_boolean(value: Any) -> bool:
    return isinstance(getattr(value, "type", None), sa.Boolean)


def _oracle_case(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    """A ``CASE`` whose results are conditions, as ``(CASE … THEN 1/0/NULL … END = 1)``; inside a ``COALESCE``
    with a constant (``citygov_null_as``) an unknown result is that constant, each result written once."""
    null_as = kw.pop("citygov_null_as", None)
    if not _is_boolean(element) or element.value is not None:
        return compiler.visit_case(element, **kw)
    parts = [f"WHEN {compiler.process(cond, **kw)} THEN {_as_flag(result, compiler, null_as, **kw)}"
             for cond, result in element.whens]
    if element.else_ is not None:
        parts.append(f"ELSE {_as_flag(element.else_, compiler, null_as, **kw)}")
    elif null_as is not None:
        parts.append(f"ELSE {null_as}")
    return f"(CASE {' '.join(parts)} END = 1)"


def _oracle_coalesce(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    """``COALESCE`` of conditions: the first that is not NULL, as a condition."""
    kw.pop("citygov_null_as", None)
    args = list(element.clauses)
    if not all(_is_boolean(a) for a in args):
        return compiler.visit_function(element, **kw)
    if len(args) == 2 and isinstance(args[1], sa.sql.elements.True_ | sa.sql.elements.False_):
        # never_null's COALESCE(c, true) and the rules' COALESCE(c, false): c written once
        null_as = 1 if isinstance(args[1], sa.sql.elements.True_) else 0
        if isinstance(args[0], sa.sql.elements.Case) and _is_boolean(args[0]) and args[0].value is None:
            return compiler.process(args[0], citygov_null_as=null_as, **kw)
        return f"({_as_flag(args[0], compiler, null_as, **kw)} = 1)"
    parts = []
    for arg in args:
        flag = _as_flag(arg, compiler, **kw)
        parts.append(f"WHEN ({flag}) IS NOT NULL THEN {flag}")
    return f"(CASE {' '.join(parts)} END = 1)"


for _name in ORACLE_DIALECTS:
    compiles(_Text, _name)(_oracle_text)
    compiles(_CharLength, _name)(_oracle_char_length)
    compiles(sa.sql.elements.Case, _name)(_oracle_case)
    compiles(sa.sql.functions.coalesce, _name)(_oracle_coalesce)


def concat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """``a || b || …`` with strings as literals."""
    return _Concat(*[sa.literal(part) if isinstance(part, str) else part for part in parts])


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
    if dialect in MYSQL_DIALECTS:
        # MySQL sorts a constant IN list once and searches it; the codes are ASCII digits (no collation)
        codes = sorted(current_division_codes() if current_only else known_division_codes())
        return expr.in_(sa.bindparam("citygov_divisions", codes, expanding=True, literal_execute=True))
    if dialect in ORACLE_DIALECTS:
        # Oracle takes at most 1,000 values in one IN list (ORA-01795)
        codes = sorted(current_division_codes() if current_only else known_division_codes())
        return sa.or_(*[
            expr.in_(sa.bindparam(f"citygov_divisions_{i}", codes[i : i + 1000], expanding=True, literal_execute=True))
            for i in range(0, len(codes), 1000)
        ])
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
        if (conn.dialect.server_version_info or (0,)) >= (11,):  # openGauss (9.2's heir) has no jit
            conn.exec_driver_sql("SET LOCAL jit = off")
    elif conn.dialect.name == "sqlite":
        # connections opened before citygov.quality.sqlcond was imported lack its function
        _register_sqlite_functions(conn.connection.dbapi_connection, None)
