"""A dataset whose validation did not run is not scored: stored so, shown so everywhere, never 100.

Three catalog entries on one SQLite source, patrolled first (so the patrol alone would give a perfect
时效性 and 可访问性): one validates; one was pointed in the store (past the import's checks) at a table
that does not exist, named like an injection; one has a suite GX's engine cannot evaluate at all. Before,
the last scored 100.00 优秀 and ``govern quality run`` exited 0.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.cli import main as govern
from citygov.disputes import list_disputes, route_findings
from citygov.findings import load_findings
from citygov.kpis import department_league, quality_score
from citygov.patrol import patrol_batch
from citygov.quality.scores import load_scores
from citygov.quality.suites import write_suite
from citygov.scorecards import dataset_scorecard, dataset_table
from citygov.sources import connections_from_file
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow
from citygov_web.app import _templates
from citygov_web.auth import PageUser
from tests.catalog_files import GOOD_ROWS, write_catalog

DAY = date(2026, 11, 28)
GOOD, UNREADABLE, BROKEN = "320700-GAJ-0001", "320700-SCJG-0001", "320700-MZJ-0001"
INJECTED = 'missing"; DROP TABLE rkjbxx; --'


@pytest.fixture
def city(store: Engine, tmp_path: Path) -> tuple[Path, Path]:
    """The store with the three entries patrolled; returns (connections file, suite folder)."""
    import great_expectations as gx

    source = tmp_path / "source.db"
    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        for row in GOOD_ROWS:
            names = [spec.split(":")[0] for spec in row["信息项"].split(";")]
            stamp = row["更新时间字段"] or names[-1]
            table = sa.Table(row["资源位置"], sa.MetaData(), *[sa.Column(n, sa.String) for n in names])
            table.create(conn)
            conn.execute(table.insert(), [{n: (DAY.isoformat() if n == stamp else f"{n}{i}") for n in names} for i in range(3)])
    engine.dispose()
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({r["数据连接"]: {"conn_type": "sqlite", "host": str(source)} for r in GOOD_ROWS}))
    import_catalog(store, write_catalog(tmp_path / "catalog.csv", GOOD_ROWS))
    with session_scope(store) as session:
        session.get(CatalogEntryRow, UNREADABLE).location = INJECTED  # written past the import's checks
    suites = tmp_path / "suites"
    e = gx.expectations
    for code, expectation in [
        (GOOD, e.ExpectColumnValuesToNotBeNull(column="xm")),
        (UNREADABLE, e.ExpectColumnValuesToNotBeNull(column="qymc")),
        (BROKEN, e.ExpectColumnMaxToBeBetween(column="djbh", min_value=0)),  # text max vs a number: GX raises
    ]:
        write_suite(gx.ExpectationSuite(name=code, expectations=[expectation]), suites)
    patrol_batch(store, [GOOD, UNREADABLE, BROKEN], connections_from_file(connections).get, DAY)
    return connections, suites


@pytest.mark.parametrize("engine", ["gx", "fused"])
def test_a_dataset_not_validated_is_not_scored(
    store: Engine, store_url: str, city: tuple[Path, Path], engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    connections, suites = city
    run = ["--db", store_url, "quality", "run", "--date", DAY.isoformat(), "--connections", str(connections),
           "--suites", str(suites), "--engine", engine, "--no-docs"]
    assert govern([*run, "--json"]) == 1  # some dataset could not be validated
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["not_scored"]) == {UNREADABLE, BROKEN}
    assert "validation did not run (unreachable)" in printed["not_scored"][UNREADABLE]
    assert "none of the 1 expectations could be evaluated" in printed["not_scored"][BROKEN]
    assert govern(run) == 1
    assert f"{BROKEN}: validation did not run (error)" in capsys.readouterr().err

    scores = load_scores(store)
    by_code = {d["entry_code"]: d for d in scores["datasets"]}
    # 96.67, not 100: the source keeps csrq (declared D) as text, a patrol.schema.type_changed finding
    # that takes 0.1 off 规范性 (the score's only other input is the passing not-null check).
    assert (by_code[GOOD]["status"], by_code[GOOD]["score"]) == ("scored", 96.67)
    assert [f["rule_id"] for f in by_code[GOOD]["details"]["dimensions"]["规范性"]["findings"]] == ["patrol.schema.type_changed"]
    for code in (UNREADABLE, BROKEN):
        assert (by_code[code]["status"], by_code[code]["score"], by_code[code]["grade"]) == ("not_scored", None, None)
        assert by_code[code]["not_scored_reason"] == printed["not_scored"][code]
    assert (scores["city"]["score"], scores["city"]["scored"], scores["city"]["not_scored"]) == (96.67, 1, 2)
    departments = {d["name"]: d for d in scores["departments"]}
    assert departments["连云港市民政局"]["score"] is None and departments["连云港市民政局"]["grade"] is None

    # KPIs and pages: not counted as any score, listed first with why (the pages' own templates).
    assert (quality_score(store, DAY).value, quality_score(store, DAY).details["not_scored"]) == (96.67, 2)
    league = {r.department: r for r in department_league(store, DAY)}
    assert (league["连云港市民政局"].score, league["连云港市民政局"].rank) == (None, None)
    total, rows = dataset_table(store, DAY)
    assert total == 3 and [r.score for r in rows] == [None, None, 96.67]
    assert {r.code: r.not_scored_reason for r in rows[:2]} == {c: printed["not_scored"][c] for c in (UNREADABLE, BROKEN)}

    pages = _templates()
    html = pages.get_template("datasets.html").render(rows=rows, total=total, page=1, pages=1, day=DAY, department="", base="", user=None)
    assert html.count("未评分 <small>not scored</small>") == 2 and "validation did not run (error)" in html
    viewer = PageUser("viewer", can_write=False)
    html = pages.get_template("scorecard.html").render(card=dataset_scorecard(store, BROKEN), items=[], base="", user=viewer)
    assert "未评分 <small>not scored</small>" in html and "none of the 1 expectations could be evaluated" in html

    assert govern(["--db", store_url, "scores"]) == 0
    text = capsys.readouterr().out
    assert f"{BROKEN:<20} 未评分 not scored: validation did not run (error)" in text
    assert "over 1 scored datasets, 2 not scored" in text
    assert govern(["--db", store_url, "quality", "results", "--json"]) == 0
    results = {r["entry_code"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert results[BROKEN]["score_status"] == "not_scored" and results[GOOD]["score_status"] == "scored"

    # The engine failure becomes a dispute item (可访问性); the unreadable table is the patrol's.
    findings = {(f["entry_code"], f["rule_id"]): f for f in load_findings(store, origin="quality", logical_date=DAY)}
    assert set(findings) == {(BROKEN, "quality.validation.not_run")}
    assert findings[(BROKEN, "quality.validation.not_run")]["dimension"] == "可访问性"
    patrol = {(f["entry_code"], f["rule_id"]) for f in load_findings(store, origin="patrol", logical_date=DAY)}
    assert (UNREADABLE, "patrol.resource.missing") in patrol
    route_findings(store, origin="quality", logical_date=DAY)
    assert [(d.entry_code, d.rule_id) for d in list_disputes(store, dataset=BROKEN)] == [(BROKEN, "quality.validation.not_run")]

    # The injected name never ran as SQL: the source's tables are all there.
    source = sa.create_engine(f"sqlite:///{connections.parent / 'source.db'}")
    assert sa.inspect(source).has_table("rkjbxx")
    source.dispose()
