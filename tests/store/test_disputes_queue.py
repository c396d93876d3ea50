"""The dispute queue's operations on a real store (SQLite and PostgreSQL): workflow, deadlines over
National Day 2025, refusals that change nothing, deduplication, reassignment, flags, escalation, KPIs,
the audit trail, and optimistic locking (two real concurrent sessions on PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, text

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.disputes import Status
from citygov.findings import FindingRecord, replace_findings
from citygov.settings import CITY_TZ
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import Finding, PatrolObservation
from citygov.store.models_disputes import Dispute, DisputeEvent
from tests.catalog_files import GOOD_ROWS, write_catalog
from tests.pg import scratch_database

GAJ, MZJ = "连云港市公安局", "连云港市民政局"
PERSON = "320700-GAJ-0001"  # 人口基本信息, provider 公安局, columns xm sfzhm csrq gxsj


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CITY_TZ)


def _prepare(url: str, tmp: Path) -> None:
    """Migrate, import a small catalog and register the people who work the queue."""
    upgrade(url)
    engine = engine_for(url)
    catalog = tmp / "catalog.csv"
    write_catalog(catalog, GOOD_ROWS)
    import_catalog(engine, catalog)
    dq.register_actor(engine, "wang", "steward", display_name="王管理员")
    dq.register_actor(engine, "li", "officer", department=GAJ)
    dq.register_actor(engine, "zhao", "officer", department=MZJ)
    dq.register_actor(engine, "citizen", "consumer")
    assert dq.route_findings(engine).runs  # the import is a catalog run (with no rejected rows): taken in
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A prepared store per backend, built once per module; each test gets a copy (migrating per test is
    what makes store tests slow)."""
    tmp = tmp_path_factory.mktemp("queue_template")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'template.db'}"
        _prepare(url, tmp)
        yield url
        return
    with scratch_database("citygov_tmpl") as url:
        _prepare(url, tmp)
        yield url


@pytest.fixture
def store_url(template: str, tmp_path: Path) -> Iterator[str]:
    """A private copy of the prepared store (a file copy, or a PostgreSQL database made from the template)."""
    if template.startswith("sqlite"):
        path = tmp_path / "governance.db"
        shutil.copyfile(template.split("///", 1)[1], path)
        yield f"sqlite:///{path}"
        return
    with scratch_database(template=template.rsplit("/", 1)[1]) as url:
        yield url


@pytest.fixture
def queue(store_url: str) -> Iterator[Engine]:
    engine = engine_for(store_url)
    yield engine
    engine.dispose()


FRIDAY = cst(2025, 9, 26, 10)
"""Friday before National Day 2025 (Sunday 9/28 is a make-up workday, 10/1–10/8 are holidays)."""


def raised(engine: Engine, at: datetime = FRIDAY, **kw) -> dq.DisputeView:  # type: ignore[no-untyped-def]
    args = {"dataset": PERSON, "by": "citizen", "claim": "出生日期与身份证号不一致", "record_key": "R-0001"}
    return dq.raise_dispute(engine, now=at, **{**args, **kw}).dispute


def event_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(DisputeEvent)) or 0


# --- the workflow ---------------------------------------------------------------------------------------


def test_a_consumer_dispute_goes_the_whole_way_with_working_day_deadlines(queue: Engine) -> None:
    item = raised(queue)  # Friday 2025-09-26 10:00
    assert (item.status, item.responsible_unit, item.origin, item.raised_by) == ("待受理", GAJ, "consumer", "citizen")
    assert item.stage == "accept" and item.due_date == date(2025, 9, 29)  # Sunday 9/28 is a make-up workday
    # a person's claim is classified like any rule (consumer.claim: medium, 准确性), so the queue can sort it
    assert (item.rule_id, item.severity, item.dimension, item.rule_title) == ("consumer.claim", "medium", "准确性", "使用方异议 consumer's dispute")
    assert item.allowed_transitions == ["已受理", "驳回"] and not item.flagged

    # Accepted on Tuesday 9/30, a day late; the 5-day resolve deadline jumps the National Day week.
    item = dq.transition(queue, item.id, "已受理", by="wang", note="受理，转公安局核实", now=cst(2025, 9, 30, 10))
    assert item.accepted_on_time is False and item.flagged
    assert item.stage == "resolve" and item.due_date == date(2025, 10, 14)  # 10/9, 10/10, 10/11 (调休), 10/13, 10/14
    item = dq.transition(queue, item.id, "investigating", by="li", note="核实中", now=cst(2025, 10, 9, 9))
    assert item.due_date == date(2025, 10, 14)  # same stage, same deadline
    item = dq.transition(queue, item.id, "已更正", by="li", note="已更正出生日期", now=cst(2025, 10, 14, 15))
    assert item.resolved_on_time is True and item.stage is None and item.due_date is None and item.flagged
    item = dq.transition(queue, item.id, "已核验", by="wang", note="抽查无误", now=cst(2025, 10, 15, 9))
    assert not item.flagged and dq.list_flags(queue) == []
    item = dq.transition(queue, item.id, "已归档", by="wang", note="归档", now=cst(2025, 10, 15, 10))
    assert item.allowed_transitions == []

    shown = dq.get_dispute(queue, item.id)
    assert [(e.actor, e.action, e.from_status, e.to_status) for e in shown.events or []] == [
        ("citizen", "raise", None, "待受理"),
        ("wang", "transition", "待受理", "已受理"),
        ("li", "transition", "已受理", "核实中"),
        ("li", "transition", "核实中", "已更正"),
        ("wang", "transition", "已更正", "已核验"),
        ("wang", "transition", "已核验", "已归档"),
    ]
    accept = shown.events[1]  # type: ignore[index]
    assert accept.details["on_time"] is False and accept.details["flag"] == "set"
    assert accept.details["new_due_date"] == "2025-10-14"

    kpis = dq.dispute_kpis(queue, now=cst(2025, 10, 16))
    assert kpis["city"]["mean_hours_to_accept"] == 96.0  # Fri 10:00 → Tue 10:00
    assert kpis["city"]["mean_hours_to_resolve"] == 341.0  # 9/30 10:00 → 10/14 15:00
    assert (kpis["city"]["resolved"], kpis["city"]["share_resolved_within_deadline"]) == (1, 1.0)
    assert kpis["by_status"]["已归档"] == 1 and kpis["open_by_department"] == {}


def test_upheld_needs_an_explanation_and_rejection_a_reason(queue: Engine) -> None:
    item = raised(queue)
    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 26, 11))
    dq.transition(queue, item.id, "核实中", by="li", note="核实", now=cst(2025, 9, 26, 12))
    with pytest.raises(dq.InvalidInput, match="note must not be empty"):
        dq.transition(queue, item.id, "维持原数据", by="li", note="   ", now=cst(2025, 9, 26, 13))
    item = dq.transition(queue, item.id, "维持原数据", by="li", note="经核实户籍档案，原数据正确", now=cst(2025, 9, 26, 13))
    assert item.status == "维持原数据" and item.resolved_on_time is True
    # A steward may send it back for another look; a new resolve deadline starts.
    item = dq.transition(queue, item.id, "核实中", by="wang", note="请调取原始档案", now=cst(2025, 9, 29, 9))
    assert item.status == "核实中" and item.due_date == date(2025, 10, 13)  # 9/30, 10/9, 10/10, 10/11, 10/13
    other = raised(queue, record_key="R-0002")
    item = dq.transition(queue, other.id, "驳回", by="wang", note="异议无依据：未提供证明材料", now=cst(2025, 9, 26, 12))
    assert item.status == "驳回" and item.allowed_transitions == ["已核验", "核实中"]


def test_extension_is_once_to_ten_working_days_with_a_reason(queue: Engine) -> None:
    item = raised(queue, at=cst(2025, 10, 9, 9))
    item = dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 10, 10, 11))
    assert item.due_date == date(2025, 10, 16)
    with pytest.raises(dq.NotPermitted, match=f"zhao \\(officer\\) may not extend the deadline of dispute {item.id}"):
        dq.extend_deadline(queue, item.id, by="zhao", reason="需要协调", now=cst(2025, 10, 13, 9))
    with pytest.raises(dq.InvalidInput, match="reason must not be empty"):
        dq.extend_deadline(queue, item.id, by="li", reason="", now=cst(2025, 10, 13, 9))
    item = dq.extend_deadline(queue, item.id, by="li", reason="涉及跨部门数据比对", now=cst(2025, 10, 13, 9))
    assert item.extended and item.due_date == date(2025, 10, 23)
    with pytest.raises(dq.IllegalTransition, match="already extended once \\(to 2025-10-23\\)"):
        dq.extend_deadline(queue, item.id, by="wang", reason="再延期", now=cst(2025, 10, 14, 9))
    pending = raised(queue, record_key="R-0009")
    with pytest.raises(dq.IllegalTransition, match="only a running resolve deadline"):
        dq.extend_deadline(queue, pending.id, by="wang", reason="x")
    (event,) = [e for e in dq.get_dispute(queue, item.id).events or [] if e.action == "extend"]
    assert event.details == {"old_due_date": "2025-10-16", "new_due_date": "2025-10-23", "working_days": 10}


# --- refusals --------------------------------------------------------------------------------------------


REFUSALS = [
    (lambda e, i: dq.transition(e, 9999, "已受理", by="wang", note="x"),
     dq.DisputeNotFound, "dispute 9999 does not exist", "unknown-id"),
    (lambda e, i: dq.transition(e, i, "已核验", by="wang", note="x"),
     dq.IllegalTransition, "illegal transition 待受理 → 已核验; allowed: 已受理, 驳回", "illegal"),
    (lambda e, i: dq.transition(e, i, "finished", by="wang", note="x"),
     dq.InvalidInput, "unknown state 'finished'", "unknown-state"),
    (lambda e, i: dq.transition(e, i, "已受理", by="wang", note=""),
     dq.InvalidInput, "note must not be empty", "empty-note"),
    (lambda e, i: dq.transition(e, i, "已受理", by="wang", note="长" * 2001),
     dq.InvalidInput, "note is 2001 characters long; at most 2000", "oversized-note"),
    (lambda e, i: dq.transition(e, i, "已受理", by="nobody", note="x"),
     dq.UnknownActor, "unknown user 'nobody': is not registered", "unknown-user"),
    (lambda e, i: dq.transition(e, i, "已受理", by="li", note="x"),
     dq.NotPermitted, "li (officer) may not move dispute", "officer-accepting"),
    (lambda e, i: dq.transition(e, i, "已受理", by="citizen", note="x"),
     dq.NotPermitted, "consumers may raise disputes but not change", "consumer"),
    (lambda e, i: dq.transition(e, i, "已受理", by="wang", note="x", expected_version=7),
     dq.VersionConflict, "is at version 1, not 7", "stale-version"),
    (lambda e, i: dq.reassign(e, i, to_unit="火星局", by="wang", reason="x"),
     dq.InvalidInput, "unknown unit '火星局'; known units:", "unknown-unit"),
    (lambda e, i: dq.reassign(e, i, to_unit=MZJ, by="li", reason="x"),
     dq.NotPermitted, "only a steward may", "officer-reassigning"),
    (lambda e, i: dq.set_flag(e, i, flagged=False, by="wang", note="x"),
     dq.InvalidInput, "is not flagged", "unflag-unflagged"),
    (lambda e, i: dq.raise_dispute(e, dataset="320700-XXX-0001", by="citizen", claim="x"),
     dq.InvalidInput, "unknown dataset '320700-XXX-0001'", "unknown-dataset"),
    (lambda e, i: dq.raise_dispute(e, dataset=PERSON, by="citizen", claim="x", column="age"),
     dq.InvalidInput, "has no 信息项 'age'; declared: xm, sfzhm, csrq, gxsj", "unknown-column"),
    (lambda e, i: dq.raise_dispute(e, dataset=PERSON, by="citizen", claim=" "),
     dq.InvalidInput, "claim must not be empty", "empty-claim"),
    (lambda e, i: dq.register_actor(e, "system:me", "steward"),
     dq.InvalidInput, "reserved for automation", "system-name"),
    (lambda e, i: dq.register_actor(e, "qian", "officer"),
     dq.InvalidInput, "needs --department", "officer-without-department"),
]
"""(call, error, message fragment, case name): each refused, nothing changed."""


def test_refusals_are_clear_and_change_nothing(queue: Engine) -> None:
    """One store for every case (fast); each case must leave the item, its history and the queue as they were."""
    item = raised(queue)
    before = (dq.get_dispute(queue, item.id), event_count(queue), len(dq.list_disputes(queue)))
    for call, error, message, case in REFUSALS:
        with pytest.raises(error) as exc:
            call(queue, item.id)
        assert message in str(exc.value), case
        assert 400 <= exc.value.http_status < 500, case
        after = (dq.get_dispute(queue, item.id), event_count(queue), len(dq.list_disputes(queue)))
        assert after == before, case


# --- deduplication, reassignment, flags ------------------------------------------------------------------


def test_consumer_disputes_dedup_against_each_other_and_automated_items(queue: Engine) -> None:
    day = date(2025, 9, 25)
    replace_findings(queue, "patrol", day, [
        FindingRecord("patrol", "patrol.schema.type_changed", "csrq is text, declared D", day,
                      entry_code=PERSON, department=GAJ, column="csrq", evidence={"sample": "1990-13-01"}),
    ])
    routed = dq.route_findings(queue, now=cst(2025, 9, 26, 1))
    (auto_id,) = routed.opened

    joined = dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="出生日期格式错误", column="csrq",
                              now=cst(2025, 9, 26, 10))
    assert joined.deduplicated and joined.dispute.id == auto_id and joined.dispute.reporters == 1

    first = dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="数据整体过时", now=cst(2025, 9, 26, 10))
    again = dq.raise_dispute(queue, dataset=PERSON, by="wang", claim="同上", now=cst(2025, 9, 26, 11))
    assert not first.deduplicated and again.deduplicated and again.dispute.id == first.dispute.id
    assert again.dispute.reporters == 2
    record = dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="该记录姓名有误",
                              record_key="32070619860101123X", now=cst(2025, 9, 26, 11))
    assert not record.deduplicated and record.dispute.record_key == "320706********123X"  # the key is sfzhm
    assert len(dq.list_disputes(queue)) == 3
    assert [e.action for e in dq.get_dispute(queue, auto_id).events or []] == ["open", "raise"]


def test_reassignment_moves_accountability(queue: Engine) -> None:
    item = raised(queue)
    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 26, 11))
    item = dq.reassign(queue, item.id, to_unit=MZJ, by="wang", reason="婚姻登记数据源头在民政局",
                       now=cst(2025, 9, 26, 12))
    assert item.responsible_unit == MZJ
    with pytest.raises(dq.NotPermitted, match=f"only a steward or an officer of {MZJ}|the item belongs to {MZJ}"):
        dq.transition(queue, item.id, "核实中", by="li", note="x", now=cst(2025, 9, 26, 13))
    assert dq.transition(queue, item.id, "核实中", by="zhao", note="核实", now=cst(2025, 9, 26, 13)).status == "核实中"
    (event,) = [e for e in dq.get_dispute(queue, item.id).events or [] if e.action == "reassign"]
    assert event.details == {"from": GAJ, "to": MZJ} and event.note == "婚姻登记数据源头在民政局"
    assert [d.id for d in dq.list_disputes(queue, department=MZJ)] == [item.id]
    assert dq.list_disputes(queue, department=GAJ) == []


def test_flags_show_consumers_what_is_under_dispute(queue: Engine) -> None:
    item = raised(queue)
    assert dq.list_flags(queue) == []
    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 26, 11))
    (flag,) = dq.list_flags(queue, dataset=PERSON)
    assert (flag.entry_code, flag.record_key, flag.dispute_id, flag.status) == (PERSON, "******", item.id, "已受理")
    assert dq.list_flags(queue, dataset="320700-MZJ-0001") == []
    with pytest.raises(dq.NotPermitted):
        dq.set_flag(queue, item.id, flagged=False, by="li", note="x")
    dq.set_flag(queue, item.id, flagged=False, by="wang", note="经核实不影响使用，先行解除标注")
    assert dq.list_flags(queue) == []
    assert [d.id for d in dq.list_disputes(queue, flagged=False)] == [item.id]


# --- SLA -----------------------------------------------------------------------------------------------


def test_overdue_items_are_escalated_once_per_missed_deadline(queue: Engine) -> None:
    item = raised(queue)  # accept by the end of Monday 9/29
    assert dq.escalate_overdue(queue, now=cst(2025, 9, 29, 23, 59)).escalated == []
    assert dq.list_disputes(queue, overdue=True, now=cst(2025, 9, 29, 23, 59)) == []
    report = dq.escalate_overdue(queue, now=cst(2025, 9, 30, 0, 0))
    assert report.escalated == [item.id] and report.by_department == {GAJ: 1}
    assert dq.escalate_overdue(queue, now=cst(2025, 9, 30, 1)).escalated == []  # once per deadline
    assert [d.id for d in dq.list_disputes(queue, overdue=True, now=cst(2025, 9, 30, 1))] == [item.id]
    assert dq.dispute_kpis(queue, now=cst(2025, 9, 30, 1))["overdue_by_department"] == {GAJ: 1}

    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 30, 10))  # resolve by 10/14
    assert dq.escalate_overdue(queue, now=cst(2025, 10, 14, 23)).escalated == []
    assert dq.escalate_overdue(queue, now=cst(2025, 10, 15, 0, 1)).escalated == [item.id]
    shown = dq.get_dispute(queue, item.id)
    escalations = [e for e in shown.events or [] if e.action == "escalate"]
    assert [e.details["level"] for e in escalations] == [1, 2] and shown.escalation_level == 2
    assert all(e.actor == "system:dispute_sla" for e in escalations)
    assert "受理期限 accept deadline 2025-09-29 passed (连云港市公安局)" in (escalations[0].note or "")


def test_provisional_deadlines_are_recomputed_when_the_calendar_learns_the_year(
    queue: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = raised(queue, at=datetime(2099, 12, 31, 10, tzinfo=CITY_TZ))  # Thursday; 2100 is beyond the calendar
    assert item.due_provisional and item.due_date == date(2100, 1, 4)  # Fri 1/1 and Mon 1/4, weekdays only
    real = dq.workdays.chinese_calendar.is_workday

    def knows_2100(day: date) -> bool:  # as if a newer package had 2100's notice: New Year's Day off
        if day.year == 2100:
            return day.weekday() < 5 and day != date(2100, 1, 1)
        return real(day)

    monkeypatch.setattr(dq.workdays.chinese_calendar, "is_workday", knows_2100)
    report = dq.escalate_overdue(queue, now=datetime(2100, 1, 1, 12, tzinfo=CITY_TZ))
    assert report.recomputed == [item.id] and report.escalated == []
    item = dq.get_dispute(queue, item.id)
    assert not item.due_provisional and item.due_date == date(2100, 1, 5)


# --- the audit trail and masking ---------------------------------------------------------------------------


def test_audit_export_has_every_event_and_only_masked_evidence(queue: Engine) -> None:
    item = dq.raise_dispute(
        queue, dataset=PERSON, by="citizen", now=cst(2025, 9, 26, 10),
        claim="身份证号 320706199001011230 的出生日期不对", evidence="联系电话 13812348000，见户口本",
    ).dispute
    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 26, 11))
    dq.transition(queue, item.id, "驳回", by="wang", note="与 320706199001011230 本人核对无误", now=cst(2025, 9, 26, 12))

    rows = list(csv.DictReader(io.StringIO(dq.export_audit(queue, "csv"))))
    assert [(r["dispute_id"], r["actor"], r["action"], r["from_status"], r["to_status"]) for r in rows] == [
        (str(item.id), "citizen", "raise", "", "待受理"),
        (str(item.id), "wang", "transition", "待受理", "已受理"),
        (str(item.id), "wang", "transition", "已受理", "驳回"),
    ]
    assert rows[0]["at"] == "2025-09-26T10:00:00+08:00" and rows[0]["entry_code"] == PERSON
    as_json = json.loads(dq.export_audit(queue, "json"))
    assert [r["event_id"] for r in as_json] == [int(r["event_id"]) for r in rows]
    everything = dq.export_audit(queue, "json") + json.dumps(dq.get_dispute(queue, item.id).to_dict(), ensure_ascii=False)
    assert "320706199001011230" not in everything and "13812348000" not in everything
    assert "320706********1230" in everything and "138****8000" in everything
    with pytest.raises(dq.InvalidInput, match="unknown export format 'xml'"):
        dq.export_audit(queue, "xml")
    with pytest.raises(dq.DisputeNotFound):
        dq.export_audit(queue, "csv", dispute_id=4242)


def test_events_are_append_only_in_the_database(queue: Engine) -> None:
    raised(queue)
    for statement in ("UPDATE dispute_events SET note = 'rewritten'", "DELETE FROM dispute_events"):
        with pytest.raises(Exception, match="append-only"), queue.begin() as conn:
            conn.execute(text(statement))
    assert event_count(queue) == 1


# --- optimistic locking ------------------------------------------------------------------------------------


def test_a_stale_version_is_refused_and_the_first_writer_wins(queue: Engine) -> None:
    item = raised(queue)
    seen_by_a = seen_by_b = item.version
    dq.transition(queue, item.id, "已受理", by="wang", note="A 受理", expected_version=seen_by_a)
    with pytest.raises(dq.VersionConflict, match=f"dispute {item.id} is at version 2, not 1"):
        dq.transition(queue, item.id, "驳回", by="wang", note="B 驳回", expected_version=seen_by_b)
    final = dq.get_dispute(queue, item.id)
    assert final.status == "已受理" and final.version == 2
    assert [e.note for e in final.events or []] == ["出生日期与身份证号不一致", "A 受理"]


@pytest.mark.parametrize("template", ["postgresql"], indirect=True)
def test_two_concurrent_sessions_one_wins_one_gets_a_conflict(queue: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sessions read version 1 before either writes (a barrier holds them); PostgreSQL makes the second
    UPDATE wait for the first to commit, and the version check then refuses it: no lost update."""
    item = raised(queue)
    barrier = threading.Barrier(2, timeout=20)
    real_check = dq.queue.check_transition

    def check_then_wait(current: Status, target: Status) -> None:
        real_check(current, target)
        barrier.wait()  # both have loaded the item at version 1

    monkeypatch.setattr(dq.queue, "check_transition", check_then_wait)
    outcomes: dict[str, object] = {}

    def act(name: str, target: str) -> None:
        try:
            outcomes[name] = dq.transition(queue, item.id, target, by="wang", note=f"{name}: {target}")
        except Exception as exc:  # the assertion below says which
            outcomes[name] = exc

    threads = [threading.Thread(target=act, args=("A", "已受理")), threading.Thread(target=act, args=("B", "驳回"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [n for n, o in outcomes.items() if isinstance(o, dq.DisputeView)]
    losers = [n for n, o in outcomes.items() if isinstance(o, dq.VersionConflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "changed this dispute at the same time" in str(outcomes[losers[0]])
    final = dq.get_dispute(queue, item.id)
    assert final.version == 2 and final.status == outcomes[winners[0]].status  # type: ignore[union-attr]
    assert [e.note for e in final.events or []][1:] == [f"{winners[0]}: {final.status}"]
    with session_scope(queue) as session:
        assert session.get(Dispute, item.id).version == 2  # type: ignore[union-attr]


def test_kpis_split_by_department(queue: Engine) -> None:
    a = raised(queue, record_key="A")
    b = dq.raise_dispute(queue, dataset="320700-MZJ-0001", by="citizen", claim="登记日期错误",
                         now=cst(2025, 9, 26, 10)).dispute
    dq.transition(queue, a.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 26, 12))  # on time
    dq.transition(queue, a.id, "核实中", by="li", note="核实", now=cst(2025, 9, 27, 9))
    dq.transition(queue, a.id, "已更正", by="li", note="已更正", now=cst(2025, 10, 20, 9))  # due 10/10: late
    dq.transition(queue, b.id, "驳回", by="wang", note="无依据", now=cst(2025, 9, 26, 14))  # accept stage, on time
    kpis = dq.dispute_kpis(queue, now=cst(2025, 10, 20, 10))
    assert kpis["city"]["resolved"] == 2 and kpis["city"]["share_resolved_within_deadline"] == 0.5
    assert kpis["by_department"][GAJ]["share_resolved_within_deadline"] == 0.0
    assert kpis["by_department"][MZJ]["share_resolved_within_deadline"] == 1.0
    assert kpis["by_department"][GAJ]["mean_hours_to_accept"] == 2.0
    assert kpis["open_by_department"] == {GAJ: 1, MZJ: 1}
    assert kpis["city"]["mean_hours_to_resolve"] == round((cst(2025, 10, 20, 9) - cst(2025, 9, 26, 12)) / timedelta(hours=1), 2)


# --- routing findings into the queue --------------------------------------------------------------------

D1, D2, D3 = date(2025, 9, 25), date(2025, 9, 26), date(2025, 9, 27)


def patrol_run(engine: Engine, day: date, findings: list[FindingRecord], codes: list[str],
               unreachable: tuple[str, ...] = ()) -> None:
    """What a patrol batch stores: the date's findings for ``codes`` and an observation per entry."""
    replace_findings(engine, "patrol", day, findings, entry_codes=codes)
    with session_scope(engine) as session:
        session.execute(delete(PatrolObservation).where(PatrolObservation.logical_date == day,
                                                        PatrolObservation.entry_code.in_(codes)))
        for code in codes:
            session.add(PatrolObservation(entry_code=code, logical_date=day, reachable=code not in unreachable,
                                          observed_at=datetime.now(UTC)))


def type_changed(day: date, sample: str = "1990-13-01", **kw) -> FindingRecord:  # type: ignore[no-untyped-def]
    return FindingRecord("patrol", "patrol.schema.type_changed", f"{PERSON}: csrq is text, declared D", day,
                         entry_code=PERSON, department=kw.pop("department", GAJ), column="csrq",
                         evidence={"sample": sample}, **kw)


def only(engine: Engine) -> dq.DisputeView:
    (item,) = dq.list_disputes(engine)
    return item


def test_a_recurring_failure_updates_its_one_item(queue: Engine) -> None:
    patrol_run(queue, D1, [type_changed(D1, department="某部门")], [PERSON])
    report = dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    assert report.opened == [item.id] and report.runs == [("patrol", D1)]
    # The catalog's provider is accountable, whatever the check thought.
    assert (item.status, item.responsible_unit, item.occurrences, item.first_seen) == ("待受理", GAJ, 1, D1)
    assert item.due_date == date(2025, 9, 28) and item.raised_by == "system:patrol"  # Fri 9/26, Sun 9/28 (调休)

    assert dq.route_findings(queue).runs == []  # nothing new
    patrol_run(queue, D1, [type_changed(D1)], [PERSON])  # the same night rerun
    assert dq.route_findings(queue).runs == [("patrol", D1)]
    assert only(queue).occurrences == 1

    patrol_run(queue, D2, [type_changed(D2, sample="ID 320706199001011230")], [PERSON])
    report = dq.route_findings(queue, now=cst(2025, 9, 26, 2))
    item = only(queue)
    assert report.updated == [item.id] and report.opened == []
    assert (item.occurrences, item.first_seen, item.last_seen, item.status) == (2, D1, D2, "待受理")
    assert item.latest_evidence == {"sample": "ID 320706********1230"}
    with session_scope(queue) as session:
        assert set(session.scalars(select(Finding.routed_dispute_id))) == {item.id}


def test_census_and_patrol_seeing_the_same_missing_resource_is_one_item(queue: Engine) -> None:
    replace_findings(queue, "census", D1, [
        FindingRecord("census", "census.resource_missing", "有目无数", D1, entry_code=PERSON, department=GAJ,
                      conn_id="dept_gaj", location="rkjbxx"),
    ])
    patrol_run(queue, D1, [
        FindingRecord("patrol", "patrol.resource.missing", "'rkjbxx' does not exist", D1, entry_code=PERSON,
                      department=GAJ, conn_id="dept_gaj", location="rkjbxx"),
    ], [PERSON], unreachable=(PERSON,))
    dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    assert (item.rule_id, item.origin, item.occurrences) == ("resource.missing", "census", 1)
    assert item.title.startswith("有目无数 catalogued resource not found: 320700-GAJ-0001")


def test_a_passing_run_verifies_and_a_new_failure_reopens(queue: Engine) -> None:
    patrol_run(queue, D1, [type_changed(D1)], [PERSON, "320700-MZJ-0001"])
    dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    dq.transition(queue, item.id, "已受理", by="wang", note="受理", now=cst(2025, 9, 25, 9))
    dq.transition(queue, item.id, "核实中", by="li", note="核实", now=cst(2025, 9, 25, 10))
    dq.transition(queue, item.id, "已更正", by="li", note="已改为日期类型", now=cst(2025, 9, 25, 11))

    # Another entry patrolled, or this one with its source down: nothing is known about the item.
    patrol_run(queue, D2, [], ["320700-MZJ-0001"])
    patrol_run(queue, D2, [], [PERSON], unreachable=(PERSON,))
    assert dq.route_findings(queue, now=cst(2025, 9, 26, 2)).verified == []
    assert only(queue).status == "已更正"

    patrol_run(queue, D2, [], [PERSON])  # rerun: the source answers and csrq is a date now
    report = dq.route_findings(queue, now=cst(2025, 9, 26, 3))
    item = only(queue)
    assert report.verified == [item.id] and item.status == "已核验" and not item.flagged

    patrol_run(queue, D1, [type_changed(D1)], [PERSON])  # a backfill of the old night: still failing then
    dq.route_findings(queue, now=cst(2025, 9, 26, 4))
    assert only(queue).status == "已核验"

    patrol_run(queue, D3, [type_changed(D3)], [PERSON])  # broken again
    report = dq.route_findings(queue, now=cst(2025, 9, 27, 2))  # Saturday 9/27; Sunday 9/28 is a workday
    item = dq.get_dispute(queue, item.id)
    assert report.reopened == [item.id] and report.opened == []
    assert (item.status, item.reopen_count, item.accepted_at, item.due_date) == ("待受理", 1, None, date(2025, 9, 29))
    assert [(e.actor, e.action, e.to_status) for e in item.events or []] == [
        ("system:patrol", "open", "待受理"),
        ("wang", "transition", "已受理"),
        ("li", "transition", "核实中"),
        ("li", "transition", "已更正"),
        ("system:patrol", "auto_verify", "已核验"),
        ("system:patrol", "reopen", "待受理"),
    ]
    assert "found the problem again after 已核验" in (item.events[-1].note or "")  # type: ignore[index]


def test_a_decision_stands_when_the_check_fails_again_and_archived_items_stay_closed(queue: Engine) -> None:
    patrol_run(queue, D1, [type_changed(D1)], [PERSON])
    dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    for to, by in (("已受理", "wang"), ("核实中", "li"), ("维持原数据", "li")):
        dq.transition(queue, item.id, to, by=by, note="csrq 以文本存储为部门约定", now=cst(2025, 9, 25, 9))
    patrol_run(queue, D2, [type_changed(D2)], [PERSON])
    dq.route_findings(queue, now=cst(2025, 9, 26, 2))
    item = only(queue)
    assert (item.status, item.occurrences) == ("维持原数据", 2)

    dq.transition(queue, item.id, "已核验", by="wang", note="认可说明", now=cst(2025, 9, 26, 9))
    dq.transition(queue, item.id, "已归档", by="wang", note="归档", now=cst(2025, 9, 26, 10))
    patrol_run(queue, D3, [type_changed(D3)], [PERSON])
    report = dq.route_findings(queue, now=cst(2025, 9, 27, 2))
    archived, new = dq.list_disputes(queue)
    assert archived.status == "已归档" and new.status == "待受理" and report.opened == [new.id]
    assert new.fingerprint == archived.fingerprint and new.first_seen == D3


def test_rejected_catalog_rows_become_items_of_their_provider(queue: Engine, tmp_path: Path) -> None:
    bad = dict(GOOD_ROWS[0], **{"信息资源代码": "320700-GAJ-0009", "敏感级别": "L9"})
    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, [*GOOD_ROWS, bad])
    import_catalog(queue, catalog)
    report = dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    assert report.opened == [item.id]
    assert (item.origin, item.rule_id, item.entry_code, item.column) == ("catalog", "catalog.row_rejected",
                                                                         "320700-GAJ-0009", "敏感级别")
    assert item.responsible_unit == GAJ  # the provider of 320700-GAJ-*
    assert "L9" in (item.latest_message or "")
    assert dq.route_findings(queue).opened == []  # routing again changes nothing

    write_catalog(catalog, GOOD_ROWS)  # the office fixes the row
    import_catalog(queue, catalog)
    report = dq.route_findings(queue, now=cst(2025, 9, 25, 3))
    assert report.verified == [item.id] and only(queue).status == "已核验"


@pytest.mark.parametrize(
    ("provider", "unit"),
    [(GAJ, GAJ), ("连云港市公按局", None)],  # a known unit; a typo is not guessed into a unit
    ids=["named-unit", "typo"],
)
def test_a_rejected_row_with_a_new_code_goes_to_the_unit_it_names(
    queue: Engine, tmp_path: Path, provider: str, unit: str | None
) -> None:
    # No entry has this code or its department segment, so only the row itself says who must fix it.
    bad = dict(GOOD_ROWS[0], **{"信息资源代码": "320700-XZSP-0001", "敏感级别": "L9", "信息资源提供方": provider})
    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, [*GOOD_ROWS, bad])
    import_catalog(queue, catalog)
    dq.route_findings(queue, now=cst(2025, 9, 25, 2))
    item = only(queue)
    assert (item.entry_code, item.column, item.responsible_unit) == ("320700-XZSP-0001", "敏感级别", unit)
