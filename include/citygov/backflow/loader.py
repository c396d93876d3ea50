"""Loading verified backflow batches into the city's backflow store, exactly once.

The target database (SQLite by default, PostgreSQL in production) gets, per resource, a table named
after the catalog entry's resource location (its 资源位置, e.g. ``hl_qydjxx``; the resource code when
the location is not a plain table name) with the declared 信息项 plus ``_batch_id`` (lineage), and two
bookkeeping tables:

- ``backflow_quarantine``: every row that could not be loaded, with its line number and reason;
- ``backflow_loads``: one row per loaded batch, written in the same transaction as the data, so the
  target itself knows which batches it holds. If the process dies after the target commits but before
  the governance store is updated, the next run finds the marker and only records the result.

A batch's rows, quarantine rows and marker are written in one target transaction: a crash leaves the
target untouched, a success leaves it fully loaded.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select
from sqlalchemy.sql.elements import ColumnElement, quoted_name

from citygov.backflow.batches import Batch, BatchProblemError, Problem, RecordStream, verify
from citygov.backflow.rows import RowPreparer, SuiteChecks, expectation_failures, has_key, row_checks
from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.findings import Dimension, FindingRecord, Severity, replace_findings
from citygov.identifiers import detect_kind
from citygov.quality.masking import mask_value, scrub
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import BackflowBatch, BackflowDelivery
from citygov.system_objects import BACKFLOW_LOADS as LOADS_TABLE
from citygov.system_objects import BACKFLOW_QUARANTINE as QUARANTINE_TABLE
from citygov.system_objects import BACKFLOW_REFUSED, BACKFLOW_STAGE, LINEAGE_COLUMN

ORIGIN = "backflow"
LANDING_CONN_ID = "backflow_landing"
RULE_REJECTED = "backflow.batch.rejected"
RULE_QUARANTINED = "backflow.rows.quarantined"
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReconciliationError(RuntimeError):
    """Declared rows ≠ loaded + quarantined: the load is rolled back."""


@dataclass
class BatchResult:
    """What happened to one batch, with its reconciliation."""

    batch_id: str
    resource_code: str | None
    logical_date: date
    status: str
    """``loaded``, ``rejected``, ``skipped`` (already loaded with the same content) or ``failed``
    (interrupted; the target is untouched and the next run retries it)."""
    mode: str | None = None
    declared_rows: int | None = None
    loaded_rows: int = 0
    quarantined_rows: int = 0
    reason: str | None = None
    problems: list[Problem] = field(default_factory=list)
    target_table: str | None = None

    @property
    def reconciled(self) -> bool:
        """Declared = loaded + quarantined (only meaningful for loaded batches)."""
        return self.declared_rows == self.loaded_rows + self.quarantined_rows

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["logical_date"] = self.logical_date.isoformat()
        data["problems"] = [p.to_dict() for p in self.problems]
        data["reconciled"] = self.reconciled if self.status in {"loaded", "skipped"} else None
        return data


# --- target tables ---------------------------------------------------------------------------------------


def _ident(name: str) -> quoted_name:
    return quoted_name(name, quote=True)


def target_table_name(entry: CatalogEntry) -> str:
    """The target table of a resource: its 资源位置 when that is a plain table name, else its code."""
    return entry.location if _PLAIN_NAME.match(entry.location or "") else entry.code


_SA_TYPES: dict[ColumnType, Any] = {
    ColumnType.NUMBER: sa.Numeric,
    ColumnType.DATE: sa.Date,
    ColumnType.DATETIME: sa.DateTime,
}


_KEY_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
"""A text 信息项 of the primary key: on PostgreSQL in the "C" collation, bytewise. Equality is the same in
every deterministic collation, so the key means the same, but PostgreSQL compares such keys with
``memcmp`` instead of the locale's rules: the primary key a full load rebuilds builds markedly faster
(and ``LIKE 'prefix%'`` can use it). Only the order of ``ORDER BY`` on that column can differ from a
database whose default collation is not C or C.UTF-8 (UTF-8 bytes sort in code point order)."""


def _data_table(entry: CatalogEntry) -> sa.Table:
    metadata = sa.MetaData()
    pk = set(entry.primary_key)
    columns = [
        sa.Column(_ident(c.name), _KEY_TEXT if c.name in pk and c.dtype not in _SA_TYPES else _SA_TYPES.get(c.dtype, sa.Text)(),
                  nullable=c.name not in pk)
        for c in entry.columns
    ]
    columns.append(sa.Column(_ident(LINEAGE_COLUMN), sa.String(128), index=False))
    constraints = [sa.PrimaryKeyConstraint(*[_ident(k) for k in entry.primary_key])] if entry.primary_key else []
    return sa.Table(_ident(target_table_name(entry)), metadata, *columns, *constraints)


_BOOK = sa.MetaData()
quarantine_table = sa.Table(
    QUARANTINE_TABLE,
    _BOOK,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.String(128), nullable=False, index=True),
    sa.Column("resource_code", sa.String(64), nullable=False),
    sa.Column("logical_date", sa.Date, nullable=False, index=True),
    sa.Column("line", sa.Integer, nullable=False),
    # A structural code (field_count, bad_json, missing_key, bad_value, duplicate_key, …) or the name of the
    # suite expectation the row fails.
    sa.Column("reason_code", sa.String(64), nullable=False),
    sa.Column("column_name", sa.String(255)),
    sa.Column("reason", sa.Text, nullable=False),
    # The raw fields as JSON: the target holds raw data anyway; findings get masked evidence only.
    sa.Column("record", sa.Text, nullable=False),
)
loads_table = sa.Table(
    LOADS_TABLE,
    _BOOK,
    sa.Column("batch_id", sa.String(128), primary_key=True),
    sa.Column("resource_code", sa.String(64), nullable=False),
    sa.Column("logical_date", sa.Date, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("declared_rows", sa.BigInteger, nullable=False),
    sa.Column("loaded_rows", sa.BigInteger, nullable=False),
    sa.Column("quarantined_rows", sa.BigInteger, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)


def ensure_target_tables(target: Engine, entry: CatalogEntry) -> sa.Table:
    """Create the bookkeeping tables and the resource's table if missing; add ``_batch_id`` to an existing
    staging table that lacks it. Committed on its own: empty tables, no data."""
    table = _data_table(entry)
    with target.begin() as conn:
        _BOOK.create_all(conn)
        inspector = sa.inspect(conn)
        width = {c["name"]: c["type"] for c in inspector.get_columns(QUARANTINE_TABLE)}["reason_code"]
        if conn.dialect.name == "postgresql" and (getattr(width, "length", None) or 64) < 64:
            # quarantine tables made before reason codes carried expectation names
            conn.exec_driver_sql(f"ALTER TABLE {QUARANTINE_TABLE} ALTER COLUMN reason_code TYPE VARCHAR(64)")
        if not inspector.has_table(table.name):
            table.create(conn)
            return table
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in entry.columns if c.name not in have]
        if missing:
            raise ValueError(
                f"target table {table.name} lacks declared 信息项 {', '.join(missing)}; migrate the table first"
            )
        if LINEAGE_COLUMN not in have:
            quoted = conn.dialect.identifier_preparer.quote
            conn.execute(sa.text(f"ALTER TABLE {quoted(table.name)} ADD COLUMN {quoted(LINEAGE_COLUMN)} VARCHAR(128)"))
    return table


# --- the staging table -----------------------------------------------------------------------------------

STAGE_LINE, STAGE_CODE, STAGE_COLUMN, STAGE_REASON, STAGE_RECORD = (
    "_cg_line", "_cg_code", "_cg_column", "_cg_reason", "_cg_record"
)
_STAGE_META = (STAGE_LINE, STAGE_CODE, STAGE_COLUMN, STAGE_REASON, STAGE_RECORD)


@dataclass
class _Stage:
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
            _write_stage(self, self.rows)
            self.rows = []

    def close(self) -> None:
        self.flush()
        if self._copy_cm is not None:
            cm, self._copy_cm = self._copy_cm, None
            cm.__exit__(None, None, None)


def _create_stage(conn: Connection, entry: CatalogEntry, chunk_size: int, checks: SuiteChecks) -> _Stage:
    names = [c.name for c in entry.columns]
    meta = sa.MetaData()
    temp = {"prefixes": ["TEMPORARY"]}
    if conn.dialect.name == "postgresql":
        temp["postgresql_on_commit"] = "DROP"
    stage = sa.Table(
        BACKFLOW_STAGE, meta,
        sa.Column(STAGE_LINE, sa.BigInteger, nullable=False),
        *[sa.Column(n, sa.Text) for n in _STAGE_META[1:]],
        *[sa.Column(_ident(n), sa.Text) for n in names],
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
    return _Stage(conn, stage, bad, names, chunk_size, checks)


def _write_stage(stage: _Stage, rows: list[list[Any]]) -> None:
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


def _stage_records(stage: _Stage, entry: CatalogEntry, stream: RecordStream) -> int:
    """Read every record into the stage, refusing those with the wrong shape, an empty primary key or a
    value that is not of its 信息项's type. Returns the number of records read."""
    prepare = RowPreparer(entry, stream.header, stage.names, postgres=stage.postgres)
    for line, fields, fault in stream:
        stage.add(prepare(line, fields, fault))
    stage.close()
    return stream.count


def _refuse_chunk(stage: _Stage, rows: list[list[Any]]) -> None:
    """Mark every not yet refused row of a chunk that fails a row expectation of the suite with the first
    failing expectation (in suite order) as its reason (:func:`expectation_failures`)."""
    if not stage.checks:
        return
    from citygov.quality.engine import TextColumn

    live = [r for r in rows if r[1] is None]
    if not live:
        return
    width = len(_STAGE_META)
    position = {name: width + i for i, name in enumerate(stage.names)}
    columns = {name: TextColumn([r[position[name]] for r in live]) for check, _ in stage.checks for name in check.columns}
    _good, failures = expectation_failures(stage.checks, columns, np.array([r[0] for r in live]))
    for i, code, column, reason in failures:
        live[i][1:4] = [code, column, reason]


def _insert_refused(stage: _Stage, rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= stage.chunk_size:
            stage.conn.execute(stage.bad.insert(), chunk)
            chunk = []
    if chunk:
        stage.conn.execute(stage.bad.insert(), chunk)


def _good(stage: _Stage) -> ColumnElement[bool]:
    s, b = stage.table.c, stage.bad.c
    return sa.and_(s[STAGE_CODE].is_(None), ~sa.exists().where(b[STAGE_LINE] == s[STAGE_LINE]))


def _refuse_duplicates(stage: _Stage, pk: list[str]) -> None:
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


def _quarantine(stage: _Stage, batch: Batch, entry: CatalogEntry, logical_date: date) -> int:
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


def _apply(stage: _Stage, table: sa.Table, entry: CatalogEntry, mode: str, batch_id: str) -> int:
    """Move the good staged rows into the resource's table with ``_batch_id``: full replaces the table,
    incremental upserts on the primary key (``ON CONFLICT DO UPDATE`` when the table has that key, else
    delete-then-insert). Returns the rows written."""
    conn, s = stage.conn, stage.table.c
    pg = stage.postgres
    names = stage.names

    def value(name: str) -> ColumnElement[Any]:
        column = s[name]
        target_type = table.c[name].type
        if pg and not isinstance(target_type, sa.Text):
            return sa.cast(column, target_type)
        if not pg and isinstance(target_type, sa.Numeric):
            return sa.cast(column, sa.Float)
        return column

    source = sa.select(*[value(n) for n in names], sa.literal(batch_id, sa.String)).where(_good(stage))
    targets = [table.c[n] for n in names] + [table.c[LINEAGE_COLUMN]]
    pk = list(entry.primary_key)
    if mode == "full":
        conn.execute(table.delete())
    elif pk and pg and has_key(conn, table.name, pk):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).from_select(targets, source)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c[k] for k in pk],
            set_={c.name: statement.excluded[c.name] for c in targets if c.name not in pk},
        )
        return conn.execute(statement, execution_options=_ROWCOUNT).rowcount
    elif pk:
        keys = sa.select(*[value(k) for k in pk]).where(_good(stage))
        conn.execute(table.delete().where(sa.tuple_(*[table.c[k] for k in pk]).in_(keys)))
    return conn.execute(table.insert().from_select(targets, source), execution_options=_ROWCOUNT).rowcount


_ROWCOUNT = {"preserve_rowcount": True}
"""SQLAlchemy 2.1 reports -1 for INSERT … SELECT unless asked to keep the driver's count."""


# --- the load --------------------------------------------------------------------------------------------


class _BatchRejected(Exception):
    """The data file turned out unloadable during the load: roll back and reject the batch."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _load(
    target: Engine, table: sa.Table, batch: Batch, entry: CatalogEntry, chunk_size: int, checks: SuiteChecks
) -> tuple[int, int]:
    manifest = batch.manifest
    assert manifest is not None
    with target.begin() as conn:
        from citygov.quality import sqlcond

        sqlcond.prepare_connection(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.execute(quarantine_table.delete().where(quarantine_table.c.batch_id == batch.batch_id))
        from citygov.backflow import pgfast

        stage = None
        try:  # the data file read again: cut short, changed or swapped for a link since it was verified
            if pgfast.eligible(conn, batch, table, entry):
                stream = RecordStream(batch.data_path, manifest.encoding, manifest.format, [c.name for c in entry.columns])
                stream.close()
                loaded, quarantined = pgfast.FastLoad(conn, table, batch, entry, checks, stream.header).run()
            else:
                stage = _create_stage(conn, entry, chunk_size, checks)
                stream = RecordStream(batch.data_path, manifest.encoding, manifest.format, stage.names)
                _stage_records(stage, entry, stream)
        except BatchProblemError as exc:
            raise _BatchRejected([exc.problem]) from None
        if stage is not None:
            count_problems = stream.count_problems(manifest.declared_rows)
            if count_problems:
                raise _BatchRejected(count_problems)
            _refuse_duplicates(stage, list(entry.primary_key))
            quarantined = _quarantine(stage, batch, entry, manifest.logical_date)
            loaded = _apply(stage, table, entry, manifest.mode, batch.batch_id)
        if loaded + quarantined != manifest.declared_rows:
            raise ReconciliationError(
                f"batch {batch.batch_id}: declared {manifest.declared_rows} rows but loaded {loaded} + "
                f"quarantined {quarantined}; nothing was loaded"
            )
        conn.execute(
            loads_table.insert().values(
                batch_id=batch.batch_id,
                resource_code=entry.code,
                logical_date=manifest.logical_date,
                mode=manifest.mode,
                sha256=manifest.sha256,
                declared_rows=manifest.declared_rows,
                loaded_rows=loaded,
                quarantined_rows=quarantined,
                loaded_at=datetime.now(UTC),
            )
        )
        if stage is not None and conn.dialect.name != "postgresql":
            stage.bad.drop(conn)
            stage.table.drop(conn)
    return loaded, quarantined


def _record(
    store: Engine, result: BatchResult, batch: Batch, *, sha256: str | None, status: str | None = None,
    attempt: bool = True,
) -> None:
    """Record the batch (``backflow_batches``) and this delivery of it (``backflow_deliveries``);
    ``attempt=False`` when this run already counted the delivery (the outcome of a load it started)."""
    manifest = batch.manifest
    now = datetime.now(UTC)
    state = status or result.status
    with session_scope(store) as session:
        row = session.get(BackflowBatch, result.batch_id)
        if row is None:
            row = BackflowBatch(batch_id=result.batch_id, received_at=now)
            session.add(row)
        row.resource_code = result.resource_code or "unknown"
        row.sender = manifest.sender if manifest else None
        row.logical_date = result.logical_date
        row.mode = result.mode or "unknown"
        row.declared_rows = result.declared_rows
        row.loaded_rows = result.loaded_rows
        row.quarantined_rows = result.quarantined_rows
        row.sha256 = sha256
        row.schema_version = manifest.schema_version if manifest else None
        row.status = state
        row.reason = result.reason
        row.loaded_at = now if state == "loaded" else None
        session.flush()
        _delivery(session, result.batch_id, sha256, _DELIVERY_STATUS.get(state, state), result.reason, now, attempt)


_DELIVERY_STATUS = {"loaded": "accepted", "skipped": "duplicate", "loading": "failed"}


def _delivery(
    session: Any, batch_id: str, sha256: str | None, status: str, reason: str | None, now: datetime,
    attempt: bool = True,
) -> None:
    delivery = session.get(BackflowDelivery, (batch_id, sha256 or "-"))
    if delivery is None:
        session.add(BackflowDelivery(
            batch_id=batch_id, sha256=sha256 or "-", status=status, reason=reason, attempts=1,
            first_seen_at=now, last_seen_at=now,
        ))
        return
    # A rerun that skips an accepted delivery keeps "accepted": the delivery itself was loaded once.
    if not (delivery.status == "accepted" and status == "duplicate"):
        delivery.status, delivery.reason = status, reason
    if attempt:
        delivery.attempts += 1
    delivery.last_seen_at = now


def record_refused_delivery(
    store: Engine,
    *,
    batch_id: str,
    resource_code: str | None,
    sender: str | None,
    logical_date: date,
    mode: str | None,
    declared_rows: int | None,
    sha256: str | None,
    reason: str,
) -> None:
    """Record a delivery refused before it reached the landing folder (a pulled data file that does not
    match its manifest): the batch becomes ``rejected`` with ``reason`` so that :func:`refresh_findings`
    addresses a dispute item to the sender, unless that batch id is already loaded, in which case only the
    delivery is recorded. A later good delivery of the same id loads as usual and the item is verified."""
    now = datetime.now(UTC)
    with session_scope(store) as session:
        row = session.get(BackflowBatch, batch_id)
        if row is None:
            row = BackflowBatch(batch_id=batch_id, received_at=now, loaded_rows=0, quarantined_rows=0)
            session.add(row)
        if row.status != "loaded":
            row.resource_code = resource_code or "unknown"
            row.sender = sender
            row.logical_date = logical_date
            row.mode = mode or "unknown"
            row.declared_rows = declared_rows
            row.loaded_rows = row.quarantined_rows = 0
            row.sha256 = sha256
            row.status = "rejected"
            row.reason = reason
            row.loaded_at = None
        session.flush()
        _delivery(session, batch_id, sha256, "rejected", reason, now)


def _record_delivery(store: Engine, batch_id: str, sha256: str | None, status: str, reason: str | None) -> None:
    with session_scope(store) as session:
        _delivery(session, batch_id, sha256, status, reason, datetime.now(UTC))


def _fallback_date(batch: Batch, run_date: date | None) -> date:
    if batch.logical_date:
        return batch.logical_date
    if run_date:
        return run_date
    # No manifest and no run date: the day the folder landed, in the city's time zone.
    return datetime.fromtimestamp(batch.folder.lstat().st_mtime, CITY_TZ).date()


def ingest_batch(
    store_engine: Engine,
    target_engine: Engine,
    batch: Batch,
    entry: CatalogEntry | None,
    *,
    run_date: date | None = None,
    chunk_size: int = 5000,
    suites: Path | None = None,
) -> BatchResult:
    """Verify, validate and load one batch exactly once; record it in ``backflow_batches`` and the delivery
    in ``backflow_deliveries``; refresh the backflow findings of its logical date.

    - A batch id already loaded with the same sha256 is ``skipped`` (delivery ``duplicate``); with another
      sha256 the delivery is ``rejected`` ("duplicate batch id with different content", delivery
      ``duplicate-different-content``) and the loaded record stays intact.
    - A batch the governance store calls loaded but whose target lost it (no ``backflow_loads`` marker: the
      target database was replaced or restored) is loaded again and says so in its reason, unless the
      target holds a later batch of the same resource (then it is skipped with that reason).
    - A batch failing :func:`~citygov.backflow.batches.verify` is ``rejected`` whole, with the reasons.
    - Otherwise every record is checked: shape, primary key, 信息项 types, the row-level expectations of
      the dataset's suite (``expectations/<code>.json``, or ``suites``; evaluated vectorized per chunk with
      the quality engine's compiled checks), and key uniqueness within the batch. A plain UTF-8 CSV into
      PostgreSQL takes :mod:`citygov.backflow.pgfast` (split by compiled kernels, good lines sent as
      binary COPY); anything else is staged in a temporary table (COPY on PostgreSQL) and checked there.
      Valid rows go to the resource's table with ``_batch_id``
      (incremental: upsert on the primary key; full: replace the dataset), invalid rows to
      ``backflow_quarantine`` with line and reason, in one target transaction; declared = loaded +
      quarantined is asserted before commit.

    ``run_date`` dates a batch whose manifest is missing. Exceptions other than bad input (the target
    unreachable, a crash) propagate after the target rolled back; the batch stays ``loading`` and the next
    run retries it.
    """
    manifest = batch.manifest
    logical_date = _fallback_date(batch, run_date)
    result = BatchResult(
        batch_id=batch.batch_id,
        resource_code=manifest.resource_code if manifest else None,
        logical_date=logical_date,
        status="rejected",
        mode=manifest.mode if manifest else None,
        declared_rows=manifest.declared_rows if manifest else None,
        target_table=target_table_name(entry) if entry else None,
    )
    sha = manifest.sha256 if manifest else None

    with session_scope(store_engine) as session:
        prior = session.get(BackflowBatch, batch.batch_id)
        prior_state = (prior.status, prior.sha256, prior.loaded_rows, prior.quarantined_rows) if prior else None
    marker = _marker(target_engine, batch.batch_id)
    reloaded = None
    if prior_state and prior_state[0] == "loaded" and marker is None and prior_state[1] == sha and entry is not None:
        later = _later_batch(target_engine, entry.code, batch)
        if later is None:
            reloaded = (
                f"reloaded: the governance store recorded it as loaded, but the target database holds no trace of "
                f"it ({LOADS_TABLE} has no row for it: the target was replaced or restored)"
            )
            prior_state = None
        else:
            result.status = "skipped"
            result.loaded_rows, result.quarantined_rows = int(prior_state[2]), int(prior_state[3])
            result.reason = (
                f"the target database lost this batch but holds the later batch {later} of {entry.code}; "
                "not reloaded (it would overwrite newer data)"
            )
            _record_delivery(store_engine, batch.batch_id, sha, "duplicate", result.reason)
            return result
    done = (prior_state[1], prior_state[2], prior_state[3]) if prior_state and prior_state[0] == "loaded" else marker
    if done is not None and sha is not None:
        done_sha, done_loaded, done_quarantined = done
        if done_sha == sha:
            result.loaded_rows, result.quarantined_rows = int(done_loaded), int(done_quarantined)
            if prior_state is None or prior_state[0] != "loaded":
                # The target committed but the store never heard of it (crash in between): record it now.
                result.status = "loaded"
                result.reason = "recovered: the target already held this batch"
                _record(store_engine, result, batch, sha256=sha)
                refresh_findings(store_engine, target_engine, logical_date)
            else:
                result.status = "skipped"
                result.reason = "already loaded with the same sha256 (exactly once)"
                _record_delivery(store_engine, batch.batch_id, sha, "duplicate", result.reason)
            return result
        problem = Problem(
            "duplicate_batch",
            f"duplicate batch id with different content: {batch.batch_id} was already loaded with sha256 "
            f"{str(done_sha)[:12]}…, this delivery has {sha[:12]}…; send changes under a new batch id",
        )
        result.problems = [problem]
        result.reason = problem.message
        _record_delivery(store_engine, batch.batch_id, sha, "duplicate-different-content", problem.message)
        refresh_findings(store_engine, target_engine, logical_date)
        return result

    result.problems = verify(batch, entry, scan=False)
    table = None
    checks: SuiteChecks = []
    if not result.problems and entry is not None and manifest is not None:
        try:
            checks = row_checks(entry, manifest.logical_date, suites)[0]
            table = ensure_target_tables(target_engine, entry)
        except ValueError as exc:  # SuiteFileError is a ValueError too
            result.problems = [Problem("schema_mismatch", str(exc))]
    elif result.problems:
        result.problems = verify(batch, entry)  # every reason, for the sender
    if result.problems or entry is None or table is None:
        return _reject(store_engine, target_engine, result, batch, sha)

    result.status = "loading"
    result.reason = None
    _record(store_engine, result, batch, sha256=sha)
    try:
        result.loaded_rows, result.quarantined_rows = _load(target_engine, table, batch, entry, chunk_size, checks)
    except _BatchRejected as exc:
        result.status = "rejected"
        result.problems = exc.problems
        return _reject(store_engine, target_engine, result, batch, sha, attempt=False)
    except BaseException as exc:
        result.status = "failed"
        result.reason = f"interrupted, target rolled back; will be retried: {type(exc).__name__}: {exc}"
        _record(store_engine, result, batch, sha256=sha, status="loading", attempt=False)
        raise
    result.status = "loaded"
    result.reason = reloaded
    _record(store_engine, result, batch, sha256=sha, attempt=False)
    refresh_findings(store_engine, target_engine, logical_date)
    return result


def _reject(
    store: Engine, target: Engine, result: BatchResult, batch: Batch, sha: str | None, *, attempt: bool = True
) -> BatchResult:
    result.status = "rejected"
    result.loaded_rows = result.quarantined_rows = 0
    result.reason = "; ".join(p.message for p in result.problems)
    _record(store, result, batch, sha256=sha, attempt=attempt)
    refresh_findings(store, target, result.logical_date)
    return result


def _marker(target: Engine, batch_id: str) -> tuple[str, int, int] | None:
    with target.connect() as conn:
        if not sa.inspect(conn).has_table(LOADS_TABLE):
            return None
        row = conn.execute(
            select(loads_table.c.sha256, loads_table.c.loaded_rows, loads_table.c.quarantined_rows).where(
                loads_table.c.batch_id == batch_id
            )
        ).first()
    return (row[0], row[1], row[2]) if row else None


def _later_batch(target: Engine, code: str, batch: Batch) -> str | None:
    """A batch of resource ``code`` the target holds that is later than ``batch``, if any."""
    with target.connect() as conn:
        if not sa.inspect(conn).has_table(LOADS_TABLE):
            return None
        c = loads_table.c
        day = batch.logical_date or date.min
        return conn.execute(
            select(c.batch_id).where(
                c.resource_code == code,
                sa.or_(c.logical_date > day, sa.and_(c.logical_date == day, c.batch_id > batch.batch_id)),
            ).order_by(c.logical_date.desc(), c.batch_id.desc()).limit(1)
        ).scalar()


# --- findings and listing --------------------------------------------------------------------------------


def _masked(record: Any, masks: dict[str, str]) -> Any:
    """Evidence for people: by the suite's column masks where it has them, by detected identifier kind
    otherwise, then :func:`~citygov.quality.masking.scrub` over whatever is left."""
    if isinstance(record, dict):
        masked: Any = {
            k: mask_value(v, masks.get(k) or _kind(v)) if isinstance(v, str) else v for k, v in record.items()
        }
    elif isinstance(record, list):
        masked = [mask_value(v, _kind(v)) if isinstance(v, str) else v for v in record]
    else:
        masked = record
    return scrub(masked)


def _kind(value: str) -> str | None:
    kind = detect_kind([value])
    return kind if kind in {"ric", "mobile", "uscc"} else None


def refresh_findings(store: Engine, target: Engine, logical_date: date, *, sample: int = 20) -> int:
    """Rebuild the backflow findings of ``logical_date`` from what is recorded: one per rejected batch and
    per delivery of a loaded batch id with other content (``backflow.batch.rejected``), and one per
    loaded batch, reason and column with quarantined rows (``backflow.rows.quarantined``), addressed to the
    sender, with masked evidence. Idempotent."""
    findings: list[FindingRecord] = []
    with session_scope(store) as session:
        batches = session.scalars(
            select(BackflowBatch).where(BackflowBatch.logical_date == logical_date).order_by(BackflowBatch.batch_id)
        ).all()
        rows = [(b.batch_id, b.resource_code, b.sender, b.status, b.reason, b.sha256, b.declared_rows) for b in batches]
        duplicates = [
            (b.batch_id, b.resource_code, b.sender, "rejected", d.reason, d.sha256, None)
            for b in batches
            for d in b.deliveries
            if d.status == "duplicate-different-content"
        ]
    loaded_ids = [r[0] for r in rows if r[3] == "loaded"]
    rejected = [(r, r[0]) for r in rows if r[3] == "rejected"]
    rejected += [(d, f"{d[0]}#{str(d[5])[:12]}") for d in duplicates]  # one finding per refused delivery
    for (batch_id, code, sender, _status, reason, sha, declared), key in rejected:
        findings.append(
            FindingRecord(
                origin=ORIGIN,
                rule_id=RULE_REJECTED,
                message=f"回流批次被拒收 batch {batch_id} rejected: {reason}",
                logical_date=logical_date,
                entry_code=code if code != "unknown" else None,
                department=sender,
                conn_id=LANDING_CONN_ID,
                location=batch_id,
                record_key=key,
                evidence={"batch_id": batch_id, "sha256": sha, "declared_rows": declared, "reason": reason},
                dimension=Dimension.COMPLETENESS,
                severity=Severity.HIGH,
            )
        )
    senders = {r[0]: r[2] for r in rows}
    groups: dict[tuple[str, str, str | None], list[Any]] = {}
    with target.connect() as conn:
        if loaded_ids and sa.inspect(conn).has_table(QUARANTINE_TABLE):
            q = quarantine_table.c
            for part in range(0, len(loaded_ids), 500):
                result = conn.execute(
                    select(q.batch_id, q.resource_code, q.line, q.reason_code, q.column_name, q.reason, q.record)
                    .where(q.batch_id.in_(loaded_ids[part : part + 500]))
                    .order_by(q.batch_id, q.line)
                )
                for row in result:
                    groups.setdefault((row.batch_id, row.reason_code, row.column_name), []).append(row)
    masks: dict[str, dict[str, str]] = {}
    for (batch_id, reason_code, column), items in groups.items():
        first = items[0]
        if first.resource_code not in masks:
            masks[first.resource_code] = _suite_masks(first.resource_code)
        findings.append(
            FindingRecord(
                origin=ORIGIN,
                rule_id=RULE_QUARANTINED,
                message=(
                    f"回流数据行被隔离 {len(items)} row(s) of batch {batch_id} quarantined ({reason_code}); "
                    f"first: {first.reason}. Correct them and resend under a new batch id."
                ),
                logical_date=logical_date,
                entry_code=first.resource_code,
                department=senders.get(batch_id),
                conn_id=LANDING_CONN_ID,
                location=batch_id,
                column=column,
                record_key=f"{batch_id}:{reason_code}",
                evidence={
                    "batch_id": batch_id,
                    "reason_code": reason_code,
                    "rows": len(items),
                    "lines": [i.line for i in items[:sample]],
                    "samples": [_masked(json.loads(i.record), masks[first.resource_code]) for i in items[:3]],
                },
                dimension=Dimension.CONFORMITY,
                severity=Severity.MEDIUM,
            )
        )
    return replace_findings(store, ORIGIN, logical_date, findings)


def _suite_masks(code: str) -> dict[str, str]:
    from citygov.quality.suites import SuiteFileError, column_masks, load_suite

    try:
        suite = load_suite(code)
    except SuiteFileError:
        return {}
    return column_masks(suite) if suite is not None else {}


def list_batches(store: Engine, *, logical_date: date | None = None) -> list[dict[str, Any]]:
    """Recorded batches (newest date first) with their reconciliation, as JSON-able dicts."""
    with session_scope(store) as session:
        query = select(BackflowBatch).order_by(BackflowBatch.logical_date.desc(), BackflowBatch.batch_id)
        if logical_date:
            query = query.where(BackflowBatch.logical_date == logical_date)
        out = []
        for b in session.scalars(query):
            balanced = (
                b.declared_rows == b.loaded_rows + b.quarantined_rows if b.status == "loaded" else None
            )
            out.append(
                {
                    "batch_id": b.batch_id,
                    "resource_code": b.resource_code,
                    "sender": b.sender,
                    "logical_date": b.logical_date.isoformat(),
                    "mode": b.mode,
                    "status": b.status,
                    "reason": b.reason,
                    "sha256": b.sha256,
                    "schema_version": b.schema_version,
                    "reconciliation": {
                        "declared": b.declared_rows,
                        "loaded": b.loaded_rows,
                        "quarantined": b.quarantined_rows,
                        "balanced": balanced,
                    },
                    "received_at": b.received_at.isoformat() if b.received_at else None,
                    "loaded_at": b.loaded_at.isoformat() if b.loaded_at else None,
                    "deliveries": [
                        {
                            "sha256": d.sha256,
                            "status": d.status,
                            "reason": d.reason,
                            "attempts": d.attempts,
                            "first_seen_at": d.first_seen_at.isoformat(),
                            "last_seen_at": d.last_seen_at.isoformat(),
                        }
                        for d in b.deliveries
                    ],
                }
            )
        return out
