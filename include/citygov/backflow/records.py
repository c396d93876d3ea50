"""What the governance store knows of each backflow batch: ``backflow_batches`` (one row per batch id,
its state and reconciliation) and ``backflow_deliveries`` (one row per delivery of it, by content)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select

from citygov.backflow.batches import Batch, Problem
from citygov.store import session_scope
from citygov.store.models import BackflowBatch, BackflowDelivery


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


def record_batch(
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


def record_delivery(store: Engine, batch_id: str, sha256: str | None, status: str, reason: str | None) -> None:
    with session_scope(store) as session:
        _delivery(session, batch_id, sha256, status, reason, datetime.now(UTC))


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
