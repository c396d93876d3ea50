"""The census DAG fans out per source (``dag.test`` on the demo city): one mapped task per department
source stores its inventory in the governance store; one source that is down leaves the others'
inventories, its task still succeeds and the reconcile still runs. Store on SQLite, then PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from citygov.catalog.importer import import_catalog
from citygov.catalog.queries import load_entries
from citygov.census import census_outcome, census_sources, latest_census, register_sources
from citygov.census_inventory import FAILED, REACHABLE, UNREACHABLE, load_inventories
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import load_findings
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import ensure_store, session_scope
from citygov.store.models import CensusInventory
from tests.demo_expectations import expected_findings, found_keys
from tests.e2e.conftest import load_dag

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def census_dag(airflow_db):  # type: ignore[no-untyped-def]
    return load_dag("public_data_census")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city")


@pytest.fixture
def loaded(store_url, city, monkeypatch):  # type: ignore[no-untyped-def]
    store = ensure_store(store_url)
    conns = connections_from_file(city.connections_path)
    for conn in conns.values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    import_catalog(store, city.catalog_path)
    register_sources(
        store, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department]
    )
    yield store
    store.dispose()


_minute = iter(range(100_000))


def run(dag):  # type: ignore[no-untyped-def]
    """One run for the demo's date; the DAG run's state and (task_id, map_index, state) of each task."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=3, minutes=next(_minute))
    dag_run = dag.test(logical_date=when)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        states = sorted((ti.task_id, ti.map_index, str(ti.state)) for ti in tis)
    return str(dag_run.state), states


def test_one_mapped_task_per_source_stores_its_inventory_and_a_rerun_replaces_it(census_dag, loaded, city) -> None:  # type: ignore[no-untyped-def]
    sources = sorted(census_sources(loaded))

    state, tasks = run(census_dag)

    assert state == "success", tasks
    mapped = [t for t in tasks if t[0].endswith(".inventory_source")]
    # one mapped task per source, the sources dealt to the shards' pools
    assert len(mapped) == len(sources) and all(m[2] == "success" for m in mapped)
    assert ("reconcile", -1, "success") in tasks
    inventories = load_inventories(loaded, DEFAULT_AS_OF)
    assert list(inventories) == sources and all(i.status == REACHABLE for i in inventories.values())
    assert found_keys(load_findings(loaded, origin="census")) == expected_findings(city.defects_path, "census")
    # XCom carries each source's id, status and resource count only; the inventories are in the store
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        handed = [XComModel.deserialize_value(x) for x in session.query(XComModel).filter(
            XComModel.dag_id == census_dag.dag_id, XComModel.task_id.like("%.inventory_source"),
            XComModel.key == "return_value").order_by(XComModel.timestamp)]  # this run's last
    assert handed and all(set(h) == {"conn_id", "status", "resources"} and isinstance(h["resources"], int) for h in handed)
    assert {h["conn_id"]: h["resources"] for h in handed if h["conn_id"] in inventories} == {
        c: len(i.resources) for c, i in inventories.items()}

    state, _ = run(census_dag)

    assert state == "success"
    with session_scope(loaded) as session:
        keys = sorted((r.logical_date, r.conn_id) for r in session.scalars(select(CensusInventory)))
    assert keys == [(DEFAULT_AS_OF, c) for c in sources]  # replaced, not added to
    assert latest_census(loaded)["resources_found"] == len(latest_census(loaded)["resources"])


def test_a_source_that_is_down_leaves_the_others_and_the_reconcile_runs(census_dag, loaded, city, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEPT_WJW", json.dumps({"conn_type": "sqlite", "host": str(city.root / "gone" / "wjw.db")})
    )

    state, tasks = run(census_dag)

    assert state == "success", tasks
    assert all(s == "success" for _, _, s in tasks), tasks  # the unreachable source's task too
    inventories = load_inventories(loaded, DEFAULT_AS_OF)
    assert {c for c, i in inventories.items() if i.status == UNREACHABLE} == {"dept_wjw"}
    assert all(i.resources for c, i in inventories.items() if c != "dept_wjw")
    down = [f for f in load_findings(loaded, origin="census") if f["rule_id"] == "census.source_unreachable"]
    assert [f["conn_id"] for f in down] == ["dept_wjw"]
    assert latest_census(loaded)["unreachable"].keys() == {"dept_wjw"}


def test_a_mapped_task_that_fails_outright_does_not_stop_the_reconcile(census_dag, loaded, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """E.g. stopped by a timeout: its source has no inventory for the date and is reported unreachable."""
    from citygov import census

    real = census.inventory_source

    def inventory_source(engine, resolve, conn_id, logical_date):  # type: ignore[no-untyped-def]
        if conn_id == "dept_rsj":
            raise TimeoutError("stopped")
        return real(engine, resolve, conn_id, logical_date)

    monkeypatch.setattr(census, "inventory_source", inventory_source)

    state, tasks = run(census_dag)

    # The run ends (its leaf, the reconcile, succeeded); the failed task and the finding show what happened.
    assert state == "success", tasks
    failed = [(t.rsplit(".", 1)[-1], s) for t, _, s in tasks if s not in ("success", "skipped")]  # skipped: a shard without sources
    assert failed == [("inventory_source", "failed")], tasks
    assert ("reconcile", -1, "success") in tasks
    assert "dept_rsj" not in load_inventories(loaded, DEFAULT_AS_OF)
    unreachable = latest_census(loaded)["unreachable"]
    assert list(unreachable) == ["dept_rsj"] and "no inventory was stored" in unreachable["dept_rsj"]


def test_a_source_whose_inventory_raises_fails_the_run_naming_it_and_the_others_land(census_dag, loaded, city, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Not a source that does not answer (a finding of a clean run) but an inventory that raises: the run
    fails at its outcome, which names the source and what was raised; every other source is counted."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from citygov import census

    real = census.inspect_source

    def inspect_source(conn, **kwargs):  # type: ignore[no-untyped-def]
        if conn.conn_id == "dept_rsj":
            raise UnicodeDecodeError("gbk", b"\xff", 0, 1, "illegal multibyte sequence")
        return real(conn, **kwargs)

    monkeypatch.setattr(census, "inspect_source", inspect_source)

    state, tasks = run(census_dag)

    assert state == "failed", tasks
    not_ok = sorted((t, s) for t, _, s in tasks if s not in ("success", "skipped"))
    rsj_shard = next(t for t, _, s in tasks if t.endswith(".inventory_source") and s == "failed").split(".")[0]
    assert not_ok == [("outcome", "failed"), (f"{rsj_shard}.inventory_source", "failed")], tasks
    assert ("reconcile", -1, "success") in tasks

    inventories = load_inventories(loaded, DEFAULT_AS_OF)
    assert inventories["dept_rsj"].status == FAILED and inventories["dept_rsj"].resources == []
    why = inventories["dept_rsj"].error or ""
    assert why.startswith("the inventory raised UnicodeDecodeError: 'gbk' codec can't decode"), why
    assert all(i.status == REACHABLE and i.resources for c, i in inventories.items() if c != "dept_rsj")

    summary = latest_census(loaded)
    assert summary["failed"] == {"dept_rsj": why} and not summary["unreachable"]
    with create_session() as session:  # what the reconcile handed to the outcome, which failed the run with it
        handed = session.query(XComModel).filter_by(dag_id=census_dag.dag_id, task_id="reconcile").order_by(
            XComModel.timestamp.desc()).first()
    assert XComModel.deserialize_value(handed)["failed"] == {"dept_rsj": why}
    assert "dept_rsj: the inventory raised UnicodeDecodeError" in (census_outcome(summary) or "")

    findings = load_findings(loaded, origin="census")
    assert [(f["conn_id"], f["dimension"]) for f in findings if f["rule_id"] == "census.inventory_failed"] == [
        ("dept_rsj", "可访问性")
    ]
    rsj = {e.code for e in load_entries(loaded, published_only=False) if e.conn_id == "dept_rsj"}
    others = {k for k in found_keys(findings) if k[1] != "census.inventory_failed"}
    assert others == {k for k in expected_findings(city.defects_path, "census") if k[2] not in rsj}
