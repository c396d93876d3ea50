"""History per rule (issue 16, item 7), on SQLite and PostgreSQL: the demo's 人口基本信息 inspected on three
dates while its source changes between them.

Day 1 is the demo as generated; before day 2 four people get the gender code 9 (not in {1, 2}); before day 3
they are put back. The rule history must give each rule's failing rows per date, the scorecard page must chart
them with every date, and Data Docs must keep each date's results, prune past the retention and serve an
earlier date's page.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from citygov.demo import DEFAULT_AS_OF
from citygov.quality.docs import build_data_docs, kept_dates
from citygov.quality.history import MAX_RUNS, rule_history
from citygov.quality.runner import inspect_batch
from citygov.rulebook import describe
from citygov.sources import connections_from_file
from citygov.store import session_scope
from citygov.store.models_quality import CheckResult, QualityRun

SUITES = Path(__file__).resolve().parents[2] / "expectations"
CODE = "320700-GAJ-0001"  # 人口基本信息 (table rkjbxx): the planted invalid ID numbers fail every day
DAYS = [DEFAULT_AS_OF - timedelta(days=2), DEFAULT_AS_OF - timedelta(days=1), DEFAULT_AS_OF]
GENDER = ("expect_column_values_to_be_in_set", "xb")
RIC = ("expect_column_values_to_be_valid_ric", "sfzhm")


@pytest.fixture
def inspected(governed: Engine, city: Path) -> Engine:
    """CODE inspected on DAYS, four gender codes broken on the middle day only."""
    conns = connections_from_file(city / "connections.json")
    source = conns["dept_gaj"].host
    with sqlite3.connect(source) as db:
        keys = [k for (k,) in db.execute("SELECT sfzhm FROM rkjbxx WHERE xb IN ('1', '2') ORDER BY sfzhm LIMIT 4")]
        kept = dict(db.execute(f"SELECT sfzhm, xb FROM rkjbxx WHERE sfzhm IN ({','.join('?' * len(keys))})", keys))
    for day in DAYS:
        with sqlite3.connect(source) as db:
            for key in keys:
                db.execute("UPDATE rkjbxx SET xb = ? WHERE sfzhm = ?", ("9" if day == DAYS[1] else kept[key], key))
        inspect_batch(governed, [CODE], conns.get, day, suites=SUITES)
    return governed


def _stored(engine: Engine, rule: tuple[str, str]) -> dict[date, tuple[bool, int | None]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(QualityRun.logical_date, CheckResult.success, CheckResult.unexpected_count)
            .join(CheckResult, CheckResult.run_id == QualityRun.id)
            .where(QualityRun.entry_code == CODE, CheckResult.expectation == rule[0], CheckResult.column == rule[1])
        ).all()
    return {d: (s, n) for d, s, n in rows}


def test_each_rule_has_its_failing_rows_per_date(inspected: Engine) -> None:
    history = rule_history(inspected, CODE)
    assert [r.logical_date for r in history.runs] == DAYS
    rules = {(r.rule_id, r.column): r for r in history.rules}
    assert rules[GENDER].label == describe(GENDER[0]).label != GENDER[0]
    gender = [(d.logical_date, d.success, d.unexpected) for d in rules[GENDER].days]
    assert gender == [(DAYS[0], True, 0), (DAYS[1], False, 4), (DAYS[2], True, 0)]
    ric = _stored(inspected, RIC)
    assert ric[DAYS[0]][1] and not ric[DAYS[0]][0]  # the demo's planted invalid ID numbers, every day
    assert [(d.success, d.unexpected) for d in rules[RIC].days] == [ric[d] for d in DAYS]
    with session_scope(inspected) as session:
        stored_dimension = session.scalar(select(CheckResult.dimension).where(CheckResult.expectation == GENDER[0],
                                                                              CheckResult.column == GENDER[1]))
    assert rules[GENDER].dimension == stored_dimension
    assert rules[RIC].latest is not None and rules[RIC].latest.logical_date == DAYS[-1]
    # suite order: the first expectation of the suite comes first
    assert (history.rules[0].rule_id, history.rules[0].column) == ("expect_column_values_to_not_be_blank", "sfzhm")

    last_two = rule_history(inspected, CODE, runs=2)
    assert [r.logical_date for r in last_two.runs] == DAYS[1:]
    assert [d.unexpected for d in {(r.rule_id, r.column): r for r in last_two.rules}[GENDER].days] == [4, 0]
    as_of = rule_history(inspected, CODE, as_of=DAYS[1])
    assert [r.logical_date for r in as_of.runs] == DAYS[:2]
    assert rule_history(inspected, "320700-NONE-0000").rules == ()
    for bad in (0, MAX_RUNS + 1):
        with pytest.raises(ValueError, match="runs="):
            rule_history(inspected, CODE, runs=bad)


def test_a_rule_that_did_not_run_on_a_date_says_so(inspected: Engine) -> None:
    with session_scope(inspected) as session:
        run = session.scalar(select(QualityRun.id).where(QualityRun.entry_code == CODE, QualityRun.logical_date == DAYS[0]))
        for check in session.scalars(select(CheckResult).where(CheckResult.run_id == run, CheckResult.expectation == GENDER[0],
                                                               CheckResult.column == GENDER[1])):
            session.delete(check)
    rules = {(r.rule_id, r.column): r for r in rule_history(inspected, CODE).rules}
    assert [(d.success, d.unexpected) for d in rules[GENDER].days] == [(None, None), (False, 4), (True, 0)]


def _client(engine: Engine, docs: Path) -> TestClient:
    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    app = create_app(lambda: engine, lambda _conn_id: None, lambda: docs)
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("admin", True)
    return TestClient(app)


def test_the_scorecard_charts_each_rule_with_its_dates(inspected: Engine, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for day in DAYS:
        build_data_docs(inspected, docs, logical_date=day, suites=SUITES)
    page = _client(inspected, docs).get(f"/datasets/{CODE}")
    assert page.status_code == 200, page.text
    html = page.text
    row = re.search(r'<tr data-rule="expect_column_values_to_be_in_set" data-column="xb">(.*?)</tr>', html, re.S)
    assert row, "the gender rule has a row in the rule history"
    chart = row.group(1)
    assert f"{describe(GENDER[0]).label}<br><code>expect_column_values_to_be_in_set</code>" in chart  # words, and the id
    tips = re.findall(r'<g data-date="([\d-]+)"><title>([^<]*)</title>', chart)
    assert [d for d, _ in tips] == [d.isoformat() for d in DAYS]
    assert "通过 passed, 0 行不符" in tips[0][1] and "未通过 failed, 4 行不符" in tips[1][1]
    assert chart.count('class="fail"') == 1 and chart.count('class="pass"') == 2
    assert "最多 max 4</text>" in chart  # the scale
    # each bar and each date below the table opens that date's Data Docs page of the dataset
    for day in DAYS:
        link = re.search(rf'<a href="(/docs/{day.isoformat()}/validations/[^"]+)" data-date="{day.isoformat()}">', html)
        assert link, day
        assert f'href="{link.group(1)}"><g data-date="{day.isoformat()}">' in chart
        served = _client(inspected, docs).get(link.group(1))
        assert served.status_code == 200 and CODE in served.text
    assert 'id="docs-link"' in html  # the latest page's link is still there


def test_data_docs_keep_each_date_and_prune_past_the_retention(
    inspected: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    (docs / "validations").mkdir(parents=True)  # the one-site layout of earlier versions
    (docs / "validations" / "old.html").write_text("<html>old</html>", encoding="utf-8")
    first = build_data_docs(inspected, docs, logical_date=DAYS[0], suites=SUITES)
    assert not (docs / "validations").exists()
    second = build_data_docs(inspected, docs, logical_date=DAYS[1], suites=SUITES)
    assert (first.validations, second.validations) == (1, 1)
    assert kept_dates(docs) == second.dates == [DAYS[1], DAYS[0]] and second.pruned == []
    assets = sorted(p.relative_to(docs / DAYS[1].isoformat()) for p in (docs / DAYS[1].isoformat() / "static").rglob("*.css"))
    assert assets and all((docs / DAYS[0].isoformat() / a).stat().st_ino == (docs / DAYS[1].isoformat() / a).stat().st_ino
                          for a in assets)  # one copy of GX's assets, however many dates are kept
    paths = _docs_paths(inspected)
    assert paths[DAYS[0]].startswith(str(docs / DAYS[0].isoformat())) and Path(paths[DAYS[0]]).is_file()
    assert paths[DAYS[1]].startswith(str(docs / DAYS[1].isoformat()))
    client = _client(inspected, docs)
    index = client.get("/docs/index.html")
    assert index.status_code == 200
    assert re.findall(r'<tr data-date="([\d-]+)">', index.text) == [DAYS[1].isoformat(), DAYS[0].isoformat()]
    earlier = client.get(f"/docs/{DAYS[0].isoformat()}/index.html")
    assert earlier.status_code == 200 and CODE in earlier.text
    page = client.get("/docs/" + Path(paths[DAYS[0]]).relative_to(docs).as_posix())
    assert page.status_code == 200 and DAYS[0].isoformat() in page.text
    assert client.get("/docs/%2E%2E/secret").status_code == 404  # still nothing outside the site

    monkeypatch.setenv("CITYGOV_DATA_DOCS_KEEP_DAYS", "2")  # keeps DAYS[2] and DAYS[1]
    third = build_data_docs(inspected, docs, logical_date=DAYS[2], suites=SUITES)
    assert third.pruned == [DAYS[0]] and third.dates == [DAYS[2], DAYS[1]] == kept_dates(docs)
    assert not (docs / DAYS[0].isoformat()).exists()
    assert all((docs / DAYS[1].isoformat() / a).is_file() for a in assets)  # the linked assets outlive the pruned date
    paths = _docs_paths(inspected)
    assert paths[DAYS[0]] is None and Path(paths[DAYS[1]]).is_file() and Path(paths[DAYS[2]]).is_file()
    assert client.get(f"/docs/{DAYS[0].isoformat()}/index.html").status_code == 404
    scorecard = client.get(f"/datasets/{CODE}").text
    assert f'<span class="muted" data-date="{DAYS[0].isoformat()}"' in scorecard  # shown, no longer a link
    assert f"/docs/{DAYS[0].isoformat()}/" not in scorecard and f"/docs/{DAYS[2].isoformat()}/" in scorecard
    (docs / ".building-x").mkdir()
    (docs / ".building-x" / "index.html").write_text("<html>half built</html>", encoding="utf-8")
    assert client.get("/docs/.building-x/index.html").status_code == 404  # a date being built is not served
    assert re.findall(r'<tr data-date="([\d-]+)">', client.get("/docs/index.html").text) == [
        DAYS[2].isoformat(), DAYS[1].isoformat()]
    # rebuilding a kept date replaces it in place and prunes nothing more
    again = build_data_docs(inspected, docs, logical_date=DAYS[1], suites=SUITES)
    assert again.pruned == [] and kept_dates(docs) == [DAYS[2], DAYS[1]]

    monkeypatch.setenv("CITYGOV_DATA_DOCS_KEEP_DAYS", "none")
    with pytest.raises(ValueError, match="CITYGOV_DATA_DOCS_KEEP_DAYS"):
        build_data_docs(inspected, docs, logical_date=DAYS[2], suites=SUITES)


def _docs_paths(engine: Engine) -> dict[date, str | None]:
    with session_scope(engine) as session:
        return dict(session.execute(select(QualityRun.logical_date, QualityRun.data_docs_path).where(QualityRun.entry_code == CODE)).all())
