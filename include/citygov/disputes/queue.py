"""The dispute queue's operations: what people do (raise, transition, reassign, extend, flag), what the
SLA run does (escalate), and what everyone reads (list, show, flags, the audit trail); the KPIs are
:mod:`citygov.disputes.figures`.

Every operation is one transaction: it validates everything first and changes nothing when it refuses
(a :class:`~citygov.disputes.errors.DisputeError` says why). Items carry a version; an operation given
``expected_version`` refuses to act on an item someone changed since, and two operations racing on the
same item cannot both commit (the loser gets :class:`~citygov.disputes.errors.VersionConflict`).
Free text (notes, claims, evidence) is masked before it is stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from citygov.bounds import id_in_range
from citygov.disputes.errors import (
    DisputeError,
    DisputeNotFound,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    UnknownActor,
    VersionConflict,
)
from citygov.disputes.recordkeys import ProtectedKey, protect
from citygov.disputes.states import (
    CLOSED,
    RESOLUTIONS,
    STAGE_NAMES,
    STAGE_OF,
    Role,
    Status,
    allowed_targets,
    check_transition,
    may_transition,
)
from citygov.disputes.workdays import Deadline, DeadlinePolicy, add_workdays, city_day, is_workday
from citygov.identifiers import mask_text
from citygov.quality.suites import suite_masks
from citygov.rulebook import describe
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import BackflowBatch, CatalogEntryRow, DepartmentSource
from citygov.store.models_disputes import Dispute, DisputeActor, DisputeEvent

NOTE_MAX = 2000
"""Longest note, claim or reason accepted (characters)."""
EVIDENCE_MAX = 4000
"""Longest evidence text a person may attach (characters)."""
KEY_MAX = 255
"""Longest dataset code, column, record key, unit or user name accepted (characters)."""
SYSTEM_PREFIX = "system:"
"""Actor names of automation (``system:patrol``, ``system:dispute_sla``); people cannot use them."""
CONSUMER_RULE = "consumer.claim"
UNASSIGNED = "未定责"
"""Shown (and accepted as a ``department`` filter) for items without a responsible unit."""


# --- typed views ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeEventView:
    """One step in an item's history (append-only)."""

    id: int
    dispute_id: int
    at: datetime
    """When, in Asia/Shanghai."""
    actor: str
    """User name, or ``system:<origin>`` for automation."""
    action: str
    """``open``, ``raise``, ``transition``, ``auto_verify``, ``reopen``, ``reassign``, ``extend``,
    ``flag``, ``unflag``, ``escalate``, ``deadline_recomputed``."""
    from_status: str | None
    to_status: str | None
    note: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisputeView:
    """A dispute item as people and programs see it."""

    id: int
    version: int
    """Pass it back as ``expected_version`` to refuse acting on a changed item."""
    status: str
    """Chinese state name (待受理, 已受理, ...)."""
    status_en: str
    allowed_transitions: list[str]
    """States a person may move it to next."""
    title: str
    origin: str
    rule_id: str | None
    rule_title: str
    """The rule in words (``<title_zh> <title_en>``, :func:`citygov.rulebook.describe`); the id stays the code."""
    fingerprint: str
    entry_code: str | None
    """The dataset (catalog 信息资源代码)."""
    conn_id: str | None
    location: str | None
    column: str | None
    record_key: str | None
    """The disputed record's key, masked (``320706********123X``); the queue never keeps it as typed."""
    severity: str | None
    dimension: str | None
    responsible_unit: str | None
    assignee: str | None
    """The person handling it within the responsible unit (None: the unit as a whole)."""
    raised_by: str
    claim: str | None
    reporters: int
    occurrences: int
    first_seen: date
    last_seen: date
    latest_message: str | None
    latest_evidence: dict[str, Any]
    created_at: datetime
    age_days: int
    """Whole days since it was opened (city days, Asia/Shanghai)."""
    status_changed_at: datetime
    stage: str | None
    due_date: date | None
    """The running deadline's last working day: the deadline as shown everywhere (a date, Asia/Shanghai)."""
    due_at: datetime | None
    """The moment the deadline passes (midnight after :attr:`due_date`), for programs judging overdue."""
    due_provisional: bool
    overdue: bool
    extended: bool
    escalation_level: int
    accepted_at: datetime | None
    resolved_at: datetime | None
    accepted_on_time: bool | None
    resolved_on_time: bool | None
    reopen_count: int
    flagged: bool
    flagged_at: datetime | None
    events: list[DisputeEventView] | None = None
    """The full history (with :func:`get_dispute`); None in lists."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class ActorView:
    """A person registered to act on the queue."""

    username: str
    role: str
    department: str | None
    display_name: str | None
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RaiseResult:
    """What raising a dispute did."""

    dispute: DisputeView
    deduplicated: bool
    """True when the claim joined an open item (automated or raised before) instead of opening one."""

    def to_dict(self) -> dict[str, Any]:
        return {"deduplicated": self.deduplicated, "dispute": self.dispute.to_dict()}


@dataclass(frozen=True)
class FlagView:
    """标注: a dataset or record currently under dispute."""

    entry_code: str | None
    column: str | None
    record_key: str | None
    """The disputed record's key, masked (``320706********123X``); the queue never keeps it as typed."""
    dispute_id: int
    status: str
    title: str
    flagged_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class EscalationReport:
    """What one SLA run did."""

    now: datetime
    escalated: list[int]
    """Ids escalated now (each item once per missed deadline)."""
    by_department: dict[str, int]
    recomputed: list[int]
    """Ids whose provisional deadline was recomputed with a newer holiday calendar."""
    conflicts: list[int]
    """Ids changed by someone during the run; the next run takes them."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


# --- helpers -------------------------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    """Stored timestamps as aware UTC (SQLite hands them back naive)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now(now: datetime | None) -> datetime:
    return _utc(now) if now is not None else datetime.now(UTC)  # type: ignore[return-value]


def _city(moment: datetime | None) -> datetime | None:
    moment = _utc(moment)
    return moment.astimezone(CITY_TZ) if moment else None


def jsonable(value: Any) -> Any:
    """``value`` ready for JSON: dates in ISO form, datetimes in city time, containers walked."""
    if isinstance(value, datetime):
        return _city(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@cache
def rule_title(rule_id: str | None) -> str:
    """A rule id in words (``<title_zh> <title_en>``); unknown ids are their own title."""
    return describe(rule_id).label if rule_id else ""


def _bounded(value: str | None, what: str, limit: int) -> str:
    """``value`` stripped; refused when longer than ``limit`` or holding a NUL character (PostgreSQL
    stores none in text, and looking one up would fail in the database instead of here)."""
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters long; at most {limit} are accepted")
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL character (\\x00); remove it")
    return text


def _text(value: str | None, what: str, limit: int = NOTE_MAX, *, required: bool = True) -> str | None:
    """Validated, masked free text."""
    text = _bounded(value, what, limit)
    if not text:
        if required:
            raise InvalidInput(f"{what} must not be empty")
        return None
    return mask_text(text)


def _key(value: str | None, what: str, limit: int = KEY_MAX) -> str | None:
    return _bounded(value, what, limit) or None


def dispute_fingerprint(subject: str, problem: str, column: str | None, key_digest: str | None) -> str:
    """Identity of a problem: (dataset or resource, problem, column, the record key's keyed hash), hashed.
    Never the key itself: an unkeyed hash of an ID number can be reversed by trying them all."""
    parts = [subject, problem, column or "", key_digest or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def dispute_fingerprints(subject: str, problem: str, column: str | None, key: ProtectedKey | None) -> list[str]:
    """The fingerprint under every known record-key secret, current first: an item opened before the
    secret was rotated is still found while its secret is listed as previous."""
    if key is None:
        return [dispute_fingerprint(subject, problem, column, None)]
    return [dispute_fingerprint(subject, problem, column, d) for d in key.digests]


def consumer_key(entry: CatalogEntryRow, record_key: str | None) -> ProtectedKey | None:
    """A record key typed by a person, hashed and masked by the mask kinds of the entry's primary-key
    columns (from its suite)."""
    text = _key(record_key, "record key")
    if not text:
        return None
    pk = list(entry.primary_key or [])
    masks = suite_masks(entry.code)
    return protect(text, kinds=[masks.get(c) for c in pk])


@contextmanager
def _transaction(engine: Engine) -> Iterator[Session]:
    """A session_scope whose lost optimistic-lock race surfaces as :class:`VersionConflict`."""
    try:
        with session_scope(engine) as session:
            yield session
            session.flush()
    except StaleDataError as exc:
        raise VersionConflict(
            "someone else changed this dispute at the same time; nothing was saved. Reload it and retry."
        ) from exc


def _load(session: Session, dispute_id: int, expected_version: int | None = None) -> Dispute:
    item = session.get(Dispute, dispute_id) if id_in_range(dispute_id) else None
    if item is None:
        raise DisputeNotFound(f"dispute {dispute_id} does not exist")
    if expected_version is not None and item.version != expected_version:
        raise VersionConflict(
            f"dispute {dispute_id} is at version {item.version}, not {expected_version}: it was changed "
            "since you read it. Reload it and retry."
        )
    return item


def _actor(session: Session, username: str) -> DisputeActor:
    name = (username or "").strip()
    if not name:
        raise InvalidInput("the acting user must be given (--by USER)")
    actor = session.get(DisputeActor, name)
    if actor is None or not actor.active:
        state = "is deactivated" if actor is not None else "is not registered as a dispute handler"
        raise UnknownActor(
            f"unknown user {name!r}: {state}; a steward registers people with "
            f"`govern disputes users add {name} --role steward|officer|consumer [--department D]`"
        )
    return actor


def _event(
    session: Session,
    item: Dispute,
    *,
    actor: str,
    action: str,
    now: datetime,
    note: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        DisputeEvent(
            dispute=item,
            at=now,
            actor=actor,
            action=action,
            note=note,
            from_status=from_status,
            to_status=to_status,
            details=jsonable(details or {}),
        )
    )


def _set_deadline(item: Dispute, deadline: Deadline) -> None:
    # Stored in UTC: SQLite keeps a timestamp's wall-clock digits and drops its offset.
    item.due_at, item.due_date, item.due_provisional = _utc(deadline.due_at), deadline.due_date, deadline.provisional


def _start_stage(item: Dispute, stage: str | None, now: datetime, policy: DeadlinePolicy) -> None:
    item.stage = stage
    if stage is None:
        item.stage_started_at = item.due_at = item.due_date = None
        item.due_provisional = False
        return
    deadline = add_workdays(now, policy.days_for(stage, extended=item.extended))
    item.stage_started_at = now
    _set_deadline(item, deadline)


def _move(
    session: Session,
    item: Dispute,
    target: Status,
    *,
    actor: str,
    action: str,
    now: datetime,
    policy: DeadlinePolicy,
    note: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Change the state and everything that follows from it (deadline, flag, timings), and log it."""
    previous = Status(item.status)
    details = dict(details or {})
    due = _utc(item.due_at)
    on_time = None if due is None else now <= due
    if target is Status.ACCEPTED and previous is Status.PENDING:
        item.accepted_at, item.accepted_on_time = now, on_time
        details.update(due_at=due, on_time=on_time)
    if target in RESOLUTIONS or (target is Status.VERIFIED and item.stage is not None):
        item.resolved_at, item.resolved_on_time = now, on_time
        details.update(due_at=due, on_time=on_time, stage=item.stage)
    if target is Status.ACCEPTED and not item.flagged:
        item.flagged, item.flagged_at = True, now
        details["flag"] = "set"
    if target in CLOSED and item.flagged:
        item.flagged = False
        details["flag"] = "lifted"
    if target is Status.PENDING:  # reopened: a new cycle
        item.accepted_at = item.resolved_at = item.accepted_on_time = item.resolved_on_time = None
        item.extended = False
        item.reopen_count += 1
    stage = STAGE_OF.get(target)
    if stage != item.stage or target is Status.PENDING:
        _start_stage(item, stage, now, policy)
        if stage:
            details["new_due_date"] = item.due_date
    item.status, item.status_changed_at = target.value, now
    _event(session, item, actor=actor, action=action, now=now, note=note,
           from_status=previous.value, to_status=target.value, details=details)


def _view(item: Dispute, now: datetime, *, events: bool = False) -> DisputeView:
    status = Status(item.status)
    due = _utc(item.due_at)
    return DisputeView(
        id=item.id,
        version=item.version,
        status=status.value,
        status_en=status.english,
        allowed_transitions=[s.value for s in allowed_targets(status)],
        title=item.title,
        origin=item.origin,
        rule_id=item.rule_id,
        rule_title=rule_title(item.rule_id),
        fingerprint=item.fingerprint,
        entry_code=item.entry_code,
        conn_id=item.conn_id,
        location=item.location,
        column=item.column_name,
        record_key=item.record_key,
        severity=item.severity,
        dimension=item.dimension,
        responsible_unit=item.responsible_unit,
        assignee=item.assignee,
        raised_by=item.raised_by,
        claim=item.claim,
        reporters=item.reporters,
        occurrences=item.occurrences,
        first_seen=item.first_seen,
        last_seen=item.last_seen,
        latest_message=item.latest_message,
        latest_evidence=dict(item.latest_evidence or {}),
        created_at=_city(item.created_at),  # type: ignore[arg-type]
        age_days=_age_days(item.created_at, city_day(now)),
        status_changed_at=_city(item.status_changed_at),  # type: ignore[arg-type]
        stage=item.stage,
        due_date=item.due_date,
        due_at=_city(due),
        due_provisional=item.due_provisional,
        overdue=_overdue(item.stage, due, now),
        extended=item.extended,
        escalation_level=item.escalation_level,
        accepted_at=_city(item.accepted_at),
        resolved_at=_city(item.resolved_at),
        accepted_on_time=item.accepted_on_time,
        resolved_on_time=item.resolved_on_time,
        reopen_count=item.reopen_count,
        flagged=item.flagged,
        flagged_at=_city(item.flagged_at),
        events=[_event_view(e) for e in item.events] if events else None,
    )


def _age_days(created_at: datetime, today: date) -> int:
    """Whole city days from ``created_at`` (naive: UTC) to ``today`` (the city's day at the moment asked
    about); cheapest when ``created_at`` is in city time already."""
    return (today - city_day(created_at)).days


def _overdue(stage: str | None, due: datetime | None, now: datetime) -> bool:
    """A running deadline (``due``, aware) has passed at ``now``."""
    return bool(stage and due and now >= due)


def _event_view(e: DisputeEvent) -> DisputeEventView:
    return DisputeEventView(
        id=e.id, dispute_id=e.dispute_id, at=_city(e.at), actor=e.actor, action=e.action,  # type: ignore[arg-type]
        from_status=e.from_status, to_status=e.to_status, note=e.note, details=dict(e.details or {}),
    )


def _forbid(actor: DisputeActor, action: str, reason: str) -> NotPermitted:
    """``action`` completes "may not ...", e.g. "move dispute 7 to 已受理"."""
    return NotPermitted(f"{actor.username} ({actor.role}) may not {action}: {reason}")


def _require_steward(actor: DisputeActor, action: str) -> None:
    if actor.role != Role.STEWARD:
        raise _forbid(actor, action, "only a steward may")


def _require_handler(actor: DisputeActor, item: Dispute, action: str) -> None:
    """Stewards, or officers of the item's own unit."""
    if actor.role == Role.STEWARD:
        return
    if actor.role == Role.OFFICER and actor.department and actor.department == item.responsible_unit:
        return
    raise _forbid(actor, action, f"only a steward or an officer of {item.responsible_unit or UNASSIGNED} may")


# --- people --------------------------------------------------------------------------------------------


def register_actor(
    engine: Engine,
    username: str,
    role: str | Role,
    *,
    department: str | None = None,
    display_name: str | None = None,
    active: bool = True,
    now: datetime | None = None,
) -> ActorView:
    """Register (or update) a person who may act on the queue. Officers need their department."""
    name = _key(username, "user name")
    if not name:
        raise InvalidInput("user name must not be empty")
    if name.startswith(SYSTEM_PREFIX):
        raise InvalidInput(f"user names starting with {SYSTEM_PREFIX!r} are reserved for automation")
    role = role if isinstance(role, Role) else Role.parse(role)
    department = _key(department, "department")
    if role is Role.OFFICER and not department:
        raise InvalidInput(f"officer {name!r} needs --department (the unit whose items they handle)")
    with session_scope(engine) as session:
        actor = session.get(DisputeActor, name)
        if actor is None:
            actor = DisputeActor(username=name, created_at=_now(now))
            session.add(actor)
        actor.role, actor.department, actor.display_name, actor.active = role.value, department, display_name, active
        return ActorView(name, role.value, department, display_name, active)


def list_actors(engine: Engine) -> list[ActorView]:
    with session_scope(engine) as session:
        return [
            ActorView(a.username, a.role, a.department, a.display_name, a.active)
            for a in session.scalars(select(DisputeActor).order_by(DisputeActor.username))
        ]


def known_units(session: Session) -> set[str]:
    """Every unit an item may be assigned to: catalog providers, source departments, backflow senders and
    the departments of registered officers."""
    units: set[str] = set()
    for column in (CatalogEntryRow.provider, DepartmentSource.department, BackflowBatch.sender,
                   DisputeActor.department, Dispute.responsible_unit):
        units.update(v for v in session.scalars(select(column).distinct()) if v)
    return units


# --- reading ------------------------------------------------------------------------------------------


SEVERITY_RANK = case({"high": 0, "medium": 1, "low": 2}, value=Dispute.severity)
"""Most severe first when sorted ascending."""

SORTS: dict[str, tuple[Any, bool]] = {
    "id": (Dispute.id, False),
    "status": (Dispute.status, False),
    "severity": (SEVERITY_RANK, False),
    "dimension": (Dispute.dimension, False),
    "rule": (Dispute.rule_id, False),
    "age": (Dispute.created_at, True),
    "assignee": (Dispute.assignee, False),
    "unit": (Dispute.responsible_unit, False),
    "dataset": (Dispute.entry_code, False),
    "due": (Dispute.due_date, False),
}
"""The queue's sortable columns (a whitelist: nothing else reaches ORDER BY), each with whether ascending
runs the column backwards (``age`` ascending is the youngest first: the latest ``created_at``)."""


def _ordering(sort: str | None, order: str | None) -> list[Any]:
    """ORDER BY of :data:`SORTS` ``sort`` (``asc`` or ``desc``), empty values last either way, then id."""
    name, direction = (sort or "id"), (order or "asc")
    if name not in SORTS:
        raise InvalidInput(f"unknown sort column {name[:40]!r}; sortable: {', '.join(SORTS)}")
    if direction not in ("asc", "desc"):
        raise InvalidInput(f"unknown sort order {direction[:40]!r}; use asc or desc")
    column, backwards = SORTS[name]
    descending = (direction == "desc") != backwards
    return [column.is_(None), column.desc() if descending else column.asc(),
            Dispute.id.desc() if direction == "desc" else Dispute.id.asc()]


def _filters(
    status: str | Status | None, department: str | None, dataset: str | None, origin: str | None,
    flagged: bool | None, overdue: bool, moment: datetime, rule: str | None = None, severity: str | None = None,
    assignee: str | None = None,
) -> list[Any]:
    """WHERE clauses of the queue's filters (see :func:`list_disputes`); ``overdue`` as
    :attr:`DisputeView.overdue` has it at ``moment``."""
    where: list[Any] = []
    if rule:
        where.append(Dispute.rule_id == rule)
    if severity:
        if severity not in ("high", "medium", "low"):
            raise InvalidInput(f"unknown severity {severity[:40]!r}; severities: high, medium, low")
        where.append(Dispute.severity == severity)
    if assignee:
        where.append(Dispute.assignee == assignee)
    if status:
        where.append(Dispute.status == (status if isinstance(status, Status) else Status.parse(status)).value)
    if department:
        where.append(
            Dispute.responsible_unit.is_(None) if department == UNASSIGNED else Dispute.responsible_unit == department
        )
    if dataset:
        where.append(Dispute.entry_code == dataset)
    if origin:
        where.append(Dispute.origin == origin)
    if flagged is not None:
        where.append(Dispute.flagged.is_(flagged))
    if overdue:
        where += [Dispute.stage.is_not(None), Dispute.due_at.is_not(None), Dispute.due_at <= moment]
    return where


def list_disputes(
    engine: Engine,
    *,
    status: str | Status | None = None,
    department: str | None = None,
    dataset: str | None = None,
    origin: str | None = None,
    overdue: bool = False,
    flagged: bool | None = None,
    rule: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
    sort: str = "id",
    order: str = "asc",
    now: datetime | None = None,
) -> list[DisputeView]:
    """Items filtered by state, responsible unit (``未定责`` for none), dataset, origin, overdue (a running
    deadline has passed at ``now``), flag, rule id, severity (high, medium, low) and assignee; in id order,
    or sorted by a column of :data:`SORTS` (``order`` asc or desc; empty values last)."""
    moment = _now(now)
    where = _filters(status, department, dataset, origin, flagged, overdue, moment, rule, severity, assignee)
    ordering = _ordering(sort, order)
    with session_scope(engine) as session:
        return [_view(item, moment) for item in session.scalars(select(Dispute).where(*where).order_by(*ordering))]


@dataclass(frozen=True, slots=True)
class DisputeLine:
    """An item as one line of a long list (the queue's exports): the fields of :class:`DisputeView` such a
    list shows, with the same names and values, read without loading the whole item."""

    id: int
    status: str
    status_en: str
    severity: str | None
    dimension: str | None
    rule_id: str | None
    rule_title: str
    origin: str
    entry_code: str | None
    location: str | None
    column: str | None
    record_key: str | None
    """Masked, as stored (see :attr:`DisputeView.record_key`)."""
    title: str
    responsible_unit: str | None
    assignee: str | None
    raised_by: str
    created_at: datetime
    age_days: int
    due_date: date | None
    overdue: bool
    resolved_at: datetime | None
    resolved_on_time: bool | None


_LINE_COLUMNS = (
    Dispute.id, Dispute.status, Dispute.severity, Dispute.dimension, Dispute.rule_id, Dispute.origin,
    Dispute.entry_code, Dispute.location, Dispute.column_name, Dispute.record_key, Dispute.title,
    Dispute.responsible_unit, Dispute.assignee, Dispute.raised_by, Dispute.created_at, Dispute.stage,
    Dispute.due_at, Dispute.due_date, Dispute.resolved_at, Dispute.resolved_on_time,
)


def list_dispute_lines(
    engine: Engine,
    *,
    status: str | Status | None = None,
    department: str | None = None,
    dataset: str | None = None,
    origin: str | None = None,
    overdue: bool = False,
    flagged: bool | None = None,
    rule: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
    sort: str = "id",
    order: str = "asc",
    now: datetime | None = None,
) -> list[DisputeLine]:
    """:func:`list_disputes` as :class:`DisputeLine`: the same items in the same order for the same
    filters, in one query of only the columns a line holds (tens of thousands of items in well under a
    second)."""
    moment = _now(now)
    where = _filters(status, department, dataset, origin, flagged, overdue, moment, rule, severity, assignee)
    ordering = _ordering(sort, order)
    statuses, today = {s.value: s for s in Status}, city_day(moment)
    with session_scope(engine) as session:
        rows = session.execute(select(*_LINE_COLUMNS).where(*where).order_by(*ordering)).all()
        lines = []
        for (id_, state, severity_, dimension, rule_id, origin_, code, location, column, key, title, unit, person,
             raised_by, created_at, stage, due_at, due_date, resolved_at, on_time) in rows:
            state_ = statuses.get(state) or Status(state)
            lines.append(DisputeLine(
                id=id_, status=state_.value, status_en=state_.english, severity=severity_, dimension=dimension,
                rule_id=rule_id, rule_title=rule_title(rule_id), origin=origin_, entry_code=code, location=location,
                column=column, record_key=key, title=title, responsible_unit=unit, assignee=person,
                raised_by=raised_by, created_at=(created := _city(created_at)),  # type: ignore[arg-type]
                age_days=_age_days(created, today), due_date=due_date,  # type: ignore[arg-type]
                overdue=_overdue(stage, _utc(due_at), moment), resolved_at=_city(resolved_at),
                resolved_on_time=on_time,
            ))
        return lines


@dataclass(frozen=True)
class DisputePage:
    """One page of a filtered queue, with the total the filters match."""

    total: int
    offset: int
    limit: int
    items: list[DisputeView]


def page_disputes(
    engine: Engine,
    *,
    status: str | Status | None = None,
    department: str | None = None,
    dataset: str | None = None,
    origin: str | None = None,
    overdue: bool = False,
    flagged: bool | None = None,
    rule: str | None = None,
    severity: str | None = None,
    assignee: str | None = None,
    sort: str = "id",
    order: str = "asc",
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> DisputePage:
    """:func:`list_disputes` one page at a time, every filter (overdue too) and the sort applied in SQL:
    the same items in the same order, for queues of many thousand items."""
    moment = _now(now)
    where = _filters(status, department, dataset, origin, flagged, overdue, moment, rule, severity, assignee)
    ordering = _ordering(sort, order)
    limit, offset = max(1, min(int(limit), 500)), max(0, int(offset))
    with session_scope(engine) as session:
        total = session.scalar(select(func.count()).select_from(Dispute).where(*where)) or 0
        items = session.scalars(select(Dispute).where(*where).order_by(*ordering).limit(limit).offset(offset))
        return DisputePage(total, offset, limit, [_view(item, moment) for item in items])


def dispute_rules(engine: Engine) -> list[tuple[str, str]]:
    """(rule id, rule in words) of every rule the queue holds items of, by id: the queue's rule filter."""
    with session_scope(engine) as session:
        ids = session.scalars(select(Dispute.rule_id).where(Dispute.rule_id.is_not(None)).distinct())
        return [(r, rule_title(r)) for r in sorted(ids)]


def dispute_units(engine: Engine) -> list[str]:
    """Every unit an item may be assigned to (see :func:`known_units`), sorted."""
    with session_scope(engine) as session:
        return sorted(known_units(session))


def get_dispute(engine: Engine, dispute_id: int, *, now: datetime | None = None) -> DisputeView:
    """One item with its full history; :class:`DisputeNotFound` if there is none."""
    with session_scope(engine) as session:
        item = session.get(Dispute, dispute_id, options=[selectinload(Dispute.events)]) if id_in_range(dispute_id) else None
        if item is None:
            raise DisputeNotFound(f"dispute {dispute_id} does not exist")
        return _view(item, _now(now), events=True)


def list_flags(engine: Engine, *, dataset: str | None = None) -> list[FlagView]:
    """Datasets and records currently flagged (标注) as under dispute, for consumers to check."""
    query = select(Dispute).where(Dispute.flagged.is_(True)).order_by(Dispute.entry_code, Dispute.id)
    if dataset:
        query = query.where(Dispute.entry_code == dataset)
    with session_scope(engine) as session:
        return [
            FlagView(d.entry_code, d.column_name, d.record_key, d.id, d.status, d.title, _city(d.flagged_at))
            for d in session.scalars(query)
        ]


AUDIT_FIELDS = [
    "dispute_id", "event_id", "at", "actor", "action", "from_status", "to_status", "note", "details",
    "entry_code", "column", "record_key", "rule_id", "responsible_unit", "title", "fingerprint",
]


def audit_events(engine: Engine, *, dispute_id: int | None = None) -> list[dict[str, Any]]:
    """The audit trail: every event of every item (or of one), oldest first, with the item's identity."""
    query = (
        select(DisputeEvent, Dispute)
        .join(Dispute, DisputeEvent.dispute_id == Dispute.id)
        .order_by(DisputeEvent.dispute_id, DisputeEvent.id)
    )
    if dispute_id is not None:
        query = query.where(DisputeEvent.dispute_id == dispute_id)
    with session_scope(engine) as session:
        if dispute_id is not None and (not id_in_range(dispute_id) or session.get(Dispute, dispute_id) is None):
            raise DisputeNotFound(f"dispute {dispute_id} does not exist")
        return [
            {
                "dispute_id": d.id, "event_id": e.id, "at": _city(e.at).isoformat(),  # type: ignore[union-attr]
                "actor": e.actor, "action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                "note": e.note, "details": dict(e.details or {}), "entry_code": d.entry_code,
                "column": d.column_name, "record_key": d.record_key, "rule_id": d.rule_id,
                "responsible_unit": d.responsible_unit, "title": d.title, "fingerprint": d.fingerprint,
            }
            for e, d in session.execute(query)
        ]


def export_audit(engine: Engine, fmt: str = "json", *, dispute_id: int | None = None) -> str:
    """The audit trail as ``json`` (a list of events) or ``csv`` (UTF-8, one event a row)."""
    if fmt not in ("json", "csv"):
        raise InvalidInput(f"unknown export format {fmt!r}; use csv or json")
    rows = audit_events(engine, dispute_id=dispute_id)
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2)
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=AUDIT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "details": json.dumps(row["details"], ensure_ascii=False, sort_keys=True)})
    return buffer.getvalue()


# --- acting ---------------------------------------------------------------------------------------------


def transition(
    engine: Engine,
    dispute_id: int,
    to: str | Status,
    *,
    by: str,
    note: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> DisputeView:
    """Move an item to state ``to`` (Chinese or English name) with a note, as user ``by``.

    Accepting starts the resolve deadline and flags the data; a resolution (已更正, 维持原数据 with its
    explanation, 驳回 with its reason) ends the deadline; 已核验 lifts the flag. Refused with a clear
    message for an unknown id or state, an empty or oversized note, an unregistered user, a move the
    workflow does not allow (naming the allowed ones), a role that may not make it, or a stale version.
    """
    target = to if isinstance(to, Status) else Status.parse(to)
    text = _text(note, "note")
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        current = Status(item.status)
        check_transition(current, target)
        reason = may_transition(Role(actor.role), actor.department, item.responsible_unit, current, target)
        if reason:
            raise _forbid(actor, f"move dispute {dispute_id} to {target.value}", reason)
        _move(session, item, target, actor=actor.username, action="transition", now=moment, policy=policy, note=text)
        session.flush()
        return _view(item, moment)


def raise_dispute(
    engine: Engine,
    *,
    dataset: str,
    by: str,
    claim: str,
    record_key: str | None = None,
    column: str | None = None,
    evidence: str | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> RaiseResult:
    """A person's dispute against a dataset, or one record of it (by primary key), or one column.

    Deduplicated: a claim joins an open item with the same identity (raised before by anyone), or an
    open automated item on the same record (same ``record_key``) or the same column; otherwise a new
    item is opened for the dataset's provider. Claim and evidence are masked before they are stored.
    """
    code = _key(dataset, "dataset")
    if not code:
        raise InvalidInput("dataset (the catalog 信息资源代码) must be given")
    text = _text(claim, "claim")
    proof = _text(evidence, "evidence", EVIDENCE_MAX, required=False)
    col = _key(column, "column")
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    with _transaction(engine) as session:
        actor = _actor(session, by)
        entry = session.get(CatalogEntryRow, code)
        if entry is None:
            raise InvalidInput(f"unknown dataset {code!r}: no catalog entry has this 信息资源代码")
        if col and col not in {c.name for c in entry.columns}:
            declared = ", ".join(c.name for c in entry.columns)
            raise InvalidInput(f"{code} {entry.name} has no 信息项 {col!r}; declared: {declared}")
        protected = consumer_key(entry, record_key)
        key = protected.display if protected else None
        fingerprints = dispute_fingerprints(code, CONSUMER_RULE, col, protected)
        item = _open_item(session, fingerprints) or _matching_automated(session, code, col, protected)
        details = {"evidence": proof, "record_key": key, "column": col}
        if item is not None:
            item.reporters += 1
            if item.origin == "consumer" and proof:
                item.latest_evidence = {"text": proof}
            _event(session, item, actor=actor.username, action="raise", now=moment, note=text,
                   from_status=item.status, to_status=item.status, details={**details, "joined": True})
            session.flush()
            return RaiseResult(_view(item, moment), deduplicated=True)
        subject = f" · record {key}" if key else (f" · column {col}" if col else "")
        claim_rule = describe(CONSUMER_RULE)
        item = Dispute(
            fingerprint=fingerprints[0], origin="consumer", entry_code=code, conn_id=entry.conn_id,
            location=entry.location, column_name=col, record_key=key,
            record_key_hash=protected.digest if protected else None, rule_id=CONSUMER_RULE,
            title=mask_text(f"异议 dispute: {entry.name} ({code}){subject}"), responsible_unit=entry.provider,
            severity=claim_rule.severity.value if claim_rule.severity else None, dimension=claim_rule.dimension.value,
            status=Status.PENDING.value, raised_by=actor.username, claim=text, reporters=1, occurrences=1,
            first_seen=city_day(moment), last_seen=city_day(moment), latest_message=text,
            latest_evidence={"text": proof} if proof else {}, created_at=moment, status_changed_at=moment,
            extended=False, escalation_level=0, reopen_count=0, flagged=False, due_provisional=False,
        )
        session.add(item)
        _start_stage(item, "accept", moment, policy)
        _event(session, item, actor=actor.username, action="raise", now=moment, note=text,
               to_status=Status.PENDING.value, details={**details, "new_due_date": item.due_date})
        session.flush()
        return RaiseResult(_view(item, moment), deduplicated=False)


def _open_item(session: Session, fingerprints: Sequence[str]) -> Dispute | None:
    """The newest item with this identity (any of its fingerprints) that is not archived."""
    return session.scalars(
        select(Dispute)
        .where(Dispute.fingerprint.in_(list(fingerprints)), Dispute.status != Status.ARCHIVED.value)
        .order_by(Dispute.id.desc())
        .limit(1)
    ).first()


def _matching_automated(session: Session, code: str, column: str | None, record_key: ProtectedKey | None) -> Dispute | None:
    if not (column or record_key):
        return None
    query = select(Dispute).where(
        Dispute.entry_code == code,
        Dispute.origin != "consumer",
        Dispute.status.not_in([s.value for s in CLOSED]),
    )
    if record_key:
        query = query.where(Dispute.record_key_hash.in_(record_key.digests))
    else:
        query = query.where(Dispute.column_name == column, Dispute.record_key.is_(None))
    return session.scalars(query.order_by(Dispute.id).limit(1)).first()


def reassign(
    engine: Engine,
    dispute_id: int,
    *,
    to_unit: str,
    by: str,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> DisputeView:
    """A steward makes another unit responsible for an item, with a reason (the old unit is logged)."""
    text = _text(reason, "reason")
    unit = _key(to_unit, "unit")
    if not unit:
        raise InvalidInput("the unit to reassign to must be given")
    moment = _now(now)
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_steward(actor, f"reassign dispute {dispute_id}")
        if item.status == Status.ARCHIVED.value:
            raise IllegalTransition(f"dispute {dispute_id} is {Status.ARCHIVED.value}; archived items cannot be reassigned")
        if unit == item.responsible_unit:
            raise InvalidInput(f"dispute {dispute_id} is already assigned to {unit}")
        units = known_units(session)
        if unit not in units:
            raise InvalidInput(f"unknown unit {unit!r}; known units: {', '.join(sorted(units))}")
        previous, item.responsible_unit = item.responsible_unit, unit
        details: dict[str, Any] = {"from": previous, "to": unit}
        if item.assignee and not _may_be_assigned(session.get(DisputeActor, item.assignee), unit):
            details["assignee_cleared"], item.assignee = item.assignee, None  # a person of the old unit
        _event(session, item, actor=actor.username, action="reassign", now=moment, note=text,
               from_status=item.status, to_status=item.status, details=details)
        session.flush()
        return _view(item, moment)


def extend_deadline(
    engine: Engine,
    dispute_id: int,
    *,
    by: str,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> DisputeView:
    """Extend a running resolve deadline, once, to ``extended_resolve_days`` from acceptance, with a reason."""
    text = _text(reason, "reason")
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_handler(actor, item, f"extend the deadline of dispute {dispute_id}")
        if item.stage != "resolve":
            raise IllegalTransition(
                f"dispute {dispute_id} is {item.status}: only a running resolve deadline (已受理, 核实中) can be extended"
            )
        if item.extended:
            raise IllegalTransition(
                f"the deadline of dispute {dispute_id} was already extended once (to {item.due_date}); "
                "it cannot be extended again"
            )
        old = item.due_date
        deadline = add_workdays(_utc(item.stage_started_at) or moment, policy.extended_resolve_days)
        item.extended = True
        _set_deadline(item, deadline)
        _event(session, item, actor=actor.username, action="extend", now=moment, note=text,
               from_status=item.status, to_status=item.status,
               details={"old_due_date": old, "new_due_date": deadline.due_date,
                        "working_days": policy.extended_resolve_days})
        session.flush()
        return _view(item, moment)


def set_flag(
    engine: Engine,
    dispute_id: int,
    *,
    flagged: bool,
    by: str,
    note: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> DisputeView:
    """A steward flags (标注) or lifts the flag of an item's data by hand, with a note.

    Flags are also set on acceptance and lifted on verification automatically.
    """
    text = _text(note, "note")
    moment = _now(now)
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_steward(actor, f"{'flag' if flagged else 'lift the flag of'} dispute {dispute_id}")
        if item.flagged == flagged:
            raise InvalidInput(f"dispute {dispute_id} is {'already' if flagged else 'not'} flagged")
        if flagged and item.status == Status.ARCHIVED.value:
            raise IllegalTransition(f"dispute {dispute_id} is {Status.ARCHIVED.value}; archived items cannot be flagged")
        item.flagged = flagged
        if flagged:
            item.flagged_at = moment
        _event(session, item, actor=actor.username, action="flag" if flagged else "unflag", now=moment, note=text,
               from_status=item.status, to_status=item.status)
        session.flush()
        return _view(item, moment)


def _may_be_assigned(person: DisputeActor | None, unit: str | None) -> bool:
    """Whether ``person`` may handle an item of ``unit``: an active officer of that unit, or a steward."""
    if person is None or not person.active:
        return False
    return person.role == Role.STEWARD or (person.role == Role.OFFICER and bool(unit) and person.department == unit)


def set_assignee(
    engine: Engine,
    dispute_id: int,
    *,
    assignee: str | None,
    by: str,
    note: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> DisputeView:
    """Make a person within the item's responsible unit (an officer of that unit, or a steward) its
    handler, or clear it with an empty ``assignee`` (the unit as a whole), as ``by`` (a steward or an
    officer of the unit), with an optional note. The event records who had it before."""
    name = _key(assignee, "assignee")
    text = _text(note, "note", required=False)
    moment = _now(now)
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_handler(actor, item, f"assign dispute {dispute_id} to a person")
        if item.status == Status.ARCHIVED.value:
            raise IllegalTransition(f"dispute {dispute_id} is {Status.ARCHIVED.value}; archived items cannot be assigned")
        if name == item.assignee:
            raise InvalidInput(f"dispute {dispute_id} is already assigned to {name or 'its unit as a whole'}")
        if name and not _may_be_assigned(session.get(DisputeActor, name), item.responsible_unit):
            unit = item.responsible_unit or UNASSIGNED
            people = ", ".join(assignable(session, item.responsible_unit)) or "none registered"
            raise InvalidInput(
                f"{name[:40]!r} cannot handle dispute {dispute_id}: only an active officer of {unit} or a steward "
                f"can; people who can: {people}"
            )
        previous, item.assignee = item.assignee, name
        _event(session, item, actor=actor.username, action="assign", now=moment, note=text,
               from_status=item.status, to_status=item.status, details={"from": previous, "to": name})
        session.flush()
        return _view(item, moment)


def assignable(session: Session, unit: str | None) -> list[str]:
    """User names who may be an item's assignee in ``unit``: its active officers, then the stewards."""
    people = session.scalars(select(DisputeActor).where(DisputeActor.active.is_(True)).order_by(DisputeActor.username))
    found = [p for p in people if _may_be_assigned(p, unit)]
    return [p.username for p in found if p.role == Role.OFFICER] + [p.username for p in found if p.role == Role.STEWARD]


def dispute_assignees(engine: Engine, unit: str | None) -> list[str]:
    """:func:`assignable` for the pages: who may handle an item of ``unit``."""
    with session_scope(engine) as session:
        return assignable(session, unit)


def comment(
    engine: Engine,
    dispute_id: int,
    *,
    by: str,
    note: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> DisputeView:
    """A note on an item's timeline without changing anything else, by a steward or an officer of its unit."""
    text = _text(note, "note")
    moment = _now(now)
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_handler(actor, item, f"comment on dispute {dispute_id}")
        _event(session, item, actor=actor.username, action="comment", now=moment, note=text,
               from_status=item.status, to_status=item.status)
        session.flush()
        return _view(item, moment)


# --- acting on a selection ----------------------------------------------------------------------------

BULK_ACTIONS = ("accept", "transition", "assign", "reassign", "comment")
"""What a selection can be given: 受理 (to 已受理), any move, a person, a unit, a note."""
BULK_MAX = 500
"""Most items acted on in one request."""


@dataclass(frozen=True)
class BulkFailure:
    """An item of a selection that was not changed, and why."""

    id: int
    code: str
    """The refusal's code (:class:`~citygov.disputes.errors.DisputeError`): ``not_permitted``, ``version_conflict``, ..."""
    detail: str


@dataclass(frozen=True)
class BulkResult:
    """What one action on a selection did, item by item (each changed item has its own event)."""

    action: str
    done: list[int]
    """Ids changed, in the order given."""
    failed: list[BulkFailure]
    """Ids left unchanged, with why."""

    @property
    def message(self) -> str:
        """One line for people: how many were done, which failed and why."""
        text = f"{len(self.done)} 项已办理 done"
        if self.failed:
            reasons = "; ".join(f"#{f.id}: {f.detail}" for f in self.failed)
            text += f"; {len(self.failed)} 项未办理 failed: {reasons}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "done": self.done, "failed": [asdict(f) for f in self.failed],
                "message": self.message}


def bulk_act(
    engine: Engine,
    ids: Sequence[int],
    action: str,
    *,
    by: str,
    note: str | None = None,
    to: str | Status | None = None,
    unit: str | None = None,
    assignee: str | None = None,
    expected_versions: dict[int, int] | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> BulkResult:
    """Act on a selection of items as ``by``: ``accept`` (to 已受理), ``transition`` (to ``to``), ``assign``
    (to the person ``assignee``), ``reassign`` (to the unit ``unit``) or ``comment``, each with ``note``.

    Each item is acted on exactly as one would be alone (:func:`transition`, :func:`set_assignee`,
    :func:`reassign`, :func:`comment`): in its own transaction, with its own permission check, its own
    event and its own optimistic lock (``expected_versions`` maps ids to the versions read). An item that
    is refused stays as it was and is reported in :attr:`BulkResult.failed`; the others are done. The
    request itself is refused (nothing done) for an unknown action, a missing target, an empty note where
    one is needed, an unregistered user, or more than :data:`BULK_MAX` items.
    """
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"unknown bulk action {action[:40]!r}; actions: {', '.join(BULK_ACTIONS)}")
    selection = list(dict.fromkeys(int(i) for i in ids))
    if not selection:
        raise InvalidInput("select at least one item")
    if len(selection) > BULK_MAX:
        raise InvalidInput(f"{len(selection)} items selected; at most {BULK_MAX} are acted on at once")
    if action != "assign":
        _text(note, "note")
    target: Status | None = None
    if action in ("accept", "transition"):
        if action == "transition" and not to:
            raise InvalidInput("the state to move the items to must be given")
        target = Status.ACCEPTED if action == "accept" else (to if isinstance(to, Status) else Status.parse(to))  # type: ignore[arg-type]
    if action == "reassign" and not _key(unit, "unit"):
        raise InvalidInput("the unit to reassign to must be given")
    with session_scope(engine) as session:
        _actor(session, by)
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    versions = expected_versions or {}
    done: list[int] = []
    failed: list[BulkFailure] = []
    for dispute_id in selection:
        version = versions.get(dispute_id)
        try:
            if target is not None:
                transition(engine, dispute_id, target, by=by, note=note or "", expected_version=version,
                           now=moment, policy=policy)
            elif action == "assign":
                set_assignee(engine, dispute_id, assignee=assignee, by=by, note=note, expected_version=version,
                             now=moment)
            elif action == "reassign":
                reassign(engine, dispute_id, to_unit=unit or "", by=by, reason=note or "", expected_version=version,
                         now=moment)
            else:
                comment(engine, dispute_id, by=by, note=note or "", expected_version=version, now=moment)
        except DisputeError as exc:
            failed.append(BulkFailure(dispute_id, exc.code, exc.message))
        else:
            done.append(dispute_id)
    return BulkResult(action, done, failed)


# --- SLA -----------------------------------------------------------------------------------------------

SLA_ACTOR = f"{SYSTEM_PREFIX}dispute_sla"


def escalate_overdue(engine: Engine, *, now: datetime, policy: DeadlinePolicy | None = None) -> EscalationReport:
    """Escalate every item whose running deadline has passed at ``now`` (once per missed deadline), and
    recompute provisional deadlines once the holiday calendar covers their year. Idempotent for a given
    ``now``; an item someone changes meanwhile is left for the next run."""
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    escalated: list[int] = []
    recomputed: list[int] = []
    conflicts: list[int] = []
    by_department: dict[str, int] = defaultdict(int)
    with session_scope(engine) as session:
        ids = list(session.scalars(select(Dispute.id).where(Dispute.stage.is_not(None)).order_by(Dispute.id)))
    for dispute_id in ids:
        try:
            with _transaction(engine) as session:
                item = session.get(Dispute, dispute_id)
                if item is None or item.stage is None:
                    continue
                if item.due_provisional and item.stage_started_at and _calendar_knows(item.due_date):
                    old = item.due_date
                    days = policy.days_for(item.stage, extended=item.extended)
                    deadline = add_workdays(_utc(item.stage_started_at), days)  # type: ignore[arg-type]
                    _set_deadline(item, deadline)
                    _event(session, item, actor=SLA_ACTOR, action="deadline_recomputed", now=moment,
                           note="the holiday calendar now covers this deadline; recounted in official working days",
                           from_status=item.status, to_status=item.status,
                           details={"old_due_date": old, "new_due_date": item.due_date})
                    recomputed.append(dispute_id)
                due = _utc(item.due_at)
                if due is None or moment < due or _utc(item.escalated_due_at) == due:
                    continue
                item.escalation_level += 1
                item.escalated_at, item.escalated_due_at = moment, due
                unit = item.responsible_unit or UNASSIGNED
                _event(session, item, actor=SLA_ACTOR, action="escalate", now=moment,
                       note=f"超期 overdue: {STAGE_NAMES[item.stage]} deadline {item.due_date} passed "
                            f"({unit}); escalation level {item.escalation_level}",
                       from_status=item.status, to_status=item.status,
                       details={"stage": item.stage, "due_date": item.due_date, "level": item.escalation_level})
                escalated.append(dispute_id)
                by_department[unit] += 1
        except VersionConflict:
            conflicts.append(dispute_id)
    return EscalationReport(moment, escalated, dict(sorted(by_department.items())), recomputed, conflicts)


def _calendar_knows(day: date | None) -> bool:
    return day is not None and is_workday(day)[1]

