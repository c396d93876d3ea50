"""Notices to consumers (数据问题告知): the departments that received a dataset are told of a problem found
in it (issue 21 item 4).

An item calls for a notice when the dispute page lists receivers for it (:func:`citygov.trace.item_receivers`):
a high-severity item (its receivers: the departments served since the dataset's last good state) or a
backflow item about a batch (those served while the table held the batch). Each such item still standing
(not 驳回 rejected, 已核验 verified or 已归档 archived) and created in the last :data:`RECENT` is told to each
receiving department through the department's channels (the same routing as its digest: ``units`` in the
settings, else ``citygov_notify_<unit code>``), one message per (item, department) and connection: the key is
``<item id>|<department>``, so a later run tells only departments served since (a receiver found later) and
never the same one twice. A receiving department with no connection is reported as not routed. Quiet hours,
the record and the sending are the digest's (:mod:`citygov.notify.deliveries`); there is no notice hour: a
run tells as soon as it finds the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, or_, select

from citygov.disputes.states import CLOSED, Status
from citygov.notify.channels import Channel
from citygov.notify.deliveries import Delivery, Resolver, plan, utc, view
from citygov.notify.digest import RECENT, Planned, _channels, _item, _record, unit_codes
from citygov.notify.messages import DigestItem, consumer_notice_payload
from citygov.notify.routes import Routes
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow
from citygov.store.models_disputes import Dispute
from citygov.store.models_notify import NotificationDelivery
from citygov.trace import item_receivers
from citygov.trace.shares import HIGH

KIND = "consumer_notice"
SETTLED = sorted(s.value for s in CLOSED | {Status.REJECTED})
"""Items in these states call for no notice any more (unfounded, or confirmed fixed, or closed)."""


@dataclass(frozen=True)
class _Problem:
    """What the planner needs of an item once its session is closed (``item_receivers`` reads these)."""

    shown: DigestItem
    origin: str
    location: str | None
    severity: str | None
    entry_code: str | None
    first_seen: date


def plan_consumer_notices(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime,
                          dry_run: bool = False) -> Planned:
    """Plan a notice to every department that received a dataset with a standing problem (see the module
    docstring); ``dry_run`` renders them and records nothing."""
    moment = utc(now)
    assert moment is not None
    out = Planned()
    with session_scope(engine) as session:
        problems = [
            _Problem(_item(d, routes), d.origin, d.location, d.severity, d.entry_code, d.first_seen)
            for d in session.scalars(
                select(Dispute).where(
                    Dispute.created_at > moment - RECENT, Dispute.status.not_in(SETTLED),
                    or_(Dispute.severity == HIGH, (Dispute.origin == "backflow") & Dispute.location.is_not(None)),
                ).order_by(Dispute.id))
        ]
        codes = unit_codes(session)
        names = {c: n for c, n in session.execute(select(CatalogEntryRow.code, CatalogEntryRow.name))}
    notices = [(p, item_receivers(engine, p)) for p in problems]
    channels: dict[str, list[Channel]] = {}
    with session_scope(engine) as session:
        for problem, notice in notices:
            if not notice:
                continue
            for receiver in notice["receivers"]:
                unit = receiver["requester"]
                if unit not in channels:
                    conn_ids = routes.unit_connections(unit, codes.get(unit))
                    if not conn_ids:
                        out.unrouted.append({"unit": unit, "conn_id": "",
                                             "reason": "a receiving department with no route and no unit code in the catalog"})
                    channels[unit] = _channels(resolve, conn_ids, unit, out) if conn_ids else []
                if not channels[unit]:
                    continue
                item = problem.shown
                payload = consumer_notice_payload(
                    item, unit=unit, dataset_name=names.get(problem.entry_code or ""), severity=problem.severity,
                    batch_id=problem.location if problem.origin == "backflow" else None,
                    received={"shares": receiver["shares"], "first": receiver["first"].isoformat(),
                              "last": receiver["last"].isoformat()},
                    basis=notice["basis"], routes=routes)
                key = f"{item.id}|{unit}"
                for channel in channels[unit]:
                    row = None if dry_run else plan(session, kind=KIND, key=key, channel=channel, unit=unit,
                                                    payload=payload, routes=routes, now=moment)
                    _record(out, row, kind=KIND, key=key, channel=channel, unit=unit, payload=payload, routes=routes,
                            now=moment, dry_run=dry_run)
    return out


def told_about(engine: Engine, item_id: int) -> dict[str, list[Delivery]]:
    """The notices recorded for dispute item ``item_id``, per receiving department (oldest first): what the
    item's page shows beside each department it lists."""
    out: dict[str, list[Delivery]] = {}
    with session_scope(engine) as session:
        for row in session.scalars(select(NotificationDelivery).where(
                NotificationDelivery.kind == KIND, NotificationDelivery.key.startswith(f"{item_id}|", autoescape=True))
                .order_by(NotificationDelivery.id)):
            out.setdefault(row.unit or row.key.split("|", 1)[1], []).append(view(row))
    return out


__all__ = ["KIND", "plan_consumer_notices", "told_about"]
