"""As-of dates mean as-of (issue 16, item 6): the dashboard's and the league's dispute figures for a past
day equal the event log replayed up to that day's end, not the queue as it is today; the three pages
(dashboard, departments, datasets) show them, name each figure's period and carry the date picker."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from citygov import disputes as dq
from citygov.demo import DEFAULT_AS_OF
from citygov.kpis import department_league, dispute_figures
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store.models import CatalogEntryRow
from citygov.store.models_disputes import Dispute, DisputeEvent
from tests.web.pipeline import run_demo_pipeline

DAY = DEFAULT_AS_OF
RUNNING = {"待受理", "已受理", "核实中"}
"""States a deadline runs in."""
RESOLVED = {"已更正", "维持原数据", "驳回", "已核验"}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CITY_TZ)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CITY_TZ)


def replay(engine: Engine, moment: datetime) -> dict[str, Any]:
    """The queue at ``moment`` by walking every event in order, in Python (the test's own reading of the
    log): per unit total/open/overdue, and the resolutions made by then."""
    def utc(value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    with engine.connect() as conn:
        events = conn.execute(
            select(DisputeEvent.dispute_id, DisputeEvent.at, DisputeEvent.action, DisputeEvent.from_status,
                   DisputeEvent.to_status, DisputeEvent.details).order_by(DisputeEvent.at, DisputeEvent.id)
        ).all()
        unit = dict(conn.execute(select(Dispute.id, Dispute.responsible_unit)).all())
    # Undo the reassignments made after the moment, latest first: what is left is the unit then.
    for e in reversed(events):
        if e.action == "reassign" and utc(e.at) >= moment:
            unit[e.dispute_id] = e.details["from"]
    status: dict[int, str] = {}
    due: dict[int, date] = {}
    resolved = within = 0
    for e in events:
        if utc(e.at) >= moment:
            break
        if e.to_status:
            status[e.dispute_id] = e.to_status
        if (e.details or {}).get("new_due_date"):
            due[e.dispute_id] = date.fromisoformat(e.details["new_due_date"])
        if e.to_status in RESOLVED and e.from_status != e.to_status and "on_time" in (e.details or {}):
            resolved += 1
            within += bool(e.details["on_time"])
    units: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, "open": 0, "overdue": 0})
    for dispute_id, state in status.items():
        line = units[unit[dispute_id] or dq.UNASSIGNED]
        line["total"] += 1
        line["open"] += state not in ("已核验", "已归档")
        line["overdue"] += state in RUNNING and end_of(due[dispute_id]) <= moment
    return {"units": dict(units), "resolved": resolved, "within": within,
            **{k: sum(u[k] for u in units.values()) for k in ("total", "open", "overdue")}}


def work_the_queue_after(engine: Engine) -> dict[str, Any]:
    """After the pipeline's two nights: items handled, extended, reassigned and raised on later days."""
    dq.register_actor(engine, "wang", "steward")
    dq.register_actor(engine, "li", "consumer")
    items = dq.list_disputes(engine)
    a, b, c, d = items[:4]
    dq.transition(engine, a.id, "已受理", by="wang", note="受理", now=at(DAY + timedelta(days=1), 9))
    dq.transition(engine, a.id, "驳回", by="wang", note="不成立", now=at(DAY + timedelta(days=2), 9))
    dq.transition(engine, b.id, "已受理", by="wang", note="受理", now=at(DAY + timedelta(days=1), 10))
    dq.transition(engine, b.id, "核实中", by="wang", note="核实", now=at(DAY + timedelta(days=1), 11))
    dq.extend_deadline(engine, b.id, by="wang", reason="需协调", now=at(DAY + timedelta(days=3), 9))
    other = next(u for u in dq.dispute_units(engine) if u != c.responsible_unit)
    dq.reassign(engine, c.id, to_unit=other, by="wang", reason="错派", now=at(DAY + timedelta(days=2), 10))
    dq.transition(engine, d.id, "已受理", by="wang", note="受理", now=at(DAY + timedelta(days=1), 9))
    dq.transition(engine, d.id, "核实中", by="wang", note="核实", now=at(DAY + timedelta(days=1), 9, 30))
    dq.transition(engine, d.id, "已更正", by="wang", note="已改", now=at(DAY + timedelta(days=30), 9))
    with engine.connect() as conn:
        codes = list(conn.scalars(select(CatalogEntryRow.code).order_by(CatalogEntryRow.code).limit(3)))
    for n, code in enumerate(codes):
        dq.raise_dispute(engine, dataset=code, by="li", claim=f"数据有误 the data is wrong ({n})",
                         now=at(DAY + timedelta(days=4), 9 + n))
    return {"reassigned": c.id, "from": c.responsible_unit, "to": other}


def test_dispute_figures_of_a_past_day_are_the_log_replayed_to_its_end(store: Engine, city: Path) -> None:
    run_demo_pipeline(store, city, [DAY - timedelta(days=1), DAY])
    moved = work_the_queue_after(store)

    seen = {}
    for day in [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1), DAY + timedelta(days=2),
                DAY + timedelta(days=4), DAY + timedelta(days=12), DAY + timedelta(days=40)]:
        want = replay(store, end_of(day))
        got = dispute_figures(store, day)
        assert (got.total, got.open, got.overdue, got.resolved, got.resolved_within_deadline) == (
            want["total"], want["open"], want["overdue"], want["resolved"], want["within"]), day
        assert got.at == end_of(day)
        league = {r.department: r for r in department_league(store, day)}
        assert {u: (league[u].open_disputes, league[u].overdue_disputes) for u in want["units"]} == {
            u: (w["open"], w["overdue"]) for u, w in want["units"].items()}, day
        assert sum(r.open_disputes for r in league.values()) == want["open"]
        seen[day] = got

    first, then, later, last = (seen[DAY - timedelta(days=1)], seen[DAY], seen[DAY + timedelta(days=4)],
                                seen[DAY + timedelta(days=40)])
    # The figures move with the day: items the second night and the consumers raised later are not counted
    # before, nor resolutions made after; deadlines of the first night's items had passed by day 12.
    assert 0 < first.total <= then.total < later.total == last.total == then.total + 3
    assert (later.resolved, last.resolved) == (then.resolved + 1, then.resolved + 2)
    assert last.resolved_within_deadline == then.resolved_within_deadline + 1
    assert seen[DAY + timedelta(days=12)].overdue > 0
    # The reassigned item counts for its first unit before the reassignment and for the new one after.
    before = replay(store, end_of(DAY + timedelta(days=1)))["units"]
    after = replay(store, end_of(DAY + timedelta(days=2)))["units"]
    assert after[moved["to"]]["total"] == before.get(moved["to"], {"total": 0})["total"] + 1
    assert after[moved["from"]]["total"] == before[moved["from"]]["total"] - 1

    # A moment within the day (``now``) caps it: the rejection at 09:00 on DAY+2 is not yet made at 08:59.
    morning = dispute_figures(store, DAY + timedelta(days=2), now=at(DAY + timedelta(days=2), 8, 59))
    want = replay(store, at(DAY + timedelta(days=2), 8, 59))
    assert (morning.open, morning.overdue, morning.resolved) == (want["open"], want["overdue"], want["resolved"]) == (
        want["open"], want["overdue"], 0)

    # After every event the rebuilt figures are the queue's own KPIs (which read the items' current rows).
    now = at(DAY + timedelta(days=40), 12)
    queue = dq.dispute_kpis(store, now=now)["city"]
    figures = dispute_figures(store, now.date(), now=now)
    assert (figures.total, figures.open, figures.overdue, figures.resolved) == (
        queue["total"], queue["open"], queue["overdue"], queue["resolved"])


@pytest.fixture
def pages(store: Engine, city: Path) -> Any:
    from fastapi.testclient import TestClient

    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    run_demo_pipeline(store, city, [DAY - timedelta(days=1), DAY])
    work_the_queue_after(store)
    conns = connections_from_file(city / "connections.json")
    app = create_app(lambda: store, conns.get, lambda: city / "no_docs")
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("wang", True)
    return TestClient(app)


def _text(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found, pattern
    return found.group(1)


def test_pages_show_the_figures_of_the_chosen_day_and_name_their_periods(store: Engine, pages: Any) -> None:
    early, late = DAY - timedelta(days=1), DAY + timedelta(days=12)
    dash = {d: pages.get(f"/?date={d.isoformat()}").text for d in (early, late)}
    for day, html in dash.items():
        figures = dispute_figures(store, day)
        assert int(_text(html, r'data-role="open">(\d+)<')) == figures.open
        assert int(_text(html, r'data-role="overdue"[^>]*>(\d+)<')) == figures.overdue
        assert f"截至 {day.isoformat()}" in _text(html, r'data-kpi="disputes".*?data-role="period">(.*?)</')
        # The sharing rate's headline says it is cumulative; its chart's month is shown beside it.
        sharing = _text(html, r'data-kpi="on_demand_sharing_rate"(.*?)</article>')
        assert "累计 all time" in _text(sharing, r'data-role="period">(.*?)</')
        assert f"{day.strftime('%Y-%m')} 当月 this month" in sharing
        assert 'type="date" name="date" value="' + day.isoformat() in html
    assert _text(dash[early], r'data-role="open">(\d+)<') != _text(dash[late], r'data-role="open">(\d+)<')

    for day in (early, late):
        html = pages.get(f"/departments?date={day.isoformat()}&sort=open&order=desc").text
        assert 'type="date" name="date" value="' + day.isoformat() in html and 'name="sort" value="open"' in html
        assert f"截至 {day.isoformat()}" in html and "评分日 scored on" in html
        league = {r.department: r for r in department_league(store, day)}
        shown = dict(re.findall(r'data-department="([^"]+)".*?data-col="open"><a[^>]*>(\d+)<', html, re.S))
        assert {k: int(v) for k, v in shown.items()} == {d: r.open_disputes for d, r in league.items()}

    scored = {d: pages.get(f"/datasets?date={d.isoformat()}").text for d in (early, DAY)}
    for day, html in scored.items():
        assert 'type="date" name="date" value="' + day.isoformat() in html
        assert f"评分日 scored on {day.isoformat()}" in html
    before = pages.get(f"/datasets?date={(early - timedelta(days=1)).isoformat()}").text
    assert 'id="total">0<' in before and "无评分 no scores" in before


def test_open_rate_as_of_a_day_counts_an_entry_withdrawn_later(store: Engine, city: Path) -> None:
    from citygov.catalog.importer import import_catalog
    from citygov.kpis import open_rate

    import_catalog(store, city / "catalog.csv", imported_at=at(DAY - timedelta(days=10), 9))
    portal = connections_from_file(city / "connections.json")["open_data_portal"]
    before = open_rate(store, portal, DAY)
    assert before.denominator and not before.error
    # The next catalog no longer lists one open-eligible entry, from DAY + 5 on.
    with store.connect() as conn:
        gone = conn.scalar(select(CatalogEntryRow.code).where(CatalogEntryRow.open_attr == "无条件开放")
                           .order_by(CatalogEntryRow.code).limit(1))
    lines = (city / "catalog.csv").read_bytes().decode("gbk").splitlines(keepends=True)
    (city / "catalog.csv").write_bytes("".join(line for line in lines if not line.startswith(gone)).encode("gbk"))
    import_catalog(store, city / "catalog.csv", imported_at=at(DAY + timedelta(days=5), 9))

    assert open_rate(store, portal, DAY).denominator == before.denominator
    assert open_rate(store, portal, DAY + timedelta(days=4)).denominator == before.denominator
    assert open_rate(store, portal, DAY + timedelta(days=5)).denominator == before.denominator - 1
