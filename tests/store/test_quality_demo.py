"""Quality inspection of the demo city against a real store, on SQLite and PostgreSQL.

The versioned suites in ``expectations/`` must find exactly the quality defects the demo planted
(``defects.json``): the same datasets, columns and failing-row counts, nothing else. Scores must be
reproducible and explained by their ratios; Data Docs and every stored result must be masked.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, select, text

from citygov.catalog.importer import import_catalog
from citygov.census import register_sources
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality import engine as qengine
from citygov.quality.docs import build_data_docs
from citygov.quality.masking import find_unmasked
from citygov.quality.rules import REASONS
from citygov.quality.runner import inspect_batch
from citygov.quality.scores import load_scores
from citygov.quality.suites import load_suite
from citygov.rulebook import describe
from citygov.sources import connections_from_file
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import CheckResult, DatasetScore, Finding, QualityRun
from tests.pg import scratch_database

SUITES = Path(__file__).resolve().parents[2] / "expectations"

DEFECT_EXPECTATION = {
    "invalid_id_number": "expect_column_values_to_be_valid_ric",
    "future_date": "expect_column_values_to_be_date_not_in_future",
    "duplicate_key": "expect_column_values_to_be_unique",
    "invalid_credit_code": "expect_column_values_to_be_valid_uscc",
    "id_birthdate_mismatch": "expect_column_pair_values_to_match_id_birth_date",
    "missing_value": "expect_column_values_to_not_be_blank",
    "unknown_division_code": "expect_column_values_to_be_valid_division_code",
}
"""Which expectation catches each kind of planted quality defect."""


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city").root


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def inspected(request: pytest.FixtureRequest, city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A store with the demo catalog, one patrol and one quality inspection of DEFAULT_AS_OF."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'governance.db'}"
        else:
            url = stack.enter_context(scratch_database())
        upgrade(url)
        engine = engine_for(url)
        conns = connections_from_file(city / "connections.json")
        import_catalog(engine, city / "catalog.csv")
        register_sources(engine, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department])
        for batch in plan_batches(engine, 7):
            patrol_batch(engine, batch, conns.get, DEFAULT_AS_OF)
        for batch in plan_batches(engine, 11):
            inspect_batch(engine, batch, conns.get, DEFAULT_AS_OF, suites=SUITES)
        yield engine
        engine.dispose()


def _planted(city: Path) -> dict[tuple[str, str, str], int]:
    defects = json.loads((city / "defects.json").read_text(encoding="utf-8"))["defects"]
    return {
        (d["entry_code"], DEFECT_EXPECTATION[d["kind"]], d["column"]): d["count"]
        for d in defects
        if d["detected_by"] == "quality"
    }


def test_failing_row_counts_equal_the_planted_defects(inspected: Engine, city: Path) -> None:
    findings = load_findings(inspected, origin="quality", logical_date=DEFAULT_AS_OF)
    found = {(f["entry_code"], f["rule_id"], f["column"]): f["evidence"]["unexpected_count"] for f in findings}
    assert found == _planted(city)
    # the stored check results say the same, and every other expectation of every dataset passed
    with session_scope(inspected) as session:
        failed = {
            (run.entry_code, check.expectation, check.column): check.unexpected_count
            for check, run in session.execute(
                select(CheckResult, QualityRun).join(QualityRun, CheckResult.run_id == QualityRun.id).where(CheckResult.success.is_(False))
            )
        }
        statuses = dict(session.execute(select(QualityRun.entry_code, QualityRun.status)).all())
    assert failed == _planted(city)
    assert statuses["320700-GAJ-0005"] == "unreachable"  # the catalogued table that does not exist
    assert set(statuses.values()) <= {"passed", "failed", "unreachable"}


def test_findings_are_ready_for_the_dispute_queue(inspected: Engine) -> None:
    for f in load_findings(inspected, origin="quality", logical_date=DEFAULT_AS_OF):
        assert f["department"] and f["department"].startswith("连云港市")
        assert f["evidence"]["unexpected_count"] > 0 and f["evidence"]["samples"]
        assert f["dimension"] in {"规范性", "完整性", "准确性", "一致性"}
        assert f["fingerprint"]


def test_rerunning_the_date_replaces_everything(inspected: Engine, city: Path) -> None:
    conns = connections_from_file(city / "connections.json")

    def snapshot() -> tuple:
        with session_scope(inspected) as session:
            return (
                sorted(session.scalars(select(Finding.fingerprint).where(Finding.origin == "quality"))),
                session.scalar(select(sa.func.count()).select_from(QualityRun)),
                session.scalar(select(sa.func.count()).select_from(CheckResult)),
                sorted(session.execute(select(DatasetScore.entry_code, DatasetScore.score)).all()),
            )

    before = snapshot()
    for batch in plan_batches(inspected, 11):
        inspect_batch(inspected, batch, conns.get, DEFAULT_AS_OF, suites=SUITES)
    assert snapshot() == before


def test_scores_are_explained_by_their_ratios(inspected: Engine) -> None:
    data = load_scores(inspected)
    assert data["logical_date"] == DEFAULT_AS_OF.isoformat()
    assert len(data["datasets"]) == 31
    scored = [d for d in data["datasets"] if d["status"] == "scored"]
    assert len(scored) == 30

    def value(info: dict) -> float | None:  # X = A/B (1 when only findings evaluated it) less the findings' shares
        if not info["evaluated"] and not info["findings"]:
            return None
        base = info["passed"] / info["evaluated"] if info["evaluated"] else 1.0
        return base * (1 - min(1.0, sum(f["penalty"] for f in info["findings"])))

    for ds in scored:
        dims = ds["details"]["dimensions"]
        weights = ds["details"]["weights_applied"]
        recomputed = round(100 * sum(w * value(dims[d]) for d, w in weights.items()) / sum(weights.values()), 2)
        assert recomputed == ds["details"]["uncapped"], ds["entry_code"]
        cap = ds["details"]["cap"]
        assert ds["score"] == (min(recomputed, cap["limit"]) if cap else recomputed), ds["entry_code"]
        for d, ratio in ds["ratios"].items():
            expected = value(dims[d])
            assert ratio == (None if expected is None else round(expected, 6))
    by_code = {d["entry_code"]: d for d in data["datasets"]}
    assert by_code["320700-GAJ-0001"]["ratios"]["准确性"] < 1.0  # the 3 bad IDs
    assert by_code["320700-SCJGJ-0004"]["ratios"]["时效性"] == 0.0  # the stale dataset (patrol)
    # The catalogued table that does not exist could not be validated: not scored (never a grade, never
    # counted in a mean), with why; its accessibility failure is still on record.
    missing = by_code["320700-GAJ-0005"]
    assert (missing["status"], missing["score"], missing["grade"]) == ("not_scored", None, None)
    assert "validation did not run (unreachable)" in missing["not_scored_reason"] and "hjrktjyb" in missing["not_scored_reason"]
    assert missing["ratios"]["可访问性"] == 0.0
    for dept in data["departments"]:
        members = [d["score"] for d in scored if d["department"] == dept["name"]]
        assert dept["score"] == round(sum(members) / len(members), 2)
        assert dept["not_scored"] == (1 if dept["name"] == missing["department"] else 0)
    assert data["city"]["score"] == round(sum(d["score"] for d in scored) / 30, 2)
    assert (data["city"]["scored"], data["city"]["not_scored"]) == (30, 1)
    history = load_scores(inspected, dataset="320700-GAJ-0001", history=True)["history"]
    assert [h["logical_date"] for h in history] == [DEFAULT_AS_OF.isoformat()]


def test_data_docs_and_stored_results_show_no_unmasked_identifier(inspected: Engine, tmp_path: Path) -> None:
    report = build_data_docs(inspected, tmp_path / "docs", suites=SUITES)
    assert report.validations == 30 and report.index.is_file()
    vendored = "/static/vendor/"  # third-party files from npm packages (fonts, scripts), not data
    texts = {str(p): p.read_text(encoding="utf-8", errors="replace") for p in (tmp_path / "docs").rglob("*")
             if p.is_file() and vendored not in p.as_posix()}
    with session_scope(inspected) as session:
        for model in (QualityRun, CheckResult, DatasetScore, Finding):
            rows = session.scalars(select(model)).all()
            texts[model.__tablename__] = json.dumps(
                [{c.name: getattr(r, c.name) for c in model.__table__.columns} for r in rows], ensure_ascii=False, default=str
            )
    leaks = {name: find_unmasked(body) for name, body in texts.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    # masking is not vacuous: the failing samples are there, masked
    page = next(body for name, body in texts.items() if "320700-GAJ-0001" in name and name.endswith(".html") and "validations" in name)
    assert page.count("********") >= 3
    # each sampled row is shown with its record key and its reason (GX's table of unexpected indices)
    assert "记录键 key" in page and "原因 reason" in page
    assert any(words.split(" ")[0] in page for code, words in REASONS.items() if code.startswith("ric."))
    run = next(r for r in json.loads(texts["quality_runs"]) if r["entry_code"] == "320700-SCJGJ-0002")
    assert "********" in json.dumps(run["validation_result"], ensure_ascii=False)  # the credit codes, masked
    # the suite's page names each rule in words (rulebook), built-in GX expectations included
    suite_page = next(body for name, body in texts.items() if "expectations" in name and "320700-GAJ-0001" in name and name.endswith(".html"))
    for rule_id in ("expect_column_values_to_be_valid_ric", "expect_column_values_to_not_be_blank", "expect_column_values_to_be_unique"):
        words = describe(rule_id)
        assert words.title_zh in suite_page and words.title_en in suite_page, rule_id


def test_a_dataset_without_a_suite_gets_a_finding(inspected: Engine, city: Path, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    shutil.copytree(SUITES, suites)
    (suites / "320700-WJW-0002.json").unlink()
    (suites / "320700-WJW-0003.json").write_text('{"name": "320700-WJW-0003", "expectations": [{"type": "expect_nothing"}]}')
    conns = connections_from_file(city / "connections.json")
    day = DEFAULT_AS_OF.replace(day=27)
    report = inspect_batch(inspected, ["320700-WJW-0002", "320700-WJW-0003"], conns.get, day, suites=suites)
    assert [d.status for d in report.datasets] == ["no_suite", "suite_invalid"]
    rules = {(f["entry_code"], f["rule_id"]) for f in load_findings(inspected, origin="quality", logical_date=day)}
    assert rules == {("320700-WJW-0002", "quality.suite.missing"), ("320700-WJW-0003", "quality.suite.invalid")}
    assert load_scores(inspected, dataset="320700-WJW-0002", logical_date=day)["datasets"][0]["grade"] == "不合格"


def test_a_postgresql_source_is_validated_in_the_database(inspected: Engine, city: Path) -> None:
    """The people table copied into the store's own database: on PostgreSQL this runs the SQL
    conditions there; the counts must equal the SQLite source's."""
    source = create_engine(f"sqlite:///{city / 'sources' / 'gaj.db'}")
    with source.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM rkjbxx"))]
    table = sa.Table("src_rkjbxx", sa.MetaData(), *[sa.Column(c, sa.String) for c in rows[0]])
    with inspected.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        conn.execute(table.insert(), [{k: None if v is None else str(v) for k, v in r.items()} for r in rows])
    suite = load_suite("320700-GAJ-0001", SUITES)
    params = {"logical_date": DEFAULT_AS_OF.isoformat()}
    here, _ = qengine.validate_table(inspected, "src_rkjbxx", suite, parameters=params)
    there, _ = qengine.validate_table(source, "rkjbxx", suite, parameters=params)
    counts = lambda res: [(r.success, r.result.get("unexpected_count")) for r in res.results]  # noqa: E731
    assert counts(here) == counts(there)
    assert [r.result["unexpected_count"] for r in here.results if not r.success] == [3]
    with inspected.begin() as conn:
        table.drop(conn)
    source.dispose()


def test_suites_drafted_from_the_data_alone_find_exactly_the_planted_defects(city: Path, tmp_path: Path) -> None:
    """No hand-written rule: every dataset's suite drafted from its data finds each planted quality defect
    with its count, and nothing else."""
    from citygov.catalog.queries import load_entries
    from citygov.quality.drafting import draft_entry_suite
    from citygov.quality.review import is_draft
    from citygov.quality.runner import BaseTables
    from citygov.quality.suites import write_suite

    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    import_catalog(engine, city / "catalog.csv")
    conns = connections_from_file(city / "connections.json")
    catalog = load_entries(engine, published_only=False)
    with BaseTables(engine, conns.get) as base:
        for entry in catalog:
            drafted = draft_entry_suite(entry, conns.get, catalog=catalog, base_check=base)
            assert is_draft(drafted.suite)
            write_suite(drafted.suite, tmp_path / "suites")
    report = inspect_batch(engine, [e.code for e in catalog], conns.get, DEFAULT_AS_OF, suites=tmp_path / "suites")
    found = {
        (d["entry_code"], f["expectation"], f["column"]): f["unexpected_count"]
        for d in report.summary()["datasets"]
        for f in d["failed"]
    }
    engine.dispose()
    assert found == _planted(city)


def test_the_command_line_reads_the_same_core(inspected: Engine, city: Path, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from citygov.cli import main

    url = inspected.url.render_as_string(hide_password=False)
    assert main(["--db", url, "scores", "--json", "--department", "连云港市公安局"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["entry_code"] for d in data["datasets"]} == {f"320700-GAJ-000{i}" for i in range(1, 7)}
    assert [d["name"] for d in data["departments"]] == ["连云港市公安局"]

    assert main(["--db", url, "suites", "draft", "320700-GAJ-0001", "--print", "--connections", str(city / "connections.json")]) == 0
    draft = json.loads(capsys.readouterr().out)
    assert draft["name"] == "320700-GAJ-0001" and find_unmasked(json.dumps(draft, ensure_ascii=False)) == []
    assert {e["type"] for e in draft["expectations"]} >= {
        "expect_column_values_to_be_valid_ric",
        "expect_column_pair_values_to_match_id_birth_date",
        "expect_column_values_to_be_valid_mobile",
    }
    assert draft["meta"]["citygov"]["draft"]["policy"]["not_blank_min"] == 0.95 and draft["meta"]["citygov"]["draft"]["drafted_at"]
    assert all(e["meta"]["draft"] is True for e in draft["expectations"])
    assert main(["--db", url, "suites", "draft", "320700-GAJ-0001", "--print", "--not-blank-min", "0.5", "--connections", str(city / "connections.json")]) == 0
    assert json.loads(capsys.readouterr().out)["meta"]["citygov"]["draft"]["policy"]["not_blank_min"] == 0.5
    assert main(["--db", url, "suites", "draft", "320700-GAJ-0001", "--print", "--kind-min", "80"]) == 2
    assert "kind_min must be a share between 0 and 1" in capsys.readouterr().err

    assert main(["--db", url, "quality", "results", "--json", "--dataset", "320700-GAJ-0001"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    failed = [c for c in run["checks"] if not c["success"]]
    assert [(c["expectation"], c["unexpected"]) for c in failed] == [("expect_column_values_to_be_valid_ric", 3)]
    # each sample is a row: masked value, the record key and the reason
    assert all("********" in s["value"] and s["key"] and s["reason"] for s in failed[0]["samples"])
    assert main(["--db", url, "suites", "check", "--suites", str(SUITES), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing"] == []


def test_failed_expectations_route_to_the_dispute_queue_and_recur_on_the_same_item(
    inspected: Engine, city: Path
) -> None:
    from datetime import timedelta

    from citygov.catalog.queries import load_entries
    from citygov.disputes import list_disputes, route_findings

    providers = {e.code: e.provider for e in load_entries(inspected)}
    route_findings(inspected, origin="quality", logical_date=DEFAULT_AS_OF)
    items = {(d.entry_code, d.rule_id, d.column): d for d in list_disputes(inspected, origin="quality")}
    assert set(items) == set(_planted(city))
    for (code, _, _), item in items.items():
        assert item.responsible_unit == providers[code]
        assert item.occurrences == 1

    # The same failures the next night update the same items instead of opening new ones.
    conns = connections_from_file(city / "connections.json")
    next_day = DEFAULT_AS_OF + timedelta(days=1)
    for batch in plan_batches(inspected, 11):
        inspect_batch(inspected, batch, conns.get, next_day, suites=SUITES)
    route_findings(inspected, origin="quality", logical_date=next_day)
    again = {(d.entry_code, d.rule_id, d.column): d for d in list_disputes(inspected, origin="quality")}
    assert {k: d.id for k, d in again.items()} == {k: d.id for k, d in items.items()}
    assert all(d.occurrences == 2 for d in again.values())
