"""Dispute queue tables (异议处置): items and their append-only event log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citygov.store.models_base import TS, Base, BigId

# --- disputes ----------------------------------------------------------------------------------------


class Dispute(Base):
    """A dispute item (异议): one per open fingerprint; recurrences update it."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    origin: Mapped[str] = mapped_column(String(16))
    entry_code: Mapped[str | None] = mapped_column(String(64), index=True)
    record_key: Mapped[str | None] = mapped_column(String(255))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    responsible_unit: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    raised_by: Mapped[str] = mapped_column(String(255))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(TS)
    last_seen: Mapped[datetime] = mapped_column(TS)
    latest_evidence: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime | None] = mapped_column(TS)
    extended: Mapped[bool] = mapped_column(default=False)
    flagged: Mapped[bool] = mapped_column(default=True)

    events: Mapped[list[DisputeEvent]] = relationship(order_by="DisputeEvent.id")


class DisputeEvent(Base):
    """An append-only event of a dispute: who, when, from, to, note."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    at: Mapped[datetime] = mapped_column(TS)
    actor: Mapped[str] = mapped_column(String(255))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


