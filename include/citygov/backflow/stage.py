"""The general load's staging: a batch's records in a temporary table, checked there.

Every record goes, as text with its line number, into a temporary table of the load's own transaction
(COPY on PostgreSQL, executemany elsewhere); a record refused while reading (shape, empty primary key,
a value not of its 信息项's type, a failing row expectation of the suite) carries its reason instead of
values. Repeated primary keys are refused in SQL, refused rows are copied to ``backflow_quarantine``,
and :func:`good_rows` is what :func:`citygov.backflow.upsert.upsert` writes into the resource's table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from citygov.backflow.batches import Batch, RecordStream
from citygov.backflow.rows import RowPreparer, SuiteChecks, expectation_failures
from citygov.backflow.target import ident, quarantine_table
from citygov.catalog.schema import CatalogEntry
from citygov.system_objects import BACKFLOW_REFUSED, BACKFLOW_STAGE, LINEAGE_COLUMN

STAGE_LINE, STAGE_CODE, STAGE_COLUMN, STAGE_REASON, STAGE_RECORD = (
    "_cg_line", "_cg_code", "_cg_column", "_cg_reason", "_cg_record"
)
_STAGE_META = (STAGE_LINE, STAGE_CODE, STAGE_COLUMN, STAGE_REASON, STAGE_RECORD)


@dataclass
class Stage:
    """The batch's rows in a temporary table of the load's own transaction: every record, as text, with its
    line; a record refused while reading carries its reason and raw record instead of values."""

    conn: Connection
    table: sa.Table
    bad: sa.Table
    """Rows the SQL checks refused: line, reason code, column, reason."""
    names: list[str]
    chunk_size: int
    checks: SuiteChecks = field(default_factory=list)
    """The suite's row expectations, evaluated per chunk before it is written (:func:`_refuse_chunk`)."""
    rows: list[list[Any]] = field(default_factory=list)
    _copy: Any = None
    _copy_cm: Any = None
    _writer: Any = None
    _buffer: Any = None

    @property
    def postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def add(self, row: list[Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            _refuse_chunk(self, self.rows)
            write_stage(self, self.rows)
            self.rows = []

    def close(self) -> None:
        self.flush()
        if self._copy_cm is not None:
            cm, self._copy_cm = self._copy_cm, None
            cm.__exit__(None, None, None)


def create_stage(conn: Connection, entry: CatalogEntry, chunk_size: int, checks: SuiteChecks) -> Stage:
    names = [c.name for c in entry.columns]
    meta = sa.MetaData()
    temp = {"prefixes": ["TEMPORARY"]}
    if conn.dialect.name == "postgresql":
        temp["postgresql_on_commit"] = "DROP"
    stage = sa.Table(
        BACKFLOW_STAGE, meta,
        sa.Column(STAGE_LINE, sa.BigInteger, nullable=False),
        *[sa.Column(n, sa.Text) for n in _STAGE_META[1:]],
        *[sa.Column(ident(n), sa.Text) for n in names],
        **temp,
    )
    bad = sa.Table(
        BACKFLOW_REFUSED, meta,
        sa.Column(STAGE_LINE, sa.BigInteger, primary_key=True),
        sa.Column(STAGE_CODE, sa.Text, nullable=False),
        sa.Column(STAGE_COLUMN, sa.Text),
        sa.Column(STAGE_REASON, sa.Text, nullable=False),
        **temp,
    )
    for t in (stage, bad):
        if conn.dialect.name != "postgresql":
            t.drop(conn, checkfirst=True)  # SQLite keeps temp tables for the connection's life
        t.create(conn)
    return Stage(conn, stage, bad, names, chunk_size, checks)


def write_stage(stage: Stage, rows: list[list[Any]]) -> None:
    """Append a chunk of staged rows: COPY on PostgreSQL (one COPY for the whole batch), executemany
    elsewhere. Each row is ``[line, code, column, reason, record, *values]``; None is NULL."""
    if not stage.postgres:
        keys = [c.key for c in stage.table.c]
        stage.conn.execute(stage.table.insert(), [dict(zip(keys, r, strict=True)) for r in rows])
        return
    if stage._copy_cm is None:
        quote = stage.conn.dialect.identifier_preparer.quote
        cols = ", ".join(quote(c.name) for c in stage.table.c)
        cursor = stage.conn.connection.dbapi_connection.cursor()
        stage._copy_cm = cursor.copy(f"COPY {quote(stage.table.name)} ({cols}) FROM STDIN (FORMAT csv)")
        stage._copy = stage._copy_cm.__enter__()
        stage._buffer = io.StringIO()
        stage._writer = csv.writer(stage._buffer, lineterminator="\n")
    stage._writer.writerows(rows)
    stage._copy.write(stage._buffer.getvalue())
    stage._buffer.seek(0)
    stage._buffer.truncate()


def stage_records(stage: Stage, entry: CatalogEntry, stream: RecordStream) -> int:
    """Read every record into the stage, refusing those with the wrong shape, an empty primary key or a
    value that is not of its 信息项's type. Returns the number of records read."""
    prepare = RowPreparer(entry, stream.header, stage.names, postgres=stage.postgres)
    for line, fields, fault in stream:
        stage.add(prepare(line, fields, fault))
    stage.close()
    return stream.count


def _refuse_chunk(stage: Stage, rows: list[list[Any]]) -> None:
    """Mark every not yet refused row of a chunk that fails a row expectation of the suite with the first
    failing expectation (in suite order) as its reason (:func:`expectation_failures`)."""
    if not stage.checks:
        return
    from citygov.quality.vector import TextColumn

    live = [r for r in rows if r[1] is None]
    if not live:
        return
    width = len(_STAGE_META)
    position = {name: width + i for i, name in enumerate(stage.names)}
    columns = {name: TextColumn([r[position[name]] for r in live]) for check, _ in stage.checks for name in check.columns}
    _good, failures = expectation_failures(stage.checks, columns, np.array([r[0] for r in live]))
    for i, code, column, reason in failures:
        live[i][1:4] = [code, column, reason]


def _insert_refused(stage: Stage, rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= stage.chunk_size:
            stage.conn.execute(stage.bad.insert(), chunk)
            chunk = []
    if chunk:
        stage.conn.execute(stage.bad.insert(), chunk)


def _good(stage: Stage) -> ColumnElement[bool]:
    s, b = stage.table.c, stage.bad.c
    return sa.and_(s[STAGE_CODE].is_(None), ~sa.exists().where(b[STAGE_LINE] == s[STAGE_LINE]))


def refuse_duplicates(stage: Stage, pk: list[str]) -> None:
    """A good row whose primary key repeats an earlier good row of the batch is refused (``duplicate_key``)."""
    if not pk:
        return
    s = stage.table.c
    keys = [s[k] for k in pk]
    repeated = stage.conn.execute(
        sa.select(sa.literal(1)).where(_good(stage)).group_by(*keys).having(sa.func.count() > 1).limit(1)
    ).first()
    if repeated is None:
        return
    first = sa.func.min(s[STAGE_LINE]).over(partition_by=keys).label("first")
    ranked = sa.select(s[STAGE_LINE].label("line"), first).where(_good(stage)).subquery()
    rows = stage.conn.execute(sa.select(ranked.c.line, ranked.c.first).where(ranked.c.line != ranked.c.first)).all()
    what = ", ".join(pk)
    _insert_refused(stage, (
        {
            STAGE_LINE: line,
            STAGE_CODE: "duplicate_key",
            STAGE_COLUMN: pk[0],
            STAGE_REASON: f"line {line}: primary key {what} repeats line {first_line} of the same batch",
        }
        for line, first_line in rows
    ))


def quarantine(stage: Stage, batch: Batch, entry: CatalogEntry, logical_date: date) -> int:
    """Copy every refused row to ``backflow_quarantine`` (streamed in chunks); returns their number."""
    s, b = stage.table.c, stage.bad.c
    values = [s[n] for n in stage.names]
    query = (
        sa.select(
            s[STAGE_LINE], sa.func.coalesce(s[STAGE_CODE], b[STAGE_CODE]), sa.func.coalesce(s[STAGE_COLUMN], b[STAGE_COLUMN]),
            sa.func.coalesce(s[STAGE_REASON], b[STAGE_REASON]), s[STAGE_RECORD], *values,
        )
        .select_from(stage.table.outerjoin(stage.bad, b[STAGE_LINE] == s[STAGE_LINE]))
        .where(sa.or_(s[STAGE_CODE].is_not(None), b[STAGE_LINE].is_not(None)))
        .order_by(s[STAGE_LINE])
    )
    count = 0
    chunk: list[dict[str, Any]] = []
    # A server-side cursor (PostgreSQL) reads the refused rows while the chunks are inserted: bounded memory.
    rows = stage.conn.execute(query, execution_options={"stream_results": True, "yield_per": stage.chunk_size})
    for line, code, column, reason, record, *vals in rows:
        count += 1
        chunk.append({
            "batch_id": batch.batch_id, "resource_code": entry.code, "logical_date": logical_date, "line": line,
            "reason_code": code, "column_name": column, "reason": reason,
            "record": record if record is not None else json.dumps(
                dict(zip(stage.names, vals, strict=True)), ensure_ascii=False
            ),
        })
        if len(chunk) >= stage.chunk_size:
            stage.conn.execute(quarantine_table.insert(), chunk)
            chunk = []
    if chunk:
        stage.conn.execute(quarantine_table.insert(), chunk)
    return count


def good_rows(stage: Stage, table: sa.Table, batch_id: str) -> sa.Select:
    """The stage's good rows as :func:`citygov.backflow.upsert.upsert` takes them: each 信息项 converted to
    its column's type in ``table`` (PostgreSQL casts the text; SQLite stores numbers as REAL), then the
    batch id as the lineage column."""
    s = stage.table.c

    def value(name: str) -> ColumnElement[Any]:
        column = s[name]
        target_type = table.c[name].type
        if stage.postgres and not isinstance(target_type, sa.Text):
            return sa.cast(column, target_type).label(name)
        if not stage.postgres and isinstance(target_type, sa.Numeric):
            return sa.cast(column, sa.Float).label(name)
        return column

    return sa.select(*[value(n) for n in stage.names], sa.literal(batch_id, sa.String).label(LINEAGE_COLUMN)).where(
        _good(stage)
    )
