"""The census's per-source inventories in the store (issue #19 item 5), on SQLite and PostgreSQL.

Each source's inventory is stored per (census date, connection); a rerun of the date replaces it; a
source that is down is stored as unreachable without stopping the others, and the reconcile works from
what is stored, not from the sources.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from citygov.catalog.importer import import_catalog
from citygov.census import (
    census_sources,
    inventory_source,
    latest_census,
    plan_census,
    reconcile_census,
    register_sources,
    run_census,
)
from citygov.census_inventory import (
    FAILED,
    REACHABLE,
    UNREACHABLE,
    SourceInventory,
    load_inventories,
    save_inventory,
)
from citygov.demo import DEFAULT_AS_OF
from citygov.findings import load_findings
from citygov.sources import ConnectionInfo, connections_from_file
from citygov.store import session_scope
from citygov.store.models import CensusInventory
from tests.demo_expectations import expected_findings, found_keys

DAY = DEFAULT_AS_OF


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


def stored_rows(engine: Engine) -> list[tuple[str, str, str, int]]:
    """(date, conn_id, status, resource_count) of every stored inventory."""
    with session_scope(engine) as session:
        return sorted(
            (r.logical_date.isoformat(), r.conn_id, r.status, r.resource_count)
            for r in session.scalars(select(CensusInventory))
        )


def test_each_source_inventory_is_stored_for_its_date(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    report = run_census(loaded, conns.get, DAY)

    inventories = load_inventories(loaded, DAY)
    assert list(inventories) == sorted(census_sources(loaded)) == report.sources
    assert all(i.status == REACHABLE and i.resources for i in inventories.values())
    gaj = inventories["dept_gaj"]
    assert gaj.department == "连云港市公安局" and gaj.source_kind == "database"
    people = next(r for r in gaj.resources if r.location == "rkjbxx")
    assert people.row_count and {c.name: c.kind for c in people.columns}["sfzhm"] == "ric"
    assert inventories["dept_mzj_files"].source_kind == "folder"
    # What the reconcile counted is what the inventories hold (less the pipeline's own tables).
    assert report.city.found == len(report.resources) <= sum(len(i.resources) for i in inventories.values())
    assert {(i.conn_id, r.location) for i, r in report.resources} <= {
        (c, r.location) for c, i in inventories.items() for r in i.resources
    }


def test_raw_sample_values_are_not_stored(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    run_census(loaded, conns.get, DAY)
    with sqlite3.connect(city / "sources" / "gaj.db") as db:
        ids = [row[0] for row in db.execute("SELECT sfzhm FROM rkjbxx LIMIT 20")]
    with session_scope(loaded) as session:
        stored = json.dumps([r.resources for r in session.scalars(select(CensusInventory))], ensure_ascii=False)
    assert ids and not [v for v in ids if v in stored]


def test_rerun_of_a_date_replaces_its_inventories_and_keeps_other_dates(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    before = DAY - timedelta(days=7)
    run_census(loaded, conns.get, before)
    run_census(loaded, conns.get, DAY)
    first = stored_rows(loaded)
    with sqlite3.connect(city / "sources" / "gaj.db") as db:
        db.execute("CREATE TABLE tmp_new_table (id INTEGER)")

    run_census(loaded, conns.get, DAY)

    after = stored_rows(loaded)
    assert len(after) == len(first) == 2 * len(census_sources(loaded))  # one row per (date, source)
    gaj = {d: n for d, c, _, n in after if c == "dept_gaj"}
    old = {d: n for d, c, _, n in first if c == "dept_gaj"}
    assert gaj == {before.isoformat(): old[before.isoformat()], DAY.isoformat(): old[DAY.isoformat()] + 1}
    assert "tmp_new_table" in {r.location for r in load_inventories(loaded, DAY)["dept_gaj"].resources}
    assert "tmp_new_table" not in {r.location for r in load_inventories(loaded, before)["dept_gaj"].resources}


def test_storing_a_source_twice_keeps_one_inventory(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    inventory_source(loaded, conns.get, "dept_mzj", DAY)
    inventory_source(loaded, conns.get, "dept_mzj", DAY)  # a retry of the mapped task
    save_inventory(loaded, SourceInventory(DAY, "dept_mzj", "连云港市民政局", "database", error="OperationalError: x"))
    assert stored_rows(loaded) == [(DAY.isoformat(), "dept_mzj", UNREACHABLE, 0)]


def test_a_source_that_is_down_is_stored_unreachable_and_the_rest_reconciled(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    (city / "sources" / "wjw.db").unlink()

    conn_ids = plan_census(loaded, DAY)
    results = {c: inventory_source(loaded, conns.get, c, DAY) for c in conn_ids}  # none raises
    report = reconcile_census(loaded, DAY, conn_ids)

    stored = load_inventories(loaded, DAY)
    assert stored["dept_wjw"].status == UNREACHABLE and stored["dept_wjw"].resources == []
    assert "does not exist" in (stored["dept_wjw"].error or "")
    assert results["dept_wjw"].status == UNREACHABLE
    assert all(i.status == REACHABLE and i.resources for c, i in stored.items() if c != "dept_wjw")
    assert set(report.unreachable) == {"dept_wjw"}

    findings = load_findings(loaded, origin="census")
    down = [f for f in findings if f["rule_id"] == "census.source_unreachable"]
    assert [(f["conn_id"], f["department"], f["dimension"]) for f in down] == [
        ("dept_wjw", "连云港市卫生健康委员会", "可访问性")
    ]
    others = {k for k in found_keys(findings) if k[1] != "census.source_unreachable"}
    wjw_missing = {k for k in others if k[1] == "census.resource_missing" and (k[2] or "").startswith("320700-WJW-")}
    assert not wjw_missing, "an unreachable source's entries are not reported missing"
    expected = {k for k in expected_findings(city / "defects.json", "census") if not (k[2] or "").startswith("320700-WJW-")}
    assert others == expected
    assert latest_census(loaded)["unreachable"] == {"dept_wjw": stored["dept_wjw"].error}


def test_a_source_with_no_stored_inventory_is_reported_unreachable(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    """The mapped task of one source failed outright (e.g. stopped by a timeout): the census still ends."""
    conn_ids = plan_census(loaded, DAY)
    for conn_id in conn_ids:
        if conn_id != "dept_rsj":
            inventory_source(loaded, conns.get, conn_id, DAY)

    report = reconcile_census(loaded, DAY, conn_ids)

    assert list(report.unreachable) == ["dept_rsj"]
    assert "no inventory was stored for" in report.unreachable["dept_rsj"]
    assert {r.conn_id for _, r in report.resources} == set(conn_ids) - {"dept_rsj"}


def test_the_reconcile_reads_the_store_not_the_sources(loaded: Engine, conns, city: Path) -> None:  # type: ignore[no-untyped-def]
    conn_ids = plan_census(loaded, DAY)
    for conn_id in conn_ids:
        inventory_source(loaded, conns.get, conn_id, DAY)
    shutil.rmtree(city / "sources")  # every database source gone after its inventory was taken

    report = reconcile_census(loaded, DAY, conn_ids)

    assert report.unreachable == {}
    assert found_keys(load_findings(loaded, origin="census")) == expected_findings(city / "defects.json", "census")


def test_a_rerun_does_not_reconcile_an_earlier_runs_inventory(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    run_census(loaded, conns.get, DAY)
    conn_ids = plan_census(loaded, DAY)  # the rerun starts; dept_gaj's task never stores anything this time
    for conn_id in conn_ids:
        if conn_id != "dept_gaj":
            inventory_source(loaded, conns.get, conn_id, DAY)

    report = reconcile_census(loaded, DAY, conn_ids)

    assert list(report.unreachable) == ["dept_gaj"]


def test_a_connection_that_cannot_be_read_is_unreachable(loaded: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    def resolve(conn_id: str) -> ConnectionInfo | None:
        if conn_id == "dept_zrzyj":
            raise ValueError("extra is not valid JSON")
        return conns.get(conn_id)

    report = run_census(loaded, resolve, DAY)

    assert list(report.unreachable) == ["dept_zrzyj"]
    assert report.unreachable["dept_zrzyj"] == (
        "connection 'dept_zrzyj' cannot be read: ValueError: extra is not valid JSON"
    )
    with session_scope(loaded) as session:
        assert session.scalar(select(func.count()).select_from(CensusInventory)) == len(report.sources)


def test_govern_census_run_stores_inventories_and_inventories_shows_them(loaded: Engine, store_url: str, city: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from citygov import cli

    (city / "sources" / "wjw.db").unlink()
    db = ["--db", store_url]
    assert cli.main([*db, "census", "run", "--connections", str(city / "connections.json"), "--date", DAY.isoformat()]) == 0
    assert "不可达   dept_wjw" in capsys.readouterr().out

    assert cli.main([*db, "census", "inventories", "--json"]) == 1  # ran; a source is unreachable
    rows = json.loads(capsys.readouterr().out)
    assert [r["conn_id"] for r in rows] == sorted(census_sources(loaded))
    assert {r["conn_id"]: r["status"] for r in rows if r["status"] != REACHABLE} == {"dept_wjw": UNREACHABLE}
    assert all(r["logical_date"] == DAY.isoformat() for r in rows)

    assert cli.main([*db, "census", "inventories", "--date", DAY.isoformat()]) == 1
    text = capsys.readouterr().out
    assert f"census inventories {DAY.isoformat()}: {len(rows)} sources" in text
    assert "dept_wjw" in text and "does not exist" in text

    assert cli.main([*db, "census", "inventories", "--date", (DAY - timedelta(days=1)).isoformat()]) == 1
    assert "no census inventory is stored" in capsys.readouterr().err


def test_govern_census_run_counts_the_others_when_one_inventory_raises(
    loaded: Engine, store_url: str, city: Path, capsys, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """Not a source that is down: its inventory raises. Stored as failed with what was raised, the other
    sources are inventoried, and the command says which source was not counted and why (exit 1)."""
    from citygov import census, cli

    real = census.inspect_source

    def inspect_source(conn, **kwargs):  # type: ignore[no-untyped-def]
        if conn.conn_id == "dept_gaj":  # a message quoting a value of the data: masked where it is kept
            raise RuntimeError("row 7: bad value 32070619860101123X")
        return real(conn, **kwargs)

    monkeypatch.setattr(census, "inspect_source", inspect_source)
    db = ["--db", store_url]
    assert cli.main([*db, "census", "run", "--connections", str(city / "connections.json"), "--date", DAY.isoformat()]) == 1
    out, err = capsys.readouterr()
    assert "普查失败 dept_gaj: the inventory raised RuntimeError: row 7: bad value" in out
    assert "1 source(s) not counted because the inventory failed: dept_gaj: the inventory raised RuntimeError" in err
    assert "32070619860101123X" not in out + err

    stored = load_inventories(loaded, DAY)
    assert stored["dept_gaj"].status == FAILED and stored["dept_gaj"].resources == []
    assert all(i.status == REACHABLE and i.resources for c, i in stored.items() if c != "dept_gaj")
    assert cli.main([*db, "census", "inventories"]) == 1
    assert "普查失败 the inventory raised RuntimeError" in capsys.readouterr().out
    summary = latest_census(loaded)
    assert list(summary["failed"]) == ["dept_gaj"] and summary["unreachable"] == {}
    findings = load_findings(loaded, origin="census")
    assert [f["conn_id"] for f in findings if f["rule_id"] == "census.inventory_failed"] == ["dept_gaj"]
    assert "32070619860101123X" not in json.dumps(findings, ensure_ascii=False, default=str)
    gaj = {k for k in expected_findings(city / "defects.json", "census") if (k[2] or "").startswith("320700-GAJ-")}
    assert not {k for k in found_keys(findings) if (k[2] or "").startswith("320700-GAJ-")}  # not counted: no 有目无数
    assert gaj, "the demo plants census defects on 公安局's source"
