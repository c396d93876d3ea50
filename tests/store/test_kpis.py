"""The plan's KPIs on the demo city (SQLite and PostgreSQL): the numbers defects.json promises, the same
figures as the scores and the dispute queue report, through the core and ``govern kpis``."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.cli import main as govern
from citygov.demo import DEFAULT_AS_OF
from citygov.kpis import city_kpis, department_league, open_rate, sharing_rate
from citygov.quality.scores import load_scores
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo, connections_from_file
from tests.web.pipeline import run_demo_pipeline

DAY = DEFAULT_AS_OF


def expected(city: Path) -> dict:
    return json.loads((city / "defects.json").read_text(encoding="utf-8"))["kpis"]


def test_kpis_equal_what_the_demo_city_planted(store: Engine, store_url: str, city: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run_demo_pipeline(store, city, [DAY - timedelta(days=1), DAY])
    conns = connections_from_file(city / "connections.json")
    want = expected(city)

    result = city_kpis(store, conns.get, DAY)
    for key, planted in (("catalog_coverage", "catalog_coverage"), ("on_demand_sharing_rate", "on_demand_sharing_rate"),
                         ("open_rate", "open_rate")):
        kpi = result.kpi(key)
        assert (kpi.numerator, kpi.denominator, kpi.value) == (
            planted_values := (want[planted]["numerator"], want[planted]["denominator"], want[planted]["value"])
        ), (key, planted_values)
        assert kpi.error is None
    assert result.kpi("on_demand_sharing_rate").target == 0.97 and result.kpi("on_demand_sharing_rate").met is False
    assert result.kpi("open_rate").target == 0.92 and result.kpi("open_rate").met is False
    assert result.kpi("open_rate").details["unlisted_codes"] == want["open_rate"]["unlisted_codes"]
    sharing = result.kpi("on_demand_sharing_rate")
    assert sharing.details["excluded_refusals_with_basis"] == want["on_demand_sharing_rate"]["excluded_refusals_with_basis"]
    # The monthly trend partitions the same requests.
    assert sum(p.numerator for p in sharing.trend) == sharing.numerator  # type: ignore[misc]
    assert sum(p.denominator for p in sharing.trend) == sharing.denominator  # type: ignore[misc]

    scores = load_scores(store)
    quality = result.kpi("quality_score")
    assert quality.value == scores["city"]["score"] and quality.denominator == scores["city"]["scored"]
    # The dataset whose table is missing is not scored: left out of the mean, counted apart.
    assert quality.details["not_scored"] == scores["city"]["not_scored"] == 1
    assert [p.label for p in quality.trend] == [(DAY - timedelta(days=1)).isoformat(), DAY.isoformat()]
    assert [p.label for p in result.kpi("catalog_coverage").trend] == [(DAY - timedelta(days=1)).isoformat(), DAY.isoformat()]

    # Work some items so that resolutions exist: one in time, one after its deadline.
    dq.register_actor(store, "wang", "steward")
    items = dq.list_disputes(store)
    start = datetime.combine(DAY, time(9), tzinfo=CITY_TZ)
    first, second = items[0].id, items[1].id
    dq.transition(store, first, "已受理", by="wang", note="受理", now=start)
    dq.transition(store, first, "驳回", by="wang", note="不成立", now=start + timedelta(hours=2))
    dq.transition(store, second, "已受理", by="wang", note="受理", now=start)
    dq.transition(store, second, "核实中", by="wang", note="核实", now=start)
    dq.transition(store, second, "已更正", by="wang", note="已改", now=start + timedelta(days=30))
    now = start + timedelta(days=40)
    # The queue's own KPIs read the items as they are: the dashboard's figures as of ``now``'s day, capped
    # at ``now``, are the same (as of DAY they are not: the second resolution came later).
    figures = city_kpis(store, conns.get, now.date(), now=now).disputes
    reference = dq.dispute_kpis(store, now=now)["city"]
    assert (figures.total, figures.open, figures.overdue, figures.resolved, figures.resolved_within_deadline,
            figures.share_resolved_within_deadline) == (
        reference["total"], reference["open"], reference["overdue"], reference["resolved"],
        reference["resolved_within_deadline"], reference["share_resolved_within_deadline"])
    assert (figures.resolved, figures.resolved_within_deadline) == (2, 1) and figures.overdue > 0

    assert city_kpis(store, conns.get, DAY, now=now).disputes.resolved == 1
    league = department_league(store, now.date(), now=now)
    by_dept = {r.department: r for r in league}
    for dept in scores["departments"]:
        assert by_dept[dept["name"]].score == dept["score"] and by_dept[dept["name"]].grade == dept["grade"]
    reference = dq.dispute_kpis(store, now=now)
    assert {r.department: r.open_disputes for r in league if r.open_disputes} == reference["open_by_department"]
    assert {r.department: r.overdue_disputes for r in league if r.overdue_disputes} == reference["overdue_by_department"]
    ranked = [r.score for r in league if r.rank is not None]
    assert ranked == sorted(ranked, reverse=True) and [r.rank for r in league if r.rank] == list(range(1, len(ranked) + 1))
    census_city = want["catalog_coverage"]
    assert sum(r.found or 0 for r in league) == census_city["denominator"]

    # The queue's pages (SQL filters, overdue too) hold the same items as the full list, in order.
    for filters in ({}, {"status": "待受理"}, {"overdue": True}, {"department": "连云港市公安局"}, {"dataset": items[0].entry_code}):
        everything = [i.id for i in dq.list_disputes(store, now=now, **filters)]
        pages = [dq.page_disputes(store, now=now, limit=4, offset=o, **filters) for o in range(0, len(everything) + 4, 4)]
        assert [i.id for p in pages for i in p.items] == everything and {p.total for p in pages} == {len(everything)}

    # The command prints the same numbers the core computes.
    assert govern(["--db", store_url, "kpis", "--json", "--date", DAY.isoformat(),
                   "--connections", str(city / "connections.json"), "--departments"]) == 0
    printed = json.loads(capsys.readouterr().out)
    core = city_kpis(store, conns.get, DAY).to_dict()
    assert printed["kpis"] == core["kpis"]
    assert printed["kpis"]["open_rate"]["value"] == want["open_rate"]["value"]
    assert [d["department"] for d in printed["departments"]] == [r.department for r in department_league(store, DAY)]
    # In words, each figure names its period, as the dashboard does.
    assert govern(["--db", store_url, "kpis", "--date", DAY.isoformat(), "--connections", str(city / "connections.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    sharing = next(line for line in lines if "按需共享率" in line)
    assert f"[累计 all time up to {DAY.isoformat()}]" in sharing
    coverage = next(line for line in lines if "目录覆盖率" in line)
    assert f"[截至 {core['kpis']['catalog_coverage']['as_of']} as of" in coverage
    assert "open, " in next(line for line in lines if "异议" in line) and f"[截至 {DAY.isoformat()} 日终" in "\n".join(lines)


def test_kpi_sources_as_of_a_day_and_when_missing(store: Engine, city: Path) -> None:
    conns = connections_from_file(city / "connections.json")
    run_demo_pipeline(store, city, [DAY])
    # The open rate's trend only grows as entries are published and listed.
    trend = open_rate(store, conns["open_data_portal"], DAY).trend
    for field in ("numerator", "denominator"):
        values = [getattr(p, field) for p in trend]
        assert values == sorted(values) and values[0] < values[-1]
    assert trend[-1].day == DAY
    # Before any request or listing existed, nothing counts.
    early = DAY - timedelta(days=3 * 365)
    assert sharing_rate(conns["exchange_platform"], early).denominator == 0
    assert sharing_rate(conns["exchange_platform"], early).value is None
    # A month before the as-of day, the pending requests (made two days before it) do not count yet.
    month_ago = sharing_rate(conns["exchange_platform"], DAY - timedelta(days=30))
    assert month_ago.denominator is not None and month_ago.denominator < expected(city)["on_demand_sharing_rate"]["denominator"]
    # A listing without its key column is refused with where and what.
    broken = city / "portal" / "open_listing.csv"
    broken.write_text("code,title\nX,Y\n", encoding="utf-8")
    kpi = open_rate(store, conns["open_data_portal"], DAY)
    assert kpi.value is None and "no resource_code column" in (kpi.error or "") and "open_listing.csv" in (kpi.error or "")
    # Without the connections, those two KPIs say why; the others still come from the store.
    result = city_kpis(store, lambda conn_id: None, DAY)
    assert "connection 'exchange_platform'" in (result.kpi("on_demand_sharing_rate").error or "")
    assert "connection 'open_data_portal'" in (result.kpi("open_rate").error or "")
    assert result.kpi("catalog_coverage").value == expected(city)["catalog_coverage"]["value"]
    missing_db = ConnectionInfo("exchange_platform", "sqlite", host=str(city / "nope.db"))
    assert "does not exist" in (sharing_rate(missing_db, DAY).error or "")



def test_share_log_table_name_is_quoted(tmp_path: Path) -> None:
    """The share log's table comes from the connection's extra: it reaches SQL as a quoted identifier."""
    import sqlalchemy as sa

    from citygov.kpis import SATISFIED

    name = 'log"; DROP TABLE keep; --'
    path = tmp_path / "exchange.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    log = sa.Table(name, meta, *[sa.Column(c, sa.String) for c in ("status", "requested_at", "satisfied_at", "deadline", "refusal_basis")])
    sa.Table("keep", meta, sa.Column("a", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(log.insert(), [
            {"status": SATISFIED, "requested_at": "2026-11-01 09:00:00", "satisfied_at": "2026-11-02 09:00:00", "deadline": "2026-11-05 00:00:00", "refusal_basis": None},
            {"status": "pending", "requested_at": "2026-11-03 09:00:00", "satisfied_at": None, "deadline": None, "refusal_basis": None},
        ])
    kpi = sharing_rate(ConnectionInfo("exchange_platform", "sqlite", host=str(path), extra={"table": name}), DAY)
    assert kpi.error is None
    assert (kpi.numerator, kpi.denominator) == (1, 2)
    assert sa.inspect(engine).has_table("keep")
    engine.dispose()
