"""Dispute queue tables (异议处置): items, their append-only event log, the people who handle them, and
which check runs the queue has already taken in.

Behaviour lives in :mod:`citygov.disputes`; these are the rows it keeps.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citygov.store.models_base import TS, Base, BigId

# --- disputes ----------------------------------------------------------------------------------------


class Dispute(Base):
    """A dispute item (异议): one per open fingerprint; recurrences update it instead of opening another."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Optimistic lock: every update bumps it; an update based on an older version is refused."""
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    """Identity of the problem: (dataset or resource, problem, column, record key hash), hashed."""
    origin: Mapped[str] = mapped_column(String(16))
    """Who raised it first: ``census``, ``patrol``, ``quality``, ``backflow``, ``catalog`` or ``consumer``."""
    entry_code: Mapped[str | None] = mapped_column(String(64), index=True)
    conn_id: Mapped[str | None] = mapped_column(String(250))
    location: Mapped[str | None] = mapped_column(String(1024))
    column_name: Mapped[str | None] = mapped_column(String(255))
    record_key: Mapped[str | None] = mapped_column(String(255))
    """The disputed record's key, masked for display (never the key as typed)."""
    record_key_hash: Mapped[str | None] = mapped_column(String(80), index=True)
    """Keyed hash of the record key (``<key id>:<hex>``, :mod:`citygov.disputes.recordkeys`): what lookups,
    deduplication and the record locator compare."""
    rule_id: Mapped[str | None] = mapped_column(String(64))
    """The problem: a check's rule id (aliases across census and patrol folded) or ``consumer.claim``."""
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(8))
    dimension: Mapped[str | None] = mapped_column(String(16))
    responsible_unit: Mapped[str | None] = mapped_column(String(255), index=True)
    """The accountable unit (the catalog's provider; the provincial sender for backflowed data)."""
    assignee: Mapped[str | None] = mapped_column(String(255), index=True)
    """The registered person handling it within the responsible unit (None: the unit as a whole)."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    """A :class:`citygov.disputes.Status` value, stored in Chinese (待受理, 已受理, ...)."""
    raised_by: Mapped[str] = mapped_column(String(255))
    claim: Mapped[str | None] = mapped_column(Text)
    """A consumer's claim (masked), for items raised by people."""
    reporters: Mapped[int] = mapped_column(Integer, default=0)
    """How many people raised (or joined) this item."""
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    """On how many logical dates a check found the problem."""
    first_seen: Mapped[date] = mapped_column(Date)
    last_seen: Mapped[date] = mapped_column(Date)
    last_passed: Mapped[date | None] = mapped_column(Date)
    """The logical date of the run that last found the problem gone (verified it)."""
    latest_message: Mapped[str | None] = mapped_column(Text)
    latest_evidence: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    """Masked evidence of the latest occurrence only."""
    created_at: Mapped[datetime] = mapped_column(TS)
    status_changed_at: Mapped[datetime] = mapped_column(TS)
    stage: Mapped[str | None] = mapped_column(String(8))
    """The running deadline: ``accept`` (platform accepts) or ``resolve`` (provider handles); None if none."""
    stage_started_at: Mapped[datetime | None] = mapped_column(TS)
    due_at: Mapped[datetime | None] = mapped_column(TS)
    """End of the stage's last working day (midnight Asia/Shanghai after it)."""
    due_date: Mapped[date | None] = mapped_column(Date)
    """The stage's last working day."""
    due_provisional: Mapped[bool] = mapped_column(default=False)
    """The deadline reaches a year the holiday calendar does not cover yet (counted Mon–Fri)."""
    extended: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(TS)
    escalated_due_at: Mapped[datetime | None] = mapped_column(TS)
    """The deadline the last escalation was for (an item is escalated once per missed deadline)."""
    accepted_at: Mapped[datetime | None] = mapped_column(TS)
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    accepted_on_time: Mapped[bool | None] = mapped_column()
    resolved_on_time: Mapped[bool | None] = mapped_column()
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(default=False)
    """标注: consumers see the data as under dispute while set."""
    flagged_at: Mapped[datetime | None] = mapped_column(TS)

    events: Mapped[list[DisputeEvent]] = relationship(order_by="DisputeEvent.id", back_populates="dispute")

    __mapper_args__ = {"version_id_col": version}


class DisputeEvent(Base):
    """An append-only event of a dispute: who, when, from, to, note (database triggers refuse changes)."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    at: Mapped[datetime] = mapped_column(TS)
    actor: Mapped[str] = mapped_column(String(255))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    """What else changed (unit reassigned from/to, new deadline, logical date of the run, ...)."""

    dispute: Mapped[Dispute] = relationship(back_populates="events")


class DisputeActor(Base):
    """A person who may act on the queue: platform steward, department data officer or consumer."""

    __tablename__ = "dispute_actors"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    """The login name (the Airflow user name for the web API)."""
    display_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    """``steward`` (数据管理员), ``officer`` (部门数据专员) or ``consumer`` (数据使用方)."""
    department: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(TS)


class DisputeRoutingRun(Base):
    """A check run (origin, logical date) the queue has taken in, and when: reruns are taken in again."""

    __tablename__ = "dispute_routing_runs"
    __table_args__ = (UniqueConstraint("origin", "logical_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(16))
    logical_date: Mapped[date] = mapped_column(Date)
    routed_at: Mapped[datetime] = mapped_column(TS)
    summary: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
