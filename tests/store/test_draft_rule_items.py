"""Items of draft quality rules, on a real store (SQLite and PostgreSQL): a failing draft rule's item says
it is a draft rule, accepting the suite keeps the same item (the fingerprint does not change), and a
steward who drops the rule from the item removes it from the suite file and closes the item."""

from __future__ import annotations

import shutil
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF
from citygov.disputes import Status
from citygov.quality.review import review_suite, rule_label
from citygov.quality.runner import inspect_batch
from citygov.quality.suites import load_suite
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import session_scope
from citygov.store.models_disputes import Dispute
from tests.suite_files import mark_draft

SUITES = Path(__file__).resolve().parents[2] / "expectations"
PERSON = "320700-GAJ-0001"  # 人口基本信息: 3 invalid ID numbers planted in the demo
VEHICLE = "320700-GAJ-0003"  # 6 duplicate plates planted
CODES = [PERSON, VEHICLE]
GAJ = "连云港市公安局"
DAY = DEFAULT_AS_OF


def _inspect(engine: Engine, city: Path, suites: Path) -> dq.RoutingReport:
    conns = connections_from_file(city / "connections.json")
    inspect_batch(engine, CODES, conns.get, DAY, suites=suites)
    return dq.route_findings(engine, origin="quality", logical_date=DAY,
                             now=datetime.combine(DAY, time(3), tzinfo=CITY_TZ))


@pytest.fixture
def drafted(store: Engine, city: Path, tmp_path: Path) -> tuple[Engine, Path, list[dq.DisputeView]]:
    """The demo catalog, the suites of CODES as drafts in a folder of the test's own, one inspection routed."""
    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    for code in CODES:
        mark_draft(suites, code)
    import_catalog(store, city / "catalog.csv")
    dq.register_actor(store, "wang", "steward")
    dq.register_actor(store, "li", "officer", department=GAJ)
    _inspect(store, city, suites)
    items = sorted((d for code in CODES for d in dq.list_disputes(store, dataset=code) if d.origin == "quality"),
                   key=lambda d: d.id)
    assert [d.entry_code for d in items] == CODES
    return store, suites, items


def test_a_draft_rules_item_says_so_and_accepting_keeps_the_same_item(
    drafted: tuple[Engine, Path, list[dq.DisputeView]], city: Path
) -> None:
    engine, suites, items = drafted
    for item in items:
        shown = dq.get_dispute(engine, item.id)
        assert "草稿规则 draft rule" in (shown.latest_message or "")
        assert "holds for 97 of 100 sampled rows" in shown.latest_evidence["draft_rule"]
        assert dq.item_draft_rule(item.entry_code, item.rule_id, item.column, suites=suites) is not None

    for code in CODES:
        review_suite(code, "accept", by="wang", directory=suites)
    report = _inspect(engine, city, suites)
    assert report.opened == [] and sorted(set(report.updated)) == sorted(i.id for i in items)
    for item in items:
        shown = dq.get_dispute(engine, item.id)
        assert "草稿" not in (shown.latest_message or "") and "draft_rule" not in shown.latest_evidence
        assert dq.item_draft_rule(item.entry_code, item.rule_id, item.column, suites=suites) is None  # accepted


def test_a_steward_drops_the_draft_rule_from_its_item(drafted: tuple[Engine, Path, list[dq.DisputeView]]) -> None:
    engine, suites, items = drafted
    item = items[0]
    number, label = dq.item_draft_rule(PERSON, item.rule_id, item.column, suites=suites) or (0, "")
    before = [rule_label(e) for e in load_suite(PERSON, suites).expectations]
    assert before[number - 1] == label

    with pytest.raises(dq.NotPermitted, match="only a steward"):
        dq.drop_draft_rule(engine, item.id, by="li", note="不需要", suites=suites)
    with pytest.raises(dq.InvalidInput, match="note"):
        dq.drop_draft_rule(engine, item.id, by="wang", note=" ", suites=suites)
    assert [rule_label(e) for e in load_suite(PERSON, suites).expectations] == before  # refused: nothing written
    assert dq.get_dispute(engine, item.id).status == Status.PENDING.value

    closed = dq.drop_draft_rule(engine, item.id, by="wang", note="该列允许为空", suites=suites)
    after = [rule_label(e) for e in load_suite(PERSON, suites).expectations]
    assert after == before[: number - 1] + before[number:]
    assert closed.status == Status.VERIFIED.value and not closed.flagged
    events = [e for e in dq.get_dispute(engine, item.id).events or [] if e.action == "drop_rule"]
    assert [(e.from_status, e.to_status) for e in events] == [("待受理", "驳回"), ("驳回", "已核验")]
    assert all(f"rule dropped by steward: {label}" in (e.note or "") and "该列允许为空" in (e.note or "") for e in events)

    # The rule is gone: the item is no longer of a draft rule, a second drop is refused.
    assert dq.item_draft_rule(PERSON, item.rule_id, item.column, suites=suites) is None
    with pytest.raises(dq.InvalidInput, match="not of a draft rule"):
        dq.drop_draft_rule(engine, item.id, by="wang", note="again", suites=suites)
    with session_scope(engine) as session:
        assert session.scalar(select(Dispute.status).where(Dispute.id == items[1].id)) == Status.PENDING.value


def test_dropping_from_a_handled_item_verifies_it(drafted: tuple[Engine, Path, list[dq.DisputeView]]) -> None:
    engine, suites, items = drafted
    item = items[1]
    for to in ("已受理", "核实中", "维持原数据"):
        dq.transition(engine, item.id, to, by="wang", note="办理")
    closed = dq.drop_draft_rule(engine, item.id, by="wang", note="规则不适用", suites=suites)
    assert closed.status == Status.VERIFIED.value  # 维持原数据 has no 驳回: straight to 已核验
    dq.transition(engine, item.id, "已归档", by="wang", note="归档")
    assert dq.get_dispute(engine, item.id).status == Status.ARCHIVED.value
