"""Dispute-handling figures as they stood at a moment, rebuilt from the append-only event log.

The one computation behind the queue's own KPIs (:func:`dispute_kpis`, ``govern disputes kpis`` and the
API) and the dashboard's (:func:`citygov.kpis.dispute_figures`, the department league): both ask the
functions here, at ``now`` or at the end of an as-of day.

- **the items then** (:func:`states_at`): every item that existed at the moment, its status then (its
  last event's ``to_status`` before it), its deadline then (the last ``new_due_date`` set before it) and
  its unit then (the one responsible before a later reassignment); items raised later do not count;
- **open**: not 已核验 or 已归档; **overdue**: a deadline runs in the status then (待受理, 已受理, 核实中)
  and the midnight after its due day had come (:func:`dispute_counts`);
- **resolutions** (:func:`resolutions`): 已更正, 维持原数据, 驳回, or a passing check while a deadline
  ran, made before the moment, each within its deadline or not; every cycle of a reopened item counts;
- **hours** (:func:`handling_hours`): entering 待受理 → 已受理 (to accept), 已受理 → resolution (to
  resolve).

Counts are aggregated in SQL; only the hours pair each item's events in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select

from citygov.disputes.queue import UNASSIGNED
from citygov.disputes.states import CLOSED, RESOLUTIONS, STAGE_OF, Status
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models_disputes import Dispute, DisputeEvent


def _utc(moment: datetime) -> datetime:
    """Aware UTC (stored timestamps come back naive from SQLite: they are UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def end_of_day(as_of: date, now: datetime | None = None) -> datetime:
    """The end of ``as_of`` in the city (midnight after it), or ``now`` when that comes first, in UTC."""
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=CITY_TZ).astimezone(UTC)
    return end if now is None else min(end, _utc(now))


def states_at(moment: datetime) -> Any:
    """Every item that existed at ``moment`` as it stood then (a subquery: ``id``, ``unit``, ``status``,
    ``due``), rebuilt from the event log in SQL with window functions, never from the items' current rows:

    - **status**: the ``to_status`` of the item's last event before ``moment`` (items without one did not
      exist yet);
    - **due**: the ``new_due_date`` of the last event before ``moment`` that set a deadline (the deadline
      running in that status, extensions and recounts included);
    - **unit**: the responsible unit then: the ``from`` of the first reassignment after ``moment``, or the
      item's unit now when there was none since.
    """
    at_or_before = DisputeEvent.at < moment
    latest = (DisputeEvent.at.desc(), DisputeEvent.id.desc())
    status = select(
        DisputeEvent.dispute_id, DisputeEvent.to_status,
        func.row_number().over(partition_by=DisputeEvent.dispute_id, order_by=latest).label("n"),
    ).where(at_or_before, DisputeEvent.to_status.is_not(None)).subquery()
    new_due = DisputeEvent.details["new_due_date"].as_string()
    due = select(
        DisputeEvent.dispute_id, new_due.label("due"),
        func.row_number().over(partition_by=DisputeEvent.dispute_id, order_by=latest).label("n"),
    ).where(at_or_before, new_due.is_not(None)).subquery()
    reassigned = select(
        DisputeEvent.dispute_id, DisputeEvent.details["from"].as_string().label("unit"),
        func.row_number().over(partition_by=DisputeEvent.dispute_id,
                               order_by=(DisputeEvent.at, DisputeEvent.id)).label("n"),
    ).where(DisputeEvent.at >= moment, DisputeEvent.action == "reassign").subquery()
    unit = case((reassigned.c.dispute_id.is_not(None), reassigned.c.unit), else_=Dispute.responsible_unit)
    return (
        select(Dispute.id, unit.label("unit"), status.c.to_status.label("status"), due.c.due)
        .join(status, and_(status.c.dispute_id == Dispute.id, status.c.n == 1))
        .outerjoin(due, and_(due.c.dispute_id == Dispute.id, due.c.n == 1))
        .outerjoin(reassigned, and_(reassigned.c.dispute_id == Dispute.id, reassigned.c.n == 1))
        .subquery()
    )


def dispute_counts(engine: Engine, now: datetime) -> dict[str, dict[str, int]]:
    """Per responsible unit (``未定责`` for none): total, open and overdue items as they stood at ``now``,
    rebuilt from the event log (:func:`states_at`) in one grouped query.

    Overdue: a deadline runs in the status then (待受理, 已受理, 核实中) and the midnight after its due
    day had come by ``now``."""
    moment = _utc(now)
    # A deadline ends at the midnight (city time) after its due day: by ``moment`` that midnight has come
    # for every due day before the city's day of ``moment``.
    last_overdue_day = moment.astimezone(CITY_TZ).date() - timedelta(days=1)
    states = states_at(moment)
    open_ = states.c.status.not_in([s.value for s in CLOSED])
    overdue = and_(states.c.status.in_([s.value for s in STAGE_OF]), states.c.due.is_not(None),
                   states.c.due <= last_overdue_day.isoformat())
    with session_scope(engine) as session:
        rows = session.execute(
            select(states.c.unit, func.count(), func.sum(case((open_, 1), else_=0)),
                   func.sum(case((overdue, 1), else_=0)))
            .group_by(states.c.unit)
        ).all()
    out: dict[str, dict[str, int]] = {}
    for u, t, o, d in rows:  # a unit of None and one named 未定责 are one line
        line = out.setdefault(u or UNASSIGNED, {"total": 0, "open": 0, "overdue": 0})
        line["total"] += int(t)
        line["open"] += int(o or 0)
        line["overdue"] += int(d or 0)
    return out


def status_counts(engine: Engine, now: datetime) -> dict[str, int]:
    """Items per status as they stood at ``now`` (every status, 0 where none)."""
    states = states_at(_utc(now))
    with session_scope(engine) as session:
        rows = dict(session.execute(select(states.c.status, func.count()).group_by(states.c.status)).all())
    return {s.value: int(rows.get(s.value, 0)) for s in Status}


@dataclass(frozen=True)
class Resolution:
    """One resolution (see the module docstring)."""

    event_id: int
    dispute_id: int
    at: datetime
    """When it was made (UTC)."""
    on_time: bool
    """Made within the deadline running then."""
    unit: str
    """The item's responsible unit at the moment asked about (``未定责`` for none)."""


def resolutions(engine: Engine, now: datetime) -> list[Resolution]:
    """Every resolution made before ``now``, oldest first: an event into 已更正, 维持原数据, 驳回 or 已核验
    that changed the status and says whether it came within the deadline (``on_time``)."""
    moment = _utc(now)
    states = states_at(moment)
    targets = [s.value for s in RESOLUTIONS] + [Status.VERIFIED.value]
    with session_scope(engine) as session:
        rows = session.execute(
            select(DisputeEvent.id, DisputeEvent.dispute_id, DisputeEvent.at, DisputeEvent.details, states.c.unit)
            .join(states, states.c.id == DisputeEvent.dispute_id)
            .where(
                DisputeEvent.at < moment,
                DisputeEvent.to_status.in_(targets),
                or_(DisputeEvent.from_status.is_(None), DisputeEvent.from_status != DisputeEvent.to_status),
            )
            .order_by(DisputeEvent.at, DisputeEvent.id)
        ).all()
    return [Resolution(e, i, _utc(at), bool(d.get("on_time")), u or UNASSIGNED)
            for e, i, at, d, u in rows if "on_time" in (d or {})]


@dataclass
class HandlingHours:
    """Hours each step took, per responsible unit (see :func:`handling_hours`)."""

    to_accept: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    to_resolve: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def handling_hours(engine: Engine, now: datetime, done: list[Resolution]) -> HandlingHours:
    """Per unit, the hours from entering 待受理 to 已受理 and from 已受理 to each of ``done`` (the
    :func:`resolutions` before ``now``), pairing each item's events in the order they were logged."""
    moment = _utc(now)
    states = states_at(moment)
    pending, accepted = Status.PENDING.value, Status.ACCEPTED.value
    with session_scope(engine) as session:
        steps = session.execute(
            select(DisputeEvent.id, DisputeEvent.dispute_id, DisputeEvent.at, DisputeEvent.from_status,
                   DisputeEvent.to_status, states.c.unit)
            .join(states, states.c.id == DisputeEvent.dispute_id)
            .where(DisputeEvent.at < moment, DisputeEvent.to_status.in_([pending, accepted]))
        ).all()
    resolved = {r.event_id: r for r in done}
    events = sorted([(i, e, _utc(at), f, t, u or UNASSIGNED) for e, i, at, f, t, u in steps]
                    + [(r.dispute_id, r.event_id, r.at, None, None, r.unit) for r in done])
    out = HandlingHours()
    pending_since: dict[int, datetime] = {}
    accepted_since: dict[int, datetime] = {}
    for item, event, at, from_status, to_status, unit in events:
        if event in resolved:
            start = accepted_since.pop(item, None)
            if start:
                out.to_resolve[unit].append((at - start).total_seconds() / 3600)
        elif to_status == pending and from_status != pending:
            pending_since[item] = at
        elif to_status == accepted and from_status == pending:
            start = pending_since.pop(item, None)
            if start:
                out.to_accept[unit].append((at - start).total_seconds() / 3600)
            accepted_since[item] = at
    return out


def _mean(hours: list[float]) -> float | None:
    return round(sum(hours) / len(hours), 2) if hours else None


def dispute_kpis(engine: Engine, *, now: datetime | None = None) -> dict[str, Any]:
    """Dispute-handling KPIs at ``now`` (default: the present), for the city and per responsible unit:
    total, open and overdue items, resolutions and the share made within deadline, mean hours to accept
    and to resolve (the module docstring defines each), items per status. JSON-able."""
    moment = _utc(now) if now is not None else datetime.now(UTC)
    counts = dispute_counts(engine, moment)
    done = resolutions(engine, moment)
    hours = handling_hours(engine, moment, done)
    units = sorted(set(counts) | {r.unit for r in done})

    def bucket(count: dict[str, int], made: list[Resolution], accept: list[float], resolve: list[float]) -> dict[str, Any]:
        within = sum(r.on_time for r in made)
        return {
            "total": count.get("total", 0), "open": count.get("open", 0), "overdue": count.get("overdue", 0),
            "resolved": len(made), "resolved_within_deadline": within,
            "share_resolved_within_deadline": round(within / len(made), 4) if made else None,
            "mean_hours_to_accept": _mean(accept), "mean_hours_to_resolve": _mean(resolve),
        }

    city = bucket({k: sum(c[k] for c in counts.values()) for k in ("total", "open", "overdue")}, done,
                  [h for u in units for h in hours.to_accept.get(u, [])],
                  [h for u in units for h in hours.to_resolve.get(u, [])])
    by_unit = {u: bucket(counts.get(u, {}), [r for r in done if r.unit == u], hours.to_accept.get(u, []),
                         hours.to_resolve.get(u, [])) for u in units}
    return {
        "as_of": moment.astimezone(CITY_TZ).isoformat(),
        "city": city,
        "by_status": status_counts(engine, moment),
        "open_by_department": {u: b["open"] for u, b in by_unit.items() if b["open"]},
        "overdue_by_department": {u: b["overdue"] for u, b in by_unit.items() if b["overdue"]},
        "by_department": by_unit,
    }
