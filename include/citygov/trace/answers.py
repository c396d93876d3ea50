"""The trace's answers: where a dataset comes from and who received it with what quality, what a backflow
batch fed and who read it afterwards, and who must be told about a problem.

``govern trace dataset|batch``, the 数据血缘 / 共享追溯 page and the dispute item page all call these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from citygov.backflow.findings import LANDING_CONN_ID
from citygov.backflow.records import list_batches
from citygov.catalog.queries import to_entry
from citygov.disputes.queue import jsonable
from citygov.store import session_scope
from citygov.store.models import (
    BackflowBatch,
    CatalogEntryRow,
    DatasetScore,
    DepartmentSource,
    Dispute,
    Finding,
    ShareTrace,
)
from citygov.trace.shares import HIGH


@dataclass(frozen=True)
class Share:
    """One traced share, as the answers show it."""

    request_id: str
    requester: str
    served_at: str
    served_on: date
    purpose: str | None
    share_method: str | None
    score: float | None
    grade: str | None
    scored_on: date | None
    score_status: str
    open_high: list[dict[str, Any]]
    batches: list[str]


@dataclass(frozen=True)
class Origin:
    """Where a dataset's data comes from."""

    kind: str
    """``department`` (a department's own system) or ``backflow`` (batches from the province)."""
    conn_id: str | None
    location: str | None
    department: str | None
    """The department holding the source, or the sender of the backflow batches."""
    source_kind: str | None = None
    """For a department source: ``database`` or ``folder``."""
    landing: str | None = None
    """For backflow: the landing folder's connection."""
    batches: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetTrace:
    """``govern trace dataset``: where a dataset comes from, its quality history and who received it."""

    code: str
    name: str | None
    provider: str | None
    share_method: str | None
    origin: Origin
    scores: list[dict[str, Any]]
    """Every score in the window: logical date, score, grade, status."""
    shares: list[Share]
    """Every traced share in the window, oldest first, with the quality it was served at."""
    receivers: list[dict[str, Any]]
    """Per requesting department: shares, first and last served day."""
    open_high: list[dict[str, Any]]
    """High-severity items open now."""
    date_from: date | None = None
    date_to: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class BatchTrace:
    """``govern trace batch``: a backflow batch, the tables it fed and who read them after it arrived."""

    batch: dict[str, Any]
    """The batch as ``govern backflow batches`` lists it."""
    fed: list[dict[str, Any]]
    """The tables it fed (none when it was rejected): dataset, connection, table, rows loaded."""
    quarantine: list[dict[str, Any]]
    """Its quarantined-row findings: rule, column, rows, dispute item."""
    readers: list[Share]
    """Shares served while the table held the batch."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def _share(row: ShareTrace) -> Share:
    return Share(request_id=row.request_id, requester=row.requester, served_at=row.served_at.isoformat(),
                 served_on=row.served_on, purpose=row.purpose, share_method=row.share_method, score=row.score,
                 grade=row.grade, scored_on=row.scored_on, score_status=row.score_status,
                 open_high=list(row.open_high or []), batches=list(row.batches or []))


def dataset_trace(engine: Engine, code: str, *, date_from: date | None = None,
                  date_to: date | None = None) -> DatasetTrace | None:
    """The trace of dataset ``code`` (None when it is neither catalogued nor shared nor backflowed), shares and
    scores limited to ``date_from``..``date_to`` (served days, inclusive) when given."""
    with session_scope(engine) as session:
        row = session.get(CatalogEntryRow, code)
        entry = to_entry(row) if row is not None else None
        shares_q = select(ShareTrace).where(ShareTrace.entry_code == code)
        scores_q = select(DatasetScore).where(DatasetScore.entry_code == code)
        if date_from:
            shares_q = shares_q.where(ShareTrace.served_on >= date_from)
            scores_q = scores_q.where(DatasetScore.logical_date >= date_from)
        if date_to:
            shares_q = shares_q.where(ShareTrace.served_on <= date_to)
            scores_q = scores_q.where(DatasetScore.logical_date <= date_to)
        shares = [_share(s) for s in session.scalars(shares_q.order_by(ShareTrace.served_at, ShareTrace.request_id))]
        scores = [{"logical_date": s.logical_date, "score": s.score, "grade": s.grade, "status": s.status}
                  for s in session.scalars(scores_q.order_by(DatasetScore.logical_date))]
        batch_ids = list(session.scalars(select(BackflowBatch.batch_id).where(BackflowBatch.resource_code == code)))
        source = session.get(DepartmentSource, entry.conn_id) if entry else None
        open_high = [{"id": d.id, "rule_id": d.rule_id, "title": d.title, "status": d.status}
                     for d in session.scalars(select(Dispute).where(Dispute.entry_code == code, Dispute.severity == HIGH,
                                                                    Dispute.status.not_in(_closed()))
                                              .order_by(Dispute.id))]
    if entry is None and not shares and not batch_ids:
        return None
    if batch_ids:
        batches = [b for b in list_batches(engine) if b["resource_code"] == code]
        origin = Origin(kind="backflow", conn_id=entry.conn_id if entry else None,
                        location=_target_table(entry) if entry else None,
                        department=next((b["sender"] for b in batches if b["sender"]), None), landing=LANDING_CONN_ID,
                        batches=[{k: b[k] for k in ("batch_id", "logical_date", "mode", "status", "reason")}
                                 | b["reconciliation"] for b in sorted(batches, key=lambda b: (b["logical_date"], b["batch_id"]))])
    else:
        origin = Origin(kind="department", conn_id=entry.conn_id if entry else None,
                        location=entry.location if entry else None,
                        department=source.department if source else (entry.provider if entry else None),
                        source_kind=source.kind if source else None)
    counts = Counter(s.requester for s in shares)
    receivers = [{"requester": r, "shares": n, "first": min(s.served_on for s in shares if s.requester == r),
                  "last": max(s.served_on for s in shares if s.requester == r)} for r, n in sorted(counts.items())]
    return DatasetTrace(code=code, name=entry.name if entry else None, provider=entry.provider if entry else None,
                        share_method=entry.share_method if entry else None, origin=origin, scores=scores,
                        shares=shares, receivers=receivers, open_high=open_high, date_from=date_from, date_to=date_to)


def batch_trace(engine: Engine, batch_id: str) -> BatchTrace | None:
    """The trace of backflow batch ``batch_id`` (None when no such batch was recorded)."""
    listed = next((b for b in list_batches(engine) if b["batch_id"] == batch_id), None)
    if listed is None:
        return None
    code = listed["resource_code"]
    with session_scope(engine) as session:
        row = session.get(CatalogEntryRow, code)
        entry = to_entry(row) if row is not None else None
        shares = [_share(s) for s in session.scalars(
            select(ShareTrace).where(ShareTrace.entry_code == code).order_by(ShareTrace.served_at, ShareTrace.request_id))]
        findings = session.execute(
            select(Finding.rule_id, Finding.column, Finding.severity, Finding.evidence, Finding.routed_dispute_id,
                   Finding.logical_date)
            .where(Finding.origin == "backflow", Finding.location == batch_id).order_by(Finding.id)).all()
    fed = []
    if listed["status"] == "loaded":
        fed.append({"entry_code": code, "name": entry.name if entry else None,
                    "conn_id": entry.conn_id if entry else None, "table": _target_table(entry) if entry else None,
                    "mode": listed["mode"], "rows_loaded": listed["reconciliation"]["loaded"],
                    "rows_quarantined": listed["reconciliation"]["quarantined"]})
    quarantine = [{"rule_id": rule, "column": column, "severity": severity, "logical_date": day,
                   "rows": (evidence or {}).get("rows"), "reason_code": (evidence or {}).get("reason_code"),
                   "dispute_id": dispute}
                  for rule, column, severity, evidence, dispute, day in findings]
    readers = [s for s in shares if batch_id in s.batches]
    return BatchTrace(batch=listed, fed=fed, quarantine=quarantine, readers=readers)


def receivers_to_notify(engine: Engine, code: str | None, *, first_seen: date, batch_id: str | None = None) -> dict[str, Any]:
    """Who received dataset ``code`` while it was not in a good state: the departments to tell about a problem
    first seen on ``first_seen``.

    For a backflow batch's problem (``batch_id``): everyone served while the table held the batch. Otherwise
    everyone served after the dataset's **last good state**: the latest scored day before ``first_seen`` with
    no high-severity finding (from the start when there was none)."""
    if not code:
        return {"since": None, "receivers": [], "basis": "no dataset"}
    with session_scope(engine) as session:
        shares = [_share(s) for s in session.scalars(
            select(ShareTrace).where(ShareTrace.entry_code == code).order_by(ShareTrace.served_at))]
        good: date | None = None
        if batch_id is None:
            bad_days = select(Finding.logical_date).where(Finding.entry_code == code, Finding.severity == HIGH)
            good = session.scalar(
                select(func.max(DatasetScore.logical_date)).where(
                    DatasetScore.entry_code == code, DatasetScore.status == "scored",
                    DatasetScore.logical_date < first_seen, DatasetScore.logical_date.not_in(bad_days)))
    if batch_id is not None:
        chosen, basis = [s for s in shares if batch_id in s.batches], f"served while holding batch {batch_id}"
    else:
        chosen = [s for s in shares if good is None or s.served_on > good]
        basis = f"served after the last good state ({good.isoformat()})" if good else "served since the first share (no good state recorded)"
    counts = Counter(s.requester for s in chosen)
    receivers = [{"requester": r, "shares": n, "first": min(s.served_on for s in chosen if s.requester == r),
                  "last": max(s.served_on for s in chosen if s.requester == r)}
                 for r, n in sorted(counts.items())]
    return {"since": good, "basis": basis, "receivers": receivers}


def item_receivers(engine: Engine, item: Any) -> dict[str, Any] | None:
    """The departments to tell about dispute ``item`` (a queue row or view), as :func:`receivers_to_notify`
    answers: for a high-severity item, those served since the dataset's last good state; for a backflow item
    about a batch, those served while its table held the batch. None for other items (they call for no
    notice). The dispute page lists them and the consumer notices (:mod:`citygov.notify.consumers`) tell them."""
    batch = item.location if item.origin == "backflow" and item.location else None
    if item.severity != HIGH and batch is None:
        return None
    return receivers_to_notify(engine, item.entry_code, first_seen=item.first_seen, batch_id=batch)


def _target_table(entry: Any) -> str:
    from citygov.backflow.target import target_table_name

    return target_table_name(entry)


def _closed() -> list[str]:
    from citygov.disputes.states import CLOSED

    return [s.value for s in CLOSED]
