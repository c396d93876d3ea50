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

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select
from sqlalchemy.sql.elements import quoted_name

from citygov.backflow.batches import Batch, Problem, open_records, verify
from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.findings import Dimension, FindingRecord, Severity, replace_findings
from citygov.identifiers import detect_kind, mask_value
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import BackflowBatch

ORIGIN = "backflow"
LANDING_CONN_ID = "backflow_landing"
LINEAGE_COLUMN = "_batch_id"
QUARANTINE_TABLE = "backflow_quarantine"
LOADS_TABLE = "backflow_loads"
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


def _data_table(entry: CatalogEntry) -> sa.Table:
    metadata = sa.MetaData()
    pk = set(entry.primary_key)
    columns = [
        sa.Column(_ident(c.name), _SA_TYPES.get(c.dtype, sa.Text)(), nullable=c.name not in pk) for c in entry.columns
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
    sa.Column("reason_code", sa.String(32), nullable=False),
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


# --- row validation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bad:
    line: int
    code: str
    column: str | None
    reason: str
    record: dict[str, str] | list[str]


def _convert(value: str, dtype: ColumnType, decimals: bool) -> Any:
    text = value.strip()
    if dtype is ColumnType.NUMBER:
        number = Decimal(text)
        if not number.is_finite():
            raise InvalidOperation(text)
        return number if decimals else float(number)
    if dtype is ColumnType.DATE:
        return date.fromisoformat(text.replace("/", "-"))
    if dtype is ColumnType.DATETIME:
        stamp = datetime.fromisoformat(text.replace("/", "-"))
        return stamp.astimezone(CITY_TZ).replace(tzinfo=None) if stamp.tzinfo else stamp
    return value


_TYPE_WORDS = {
    ColumnType.NUMBER: "a number (N)",
    ColumnType.DATE: "a date (D, YYYY-MM-DD)",
    ColumnType.DATETIME: "a date-time (T, YYYY-MM-DD HH:MM:SS)",
}


def _validated(
    entry: CatalogEntry, header: list[str], records: Iterable[tuple[int, list[str]]], decimals: bool
) -> Iterator[tuple[int, dict[str, Any] | _Bad]]:
    types = {c.name: c.dtype for c in entry.columns}
    pk = list(entry.primary_key)
    seen: dict[tuple[Any, ...], int] = {}
    width = len(header)
    for line, fields in records:
        if len(fields) != width:
            word = "extra" if len(fields) > width else "missing"
            yield line, _Bad(
                line, "field_count", None,
                f"line {line}: {len(fields)} fields where the header has {width} ({word} fields)", fields
            )
            continue
        raw = dict(zip(header, fields, strict=True))
        empty_keys = [k for k in pk if not raw.get(k, "").strip()]
        if empty_keys:
            yield line, _Bad(line, "missing_key", empty_keys[0], f"line {line}: primary key {', '.join(empty_keys)} is empty", raw)
            continue
        row: dict[str, Any] = {}
        bad = None
        for name, value in raw.items():
            if not value.strip():
                row[name] = None
                continue
            try:
                row[name] = _convert(value, types[name], decimals)
            except (ValueError, InvalidOperation):
                bad = _Bad(line, "bad_value", name, f"line {line}: {name} is not {_TYPE_WORDS[types[name]]}", raw)
                break
        if bad:
            yield line, bad
            continue
        key = tuple(row[k] for k in pk)
        if pk and key in seen:
            yield line, _Bad(
                line, "duplicate_key", pk[0],
                f"line {line}: primary key {', '.join(pk)} repeats line {seen[key]} of the same batch", raw
            )
            continue
        if pk:
            seen[key] = line
        yield line, row


# --- the load --------------------------------------------------------------------------------------------


def _insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def _upsert_rows(conn: Connection, table: sa.Table, pk: list[str], rows: list[dict[str, Any]]) -> None:
    """Replace the rows with the same primary key (delete, then insert: portable, works on staging tables
    that carry no key constraint)."""
    if not rows:
        return
    if pk:
        keys = [tuple(r[k] for k in pk) for r in rows]
        columns = [table.c[k] for k in pk]
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            if len(columns) == 1:
                conn.execute(table.delete().where(columns[0].in_([k[0] for k in part])))
            else:
                conn.execute(table.delete().where(sa.tuple_(*columns).in_(part)))
    _insert_rows(conn, table, rows)


def _load(
    target: Engine, table: sa.Table, batch: Batch, entry: CatalogEntry, chunk_size: int
) -> tuple[int, int]:
    manifest = batch.manifest
    assert manifest is not None
    pk = list(entry.primary_key)
    loaded = quarantined = 0
    with target.begin() as conn:
        decimals = conn.dialect.name != "sqlite"
        conn.execute(quarantine_table.delete().where(quarantine_table.c.batch_id == batch.batch_id))
        if manifest.mode == "full":
            conn.execute(table.delete())
        header, records = open_records(batch.data_path, manifest.encoding)
        good: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []

        def flush() -> None:
            if manifest.mode == "full":
                _insert_rows(conn, table, good)
            else:
                _upsert_rows(conn, table, pk, good)
            if bad:
                conn.execute(quarantine_table.insert(), bad)
            good.clear()
            bad.clear()

        for _line, item in _validated(entry, header, records, decimals):
            if isinstance(item, _Bad):
                quarantined += 1
                bad.append(
                    {
                        "batch_id": batch.batch_id,
                        "resource_code": entry.code,
                        "logical_date": manifest.logical_date,
                        "line": item.line,
                        "reason_code": item.code,
                        "column_name": item.column,
                        "reason": item.reason,
                        "record": json.dumps(item.record, ensure_ascii=False),
                    }
                )
            else:
                loaded += 1
                item[LINEAGE_COLUMN] = batch.batch_id
                good.append(item)
            if len(good) + len(bad) >= chunk_size:
                flush()
        flush()
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
    return loaded, quarantined


def _record(store: Engine, result: BatchResult, batch: Batch, *, sha256: str | None, status: str | None = None) -> None:
    manifest = batch.manifest
    now = datetime.now(UTC)
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
        row.status = status or result.status
        row.reason = result.reason
        row.loaded_at = now if (status or result.status) == "loaded" else None


def _fallback_date(batch: Batch, run_date: date | None) -> date:
    if batch.logical_date:
        return batch.logical_date
    if run_date:
        return run_date
    # No manifest and no run date: the day the folder landed, in the city's time zone.
    return datetime.fromtimestamp(batch.folder.stat().st_mtime, CITY_TZ).date()


def ingest_batch(
    store_engine: Engine,
    target_engine: Engine,
    batch: Batch,
    entry: CatalogEntry | None,
    *,
    run_date: date | None = None,
    chunk_size: int = 5000,
) -> BatchResult:
    """Verify, validate and load one batch exactly once; record it in ``backflow_batches``; refresh the
    backflow findings of its logical date.

    - A batch id already loaded with the same sha256 is ``skipped``; with another sha256 the new delivery
      is ``rejected`` ("duplicate batch id with different content") and recorded under
      ``<batch_id>#<sha256[:12]>`` so the loaded record stays intact.
    - A batch failing :func:`~citygov.backflow.batches.verify` is ``rejected`` whole, with the reasons.
    - Otherwise valid rows go to the resource's table with ``_batch_id`` (incremental: upsert on the
      primary key; full: replace the dataset), invalid rows to ``backflow_quarantine`` with line and
      reason, in one target transaction; declared = loaded + quarantined is asserted before commit.

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
            result.reason = result.reason or "already loaded with the same sha256 (exactly once)"
            return result
        problem = Problem(
            "duplicate_batch",
            f"duplicate batch id with different content: {batch.batch_id} was already loaded with sha256 "
            f"{str(done_sha)[:12]}…, this delivery has {sha[:12]}…; send changes under a new batch id",
        )
        result.batch_id = f"{batch.batch_id}#{sha[:12]}"
        result.problems = [problem]
        result.reason = problem.message
        _record(store_engine, result, batch, sha256=sha)
        refresh_findings(store_engine, target_engine, logical_date)
        return result

    result.problems = verify(batch, entry)
    table = None
    if not result.problems and entry is not None:
        try:
            table = ensure_target_tables(target_engine, entry)
        except ValueError as exc:
            result.problems = [Problem("schema_mismatch", str(exc))]
    if result.problems or entry is None or table is None:
        result.reason = "; ".join(p.message for p in result.problems)
        _record(store_engine, result, batch, sha256=sha)
        refresh_findings(store_engine, target_engine, logical_date)
        return result

    result.status = "loading"
    result.reason = None
    _record(store_engine, result, batch, sha256=sha)
    try:
        result.loaded_rows, result.quarantined_rows = _load(target_engine, table, batch, entry, chunk_size)
    except BaseException as exc:
        result.status = "failed"
        result.reason = f"interrupted, target rolled back; will be retried: {type(exc).__name__}: {exc}"
        _record(store_engine, result, batch, sha256=sha, status="loading")
        raise
    result.status = "loaded"
    _record(store_engine, result, batch, sha256=sha)
    refresh_findings(store_engine, target_engine, logical_date)
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


# --- findings and listing --------------------------------------------------------------------------------


def _masked(record: dict[str, str] | list[str]) -> dict[str, Any] | list[Any]:
    if isinstance(record, dict):
        return {k: mask_value(v, detect_kind([v])) for k, v in record.items()}
    return [mask_value(v, detect_kind([v])) for v in record]


def refresh_findings(store: Engine, target: Engine, logical_date: date, *, sample: int = 20) -> int:
    """Rebuild the backflow findings of ``logical_date`` from what is recorded: one per rejected batch
    (``backflow.batch.rejected``) and one per loaded batch, reason and column with quarantined rows
    (``backflow.rows.quarantined``), addressed to the sender, with masked evidence. Idempotent."""
    findings: list[FindingRecord] = []
    with session_scope(store) as session:
        batches = session.scalars(
            select(BackflowBatch).where(BackflowBatch.logical_date == logical_date).order_by(BackflowBatch.batch_id)
        ).all()
        rows = [(b.batch_id, b.resource_code, b.sender, b.status, b.reason, b.sha256, b.declared_rows) for b in batches]
    loaded_ids = [r[0] for r in rows if r[3] == "loaded"]
    for batch_id, code, sender, status, reason, sha, declared in rows:
        if status != "rejected":
            continue
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
                record_key=batch_id,
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
    for (batch_id, reason_code, column), items in groups.items():
        first = items[0]
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
                    "samples": [_masked(json.loads(i.record)) for i in items[:3]],
                },
                dimension=Dimension.CONFORMITY,
                severity=Severity.MEDIUM,
            )
        )
    return replace_findings(store, ORIGIN, logical_date, findings)


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
                }
            )
        return out
