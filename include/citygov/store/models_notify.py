"""What the notifications sent: one row per (kind, key, recipient), written before the send.

Behaviour lives in :mod:`citygov.notify`; this is the row it keeps so that a retried task or a second run
of the day does not send the same digest twice, and so that a send held back by quiet hours waits here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citygov.store.models_base import TS, Base, BigId


class NotificationDelivery(Base):
    """One notification to one recipient: a digest, an escalation or a DAG failure."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("kind", "key", "recipient"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``digest`` (a unit's daily digest), ``escalation`` (overdue items to the stewards), ``consumer_notice``
    (a problem told to a department that received the data) or ``failure``."""
    key: Mapped[str] = mapped_column(String(255))
    """What makes it once: the digest's local date, the escalation's date, the failed task instance."""
    recipient: Mapped[str] = mapped_column(String(250))
    """The Airflow connection id it goes through (``citygov_notify_<unit code>``, ...)."""
    channel: Mapped[str] = mapped_column(String(16))
    """``email``, ``webhook`` (generic JSON), ``dingtalk`` or ``wecom``."""
    unit: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    """``queued`` (waits for quiet hours to end or a retry), ``sending``, ``sent`` or ``failed``."""
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    """The rendered message (subject, text, markdown, JSON body): masked content only."""
    item_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS)
    not_before: Mapped[datetime | None] = mapped_column(TS)
    """Quiet hours: not sent before this instant."""
    sent_at: Mapped[datetime | None] = mapped_column(TS)
