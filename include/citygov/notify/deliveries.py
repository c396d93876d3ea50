"""The record of what was sent (``notification_deliveries``) and the sending of what is due.

A notification is *planned* first: one row per (kind, key, recipient), inserted with its sealed payload,
status ``queued`` and ``not_before`` (the end of the recipient's quiet hours, or None). A second plan of
the same notification (a retried task, a second run of the day) finds the row and plans nothing.
:func:`deliver_due` then claims each due row (``queued`` → ``sending`` by a conditional UPDATE, so two
runs at once cannot both take it), sends it, and marks it ``sent``; a failed send goes back to
``queued`` with the error, until :data:`MAX_ATTEMPTS`, then ``failed``. A row left ``sending`` (the
process died during the send) is not sent again: at most once, and the report lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citygov.notify.channels import Channel, ChannelError, channel_from_connection, send
from citygov.notify.routes import QuietHours, Routes
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo
from citygov.store import session_scope
from citygov.store.models_notify import NotificationDelivery

QUEUED, SENDING, SENT, FAILED, SUPERSEDED = "queued", "sending", "sent", "failed", "superseded"
MAX_ATTEMPTS = 5
"""Sends of one notification before it is marked ``failed`` (each run of the DAG tries once)."""

Resolver = Callable[[str], ConnectionInfo | None]


@dataclass(frozen=True)
class Delivery:
    """A planned or sent notification, as reports show it (no payload)."""

    id: int
    kind: str
    key: str
    recipient: str
    channel: str
    unit: str | None
    status: str
    attempts: int
    item_ids: list[int]
    not_before: str | None
    sent_at: str | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` as a plain aware UTC ``datetime`` (stored naive values are UTC; a pendulum ``DateTime``
    from Airflow's context becomes a stdlib one: pendulum's arithmetic drops a stdlib tzinfo)."""
    if moment is None:
        return None
    m = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
    return datetime(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=UTC)


def view(row: NotificationDelivery) -> Delivery:
    nb, sent = utc(row.not_before), utc(row.sent_at)
    return Delivery(row.id, row.kind, row.key, row.recipient, row.channel, row.unit, row.status, row.attempts,
                    list(row.item_ids or []), nb.astimezone(CITY_TZ).isoformat() if nb else None,
                    sent.astimezone(CITY_TZ).isoformat() if sent else None,
                    row.error)


def resolve_channel(resolve: Resolver, conn_id: str) -> Channel | None:
    """The channel of connection ``conn_id``; None when no such connection is defined (not routed)."""
    conn = resolve(conn_id)
    return channel_from_connection(conn) if conn is not None else None


def quiet_release(channel: Channel, routes: Routes, now: datetime) -> datetime | None:
    """When a send to ``channel`` at ``now`` may go, if ``now`` is in its quiet hours (else None)."""
    quiet = QuietHours.parse(channel.quiet_hours) if channel.quiet_hours else routes.quiet_hours
    release = quiet.release(now) if quiet else None
    return release.astimezone(UTC) if release else None


def plan(session: Session, *, kind: str, key: str, channel: Channel, unit: str | None, payload: dict[str, Any],
         routes: Routes, now: datetime) -> NotificationDelivery | None:
    """Record a notification to send (see the module docstring); None when it was planned before."""
    row = NotificationDelivery(
        kind=kind, key=key, recipient=channel.conn_id, channel=channel.kind, unit=unit, status=QUEUED,
        payload=payload, item_ids=list(payload.get("item_ids") or []), attempts=0, created_at=utc(now),
        not_before=quiet_release(channel, routes, now),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def deliver_due(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime,
                kinds: tuple[str, ...] | None = None) -> list[Delivery]:
    """Send every queued notification whose quiet hours are over at ``now`` (of ``kinds``, default all);
    returns what was tried, with its outcome."""
    moment = utc(now)
    with session_scope(engine) as session:
        where = [NotificationDelivery.status == QUEUED]
        if kinds:
            where.append(NotificationDelivery.kind.in_(kinds))
        rows = [r for r in session.scalars(select(NotificationDelivery).where(*where).order_by(NotificationDelivery.id))
                if r.not_before is None or utc(r.not_before) <= moment]  # type: ignore[operator]
        due = [(r.id, r.recipient, dict(r.payload or {})) for r in rows]
    tried: list[Delivery] = []
    for row_id, recipient, payload in due:
        with session_scope(engine) as session:
            claimed = session.execute(
                update(NotificationDelivery)
                .where(NotificationDelivery.id == row_id, NotificationDelivery.status == QUEUED)
                .values(status=SENDING, attempts=NotificationDelivery.attempts + 1)
            ).rowcount
        if not claimed:
            continue  # another run took it
        error: str | None = None
        status = SENT
        try:
            channel = resolve_channel(resolve, recipient)
            if channel is None:
                raise ChannelError(f"connection {recipient!r} is no longer defined")
            release = quiet_release(channel, routes, moment)  # type: ignore[arg-type]
            if release is not None:  # its quiet hours changed, or a retry fell into them
                status = QUEUED
            else:
                send(channel, payload)
        except ChannelError as exc:
            error, status = str(exc), QUEUED
        with session_scope(engine) as session:
            row = session.get(NotificationDelivery, row_id)
            assert row is not None
            if status == QUEUED and error is None:
                row.attempts -= 1
                row.not_before = release
            elif status == QUEUED and row.attempts >= MAX_ATTEMPTS:
                status = FAILED
            row.status, row.error = status, error
            if status == SENT:
                row.sent_at = moment
            tried.append(view(row))
    return tried


def deliveries(engine: Engine, *, kind: str | None = None, key: str | None = None) -> list[Delivery]:
    """The recorded notifications (of ``kind`` / ``key``), oldest first."""
    with session_scope(engine) as session:
        where = []
        if kind:
            where.append(NotificationDelivery.kind == kind)
        if key:
            where.append(NotificationDelivery.key == key)
        return [view(r) for r in session.scalars(select(NotificationDelivery).where(*where).order_by(NotificationDelivery.id))]
