"""Census and patrol on the demo city, against a real store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.census import draft_rows, latest_census, register_sources, run_census, write_drafts
from citygov.demo import DEFAULT_AS_OF
from citygov.findings import load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.sources import ConnectionInfo, connections_from_file
from tests.demo_expectations import expected_findings, found_keys


@pytest.fixture
def conns(city: Path) -> dict[str, ConnectionInfo]:
    return connections_from_file(city / "connections.json")


@pytest.fixture
def loaded(store: Engine, city: Path, conns: dict[str, ConnectionInfo]) -> Engine:
    import_catalog(store, city / "catalog.csv")
    register_sources(
        store, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department]
    )
    return store


def run_patrol(engine: Engine, conns: dict[str, ConnectionInfo], day: date, batch_size: int = 7) -> None:
    for batch in plan_batches(engine, batch_size):
        patrol_batch(engine, batch, conns.get, day)


def test_census_finds_exactly_the_listed_defects(loaded: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    report = run_census(loaded, conns.get, DEFAULT_AS_OF)
    found = found_keys(load_findings(loaded, origin="census"))
    assert found == expected_findings(city / "defects.json", "census")
    import json

    kpi = json.loads((city / "defects.json").read_text(encoding="utf-8"))["kpis"]["catalog_coverage"]
    assert (report.city.found, report.city.catalogued) == (kpi["denominator"], kpi["numerator"])
    assert latest_census(loaded)["coverage"]["city"]["coverage"] == kpi["value"]


def test_census_rerun_replaces_the_date(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    run_census(loaded, conns.get, DEFAULT_AS_OF)
    first = load_findings(loaded, origin="census")
    run_census(loaded, conns.get, DEFAULT_AS_OF)
    assert len(load_findings(loaded, origin="census")) == len(first)
    assert len(latest_census(loaded)["resources"]) == latest_census(loaded)["resources_found"]


def test_census_drafts_import_as_drafts(loaded: Engine, conns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_census(loaded, conns.get, DEFAULT_AS_OF)
    rows = draft_rows(loaded)
    assert len(rows) == 3
    by_location = {r["资源位置"]: r for r in rows}
    backup = by_location["rkjbxx_bak 20260303"]
    assert backup["敏感级别"] == "L4" and "sfzhm:C" in backup["信息项"]
    path = tmp_path / "drafts.csv"
    write_drafts(rows, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_patrol_finds_exactly_the_listed_defects(loaded: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    run_patrol(loaded, conns, DEFAULT_AS_OF)
    findings = load_findings(loaded, origin="patrol")
    assert found_keys(findings) == expected_findings(city / "defects.json", "patrol")
    for f in findings:
        assert f["department"] and f["dimension"] and f["logical_date"] == DEFAULT_AS_OF.isoformat()
    grading = next(f for f in findings if f["rule_id"] == "patrol.grading.inconsistent")
    sample = grading["evidence"]["sample"]
    assert "*" in sample and len(sample) == 18  # masked, never the raw ID number


def test_patrol_rerun_is_idempotent_and_batch_size_does_not_matter(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    run_patrol(loaded, conns, DEFAULT_AS_OF, batch_size=5)
    first = sorted(f["fingerprint"] for f in load_findings(loaded, origin="patrol"))
    run_patrol(loaded, conns, DEFAULT_AS_OF, batch_size=100)
    assert sorted(f["fingerprint"] for f in load_findings(loaded, origin="patrol")) == first


def test_source_down_fails_only_its_own_entries(loaded: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    (city / "sources" / "wjw.db").unlink()
    run_patrol(loaded, conns, DEFAULT_AS_OF)
    findings = load_findings(loaded, origin="patrol")
    down = [f for f in findings if f["rule_id"] == "patrol.source.unreachable"]
    assert down and {f["conn_id"] for f in down} == {"dept_wjw"}
    assert all("does not exist" in f["message"] for f in down)
    others = {k for k in found_keys(findings) if k[1] != "patrol.source.unreachable"}
    assert others == expected_findings(city / "defects.json", "patrol")
    report = run_census(loaded, conns.get, DEFAULT_AS_OF)
    assert set(report.unreachable) == {"dept_wjw"}


def test_volume_drop_and_unchanged_content_against_history(loaded: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    first = DEFAULT_AS_OF
    run_patrol(loaded, conns, first)
    with sqlite3.connect(city / "sources" / "gaj.db") as db:
        db.execute("DELETE FROM rkjbxx WHERE rowid % 4 != 0")
    second = first + timedelta(days=1)
    run_patrol(loaded, conns, second)
    drops = [f for f in load_findings(loaded, origin="patrol", logical_date=second) if f["rule_id"] == "patrol.volume.drop"]
    assert [f["entry_code"] for f in drops] == ["320700-GAJ-0001"]
    assert drops[0]["evidence"]["previous"] > 2 * drops[0]["evidence"]["current"]
    # Earlier dates keep their own findings.
    assert not [f for f in load_findings(loaded, origin="patrol", logical_date=first) if f["rule_id"] == "patrol.volume.drop"]


def test_unchanged_content_goes_stale_without_an_update_column(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    """MZJ-0006 (每季度, no update-time column): staleness comes from content change between patrols."""
    first = DEFAULT_AS_OF
    run_patrol(loaded, conns, first)
    later = first + timedelta(days=94)  # more than a quarter plus a day, content untouched
    run_patrol(loaded, conns, later)
    stale = [f for f in load_findings(loaded, origin="patrol", logical_date=later) if f["rule_id"] == "patrol.timeliness.stale"]
    by_entry = {f["entry_code"]: f for f in stale}
    assert "320700-MZJ-0006" in by_entry
    assert by_entry["320700-MZJ-0006"]["message"].endswith(
        f"content unchanged since {first.isoformat()} is 94 days old; 更新周期 每季度 allows 93"
    )
    assert "320700-MZJ-0007" not in by_entry  # 每年: a year's allowance


def test_changed_content_restarts_the_clock(loaded: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    first = DEFAULT_AS_OF
    run_patrol(loaded, conns, first)
    path = city / "files" / "mzj" / "殡葬服务机构.csv"
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # one row fewer: the content changed
    run_patrol(loaded, conns, first + timedelta(days=200))
    run_patrol(loaded, conns, first + timedelta(days=380))
    stale = {f["entry_code"] for f in load_findings(loaded, origin="patrol", logical_date=first + timedelta(days=380))
             if f["rule_id"] == "patrol.timeliness.stale"}
    assert "320700-MZJ-0007" not in stale  # changed on day 200: 180 days old, a year allowed
