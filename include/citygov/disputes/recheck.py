"""Re-check now: run an item's one check against its dataset's source at once, and act on the result.

When a unit says the data is fixed, nobody has to wait for the night's run:

- a **quality** item is the failure of one rule of its dataset's suite (rule id = expectation type, plus
  the column): that rule is validated now, alone, through the nightly inspection's core
  (:func:`citygov.quality.runner.validate_entry`, masked the same way);
- a **patrol** item (or a census one the patrol also sees: a missing or unreadable resource) is checked
  by patrolling its one entry now (:func:`citygov.patrol.check_metadata` and
  :func:`~citygov.patrol.check_entry`) and asking whether the item's problem is among the findings. The
  two patrol rules that may compare with the previous patrol (``patrol.volume.drop``,
  ``patrol.timeliness.stale``) are left to the nightly run;

and then

- the check **passes** → the item is verified (已核验, flag lifted), as a passing nightly run would
  verify it; from 维持原数据 or 驳回 too, since the data now satisfies the rule;
- the check **fails** → the item keeps its state with the new failing count and masked evidence, or is
  reopened (→ 待受理) when it was 已更正 or 已核验, as a failing nightly run would;
- the check **cannot run** (source unreachable, the rule could not be evaluated) → nothing changes but
  the record of the attempt.

Every outcome is an event (action ``recheck``) with the counts, on the item's timeline and in the audit
export. Nothing is written to the quality runs or scores: those stay the nightly run's, for its date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from citygov.bounds import quoted
from citygov.catalog.queries import load_entries
from citygov.catalog.schema import CatalogEntry
from citygov.disputes.errors import IllegalTransition, InvalidInput
from citygov.disputes.queue import (
    DisputeView,
    _actor,
    _event,
    _load,
    _move,
    _now,
    _require_handler,
    _transaction,
    _view,
    jsonable,
)
from citygov.disputes.routing import finding_fingerprints, finding_key
from citygov.disputes.states import AUTO_VERIFY_FROM, REOPEN_FROM, RESOLUTIONS, Status
from citygov.disputes.workdays import DeadlinePolicy, city_day
from citygov.findings import FindingRecord
from citygov.identifiers import mask_text, scrub
from citygov.inventory import inspect_source
from citygov.patrol import SAMPLE_ROWS, check_entry, check_metadata
from citygov.quality.review import rule_of_finding
from citygov.quality.runner import BaseTables, CheckOutcome, ConnectionResolver, findings_for, validate_entry
from citygov.quality.suites import SuiteFileError, load_suite
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow

ACTION = "recheck"
"""The event of a re-check, whatever its outcome."""
PATROL_PROBLEMS = frozenset({"resource.missing", "resource.unreadable"})
"""Problems of census and patrol alike (routing folds their rule ids) that the patrol re-checks."""
PATROL_HISTORY = frozenset({"patrol.volume.drop", "patrol.timeliness.stale"})
"""Patrol rules judged against the previous patrol: not re-checked alone."""


@dataclass(frozen=True)
class RecheckResult:
    """What re-checking an item found and did."""

    dispute: DisputeView
    """The item after the re-check."""
    outcome: str
    """``passed`` (verified), ``failed`` (kept or reopened with the new count) or ``not_run``."""
    unexpected_count: int | None
    """Rows failing the rule now (None when it could not run)."""
    evaluated_count: int | None
    message: str
    """What happened, in words (also the event's note)."""

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "unexpected_count": self.unexpected_count,
                "evaluated_count": self.evaluated_count, "message": self.message, "dispute": self.dispute.to_dict()}


def may_recheck(origin: str, rule_id: str | None, status: str) -> bool:
    """Whether an item can be offered a re-check at all (the person's role is checked on acting)."""
    if status == Status.ARCHIVED.value or not rule_id:
        return False
    if origin == "quality":
        return rule_id.startswith("expect_")
    if rule_id in PATROL_PROBLEMS:
        return origin in ("census", "patrol")
    return origin == "patrol" and rule_id not in PATROL_HISTORY


def recheck(
    engine: Engine,
    dispute_id: int,
    *,
    by: str,
    connections: ConnectionResolver,
    suites: Path | str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> RecheckResult:
    """Re-check item ``dispute_id`` now, as ``by`` (a steward or an officer of the item's unit), reading its
    dataset's source through ``connections`` (conn id → :class:`~citygov.sources.ConnectionInfo`, as the
    DAG and ``govern`` resolve them) with the rule from its suite file in ``suites`` (default
    :func:`citygov.quality.suites.suites_dir`); see the module docstring for what each outcome does.

    Refused, with nothing changed, for an unknown id or user, a role that may not handle the item, an
    item that is not one quality rule's (or whose rule is no longer in the suite), an archived item, or a
    stale ``expected_version``; an item changed by someone while the check ran is refused as a version
    conflict (its check result is then not recorded: re-check again).
    """
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    day = city_day(moment)
    with _transaction(engine) as session:  # who, what, and the version the outcome will apply to
        actor = _actor(session, by)
        item = _load(session, dispute_id, expected_version)
        _require_handler(actor, item, f"re-check dispute {dispute_id}")
        if not may_recheck(item.origin, item.rule_id, item.status):
            if item.status == Status.ARCHIVED.value:
                raise IllegalTransition(f"dispute {dispute_id} is {Status.ARCHIVED.value}; archived items are not re-checked")
            raise InvalidInput(
                f"dispute {dispute_id} ({item.origin} {item.rule_id or '-'}) is not one check's finding: only "
                "quality rules and the patrol's own checks are re-checked one by one; the nightly run re-checks it"
            )
        code, rule_id, column, version = item.entry_code, item.rule_id, item.column_name, item.version
        origin, fingerprint = item.origin, item.fingerprint
    entry = next(iter(load_entries(engine, codes=[code], published_only=False)), None) if code else None
    if entry is None:
        raise InvalidInput(f"dataset {quoted(code or '-')} of dispute {dispute_id} is no longer in the catalog")
    if origin == "quality":
        outcome, text, finding, details = _quality(engine, entry, rule_id, column, connections, suites, day)  # type: ignore[arg-type]
    else:
        outcome, text, finding, details = _patrol(engine, entry, rule_id, fingerprint, connections, day)  # type: ignore[arg-type]
    details = {"result": outcome, "logical_date": day, "rule_id": rule_id, "column": column, **details}
    with _transaction(engine) as session:
        actor = _actor(session, by)
        item = _load(session, dispute_id, version)
        current = Status(item.status)
        note = mask_text(f"{text}; re-checked by {actor.username}")
        if outcome == "passed" and (current in AUTO_VERIFY_FROM or current in RESOLUTIONS):
            item.last_passed = day
            _move(session, item, Status.VERIFIED, actor=actor.username, action=ACTION, now=moment, policy=policy,
                  note=note, details=details)
        elif outcome == "failed" and current in REOPEN_FROM:
            _move(session, item, Status.PENDING, actor=actor.username, action=ACTION, now=moment, policy=policy,
                  note=note, details=details)
        else:
            _event(session, item, actor=actor.username, action=ACTION, now=moment, note=note,
                   from_status=item.status, to_status=item.status, details=details)
        if finding is not None:
            item.latest_message = mask_text(finding.message)
            item.latest_evidence = jsonable(scrub(dict(finding.evidence or {})))
            item.last_seen = max(item.last_seen, day)
        session.flush()
        return RecheckResult(_view(item, moment), outcome, details.get("unexpected_count"),
                             details.get("evaluated_count"), note)


Outcome = tuple[str, str, FindingRecord | None, dict[str, Any]]
"""(``passed``/``failed``/``not_run``, what happened in words, the finding when failed, event details)."""


def _quality(
    engine: Engine, entry: CatalogEntry, rule_id: str, column: str | None, connections: ConnectionResolver,
    suites: Path | str | None, day: date,
) -> Outcome:
    """The item's one expectation, validated now against the entry's source."""
    suite = _rule_suite(entry.code, rule_id, column, suites)
    with BaseTables(engine, connections) as base:
        dataset = validate_entry(entry, connections(entry.conn_id), suite, day, base_lookup=base)
    check = dataset.checks[0] if dataset.checks else None
    outcome, text = _judge(dataset.status, dataset.error, check, rule_id, column)
    finding = next(iter(findings_for(entry, dataset, day)), None) if outcome == "failed" else None
    return outcome, text, finding, {"unexpected_count": check.unexpected_count if check else None,
                                    "evaluated_count": check.evaluated_count if check else None}


def _patrol(
    engine: Engine, entry: CatalogEntry, rule_id: str, fingerprint: str, connections: ConnectionResolver, day: date
) -> Outcome:
    """The entry patrolled now (as :func:`citygov.patrol.patrol_batch` does for one entry, storing nothing):
    failed when one of its findings is the item's problem (same fingerprint, as routing compares them)."""
    with session_scope(engine) as session:
        codes = set(session.scalars(select(CatalogEntryRow.code).where(CatalogEntryRow.withdrawn_at.is_(None))))
    found = check_metadata(entry, codes, day)
    conn = connections(entry.conn_id)
    if conn is None:
        return "not_run", f"re-check could not run {rule_id}: connection {entry.conn_id!r} is not defined", None, {}
    inventory = inspect_source(
        conn, locations=[entry.location], sample=SAMPLE_ROWS,
        update_columns={entry.location: entry.update_time_column} if entry.update_time_column else {},
    )
    if inventory.error and rule_id != "patrol.source.unreachable":
        return "not_run", f"re-check could not run {rule_id}: source {entry.conn_id} cannot be reached ({inventory.error})", None, {}
    found += check_entry(entry, inventory, None, day)[0]
    same = [f for f in found if fingerprint in finding_fingerprints(f, finding_key(f))]  # type: ignore[arg-type]
    if not same:
        return "passed", f"re-check passed: the patrol no longer finds {rule_id} on {entry.code}", None, {"findings": 0}
    return "failed", f"re-check failed: {mask_text(same[0].message)}", same[0], {"findings": len(same)}


def _rule_suite(code: str, rule_id: str, column: str | None, suites: Path | str | None) -> Any:
    """``code``'s suite holding only the rule an item is the failure of (same type, same finding column)."""
    try:
        suite = load_suite(code, suites)
    except SuiteFileError as exc:
        raise InvalidInput(f"the suite of {code} cannot be read: {exc}") from None
    if suite is None:
        raise InvalidInput(f"{code} has no suite file: nothing to re-check (govern suites draft {code})")
    number = rule_of_finding(suite, rule_id, column)
    suite.expectations = [] if number is None else [suite.expectations[number - 1]]
    if not suite.expectations:
        raise InvalidInput(
            f"the suite of {code} no longer has the rule {rule_id}{f' on {column}' if column else ''}: "
            "the item is closed by the next nightly run"
        )
    return suite


def _judge(status: str, error: str | None, check: CheckOutcome | None, rule_id: str, column: str | None) -> tuple[str, str]:
    """(outcome, what happened in words) of a one-rule validation."""
    where = f"{rule_id}{f' on {column}' if column else ''}"
    if status in ("unreachable", "error") or check is None or check.error:
        why = (check.error if check and check.error else error) or "no reason recorded"
        return "not_run", f"re-check could not run {where}: {why}"
    of = f" of {check.evaluated_count}" if check.evaluated_count is not None else ""
    if check.success:
        return "passed", f"re-check passed: {check.unexpected_count or 0}{of} rows fail {where}"
    return "failed", f"re-check failed: {check.unexpected_count}{of} rows still fail {where}"
