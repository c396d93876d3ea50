"""Items of draft quality rules: which rule of a drafted suite an item comes from, and dropping it there.

A drafted suite (``govern suites draft``, ``govern city init``) runs and scores like any other, so its
rules raise items before a steward has reviewed them. The finding of a draft rule says so in its message
and evidence (:func:`citygov.quality.runner.findings_for`); here the item page learns whether the item's
rule is *still* a draft rule of its dataset's suite, and a steward drops the rule from the item.

Dropping closes the item the way the workflow allows (:data:`citygov.disputes.states.TRANSITIONS`): the
finding was not a defect of the data but of the draft, which is what 驳回 (the dispute is unfounded)
records, and the steward who dropped the rule confirms that at once (驳回 → 已核验, which lifts the flag),
so the item is no longer open. From 已更正 or 维持原数据 the item goes straight to 已核验 (the workflow
has no 驳回 from a handled state); an item already 已核验 or 已归档 only gets a ``drop_rule`` event.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from citygov.bounds import quoted
from citygov.disputes.errors import InvalidInput
from citygov.disputes.queue import (
    DisputeView,
    _actor,
    _event,
    _load,
    _move,
    _now,
    _require_steward,
    _text,
    _transaction,
    _view,
)
from citygov.disputes.states import CLOSED, RESOLUTIONS, Status, check_transition
from citygov.disputes.workdays import DeadlinePolicy
from citygov.quality.review import draft_rule_of_finding, review_suite, rule_label
from citygov.quality.suites import SuiteFileError, load_suite

DROP_ACTION = "drop_rule"
"""The event of a steward dropping an item's draft rule (with the moves it caused)."""


def item_draft_rule(
    entry_code: str | None, rule_id: str | None, column: str | None, *, suites: Path | str | None = None
) -> tuple[int, str] | None:
    """(number, ``type:column`` label) of the draft rule of ``entry_code``'s suite that a quality item
    (``rule_id`` = expectation type, ``column``) comes from; None when the item is not of a draft rule
    (any more), or the suite cannot be read."""
    if not entry_code or not rule_id:
        return None
    try:
        suite = load_suite(entry_code, suites)
    except SuiteFileError:
        return None
    if suite is None:
        return None
    number = draft_rule_of_finding(suite, rule_id, column)
    return None if number is None else (number, rule_label(suite.expectations[number - 1]))


def drop_draft_rule(
    engine: Engine,
    dispute_id: int,
    *,
    by: str,
    note: str,
    suites: Path | str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
    policy: DeadlinePolicy | None = None,
) -> DisputeView:
    """Drop the draft rule item ``dispute_id`` comes from out of its dataset's suite file (``suites``,
    default :func:`citygov.quality.suites.suites_dir`) and close the item (see the module docstring), as
    steward ``by`` with ``note``. Refused, with nothing written, for someone not a steward, an item that
    is not of a draft rule, an empty note or a stale ``expected_version``."""
    text = _text(note, "note")
    moment, policy = _now(now), policy or DeadlinePolicy.from_env()
    with _transaction(engine) as session:
        actor = _actor(session, by)
        _require_steward(actor, f"drop the rule of dispute {dispute_id}")
        item = _load(session, dispute_id, expected_version)
        found = item_draft_rule(item.entry_code, item.rule_id, item.column_name, suites=suites)
        if item.origin != "quality" or found is None:
            raise InvalidInput(
                f"dispute {dispute_id} is not of a draft rule of {quoted(item.entry_code or '-')}'s suite "
                f"({item.rule_id or 'no rule'}{f' on {item.column_name}' if item.column_name else ''}); "
                "an accepted rule is changed with govern suites drop/set"
            )
        number, label = found
        reason = f"rule dropped by steward: {label} removed from the draft suite of {item.entry_code}; {text}"
        moved: list[str] = []
        while Status(item.status) not in CLOSED:
            current = Status(item.status)
            target = Status.VERIFIED if current in RESOLUTIONS else Status.REJECTED
            check_transition(current, target)
            _move(session, item, target, actor=actor.username, action=DROP_ACTION, now=moment, policy=policy,
                  note=reason, details={"rule": label, "suite": item.entry_code})
            moved.append(target.value)
        if not moved:
            _event(session, item, actor=actor.username, action=DROP_ACTION, now=moment, note=reason,
                   from_status=item.status, to_status=item.status, details={"rule": label, "suite": item.entry_code})
        # Written last, inside the transaction: a refusal above writes nothing, a failed write saves nothing.
        try:
            review_suite(item.entry_code, "drop", rule=str(number), expected_label=label, directory=suites)
        except (LookupError, ValueError) as exc:  # the file changed under us: nothing is saved
            raise InvalidInput(str(exc)) from exc
        session.flush()
        return _view(item, moment)
