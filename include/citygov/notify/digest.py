"""Planning the dispute notifications: each unit's daily digest and the escalations to the stewards.

A unit's digest lists its items in three disjoint sections at ``now``: **overdue** (a running deadline has
passed), **due within one working day** (the deadline passes before the end of the next working day,
:func:`citygov.disputes.workdays.add_workdays`), and **new** since the last digest *sent* to that
recipient (a day before ``now`` for the first one). Nothing is sent for a unit with no item in any of them.
The digest of a day is planned by the first run at or after ``digest_hour``; its key is the city date,
so it is planned once per day per recipient, and a digest still held back from an earlier day is
superseded by the new one (which covers everything since the last digest sent).

Items with no responsible unit (未定责) go to the stewards' connections unless ``units`` names some.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from citygov.disputes.queue import UNASSIGNED, rule_title
from citygov.disputes.workdays import add_workdays
from citygov.notify.channels import Channel, ChannelError
from citygov.notify.deliveries import (
    QUEUED,
    SENT,
    SUPERSEDED,
    Delivery,
    Resolver,
    plan,
    quiet_release,
    resolve_channel,
    utc,
    view,
)
from citygov.notify.messages import DigestItem, digest_payload, escalation_payload, failure_payload
from citygov.notify.routes import Routes
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow
from citygov.store.models_disputes import Dispute
from citygov.store.models_notify import NotificationDelivery

RECENT = timedelta(days=31)
"""How far back a first digest or an escalation looks for items and earlier notifications."""


@dataclass
class Planned:
    """What one planning step did (or, in a dry run, would do)."""

    planned: list[dict[str, Any]] = field(default_factory=list)
    """Each notification: kind, key, recipient, channel, target, unit, subject, item ids, not_before
    (and, in a dry run, the rendered payload)."""
    already: list[dict[str, Any]] = field(default_factory=list)
    """Notifications planned by an earlier run (not planned again)."""
    unrouted: list[dict[str, str]] = field(default_factory=list)
    """Units (or roles) whose connection is not defined or is not a notification channel, and why."""
    quiet_units: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"planned": self.planned, "already": self.already, "unrouted": self.unrouted}


def unit_codes(session: Session) -> dict[str, str]:
    """Each unit's code (the catalog's 提供方代码), for the connections routed by convention."""
    codes: dict[str, str] = {}
    for provider, code in session.execute(
        select(CatalogEntryRow.provider, CatalogEntryRow.provider_code).where(CatalogEntryRow.provider_code.is_not(None))
    ):
        codes.setdefault(provider, code)
    return codes


def _item(d: Dispute, routes: Routes) -> DigestItem:
    return DigestItem(
        id=d.id, title=d.title, rule=rule_title(d.rule_id), dataset=d.entry_code, unit=d.responsible_unit,
        status=d.status, due_date=d.due_date.isoformat() if d.due_date else None, record_key=d.record_key,
        link=routes.link(d.id),
    )


def _channels(resolve: Resolver, conn_ids: list[str], who: str, out: Planned) -> list[Channel]:
    channels = []
    for conn_id in conn_ids:
        try:
            channel = resolve_channel(resolve, conn_id)
        except ChannelError as exc:
            out.unrouted.append({"unit": who, "conn_id": conn_id, "reason": str(exc)})
            continue
        if channel is None:
            out.unrouted.append({"unit": who, "conn_id": conn_id, "reason": "connection not defined"})
        else:
            channels.append(channel)
    return channels


def _record(out: Planned, row_or_none: Any, *, kind: str, key: str, channel: Channel, unit: str | None,
            payload: dict[str, Any], routes: Routes, now: datetime, dry_run: bool) -> None:
    entry = {"kind": kind, "key": key, "recipient": channel.conn_id, "channel": channel.kind, "target": channel.target,
             "unit": unit, "subject": payload["subject"], "item_ids": payload["item_ids"]}
    release = quiet_release(channel, routes, now)
    entry["not_before"] = release.astimezone(CITY_TZ).isoformat() if release else None
    if dry_run:
        entry["payload"] = payload
        out.planned.append(entry)
    elif row_or_none is None:
        out.already.append(entry)
    else:
        out.planned.append(entry)


def plan_digests(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime, dry_run: bool = False) -> Planned:
    """Plan today's digest for every unit with items (see the module docstring); ``dry_run`` renders them
    and records nothing."""
    moment = utc(now)
    assert moment is not None
    local = moment.astimezone(CITY_TZ)
    out = Planned()
    if local.hour < routes.digest_hour:
        return out
    day = local.date().isoformat()
    horizon = add_workdays(moment, 1).due_at
    with session_scope(engine) as session:
        codes = unit_codes(session)
        items = list(session.scalars(
            select(Dispute).where(or_(Dispute.stage.is_not(None), Dispute.created_at > moment - RECENT)).order_by(Dispute.id)
        ))
        by_unit: dict[str, list[Dispute]] = {}
        for d in items:
            by_unit.setdefault(d.responsible_unit or UNASSIGNED, []).append(d)
        for unit, unit_items in sorted(by_unit.items()):
            if unit in routes.units or unit != UNASSIGNED:
                conn_ids = routes.unit_connections(unit, codes.get(unit))
            else:
                conn_ids = list(routes.stewards)
            if not conn_ids:
                out.unrouted.append({"unit": unit, "conn_id": "", "reason": "no unit code in the catalog and no route"})
                continue
            for channel in _channels(resolve, conn_ids, unit, out):
                last = session.scalar(
                    select(NotificationDelivery.created_at).where(
                        NotificationDelivery.kind == "digest", NotificationDelivery.recipient == channel.conn_id,
                        NotificationDelivery.unit == unit, NotificationDelivery.status == SENT,
                    ).order_by(NotificationDelivery.created_at.desc()).limit(1)
                )
                since = utc(last) or moment - timedelta(days=1)
                sections = _sections(unit_items, moment, horizon, since, routes)  # type: ignore[arg-type]
                if not any(sections.values()):
                    continue
                payload = digest_payload(unit, day, since, sections, routes)
                key = f"{day}|{unit}"
                row = None
                if not dry_run:
                    session.execute(
                        update(NotificationDelivery).where(
                            NotificationDelivery.kind == "digest", NotificationDelivery.recipient == channel.conn_id,
                            NotificationDelivery.unit == unit, NotificationDelivery.status == QUEUED,
                            NotificationDelivery.key != key,
                        ).values(status=SUPERSEDED)
                    )
                    row = plan(session, kind="digest", key=key, channel=channel, unit=unit, payload=payload,
                               routes=routes, now=moment)
                _record(out, row, kind="digest", key=key, channel=channel, unit=unit, payload=payload,
                        routes=routes, now=moment, dry_run=dry_run)
    return out


def _sections(items: list[Dispute], now: datetime, horizon: datetime, since: datetime, routes: Routes) -> dict[str, list[DigestItem]]:
    overdue, due_soon, new = [], [], []
    for d in items:
        due = utc(d.due_at)
        if d.stage and due is not None and due <= now:
            overdue.append(_item(d, routes))
        elif d.stage and due is not None and due <= horizon:
            due_soon.append(_item(d, routes))
        elif since < utc(d.created_at) <= now:  # type: ignore[operator]
            new.append(_item(d, routes))
    return {"overdue": overdue, "due_soon": due_soon, "new": new}


def plan_escalations(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime, dry_run: bool = False) -> Planned:
    """Tell the stewards of every item the SLA run escalated for its current (missed) deadline, each item
    once per missed deadline and steward connection."""
    moment = utc(now)
    assert moment is not None
    out = Planned()
    with session_scope(engine) as session:
        escalated = [
            d for d in session.scalars(
                select(Dispute).where(Dispute.stage.is_not(None), Dispute.escalation_level > 0,
                                      Dispute.escalated_due_at.is_not(None)).order_by(Dispute.id))
            if utc(d.escalated_due_at) == utc(d.due_at) and utc(d.due_at) <= moment  # type: ignore[operator]
        ]
        if not escalated:
            return out
        for channel in _channels(resolve, routes.stewards, "stewards", out):
            told: set[str] = set()
            for payload in session.scalars(
                select(NotificationDelivery.payload).where(
                    NotificationDelivery.kind == "escalation", NotificationDelivery.recipient == channel.conn_id,
                    NotificationDelivery.created_at > moment - RECENT)
            ):
                told.update((payload or {}).get("marks") or [])
            fresh = [d for d in escalated if _mark(d) not in told]
            if not fresh:
                continue
            marks = sorted(_mark(d) for d in fresh)
            payload = escalation_payload([_item(d, routes) for d in fresh], moment, routes) | {"marks": marks}
            key = "esc:" + hashlib.sha256("\n".join(marks).encode()).hexdigest()[:40]
            row = None if dry_run else plan(session, kind="escalation", key=key, channel=channel, unit=None,
                                            payload=payload, routes=routes, now=moment)
            _record(out, row, kind="escalation", key=key, channel=channel, unit=None, payload=payload,
                    routes=routes, now=moment, dry_run=dry_run)
    return out


def _mark(d: Dispute) -> str:
    return f"{d.id}@{utc(d.escalated_due_at).isoformat()}"  # type: ignore[union-attr]


def plan_failure(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime, dag_id: str, task_id: str | None,
                 run_id: str, map_index: int | None = None, try_number: int | None = None,
                 logical_date: str | None = None, error: str | None = None, log_url: str | None = None) -> Planned:
    """Plan the operators' notice of a failed task (once per task instance try and operator connection)."""
    moment = utc(now)
    assert moment is not None
    out = Planned()
    payload = failure_payload(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number,
                              logical_date=logical_date, error=error, log_url=log_url)
    key = f"{dag_id}/{run_id}/{task_id or '-'}/{map_index if map_index is not None else -1}/{try_number or 0}"[:255]
    with session_scope(engine) as session:
        for channel in _channels(resolve, routes.operators, "operators", out):
            row = plan(session, kind="failure", key=key, channel=channel, unit=None, payload=payload, routes=routes, now=moment)
            _record(out, row, kind="failure", key=key, channel=channel, unit=None, payload=payload, routes=routes,
                    now=moment, dry_run=False)
    return out


__all__ = ["Delivery", "Planned", "plan_digests", "plan_escalations", "plan_failure", "view"]
