"""Validating a database table: the suite's checks fused into one aggregate scan.

GX's ``SqlAlchemyExecutionEngine`` computes each metric of each expectation with its own query, which
measured 3.1–5.1x the time of one aggregate query that computes the same metrics (AIRFLOW_NOTES.md). So
every check a rule compiles (:mod:`citygov.quality.checks`) runs in

1. **one fused aggregate query** (one table scan): row count, non-NULL count per column and one
   ``SUM(CASE WHEN <unexpected> THEN 1 ELSE 0 END)`` per expectation, using the rules' SQL forms (the
   very conditions the custom expectations give GX);
2. a ``GROUP BY … HAVING COUNT(*) > 1`` per uniqueness expectation, and a grouped read of the distinct
   values per referential-integrity expectation (checked against the base table in batches);
3. for failing expectations only, one streamed query for sample rows, read until every failing
   expectation has its samples (at most one more scan, usually a few pages);

and the results are GX's (:mod:`citygov.quality.results`). Other types run through GX's engine
(:mod:`citygov.quality.gx_fallback`). Each condition is compiled by SQLAlchemy once per dialect and
expectation signature and reused as SQL text for every table (:class:`SqlText`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.sql.elements import ColumnElement

from citygov.quality import sqlcond
from citygov.quality.checks import (
    REF_BATCH,
    SAMPLE_SIZE,
    BaseLookup,
    Check,
    ValidationError,
    base_lookup_of,
    compile_check,
    count_missing,
    present_keys,
    record_duplicates,
    substitute,
    uniqueness_columns,
)
from citygov.quality.gx_fallback import gx_validate_table
from citygov.quality.results import attach_rows, build_result, rows_from_gx, suite_result
from citygov.sources.base import describe_error
from citygov.sources.database import ident, stored_name


def validate_table(
    source: Engine,
    table: str,
    suite: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    base_lookup: BaseLookup | None = None,
    engine: str = "auto",
    meta: dict[str, Any] | None = None,
    key_columns: Sequence[str] = (),
) -> tuple[Any, int]:
    """Validate the database table ``table`` with ``suite``; returns (GX suite result, row count).

    ``key_columns`` (the dataset's 主键) name each failing row in the results' samples; a key column the
    table lacks means no key at all (a row is never named by part of its key).

    ``engine="auto"`` (default) runs what :func:`choose_engine` picks for the dialect; ``engine="stream"``
    reads the checked columns and computes the checks in the worker (:mod:`citygov.quality.stream`);
    ``engine="fused"`` computes natively supported expectations in one aggregate query plus
    what uniqueness, referential checks and samples need; ``engine="gx"`` runs every expectation through
    GX's ``SqlAlchemyExecutionEngine`` except referential checks against a base table in another
    database, which GX cannot reach, and on MySQL/MariaDB :data:`GX_COUNTS_BY_COLLATION`. Raises :class:`ValidationError` when the table cannot be read.
    """
    parameters = dict(parameters or {})
    dialect = source.dialect.name
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":
        engine = choose_engine(dialect)
    try:
        columns = {stored_name(source.dialect, c["name"]): c for c in sa.inspect(source).get_columns(table)}
    except Exception as exc:
        raise ValidationError(f"table {table!r} cannot be read: {describe_error(exc)}") from exc
    keys = present_keys(key_columns, columns)
    target = sa.table(ident(table), *[sa.column(ident(name), info["type"]) for name, info in columns.items()])
    checks = [compile_check(substitute(e, parameters)) for e in suite.expectations]
    kept: list[str] = []
    if engine == "gx" or (engine == "fused" and dialect not in sqlcond.SUPPORTED_DIALECTS):
        for check in checks:
            # GX cannot reach a base table in another database (no base_table given): those lookups
            # stay citygov's; nor does its SQL count text exactly on MySQL (GX_COUNTS_BY_COLLATION).
            if engine == "gx" and check.kind != "gx" and dialect in sqlcond.MYSQL_DIALECTS \
                    and check.expectation.expectation_type in GX_COUNTS_BY_COLLATION:
                kept.append(check.expectation.expectation_type)
            elif check.kind != "ref" or getattr(check.expectation, "base_table", None):
                check.kind = "gx"
    for check in checks:
        missing = [c for c in check.columns if c and c not in columns]
        if missing and check.kind != "gx":
            check.error = f"column {', '.join(missing)} is not in table {table}"
    live = [c for c in checks if c.error is None]
    with source.connect() as conn:
        sqlcond.prepare_connection(conn)
        if engine == "stream":
            row_count = _streamed(source, conn, table, target, live, base_lookup, keys)
        else:
            row_count = _fused(conn, target, live, dialect, base_lookup, keys)
    results: list[Any] = [None] * len(checks)
    gx_checks = [i for i, c in enumerate(checks) if c.kind == "gx" and c.error is None]
    if gx_checks:
        gx_results = gx_validate_table(source, table, [checks[i].expectation for i in gx_checks], parameters, keys)
        for i, res in zip(gx_checks, gx_results, strict=True):
            rows_from_gx(checks[i], res, keys)
            attach_rows(res, checks[i], keys)
            results[i] = res
    for i, check in enumerate(checks):
        if results[i] is None:
            results[i] = build_result(check, row_count, keys)
    info = {"engine": engine, "dialect": dialect, "table": table, **({"exact_sql": sorted(set(kept))} if kept else {}),
            **(meta or {})}
    return suite_result(suite, results, info, parameters), row_count


GX_COUNTS_BY_COLLATION = frozenset({
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_select_column_values_to_be_unique_within_record",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_match_regex_list",
    "expect_column_values_to_not_match_regex_list",
    "expect_column_values_to_match_like_pattern",
    "expect_column_values_to_not_match_like_pattern",
})
"""Expectations whose SQL in GX's own engine counts differently on MySQL/MariaDB than on every other
database and than citygov's engines: GX compares text by the column's collation (``utf8mb4_general_ci``
folds case, PAD SPACE ignores trailing spaces: ``'abc '`` is in ``['ABC']``, ``'abc'`` and ``'ABC'`` are one
value), matches ``REGEXP``/``LIKE`` under it, and measures ``LENGTH`` in bytes (甲 is 3). Under
``engine="gx"`` on those dialects they run in the fused engine's SQL, which compares the exact text
(:func:`citygov.quality.sqlcond.as_text`), so every engine counts the same; the result's meta lists
them (``exact_sql``)."""

ENGINES = ("auto", "stream", "fused", "gx")
"""``engine=`` of :func:`validate_table`: ``auto`` chooses by dialect (:data:`AUTO_ENGINE`)."""

AUTO_ENGINE: dict[str, str] = {}
"""Dialects on which ``auto`` does not stream, as ``make bench`` measured them (README, "Benchmarks").
None so far: on PostgreSQL the streaming engine takes about what reading the checked columns takes and
spares the server the checks' CPU (a fraction of it); on SQLite it measured 2–4x faster than the fused
query on a 200,000-row table and about a third faster on 50-row tables (the checks run in-process either
way, and the compiled forms beat SQLite calling back into Python row by row). A dialect where one SQL
scan wins (a remote server over a slow link, say) is listed here with ``"fused"``."""


def choose_engine(dialect: str) -> str:
    """The engine ``auto`` runs on ``dialect``: stream, unless :data:`AUTO_ENGINE` says otherwise."""
    return AUTO_ENGINE.get(dialect, "stream")


def _streamed(source: Engine, conn: sa.Connection, table: str, target: sa.TableClause, checks: list[Check],
              base_lookup: BaseLookup | None, keys: Sequence[str]) -> int:
    """The checks computed by the streaming engine over the table's columns; references to a base table
    go to SQL (a grouped read, which the database does well)."""
    from citygov.quality.stream import ROW_KINDS, stream_checks
    from citygov.sources.base import MissingColumns
    from citygov.sources.database import table_blocks

    def sql_ref(check: Check) -> None:
        _alone(conn, check, lambda: _sql_ref(conn, target, check, base_lookup, keys))

    def sql_unique(check: Check, values: list[tuple[Any, ...]] | None) -> None:
        check.unexpected, check.samples, check.rows = 0, [], []
        if values is not None and not any(v is None for combo in values for v in combo):
            _alone(conn, check, lambda: _sql_duplicates_of(conn, target, check, values, keys=keys))
        else:
            _alone(conn, check, lambda: _sql_unique(conn, target, check, keys=keys))

    if not any(c.kind in ROW_KINDS for c in checks):  # nothing to read but the row count
        return int(conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one())
    try:
        return stream_checks(checks, lambda names: table_blocks(source, table, names), keys, sql_ref=sql_ref,
                             sql_unique=sql_unique, base_lookup=base_lookup)
    except (MissingColumns, ValidationError):
        raise
    except Exception as exc:
        raise ValidationError(f"table {table!r} cannot be read: {describe_error(exc)}") from exc


def _fused(conn: sa.Connection, target: sa.TableClause, checks: list[Check], dialect: str,
           base_lookup: BaseLookup | None, keys: Sequence[str]) -> int:
    """The checks computed in SQL: the fused scan, uniqueness and references, then the samples."""
    row_count = _fused_scan(conn, target, checks, dialect)
    for check in checks:
        if check.kind in {"unique", "compound_unique"}:
            _alone(conn, check, lambda c=check: _sql_unique(conn, target, c, keys=keys))
        elif check.kind == "ref":
            _alone(conn, check, lambda c=check: _sql_ref(conn, target, c, base_lookup, keys))
    _sql_samples(conn, target, [c for c in checks if c.kind in {"map", "pair"} and c.unexpected and c.error is None],
                 dialect, keys)
    return row_count


def _alone(conn: sa.Connection, check: Check, work: Callable[[], None]) -> None:
    """Run one check's own query; a failure is that check's error (the connection made usable again),
    never the others'."""
    try:
        work()
    except Exception as exc:  # one broken check must not sink the others
        conn.rollback()
        sqlcond.prepare_connection(conn)
        check.error = describe_error(exc)


def _fused_scan(conn: sa.Connection, target: sa.TableClause, checks: list[Check], dialect: str) -> int:
    """Row count, non-NULL counts and every row check's unexpected count in one aggregate query."""
    statement, slots = fused_scan_sql(conn.dialect, target, checks)
    row = conn.exec_driver_sql(statement).one()
    row_count = int(row[0])
    for check, u, f in slots:
        if u is not None:
            check.unexpected = int(row[u])
        if f is not None:
            check.evaluated = int(row[f])
        elif check.kind == "map":
            check.evaluated = row_count
    return row_count


def fused_scan_sql(dialect: sa.Dialect, target: sa.TableClause, checks: list[Check]
                   ) -> tuple[str, list[tuple[Check, int | None, int | None]]]:
    """The fused aggregate statement, and per check the positions of its unexpected and evaluated counts."""
    sql = SqlText(dialect, target)
    exprs: list[str] = ["count(*)"]
    nonnull: dict[str, int] = {}
    slots: list[tuple[Check, int | None, int | None]] = []

    def add(expr: str) -> int:
        exprs.append(expr)
        return len(exprs) - 1

    def nonnull_slot(name: str) -> int:
        if name not in nonnull:
            nonnull[name] = add(f"count({sql.column(name)})")
        return nonnull[name]

    for check in checks:
        if check.kind in {"map", "pair"}:
            u = add(f"coalesce(sum(CASE WHEN {sql.unexpected(check)} THEN 1 ELSE 0 END), 0)")
            if check.kind == "pair":
                slots.append((check, u, add(f"coalesce(sum(CASE WHEN {sql.keep(check)} THEN 1 ELSE 0 END), 0)")))
            else:
                slots.append((check, u, nonnull_slot(check.columns[0]) if check.filter_nulls else None))
        elif check.kind == "compound_unique":
            slots.append((check, None, add(f"coalesce(sum(CASE WHEN {sql.keep(check)} THEN 1 ELSE 0 END), 0)")))
        elif check.kind in {"unique", "ref"}:
            slots.append((check, None, nonnull_slot(check.columns[0])))
    return f"SELECT {', '.join(exprs)} FROM {sql.table}", slots


_TEMPLATES: dict[tuple[Any, ...], str] = {}
_PLACEHOLDER = re.compile(r"cgcol([0-9]+)x")
_COLUMN_KEYS = {"column", "column_A", "column_B", "column_list", "batch_id", "mostly", "result_format", "catch_exceptions"}


class SqlText:
    """SQL text of the checks of one table for one dialect.

    A check's condition is compiled by SQLAlchemy once per dialect and expectation signature (type and
    parameters, with placeholder columns) and reused for every table with the same kind of check: the
    domain conditions are large expression trees, and compiling them per table cost more than running
    a small table's whole validation. Literals are rendered by SQLAlchemy (quoted and escaped for the
    dialect); column and table names are quoted by the dialect's identifier preparer.
    """

    def __init__(self, dialect: sa.Dialect, target: sa.TableClause) -> None:
        self.dialect = dialect
        self.name = dialect.name
        # Reflected types (PostgreSQL DATE/TIMESTAMP columns are compared natively, see sqlcond._temporal).
        self.types = {c.name: c.type for c in target.c if not isinstance(c.type, sa.types.NullType)}
        self.table = dialect.identifier_preparer.format_table(target)

    def _render(self, clause: Any) -> str:
        return str(clause.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def column(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(ident(name))

    def _template(self, check: Check, part: str) -> str:
        kwargs = {k: v for k, v in check.config_kwargs.items() if k not in _COLUMN_KEYS}
        types = tuple(type(self.types.get(name)).__name__ for name in check.columns)
        # literals depend on the server too: PostgreSQL with standard_conforming_strings off doubles backslashes
        escapes = getattr(self.dialect, "_backslash_escapes", False)
        key = (self.name, self.dialect.paramstyle, escapes, check.type, part, check.kind, check.filter_nulls,
               check.ignore_row_if, types, json.dumps(kwargs, sort_keys=True, default=str))
        text = _TEMPLATES.get(key)
        if text is None:
            cols = [sa.column(f"cgcol{i}x", self.types.get(name)) for i, name in enumerate(check.columns)]
            if part == "keep":
                clause = _keep_rows(cols, check.ignore_row_if)
            else:
                clause = sa.not_(check.sql(cols, self.name))
                if check.kind == "map" and check.filter_nulls:
                    clause = sa.and_(cols[0].is_not(None), clause)
                elif check.kind == "pair":
                    clause = sa.and_(_keep_rows(cols, check.ignore_row_if), clause)
            text = _TEMPLATES[key] = self._render(clause)
        return text

    def _fill(self, text: str, check: Check) -> str:
        quoted = [self.column(name) for name in check.columns]
        return "(" + _PLACEHOLDER.sub(lambda m: quoted[int(m.group(1))], text) + ")"

    def unexpected(self, check: Check) -> str:
        return self._fill(self._template(check, "unexpected"), check)

    def keep(self, check: Check) -> str:
        return self._fill(self._template(check, "keep"), check)


def _keep_rows(cols: Sequence[ColumnElement[Any]], ignore_row_if: str) -> ColumnElement[bool]:
    if ignore_row_if in {"either_value_is_missing", "any_value_is_missing"}:
        return sa.and_(*[c.is_not(None) for c in cols])
    if ignore_row_if in {"both_values_are_missing", "all_values_are_missing"}:
        return sa.or_(*[c.is_not(None) for c in cols])
    return sa.true()


def _sql_unique(conn: sa.Connection, target: sa.TableClause, check: Check, *, keys: Sequence[str] = ()) -> None:
    """Rows whose value (or value combination) occurs more than once: GX counts every such row."""
    names, _ = uniqueness_columns(check)
    query = unique_query(target, check, conn.dialect.name)
    total = 0
    counts: dict[tuple[Any, ...], int] = {}
    for row in conn.execution_options(stream_results=True, yield_per=1000).execute(query):
        n = int(row[-1])
        total += n
        value = row[0] if len(names) == 1 else dict(zip(names, row[:-1], strict=True))
        if len(check.samples) < SAMPLE_SIZE:
            counts[tuple(row[:-1])] = n
        while len(check.samples) < SAMPLE_SIZE and n > 0:
            check.samples.append(value)
            n -= 1
    check.unexpected = total
    _sql_rows_of(conn, target, check, keys, counts)


def unique_query(target: sa.TableClause, check: Check, dialect: str) -> sa.Select[Any]:
    """The values (or combinations) of a uniqueness check held by more than one row, with their counts."""
    names, ignore = uniqueness_columns(check)
    # equal means the same text, as in Python and the streaming engine (MySQL's collations fold case)
    cols = [sqlcond.exact(target.c[n], dialect) for n in names]
    return (
        sa.select(*cols, sa.func.count().label("n"))
        .where(_keep_rows([target.c[n] for n in names], ignore))
        .group_by(*cols)
        .having(sa.func.count() > 1)
    )


def _sql_duplicates_of(conn: sa.Connection, target: sa.TableClause, check: Check, values: list[tuple[Any, ...]], *,
                       keys: Sequence[str] = ()) -> None:
    """The duplicates among the rows holding ``values`` (the repeated values the streaming engine saw),
    counted per exact value as :func:`_sql_unique` counts them, from one filtered read (``IN``, which the
    database hashes) instead of grouping the whole table; the first rows of the sampled values (with their
    keys) are the samples."""
    names, _ = uniqueness_columns(check)
    cols = [target.c[n] for n in names]
    query = duplicates_query(target, check, values, keys, conn.dialect.name)
    counts: Counter[tuple[Any, ...]] = Counter()
    held: list[tuple[tuple[Any, ...], tuple[Any, ...] | None]] = []
    for row in conn.execution_options(stream_results=True, yield_per=1000).execute(query):
        combo = tuple(row[: len(cols)])
        counts[combo] += 1
        if len(held) < 50 * SAMPLE_SIZE:
            held.append((combo, tuple(row[len(cols) :]) if keys else None))
    record_duplicates(check, counts, {combo: combo for combo in counts}, held)


def duplicates_query(target: sa.TableClause, check: Check, values: list[tuple[Any, ...]], keys: Sequence[str],
                     dialect: str) -> sa.Select[Any]:
    """The rows (values, then keys) holding one of ``values`` of a uniqueness check."""
    names, ignore = uniqueness_columns(check)
    cols = [target.c[n] for n in names]
    exact = [sqlcond.exact(c, dialect) for c in cols]
    match = exact[0].in_([v[0] for v in values]) if len(cols) == 1 else sa.tuple_(*exact).in_(values)
    return sa.select(*exact, *[target.c[k] for k in keys]).where(_keep_rows(cols, ignore)).where(match)


def _sql_rows_of(conn: sa.Connection, target: sa.TableClause, check: Check, keys: Sequence[str],
                 counts: Mapping[tuple[Any, ...], int]) -> None:
    """The rows (with their keys) that hold the sampled failing values of a uniqueness or referential
    check: one query over at most :data:`SAMPLE_SIZE` values, at most as many rows."""
    if not counts:
        return
    cols = [target.c[n] for n in check.columns]
    for row in conn.execute(rows_query(target, check, keys, counts, conn.dialect.name)):
        values = tuple(row[: len(cols)])
        check.add_row(tuple(row[len(cols) :]) if keys else None, values, count=counts.get(values))


def rows_query(target: sa.TableClause, check: Check, keys: Sequence[str], counts: Mapping[tuple[Any, ...], int],
               dialect: str) -> sa.Select[Any]:
    """At most :data:`SAMPLE_SIZE` rows (values, then keys) holding the value combinations ``counts`` names."""
    cols = [target.c[n] for n in check.columns]
    exact = [sqlcond.exact(c, dialect) for c in cols]
    # sa.literal: bind parameters named param_N, never after a column (whose name may be anything)
    match = sa.or_(*[
        sa.and_(*[c.is_(None) if v is None else e == sa.literal(v) for c, e, v in zip(cols, exact, combo, strict=True)])
        for combo in counts
    ])
    return sa.select(*exact, *[target.c[k] for k in keys]).where(match).limit(SAMPLE_SIZE)


def ref_query(target: sa.TableClause, check: Check, dialect: str) -> sa.Select[Any]:
    """The distinct non-NULL values of a referential check's column, with their counts."""
    col = sqlcond.exact(target.c[check.columns[0]], dialect)
    return sa.select(col, sa.func.count()).where(target.c[check.columns[0]].is_not(None)).group_by(col)


def _sql_ref(conn: sa.Connection, target: sa.TableClause, check: Check, base_lookup: BaseLookup | None,
             keys: Sequence[str] = ()) -> None:
    lookup = base_lookup_of(check, base_lookup)
    query = ref_query(target, check, conn.dialect.name)
    batch: list[tuple[Any, int]] = []
    missing: dict[Any, int] = {}
    for value, n in conn.execution_options(stream_results=True, yield_per=REF_BATCH).execute(query):
        batch.append((value, int(n)))
        if len(batch) >= REF_BATCH:
            count_missing(check, batch, lookup, missing)
            batch.clear()
    if batch:
        count_missing(check, batch, lookup, missing)
    _sql_rows_of(conn, target, check, keys, {(value,): n for value, n in missing.items()})


def _sql_samples(conn: sa.Connection, target: sa.TableClause, checks: list[Check], dialect: str,
                 keys: Sequence[str] = ()) -> None:
    """Failing values and rows (with their ``keys``) of every failing row check from one streamed query,
    stopped once each has its samples (the bad rows' other columns are never selected)."""
    if not checks:
        return
    wanted = {id(c): min(SAMPLE_SIZE, c.unexpected) for c in checks}
    statement, names = samples_sql(conn.dialect, target, checks, keys)
    position = {n: i for i, n in enumerate(names)}
    result = conn.execution_options(stream_results=True, yield_per=500).exec_driver_sql(statement)
    try:
        for row in result:
            for k, check in enumerate(checks):
                if row[len(names) + k] and len(check.samples) < wanted[id(check)]:
                    values = tuple(row[position[n]] for n in check.columns)
                    check.samples.append(values[0] if check.kind == "map" else values)
                    check.add_row([row[position[n]] for n in keys] if keys else None, values)
            if all(len(c.samples) >= wanted[id(c)] for c in checks):
                break
    finally:
        result.close()




def samples_sql(dialect: sa.Dialect, target: sa.TableClause, checks: list[Check], keys: Sequence[str] = ()
                ) -> tuple[str, list[str]]:
    """The statement reading the failing rows of ``checks`` (their columns and ``keys``, then one 1/0 flag per
    check), and the names of the columns it selects first."""
    sql = SqlText(dialect, target)
    names = sorted({n for c in checks for n in c.columns} | set(keys))
    flags = [sql.unexpected(c) for c in checks]
    select_list = [sql.column(n) for n in names] + [f"CASE WHEN {f} THEN 1 ELSE 0 END" for f in flags]
    return f"SELECT {', '.join(select_list)} FROM {sql.table} WHERE {' OR '.join(flags)}", names
