"""Routing stored findings into the queue: one item per problem, updated as checks run again.

Every check stores its findings per (origin, logical date) and replaces them when a date is rerun
(:func:`citygov.findings.replace_findings`). :func:`route_findings` takes in each such *run*:

- a failing finding opens an item for its problem, or updates the open one (occurrences, first and
  last seen, latest masked evidence). The problem's identity is (dataset or resource, rule, column,
  record key); the census and the patrol report a missing or unreadable resource under different
  rule ids, which are folded into one problem so a defect seen by both is one item;
- an item whose check passes on a later run of an origin that covers it (the same dataset was checked
  and the problem was not found) is verified automatically (→ 已核验, flag lifted);
- a failure found again after 已更正 or 已核验 reopens the item (→ 待受理, new accept deadline);
- after 维持原数据 or 驳回 a recurring failure only counts as an occurrence: the decision stands.

Which items a run covers, per origin:

============  =====================================================================================
census        every item of a census rule, except those of sources the census could not reach
patrol        items of entries patrolled that date (only ``patrol.metadata.*`` when the source was down)
quality       items of entries validated that date (a run that ended in error covers nothing)
backflow      items of resources with a backflow batch that date
catalog       every catalog-import item (each import reads the whole catalog)
============  =====================================================================================

Rejected catalog rows (kept by the catalog import) become findings of origin ``catalog`` through
:func:`record_catalog_rejections`, which :func:`route_findings` calls first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from citygov.disputes.queue import (
    SYSTEM_PREFIX,
    _event,
    _move,
    _now,
    _open_item,
    _start_stage,
    _transaction,
    _utc,
    dispute_fingerprints,
    jsonable,
)
from citygov.disputes.recordkeys import ProtectedKey, protect
from citygov.disputes.states import AUTO_VERIFY_FROM, REOPEN_FROM, Status
from citygov.disputes.workdays import DeadlinePolicy, city_day
from citygov.findings import Dimension, FindingRecord, replace_findings
from citygov.identifiers import mask_text, scrub
from citygov.rulebook import describe
from citygov.store import session_scope
from citygov.store.models import (
    BackflowBatch,
    CatalogEntryRow,
    CatalogImport,
    CatalogImportError,
    CensusSnapshot,
    Finding,
    PatrolObservation,
    QualityRun,
)
from citygov.store.models_disputes import Dispute, DisputeRoutingRun

CATALOG_ORIGIN = "catalog"
CATALOG_RULE = "catalog.row_rejected"

PROBLEM_OF_RULE: dict[str, str] = {
    "census.resource_missing": "resource.missing",
    "patrol.resource.missing": "resource.missing",
    "census.resource_unreadable": "resource.unreadable",
    "patrol.resource.unreadable": "resource.unreadable",
}
"""Rules of different origins that report the same problem."""

ORIGINS_OF_PROBLEM: dict[str, frozenset[str]] = {
    "resource.missing": frozenset({"census", "patrol"}),
    "resource.unreadable": frozenset({"census", "patrol"}),
}

ORIGIN_ORDER = {"catalog": 0, "census": 1, "patrol": 2, "quality": 3, "backflow": 4}


@dataclass
class RoutingReport:
    """What one routing pass did."""

    runs: list[tuple[str, date]] = field(default_factory=list)
    """The (origin, logical date) runs taken in, in order."""
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    verified: list[int] = field(default_factory=list)
    findings: int = 0
    """Findings routed."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runs"] = [{"origin": o, "logical_date": d.isoformat()} for o, d in self.runs]
        for key in ("opened", "updated", "reopened", "verified"):
            data[key] = sorted(set(data[key]))
        return data


def problem_of(rule_id: str) -> str:
    return PROBLEM_OF_RULE.get(rule_id, rule_id)


def origins_of(item: Dispute) -> frozenset[str]:
    """The origins whose runs can confirm or refute an item's problem."""
    if item.origin == "consumer":
        return frozenset()
    return ORIGINS_OF_PROBLEM.get(item.rule_id or "", frozenset({item.origin}))


def finding_key(f: Finding) -> ProtectedKey | None:
    """A finding's record key as the queue keeps it (the pipeline's own keys: a batch id and a reason)."""
    return protect(f.record_key, generated=True)


def finding_fingerprints(f: Finding, key: ProtectedKey | None) -> list[str]:
    """The finding's problem identity under every known record-key secret, current first."""
    subject = f.entry_code or f"{f.conn_id}/{f.location}"
    return dispute_fingerprints(subject, problem_of(f.rule_id), f.column, key)


# --- catalog rejections -------------------------------------------------------------------------------


def record_catalog_rejections(engine: Engine, *, import_id: int | None = None) -> int:
    """Store the rejected rows of a catalog import (default: the latest) as findings of origin
    ``catalog`` for the import's date, replacing that date's; returns how many.

    The responsible unit of a rejected row is the provider of the entry when the catalog already knows
    its code, else the provider the row names when that is a unit the catalog knows, else the provider
    of the other entries with the same department segment in their code (``320700-SCJGJ-0005`` → the
    provider of ``320700-SCJGJ-*``), else none (a steward assigns it).
    """
    with session_scope(engine) as session:
        query = select(CatalogImport).order_by(CatalogImport.id.desc()).limit(1)
        if import_id is not None:
            query = select(CatalogImport).where(CatalogImport.id == import_id)
        imp = session.scalars(query).first()
        if imp is None:
            return 0
        day = city_day(_utc(imp.imported_at))  # type: ignore[arg-type]
        errors = session.scalars(
            select(CatalogImportError).where(CatalogImportError.import_id == imp.id).order_by(CatalogImportError.id)
        ).all()
        stored = session.scalars(
            select(Finding.evidence).where(Finding.origin == CATALOG_ORIGIN, Finding.logical_date == day)
        ).all()
        if len(stored) == len(errors) and all((ev or {}).get("import_id") == imp.id for ev in stored):
            return len(stored)  # this import's rows are stored already: keep them (and their routing)
        providers = dict(session.execute(select(CatalogEntryRow.code, CatalogEntryRow.provider)).all())
        records = [
            FindingRecord(
                origin=CATALOG_ORIGIN,
                rule_id=CATALOG_RULE,
                message=mask_text(f"{imp.file}:{e.line}: {e.column or '-'}: {e.message}"),
                logical_date=day,
                entry_code=e.code or None,
                department=_provider_for_row(e.code, e.provider, providers),
                location=None if e.code else f"{imp.file}:{e.line}",
                column=e.column,
                evidence={"file": imp.file, "line": e.line, "import_id": imp.id},
                dimension=Dimension.CONFORMITY,
            )
            for e in errors
        ]
    return replace_findings(engine, CATALOG_ORIGIN, day, records)


def _provider_for_row(code: str | None, written: str | None, providers: dict[str, str]) -> str | None:
    if code and code in providers:
        return providers[code]
    if written and written in providers.values():  # a known unit, not a typo that would strand the item
        return written
    if not code:
        return None
    prefix = code.rsplit("-", 1)[0] + "-"
    found = {p for c, p in providers.items() if c.startswith(prefix)}
    return found.pop() if len(found) == 1 else None


# --- routing -------------------------------------------------------------------------------------------


def route_findings(
    engine: Engine,
    *,
    origin: str | None = None,
    logical_date: date | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> RoutingReport:
    """Take check runs into the queue (see the module docstring).

    With ``origin`` and ``logical_date``, that run is routed (again). Otherwise every run not routed
    yet, or rerun since it was routed, is routed, oldest logical date first (narrowed by whichever of
    the two is given). ``now`` (default: the wall clock; a DAG passes its run's time) starts the
    deadlines of new and reopened items. Rerunning is harmless: occurrences count distinct dates.
    """
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    if origin in (None, CATALOG_ORIGIN):
        record_catalog_rejections(engine)
    if origin and logical_date:
        runs = [(origin, logical_date)]
    else:
        with session_scope(engine) as session:
            runs = _pending_runs(session, origin, logical_date)
    report = RoutingReport()
    for run_origin, day in runs:
        _route_run(engine, run_origin, day, moment, policy, report)
        report.runs.append((run_origin, day))
    return report


def _pending_runs(session: Session, origin: str | None, day: date | None) -> list[tuple[str, date]]:
    """Runs with activity after they were last routed (or never routed), or with unrouted findings."""
    activity: dict[tuple[str, date], datetime] = {}

    def seen(run_origin: str, run_day: date, at: datetime | None) -> None:
        at = _utc(at) or datetime.min.replace(tzinfo=UTC)
        key = (run_origin, run_day)
        if key not in activity or at > activity[key]:
            activity[key] = at

    for d, at in session.execute(select(CensusSnapshot.logical_date, CensusSnapshot.taken_at)):
        seen("census", d, at)
    for d, at in session.execute(
        select(PatrolObservation.logical_date, func.max(PatrolObservation.observed_at)).group_by(
            PatrolObservation.logical_date)
    ):
        seen("patrol", d, at)
    for d, at in session.execute(
        select(QualityRun.logical_date, func.max(func.coalesce(QualityRun.finished_at, QualityRun.started_at)))
        .group_by(QualityRun.logical_date)
    ):
        seen("quality", d, at)
    for d, at in session.execute(
        select(BackflowBatch.logical_date, func.max(func.coalesce(BackflowBatch.loaded_at, BackflowBatch.received_at)))
        .group_by(BackflowBatch.logical_date)
    ):
        seen("backflow", d, at)
    for at in session.scalars(select(CatalogImport.imported_at)):
        seen(CATALOG_ORIGIN, city_day(_utc(at)), at)  # type: ignore[arg-type]
    for o, d, at in session.execute(
        select(Finding.origin, Finding.logical_date, func.max(Finding.created_at)).group_by(
            Finding.origin, Finding.logical_date)
    ):
        seen(o, d, at)
    unrouted = {
        (o, d)
        for o, d in session.execute(
            select(Finding.origin, Finding.logical_date).where(Finding.routed_dispute_id.is_(None)).distinct()
        )
    }
    routed = {(r.origin, r.logical_date): _utc(r.routed_at) for r in session.scalars(select(DisputeRoutingRun))}
    pending = [
        key for key, at in activity.items()
        if key in unrouted or key not in routed or at > routed[key]  # type: ignore[operator]
    ]
    if origin:
        pending = [k for k in pending if k[0] == origin]
    if day:
        pending = [k for k in pending if k[1] == day]
    return sorted(pending, key=lambda k: (k[1], ORIGIN_ORDER.get(k[0], 9), k[0]))


def _route_run(
    engine: Engine, origin: str, day: date, now: datetime, policy: DeadlinePolicy, report: RoutingReport
) -> None:
    actor = f"{SYSTEM_PREFIX}{origin}"
    with _transaction(engine) as session:
        findings = session.scalars(
            select(Finding).where(Finding.origin == origin, Finding.logical_date == day).order_by(Finding.id)
        ).all()
        failing: set[str] = set()
        touched: dict[int, Dispute] = {}
        for f in findings:
            record_key = finding_key(f)
            keys = finding_fingerprints(f, record_key)
            failing.update(keys)
            item = _open_item(session, keys)
            if item is None:
                item = _open(session, f, keys[0], record_key, actor, now, policy)
                session.flush()
                report.opened.append(item.id)
            elif f.routed_dispute_id != item.id:
                if _recur(session, item, f, actor, now, policy):
                    report.reopened.append(item.id)
                else:
                    report.updated.append(item.id)
            if day >= item.last_seen:
                item.latest_message = mask_text(f.message)
                item.latest_evidence = scrub(dict(f.evidence or {}))
            item.first_seen, item.last_seen = min(item.first_seen, day), max(item.last_seen, day)
            f.routed_dispute_id = item.id
            touched[item.id] = item
            report.findings += 1
        session.flush()
        ids = list(touched)
        for start in range(0, len(ids), 500):
            counts = session.execute(
                select(Finding.routed_dispute_id, func.count(func.distinct(Finding.logical_date)))
                .where(Finding.routed_dispute_id.in_(ids[start : start + 500]))
                .group_by(Finding.routed_dispute_id)
            )
            for item_id, dates in counts:
                touched[item_id].occurrences = dates
        covers = _scope(session, origin, day)
        if covers is not None:
            candidates = session.scalars(
                select(Dispute).where(Dispute.status.in_([s.value for s in AUTO_VERIFY_FROM])).order_by(Dispute.id)
            ).all()
            for item in candidates:
                if (
                    item.fingerprint not in failing
                    and origin in origins_of(item)
                    and item.last_seen <= day
                    and covers(item)
                ):
                    item.last_passed = day
                    _move(session, item, Status.VERIFIED, actor=actor, action="auto_verify", now=now, policy=policy,
                          note=f"{origin} check of {day.isoformat()} passed: the problem was not found again",
                          details={"logical_date": day})
                    report.verified.append(item.id)
        run = session.scalars(
            select(DisputeRoutingRun).where(DisputeRoutingRun.origin == origin, DisputeRoutingRun.logical_date == day)
        ).first()
        if run is None:
            run = DisputeRoutingRun(origin=origin, logical_date=day)
            session.add(run)
        run.routed_at = datetime.now(UTC)  # bookkeeping against the runs' own (wall clock) times
        run.summary = jsonable({"findings": len(findings), "items": sorted(touched)})


def _open(
    session: Session, f: Finding, key: str, record_key: ProtectedKey | None, actor: str, now: datetime,
    policy: DeadlinePolicy,
) -> Dispute:
    problem = problem_of(f.rule_id)
    title = describe(problem).label
    subject = f.entry_code or f"{f.conn_id}/{f.location}"
    extra = "".join(
        [f" · {f.location}" if f.entry_code and f.location else "",
         f" · column {f.column}" if f.column else "", f" · record {record_key.display}" if record_key else ""]
    )
    item = Dispute(
        fingerprint=key, origin=f.origin, entry_code=f.entry_code, conn_id=f.conn_id, location=f.location,
        column_name=f.column, record_key=record_key.display if record_key else None,
        record_key_hash=record_key.digest if record_key else None, rule_id=problem, title=mask_text(f"{title}: {subject}{extra}"),
        severity=f.severity, dimension=f.dimension, responsible_unit=_responsible_unit(session, f),
        status=Status.PENDING.value, raised_by=actor, reporters=0, occurrences=1, first_seen=f.logical_date,
        last_seen=f.logical_date, latest_message=mask_text(f.message),
        latest_evidence=scrub(dict(f.evidence or {})), created_at=now, status_changed_at=now,
        extended=False, escalation_level=0, reopen_count=0, flagged=False, due_provisional=False,
    )
    session.add(item)
    _start_stage(item, "accept", now, policy)
    _event(session, item, actor=actor, action="open", now=now, note=mask_text(f.message),
           to_status=Status.PENDING.value,
           details={"logical_date": f.logical_date, "rule_id": f.rule_id, "finding_id": f.id,
                    "responsible_unit": item.responsible_unit, "new_due_date": item.due_date})
    return item


def _recur(session: Session, item: Dispute, f: Finding, actor: str, now: datetime, policy: DeadlinePolicy) -> bool:
    """A finding of an already known problem; reopens (and returns True) when the problem was thought fixed."""
    status = Status(item.status)
    newer = f.logical_date >= item.last_seen and (item.last_passed is None or f.logical_date >= item.last_passed)
    if status in REOPEN_FROM and f.routed_dispute_id is None and newer:
        _move(session, item, Status.PENDING, actor=actor, action="reopen", now=now, policy=policy,
              note=f"{f.origin} check of {f.logical_date.isoformat()} found the problem again after "
                   f"{status.value}: {mask_text(f.message)}",
              details={"logical_date": f.logical_date, "finding_id": f.id})
        return True
    return False


def _responsible_unit(session: Session, f: Finding) -> str | None:
    """The catalog's provider; for backflowed data the provincial sender; else the finding's department."""
    if f.origin == "backflow":
        sender = f.department or session.scalars(
            select(BackflowBatch.sender).where(BackflowBatch.resource_code == f.entry_code)
            .order_by(BackflowBatch.logical_date.desc()).limit(1)
        ).first()
        if sender:
            return sender
    if f.entry_code:
        provider = session.scalar(select(CatalogEntryRow.provider).where(CatalogEntryRow.code == f.entry_code))
        if provider:
            return provider
    return f.department


def _scope(session: Session, origin: str, day: date) -> Callable[[Dispute], bool] | None:
    """Which items a run of ``origin`` on ``day`` checked (None: no such run is known)."""
    if origin == "census":
        snapshot = session.scalars(select(CensusSnapshot).where(CensusSnapshot.logical_date == day)).first()
        if snapshot is None:
            return None
        unreachable = set((snapshot.summary or {}).get("unreachable") or {})
        return lambda item: item.conn_id not in unreachable
    if origin == "patrol":
        observed = dict(
            session.execute(
                select(PatrolObservation.entry_code, PatrolObservation.reachable).where(
                    PatrolObservation.logical_date == day)
            ).all()
        )
        if not observed:
            return None
        return lambda item: item.entry_code in observed and (
            observed[item.entry_code] or (item.rule_id or "").startswith("patrol.metadata.")
        )
    if origin == "quality":
        # A run that could not validate (status "error": source down, no suite) says nothing about the data.
        checked = set(session.scalars(select(QualityRun.entry_code).where(
            QualityRun.logical_date == day, QualityRun.status.in_(["passed", "failed"]))))
        return (lambda item: item.entry_code in checked) if checked else None
    if origin == "backflow":
        # Per batch, not per resource: a corrupt batch of a resource received today says nothing about the
        # rows quarantined from another of its batches, which stay open until that batch is re-checked.
        received = set(session.scalars(select(BackflowBatch.batch_id).where(BackflowBatch.logical_date == day)))
        return (lambda item: item.location in received) if received else None
    if origin == CATALOG_ORIGIN:
        imported = [city_day(_utc(at)) for at in session.scalars(select(CatalogImport.imported_at))]  # type: ignore[arg-type]
        return (lambda item: True) if day in imported else None
    return None
