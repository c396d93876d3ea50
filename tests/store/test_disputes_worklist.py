"""The queue as a work list, on the demo city in a real store (SQLite and PostgreSQL): sorting and filtering
in SQL, acting on a selection item by item, an individual assignee within the unit, and re-checking one
quality rule now against the dataset's real source."""

from __future__ import annotations

import sqlite3
from datetime import datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF
from citygov.disputes.recheck import recheck
from citygov.identifiers import ric_is_valid
from citygov.patrol import patrol_batch
from citygov.quality.runner import inspect_batch
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import session_scope
from citygov.store.models_disputes import Dispute, DisputeEvent

SUITES = Path(__file__).resolve().parents[2] / "expectations"
GAJ, MZJ = "连云港市公安局", "连云港市民政局"
PERSON = "320700-GAJ-0001"  # 人口基本信息 (rkjbxx, keyed by sfzhm): 3 planted invalid ID numbers
RIC = "expect_column_values_to_be_valid_ric"
NIGHT = datetime.combine(DEFAULT_AS_OF, time(3), tzinfo=CITY_TZ)


@pytest.fixture
def queue(store: Engine, city: Path) -> Engine:
    """The demo catalog, the quality inspection of the 公安局's and 民政局's datasets routed into the queue,
    and the people: a steward, an officer of each unit, a consumer."""
    conns = connections_from_file(city / "connections.json")
    import_catalog(store, city / "catalog.csv")
    codes = ["320700-GAJ-0001", "320700-GAJ-0002", "320700-GAJ-0003", "320700-MZJ-0001", "320700-MZJ-0002"]
    inspect_batch(store, codes, conns.get, DEFAULT_AS_OF, suites=SUITES)
    dq.route_findings(store, origin="quality", logical_date=DEFAULT_AS_OF, now=NIGHT)
    dq.register_actor(store, "wang", "steward")
    dq.register_actor(store, "li", "officer", department=GAJ)
    dq.register_actor(store, "liu", "officer", department=GAJ)
    dq.register_actor(store, "zhao", "officer", department=MZJ)
    dq.register_actor(store, "citizen", "consumer")
    return store


def _residents(city: Path, n: int) -> list[str]:
    with sqlite3.connect(city / "sources" / "gaj.db") as db:
        return [r[0] for r in db.execute("SELECT sfzhm FROM rkjbxx ORDER BY sfzhm LIMIT ?", (n,))]


def _events(engine: Engine, action: str) -> dict[int, int]:
    with session_scope(engine) as session:
        return dict(session.execute(select(DisputeEvent.dispute_id, func.count()).where(DisputeEvent.action == action)
                                    .group_by(DisputeEvent.dispute_id)).all())


def test_sorting_and_filtering_by_rule_and_severity(queue: Engine) -> None:
    claim = dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="数据有误").dispute
    with session_scope(queue) as session:  # an item stored before claims were classified: no severity
        session.execute(update(Dispute).where(Dispute.id == claim.id).values(severity=None))
    every = dq.list_disputes(queue)
    assert {i.rule_id for i in every} >= {RIC, "expect_column_values_to_be_unique", "consumer.claim"}
    ranks = {"high": 0, "medium": 1, "low": 2}
    for order in ("asc", "desc"):
        page = dq.page_disputes(queue, sort="severity", order=order, limit=500)
        shown = [ranks[i.severity] for i in page.items[:-1]]
        assert shown == sorted(shown, reverse=order == "desc") and page.total == len(every)
        assert page.items[-1].id == claim.id  # an empty value is last either way
    by_rule = dq.page_disputes(queue, sort="rule", limit=500).items
    assert [i.rule_id for i in by_rule] == sorted(i.rule_id for i in every)  # type: ignore[type-var]
    youngest = dq.page_disputes(queue, sort="age", limit=1).items[0]
    assert youngest.id == claim.id and youngest.age_days == 0
    ric = dq.page_disputes(queue, rule=RIC).items
    assert [(i.entry_code, i.column) for i in ric] == [(PERSON, "sfzhm")]
    medium = dq.list_disputes(queue, severity="medium")
    assert {i.id for i in medium} == {i.id for i in every if i.origin == "quality"}
    assert dq.page_disputes(queue, severity="high").total == 0
    assert dq.dispute_rules(queue)[0][0] == sorted({i.rule_id for i in every})[0]
    assert all(i.rule_title for i in every)  # the rule in words (the id itself for an unknown rule)
    for bad in ({"sort": "title; DROP TABLE disputes"}, {"order": "sideways"}, {"severity": "urgent"}):
        with pytest.raises(dq.InvalidInput):
            dq.page_disputes(queue, **bad)  # type: ignore[arg-type]


def test_a_selection_is_acted_on_item_by_item(queue: Engine, city: Path) -> None:
    """17 claims of one kind accepted at once: 17 items, 17 events; an officer's try is refused per item and
    changes nothing; a stale version fails that item only."""
    claims = [dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="出生日期有误", record_key=key).dispute
              for key in _residents(city, 17)]
    ids = [c.id for c in claims]
    assert len(set(ids)) == 17 and {c.rule_id for c in claims} == {"consumer.claim"}

    refused = dq.bulk_act(queue, ids, "accept", by="li", note="受理")
    assert refused.done == [] and [f.id for f in refused.failed] == ids
    assert {f.code for f in refused.failed} == {"not_permitted"} and "only a steward" in refused.failed[0].detail
    assert _events(queue, "transition") == {}

    stale = {ids[3]: claims[3].version + 5}
    result = dq.bulk_act(queue, ids, "accept", by="wang", note="批量受理", expected_versions=stale)
    assert result.done == [i for i in ids if i != ids[3]]
    assert [(f.id, f.code) for f in result.failed] == [(ids[3], "version_conflict")]
    assert "16 项已办理 done" in result.message and f"#{ids[3]}" in result.message
    again = dq.bulk_act(queue, [ids[3]], "accept", by="wang", note="批量受理")
    assert again.done == [ids[3]] and not again.failed
    assert _events(queue, "transition") == dict.fromkeys(ids, 1)  # one event per item, not one for the lot
    assert {dq.get_dispute(queue, i).status for i in ids} == {"已受理"}

    # Comment, assign and move the same selection: each its own event, each its own check.
    assert dq.bulk_act(queue, ids, "comment", by="li", note="正在核实").done == ids  # the officer's own unit
    assert _events(queue, "comment") == dict.fromkeys(ids, 1)
    assigned = dq.bulk_act(queue, ids[:5], "assign", by="li", assignee="liu")
    assert assigned.done == ids[:5] and {dq.get_dispute(queue, i).assignee for i in ids[:5]} == {"liu"}
    moved = dq.bulk_act(queue, [*ids[:2], 999_999], "transition", to="核实中", by="li", note="开始核实")
    assert moved.done == ids[:2] and [(f.id, f.code) for f in moved.failed] == [(999_999, "not_found")]
    for bad in ({"action": "delete"}, {"action": "transition"}, {"action": "comment", "note": " "}):
        with pytest.raises(dq.InvalidInput):
            dq.bulk_act(queue, ids, **{"by": "wang", "note": "x", **bad})  # type: ignore[arg-type]
    with pytest.raises(dq.UnknownActor):
        dq.bulk_act(queue, ids, "accept", by="nobody", note="x")


def test_an_individual_assignee_within_the_unit(queue: Engine) -> None:
    item = dq.page_disputes(queue, rule=RIC).items[0]
    assert item.responsible_unit == GAJ and item.assignee is None
    with pytest.raises(dq.InvalidInput, match="only an active officer of 连云港市公安局") as refused:
        dq.set_assignee(queue, item.id, assignee="zhao", by="wang")  # an officer of another unit
    assert "li, liu, wang" in str(refused.value)
    with pytest.raises(dq.NotPermitted):
        dq.set_assignee(queue, item.id, assignee="zhao", by="zhao")  # not their unit's item
    done = dq.set_assignee(queue, item.id, assignee="li", by="wang", note="请李专员办理")
    assert done.assignee == "li" and dq.list_disputes(queue, assignee="li")[0].id == item.id
    assert dq.page_disputes(queue, sort="assignee").items[0].id == item.id  # the only one assigned: first
    event = dq.get_dispute(queue, item.id).events[-1]  # type: ignore[index]
    assert (event.action, event.details, event.note) == ("assign", {"from": None, "to": "li"}, "请李专员办理")
    # Handed to another unit, the person of the old unit no longer holds it.
    moved = dq.reassign(queue, item.id, to_unit=MZJ, by="wang", reason="实为民政数据")
    assert moved.assignee is None
    assert dq.get_dispute(queue, item.id).events[-1].details["assignee_cleared"] == "li"  # type: ignore[index]
    assert dq.set_assignee(queue, item.id, assignee="zhao", by="zhao").assignee == "zhao"
    assert dq.set_assignee(queue, item.id, assignee=None, by="wang").assignee is None


def test_recheck_keeps_reopens_and_verifies_from_the_source(queue: Engine, city: Path) -> None:
    conns = connections_from_file(city / "connections.json").get
    item = dq.page_disputes(queue, rule=RIC).items[0]
    assert item.latest_evidence["unexpected_count"] == 3

    kept = recheck(queue, item.id, by="li", connections=conns, suites=SUITES)
    assert (kept.outcome, kept.unexpected_count, kept.dispute.status) == ("failed", 3, "待受理")
    assert "3 of" in kept.message and "still fail" in kept.message

    for target, who in (("已受理", "wang"), ("核实中", "li"), ("已更正", "li")):
        dq.transition(queue, item.id, target, by=who, note="处理")
    reopened = recheck(queue, item.id, by="li", connections=conns, suites=SUITES)  # claimed fixed, still broken
    assert (reopened.outcome, reopened.dispute.status, reopened.dispute.reopen_count) == ("failed", "待受理", 1)

    with pytest.raises(dq.NotPermitted):
        recheck(queue, item.id, by="zhao", connections=conns, suites=SUITES)  # another unit's officer
    other = dq.page_disputes(queue, rule="expect_column_values_to_be_unique").items[0]
    assert other.responsible_unit == GAJ
    with sqlite3.connect(city / "sources" / "gaj.db") as db:  # the unit fixes its data for real
        bad = [k for (k,) in db.execute("SELECT sfzhm FROM rkjbxx") if not ric_is_valid(k)]
        assert len(bad) == 3
        db.executemany("DELETE FROM rkjbxx WHERE sfzhm = ?", [(k,) for k in bad])
    passed = recheck(queue, item.id, by="li", connections=conns, suites=SUITES)
    assert (passed.outcome, passed.unexpected_count, passed.dispute.status) == ("passed", 0, "已核验")
    assert not passed.dispute.flagged
    events = [(e.action, e.from_status, e.to_status, e.details["result"])
              for e in dq.get_dispute(queue, item.id).events or [] if e.action == "recheck"]
    assert events == [("recheck", "待受理", "待受理", "failed"), ("recheck", "已更正", "待受理", "failed"),
                      ("recheck", "待受理", "已核验", "passed")]
    assert dq.get_dispute(queue, other.id).status == "待受理"  # only the one rule was checked
    with pytest.raises(dq.InvalidInput, match="not one check's finding"):
        claim = dq.raise_dispute(queue, dataset=PERSON, by="citizen", claim="数据有误").dispute
        recheck(queue, claim.id, by="wang", connections=conns, suites=SUITES)


def test_the_command_line_calls_the_same_core(queue: Engine, store_url: str, city: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from citygov.cli import main as govern

    ids = [str(i.id) for i in dq.list_disputes(queue, dataset="320700-GAJ-0003")] + ["999999"]
    assert govern(["--db", store_url, "disputes", "bulk", *ids, "--action", "accept", "--by", "wang", "--note", "受理",
                   "--json"]) == 1  # one failed: exit 1
    out = json.loads(capsys.readouterr().out)
    assert out["done"] == [int(i) for i in ids[:-1]] and [f["code"] for f in out["failed"]] == ["not_found"]
    assert govern(["--db", store_url, "disputes", "assign", ids[0], "--assignee", "liu", "--by", "li"]) == 0
    assert "assigned" in capsys.readouterr().out
    assert govern(["--db", store_url, "disputes", "list", "--json", "--assignee", "liu", "--sort", "age"]) == 0
    assert [d["id"] for d in json.loads(capsys.readouterr().out)] == [int(ids[0])]
    item = dq.page_disputes(queue, rule=RIC).items[0]
    assert govern(["--db", store_url, "disputes", "recheck", str(item.id), "--by", "li", "--suites", str(SUITES),
                   "--connections", str(city / "connections.json"), "--json"]) == 1  # still failing
    out = json.loads(capsys.readouterr().out)
    assert (out["outcome"], out["unexpected_count"], out["dispute"]["status"]) == ("failed", 3, "待受理")


def test_recheck_of_a_patrol_item_patrols_its_one_entry(queue: Engine, city: Path) -> None:
    """320700-RSJ-0002's table lacks the declared column fzjg: re-checked before and after the unit adds it."""
    conns = connections_from_file(city / "connections.json").get
    patrol_batch(queue, ["320700-RSJ-0002", "320700-RSJ-0004"], conns, DEFAULT_AS_OF)
    dq.route_findings(queue, origin="patrol", logical_date=DEFAULT_AS_OF, now=NIGHT)
    missing = dq.page_disputes(queue, rule="patrol.schema.missing_column").items[0]
    empty = dq.page_disputes(queue, rule="patrol.volume.empty").items[0]
    kept = recheck(queue, missing.id, by="wang", connections=conns)
    assert (kept.outcome, kept.dispute.status) == ("failed", "待受理") and "fzjg" in kept.message
    with sqlite3.connect(city / "sources" / "rsj.db") as db:
        db.execute("ALTER TABLE zyjnzs ADD COLUMN fzjg TEXT")
    passed = recheck(queue, missing.id, by="wang", connections=conns)
    assert (passed.outcome, passed.dispute.status) == ("passed", "已核验")
    assert dq.get_dispute(queue, empty.id).status == "待受理"  # the other entry was not patrolled
    assert recheck(queue, empty.id, by="wang", connections=conns).outcome == "failed"  # still no rows
    unknown = recheck(queue, empty.id, by="wang", connections=lambda conn_id: None)  # the source is not defined
    assert (unknown.outcome, unknown.dispute.status) == ("not_run", "待受理") and "not defined" in unknown.message
    events = [e.details["result"] for e in dq.get_dispute(queue, empty.id).events or [] if e.action == "recheck"]
    assert events == ["failed", "not_run"]
