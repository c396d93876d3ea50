"""Scores that agree with the findings, and checks that leave the pipeline's own objects alone (issue 16).

The demo city's nightly chain without Airflow, for two consecutive days as the DAGs run it (census,
patrol, quality inspection, provincial backflow into the city's backflow store ``dept_sdsj`` — a registered
department source the census and the patrol visit — then dispute routing and the rescoring it does):

- no dataset with an open high-severity finding is graded 优秀 or 良好, and the card says why;
- 320700-MZJ-0005 (resident ID numbers in an L1, 无条件开放 dataset) and 320700-RSJ-0002 (a declared column
  missing) score below 100 for those findings;
- the backflow batches rejected on the second day (after that day's quality inspection) reach their
  datasets' scores through the rescoring;
- a date rescored from the store gives the card it had;
- neither the census nor the patrol reports ``backflow_loads``, ``backflow_quarantine`` or ``_batch_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from citygov.backflow import ingest_landing
from citygov.census import latest_census, run_census
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.disputes import route_findings
from citygov.findings import load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality.runner import inspect_batch
from citygov.quality.scores import load_scores, rescore, rescore_stale
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import session_scope
from citygov.store.models import DatasetScore, Finding
from citygov.system_objects import LINEAGE_COLUMN, SYSTEM_TABLES
from tests.demo_store import demo_store

SUITES = Path(__file__).resolve().parents[2] / "expectations"
DAYS = (DEFAULT_AS_OF - timedelta(days=1), DEFAULT_AS_OF)
MISGRADED, MISSING_COLUMN = "320700-MZJ-0005", "320700-RSJ-0002"
BACKFLOWED = ("320700-SDSJ-0001", "320700-SDSJ-0002")
"""The backflow resources whose batches of DEFAULT_AS_OF are rejected (a short file, a wrong checksum)."""


def run_night(store: Engine, city: Path, day) -> list:  # type: ignore[no-untyped-def]
    """One night of the chain, in the order of the Makefile's PIPELINE_DAGS (catalog_sync imported once)."""
    conns = connections_from_file(city / "connections.json")
    run_census(store, conns.get, day)
    for batch in plan_batches(store, 7):
        patrol_batch(store, batch, conns.get, day)
    for batch in plan_batches(store, 11):
        inspect_batch(store, batch, conns.get, day, suites=SUITES)
    target = sa.create_engine(conns["dept_sdsj"].sqlalchemy_url())
    try:
        ingest_landing(store, target, conns["backflow_landing"].folder(), logical_date=day)
    finally:
        target.dispose()
    route_findings(store, now=datetime.combine(day + timedelta(days=1), time(3), tzinfo=CITY_TZ))
    return rescore_stale(store)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, list]]:
    """The demo city's store after two nights; with the dates each night's routing rescored."""
    city = create_demo_city(tmp_path_factory.mktemp("demo") / "city").root
    with demo_store(request.param, city, tmp_path_factory.mktemp("store")) as (engine, _):
        yield engine, [run_night(engine, city, day) for day in DAYS]


def _open_high(store: Engine, day) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, set[str]] = {}
    for f in load_findings(store, logical_date=day):
        if f["severity"] == "high" and f["entry_code"]:
            out.setdefault(f["entry_code"], set()).add(f["rule_id"])
    return out


@pytest.mark.parametrize("day", DAYS)
def test_no_dataset_with_an_open_high_severity_finding_is_graded_excellent_or_good(chain, day) -> None:  # type: ignore[no-untyped-def]
    store, _ = chain
    high = _open_high(store, day)
    datasets = {d["entry_code"]: d for d in load_scores(store, logical_date=day)["datasets"]}
    capped = [code for code in high if code in datasets and datasets[code]["status"] == "scored"]
    assert len(capped) >= 3  # not vacuous: the misgraded, the missing column, and more
    for code in capped:
        card = datasets[code]
        assert card["grade"] not in {"优秀", "良好"} and card["score"] <= 79.99, code
        assert {f.split("(")[0] for f in card["details"]["cap"]["findings"]} == high[code], code
    # and a dataset without one is not capped
    assert all(d["details"]["cap"] is None for code, d in datasets.items() if code not in high)


def test_the_misgraded_and_the_drifted_dataset_score_below_100_for_their_findings(chain) -> None:  # type: ignore[no-untyped-def]
    store, _ = chain
    for day in DAYS:
        datasets = {d["entry_code"]: d for d in load_scores(store, logical_date=day)["datasets"]}
        misgraded, drifted = datasets[MISGRADED], datasets[MISSING_COLUMN]
        assert misgraded["score"] < 80 and misgraded["grade"] == "合格"
        consistency = misgraded["details"]["dimensions"]["一致性"]
        assert [(f["rule_id"], f["column"]) for f in consistency["findings"]] == [("patrol.grading.inconsistent", "sfzhm")]
        assert misgraded["ratios"]["一致性"] < 1
        assert drifted["score"] < 80 and drifted["grade"] == "合格"
        for dimension in ("规范性", "完整性"):  # schema drift and missing content
            moved = drifted["details"]["dimensions"][dimension]["findings"]
            assert ("patrol.schema.missing_column", "fzjg") in [(f["rule_id"], f["column"]) for f in moved]
            assert drifted["ratios"][dimension] < 1
        assert any("patrol.schema.missing_column(fzjg)" in n for n in drifted["details"]["notes"])


def test_backflow_findings_after_the_inspection_reach_the_score(chain) -> None:  # type: ignore[no-untyped-def]
    store, rescored = chain
    assert DEFAULT_AS_OF in rescored[1]  # the second night's rejections came after its quality inspection
    datasets = {d["entry_code"]: d for d in load_scores(store, logical_date=DEFAULT_AS_OF)["datasets"]}
    for code in BACKFLOWED:
        moved = [f["rule_id"] for dim in datasets[code]["details"]["dimensions"].values() for f in dim["findings"]]
        assert "backflow.batch.rejected" in moved, code
        assert datasets[code]["grade"] not in {"优秀", "良好"}
    assert rescore_stale(store) == []  # nothing left to rescore


@pytest.mark.parametrize("day", DAYS)
def test_a_past_date_rescored_from_the_store_gives_the_same_cards(chain, day) -> None:  # type: ignore[no-untyped-def]
    store, _ = chain

    def stored() -> dict:
        with session_scope(store) as session:
            return {
                r.entry_code: (r.score, r.grade, r.status, r.not_scored_reason, r.details,
                               [r.conformity, r.completeness, r.accuracy, r.consistency, r.timeliness, r.accessibility])
                for r in session.scalars(select(DatasetScore).where(DatasetScore.logical_date == day))
            }

    before = stored()
    cards = rescore(store, day)
    assert {c.entry_code: c.score for c in cards} == {k: v[0] for k, v in before.items()}
    assert stored() == before
    not_scored = [k for k, v in before.items() if v[2] == "not_scored"]
    assert not_scored and all(before[k][0] is None and before[k][1] is None for k in not_scored)  # never 100


def test_the_census_and_the_patrol_report_none_of_the_pipelines_own_objects(chain) -> None:  # type: ignore[no-untyped-def]
    store, _ = chain
    # the objects are there: the backflow store holds loads, quarantine and lineage after two nights
    census = latest_census(store, DAYS[1])
    in_sdsj = [r for r in census["resources"] if r["conn_id"] == "dept_sdsj"]
    assert in_sdsj and any(LINEAGE_COLUMN in [c["name"] for c in r["columns"]] for r in in_sdsj)
    assert not {r["location"] for r in census["resources"]} & SYSTEM_TABLES
    with session_scope(store) as session:
        reported = session.execute(
            select(Finding.origin, Finding.rule_id, Finding.location, Finding.column)
            .where(Finding.origin.in_(["census", "patrol"]))
        ).all()
    assert not [r for r in reported if r.location in SYSTEM_TABLES]
    assert not [r for r in reported if r.column == LINEAGE_COLUMN]
    # 江苏省大数据管理中心's coverage is not diluted by the bookkeeping tables
    assert census["coverage"]["江苏省大数据管理中心"]["coverage"] == 1.0


def test_the_scorecard_says_how_its_score_is_made(chain) -> None:  # type: ignore[no-untyped-def]
    from citygov.scorecards import dataset_scorecard
    from citygov_web.app import _templates
    from citygov_web.auth import PageUser

    store, _ = chain
    card = dataset_scorecard(store, MISGRADED)
    assert card is not None
    html = _templates().get_template("scorecard.html").render(card=card, items=[], base="", user=PageUser("viewer", can_write=False))
    how = html[html.index('id="how-scored"'):html.index("</details>", html.index('id="how-scored"'))]
    assert "How this score is made" in how and "X × (1 − Σ shares)" in how
    assert 'data-dimension="一致性" data-rule="patrol.grading.inconsistent"' in how
    assert 'id="score-cap"' in how and "the score is at most 79.99" in how and "patrol.grading.inconsistent(sfzhm)" in how


def test_a_finding_stored_after_the_scores_reaches_them_on_the_next_rescoring(chain) -> None:  # type: ignore[no-untyped-def]
    from citygov.catalog.queries import load_entries
    from citygov.findings import FindingRecord, replace_findings

    store, _ = chain
    day, code = DAYS[0], "320700-WJW-0001"

    def score() -> dict:
        return {d["entry_code"]: d for d in load_scores(store, logical_date=day)["datasets"]}[code]

    assert rescore_stale(store) == [] and score()["score"] == 100.0
    (entry,) = load_entries(store, codes=[code])
    replace_findings(store, "catalog", day, [FindingRecord.for_entry("catalog", entry, "catalog.row_rejected", "bad row", day)])
    assert rescore_stale(store) == [day]
    moved = score()["details"]["dimensions"]["规范性"]["findings"]
    assert [f["rule_id"] for f in moved] == ["catalog.row_rejected"] and score()["score"] < 100
    replace_findings(store, "catalog", day, [])
    rescore(store, day)
    assert score()["score"] == 100.0


def test_the_scorecard_names_each_failing_expectation_in_words_with_its_code(chain) -> None:  # type: ignore[no-untyped-def]
    from citygov.catalog.queries import load_entries
    from citygov.rulebook import describe
    from citygov.scorecards import dataset_scorecard
    from citygov_web.app import _templates
    from citygov_web.auth import PageUser

    store, _ = chain
    cards = (dataset_scorecard(store, e.code) for e in load_entries(store))
    card = next(c for c in cards if c is not None and c.failed_checks)
    html = _templates().get_template("scorecard.html").render(card=card, items=[], base="", user=PageUser("viewer", can_write=False))
    failed = html[html.index('id="failed"'):html.index("</table>", html.index('id="failed"'))]
    for check in card.failed_checks:
        words = describe(check.expectation)
        assert words.known, check.expectation
        row = failed[failed.index(f'data-rule="{check.expectation}"'):]
        assert row.index(words.label) < row.index(f'<code class="rule-id">{check.expectation}</code>') < row.index(words.fix)
