"""Loading verified backflow batches into the city's backflow store, exactly once.

:func:`ingest_batch` decides what to do with a batch (skip, recover, reject, load) and :func:`_load`
loads one: a plain UTF-8 CSV into PostgreSQL through :mod:`citygov.backflow.pgfast`, anything else through
the staging table (:mod:`citygov.backflow.stage`); both write the good rows through
:func:`citygov.backflow.upsert.upsert`. The tables are :mod:`citygov.backflow.target`'s, the governance
store's records of batches and deliveries :mod:`citygov.backflow.records`', the findings
:mod:`citygov.backflow.findings`'.

A batch's rows, quarantine rows and marker (``backflow_loads``) are written in one target transaction: a
crash leaves the target untouched, a success leaves it fully loaded. If the process dies after the target
commits but before the governance store is updated, the next run finds the marker and only records the
result.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine, select

from citygov.backflow import stage as staging
from citygov.backflow.batches import Batch, BatchProblemError, Problem, RecordStream, verify
from citygov.backflow.findings import refresh_findings
from citygov.backflow.records import BatchResult, record_batch, record_delivery
from citygov.backflow.rows import SuiteChecks, row_checks
from citygov.backflow.target import ensure_target_tables, loads_table, quarantine_table, target_table_name
from citygov.backflow.upsert import upsert
from citygov.catalog.schema import CatalogEntry
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import BackflowBatch
from citygov.system_objects import BACKFLOW_LOADS as LOADS_TABLE


class ReconciliationError(RuntimeError):
    """Declared rows ≠ loaded + quarantined: the load is rolled back."""


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
                stage = staging.create_stage(conn, entry, chunk_size, checks)
                stream = RecordStream(batch.data_path, manifest.encoding, manifest.format, stage.names)
                staging.stage_records(stage, entry, stream)
        except BatchProblemError as exc:
            raise _BatchRejected([exc.problem]) from None
        if stage is not None:
            count_problems = stream.count_problems(manifest.declared_rows)
            if count_problems:
                raise _BatchRejected(count_problems)
            staging.refuse_duplicates(stage, list(entry.primary_key))
            quarantined = staging.quarantine(stage, batch, entry, manifest.logical_date)
            rows = staging.good_rows(stage, table, batch.batch_id)
            loaded = upsert(conn, table, rows, stage.names, entry.primary_key, full=manifest.mode == "full")
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
            record_delivery(store_engine, batch.batch_id, sha, "duplicate", result.reason)
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
                record_batch(store_engine, result, batch, sha256=sha)
                refresh_findings(store_engine, target_engine, logical_date)
            else:
                result.status = "skipped"
                result.reason = "already loaded with the same sha256 (exactly once)"
                record_delivery(store_engine, batch.batch_id, sha, "duplicate", result.reason)
            return result
        problem = Problem(
            "duplicate_batch",
            f"duplicate batch id with different content: {batch.batch_id} was already loaded with sha256 "
            f"{str(done_sha)[:12]}…, this delivery has {sha[:12]}…; send changes under a new batch id",
        )
        result.problems = [problem]
        result.reason = problem.message
        record_delivery(store_engine, batch.batch_id, sha, "duplicate-different-content", problem.message)
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
    record_batch(store_engine, result, batch, sha256=sha)
    try:
        result.loaded_rows, result.quarantined_rows = _load(target_engine, table, batch, entry, chunk_size, checks)
    except _BatchRejected as exc:
        result.status = "rejected"
        result.problems = exc.problems
        return _reject(store_engine, target_engine, result, batch, sha, attempt=False)
    except BaseException as exc:
        result.status = "failed"
        result.reason = f"interrupted, target rolled back; will be retried: {type(exc).__name__}: {exc}"
        record_batch(store_engine, result, batch, sha256=sha, status="loading", attempt=False)
        raise
    result.status = "loaded"
    result.reason = reloaded
    record_batch(store_engine, result, batch, sha256=sha, attempt=False)
    refresh_findings(store_engine, target_engine, logical_date)
    return result


def _reject(
    store: Engine, target: Engine, result: BatchResult, batch: Batch, sha: str | None, *, attempt: bool = True
) -> BatchResult:
    result.status = "rejected"
    result.loaded_rows = result.quarantined_rows = 0
    result.reason = "; ".join(p.message for p in result.problems)
    record_batch(store, result, batch, sha256=sha, attempt=attempt)
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
