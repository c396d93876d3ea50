"""provincial_backflow run through Airflow (``dag.test``) on the demo city's landing folder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from citygov.backflow import list_batches
from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import load_findings
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import ensure_store
from tests.e2e.conftest import load_dag

pytestmark = pytest.mark.airflow



@pytest.fixture(scope="module")
def dag(airflow_db):  # type: ignore[no-untyped-def]
    return load_dag("provincial_backflow")


@pytest.fixture
def city(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city")


_hour = iter(range(100_000))


def run(dag, **conf):  # type: ignore[no-untyped-def]
    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=3, seconds=next(_hour))
    return str(dag.test(logical_date=when, run_conf=conf).state)


def test_batches_load_once_and_defective_ones_are_rejected(dag, store_url, city, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = ensure_store(store_url)
    for conn in connections_from_file(city.connections_path).values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    import_catalog(store, city.catalog_path)
    defects = json.loads(city.defects_path.read_text(encoding="utf-8"))["defects"]
    backflow = [d for d in defects if d["detected_by"] == "backflow"]
    bad = {d["resource"] for d in backflow if d["kind"] != "backflow_row_invalid"}
    quarantining = {d["resource"] for d in backflow if d["kind"] == "backflow_row_invalid"}
    assert bad and quarantining and not bad & quarantining

    conf = {"landing_conn": "backflow_landing", "target_conn": "dept_sdsj", "only_this_date": False}
    assert run(dag, **conf) == "success"
    batches = {b["batch_id"]: b for b in list_batches(store)}
    assert {i for i, b in batches.items() if b["status"] == "rejected"} == bad
    loaded = [b for b in batches.values() if b["status"] == "loaded"]
    assert len(loaded) == len(list((city.root / "landing").iterdir())) - len(bad)
    assert all(b["reconciliation"]["balanced"] for b in loaded)
    assert {i for i, b in batches.items() if b["reconciliation"].get("quarantined")} == quarantining
    findings = load_findings(store, origin="backflow")
    rejected = {(f["rule_id"], f["record_key"]) for f in findings if f["rule_id"] == "backflow.batch.rejected"}
    assert rejected == {("backflow.batch.rejected", b) for b in bad}
    assert {f["location"] for f in findings if f["rule_id"] != "backflow.batch.rejected"} == quarantining
    assert {f["department"] for f in findings} == {"江苏省大数据管理中心"}

    # A rerun loads nothing twice.
    before = {i: (b["status"], b["reconciliation"]) for i, b in batches.items()}
    assert run(dag, **conf) == "success"
    after = {b["batch_id"]: (b["status"], b["reconciliation"]) for b in list_batches(store)}
    assert after == before
    store.dispose()


def test_a_city_without_backflow_skips_the_run_with_its_reason(dag, store_url, capfd) -> None:  # type: ignore[no-untyped-def]
    """No landing folder, no provincial API: both tasks skipped with one line saying why; not failed."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=3, seconds=next(_hour))
    dag_run = dag.test(logical_date=when)
    assert str(dag_run.state) == "success"
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in session.query(TaskInstance).filter_by(
            dag_id=dag.dag_id, run_id=dag_run.run_id)}
    assert states == {"pull_from_province": "skipped", "ingest_batches": "skipped"}
    out = capfd.readouterr().out
    assert "no backflow in this city: neither 'backflow_landing' (landing folder) nor 'province_backflow_api'" in out
    assert "make connections" not in out


def test_missing_landing_connection_fails_clearly(dag, store_url, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    """Half a backflow setup (the provincial API but no landing folder) is a mistake: the run fails."""
    monkeypatch.setenv("AIRFLOW_CONN_PROVINCE_BACKFLOW_API", json.dumps({"conn_type": "http", "host": "127.0.0.1"}))
    state = run(dag, landing_conn="no_such_landing", target_conn="dept_sdsj", only_this_date=False)
    assert state == "failed"
    assert "connection 'no_such_landing' is not defined" in capfd.readouterr().out
