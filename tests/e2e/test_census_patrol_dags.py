"""The census and the patrol run through Airflow (``dag.test``) on the demo city.

Department sources and the governance store are Airflow connections (``AIRFLOW_CONN_*``), the store is
SQLite and then PostgreSQL, and the findings must be exactly the defects the demo city lists for each.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from citygov.catalog.importer import import_catalog
from citygov.census import latest_census, register_sources
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import load_findings
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import ensure_store
from tests.demo_expectations import expected_findings, found_keys

pytestmark = pytest.mark.airflow

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dags(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    for dag_id in ("public_data_census", "catalog_patrol"):
        for task in bag.dags[dag_id].tasks:
            task.retries = 0  # a failure shows at once instead of sleeping through retry_delay
    return bag.dags


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city")


@pytest.fixture
def loaded(store_url, city, monkeypatch):  # type: ignore[no-untyped-def]
    """The demo catalog imported, its sources registered and defined as Airflow connections."""
    store = ensure_store(store_url)
    conns = connections_from_file(city.connections_path)
    for conn in conns.values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    import_catalog(store, city.catalog_path)
    register_sources(
        store, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department]
    )
    return store


_hour = iter(range(100_000))


def run(dag, **conf):  # type: ignore[no-untyped-def]
    """One run for the demo's date (a distinct hour each time so runs never collide)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=1, seconds=next(_hour))
    dag_run = dag.test(logical_date=when, run_conf=conf)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        states = sorted((ti.task_id, ti.map_index, str(ti.state)) for ti in tis)
    return str(dag_run.state), states


def test_census_and_patrol_find_exactly_the_demo_defects(dags, loaded, city) -> None:  # type: ignore[no-untyped-def]
    state, tasks = run(dags["public_data_census"])
    assert state == "success", tasks
    assert found_keys(load_findings(loaded, origin="census")) == expected_findings(city.defects_path, "census")
    kpi = json.loads(city.defects_path.read_text(encoding="utf-8"))["kpis"]["catalog_coverage"]
    assert latest_census(loaded)["coverage"]["city"] == {
        "found": kpi["denominator"], "catalogued": kpi["numerator"], "coverage": kpi["value"]
    }

    state, tasks = run(dags["catalog_patrol"], batch_size=8)
    assert state == "success", tasks
    mapped = [t for t in tasks if t[0].endswith(".patrol_batch")]
    # 31 entries in batches of 8 within each source shard's pool (citygov_airflow.pools)
    assert len(mapped) == 5 and all(s == "success" for _, _, s in mapped)
    findings = load_findings(loaded, origin="patrol")
    assert found_keys(findings) == expected_findings(city.defects_path, "patrol")
    assert {f["logical_date"] for f in findings} == {DEFAULT_AS_OF.isoformat()}

    # Rerunning the date replaces its findings instead of adding to them.
    state, _ = run(dags["catalog_patrol"], batch_size=200)
    assert state == "success"
    assert sorted(f["fingerprint"] for f in load_findings(loaded, origin="patrol")) == sorted(
        f["fingerprint"] for f in findings
    )


def test_a_source_that_is_down_fails_only_its_entries(dags, loaded, city, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEPT_WJW", json.dumps({"conn_type": "sqlite", "host": str(city.root / "gone" / "wjw.db")})
    )
    state, _ = run(dags["catalog_patrol"], batch_size=200)
    assert state == "success"
    findings = load_findings(loaded, origin="patrol")
    down = {f["entry_code"] for f in findings if f["rule_id"] == "patrol.source.unreachable"}
    assert down and all(code.startswith("320700-WJW-") for code in down)
    rest = {k for k in found_keys(findings) if k[1] != "patrol.source.unreachable"}
    assert rest == expected_findings(city.defects_path, "patrol")
