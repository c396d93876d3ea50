"""provincial_backflow pulling from a local server that plays the provincial API, through an Airflow HTTP
connection (``AIRFLOW_CONN_PROVINCE_BACKFLOW_API``), then ingesting what landed (``dag.test``).

The province serves the demo city's batches; the city's landing folder starts empty.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from citygov.backflow import list_batches
from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import ensure_store
from tests.e2e.conftest import load_dag
from tests.fake_province import FakeProvince

pytestmark = pytest.mark.airflow

CORRUPT, SHORT = "JSDSJ-20261128-002", "JSDSJ-20261128-001"
GOOD = ["JSDSJ-20261126-001", "JSDSJ-20261126-002", "JSDSJ-20261127-001", "JSDSJ-20261127-002"]
TOKEN = "province-token-123"


@pytest.fixture(scope="module")
def dag(airflow_db):  # type: ignore[no-untyped-def]
    return load_dag("provincial_backflow")


@pytest.fixture
def city(tmp_path_factory: pytest.TempPathFactory, store_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The demo city with its catalog imported and its connections registered, except that the landing
    folder is a new, empty one: everything must come over HTTP."""
    city = create_demo_city(tmp_path_factory.mktemp("demo") / "city")
    for conn in connections_from_file(city.connections_path).values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    landing = city.root / "pulled"
    monkeypatch.setenv("AIRFLOW_CONN_BACKFLOW_LANDING", json.dumps({"conn_type": "fs", "extra": {"path": str(landing)}}))
    store = ensure_store(store_url)
    import_catalog(store, city.catalog_path)
    store.dispose()
    return city


@pytest.fixture
def province(city, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeProvince(token=TOKEN) as server:
        server.add_landing(city.root / "landing")
        # The way ops would register it: host and port, the path and the token in extra.
        monkeypatch.setenv(
            "AIRFLOW_CONN_PROVINCE_BACKFLOW_API",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "schema": "http",
                    "port": server.port,
                    # quick retries: a test cannot wait for production backoff
                    "extra": {"base_path": "api", "token": TOKEN, "timeout": 5, "attempts": 3, "backoff": 0.01},
                }
            ),
        )
        yield server


_second = iter(range(100_000))


def run(dag, **conf):  # type: ignore[no-untyped-def]
    """Run the DAG; its state, each task's state, and what pull_from_province returned (None if nothing)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=4, seconds=next(_second))
    dag_run = dag.test(logical_date=when, run_conf=conf)
    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag.dag_id, task_ids="pull_from_province")
        ).first()
        pulled = XComModel.deserialize_value(row) if row is not None else None
    return str(dag_run.state), {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}, pulled


def test_pull_then_ingest_with_exact_reconciliation(dag, city, province, store_url) -> None:  # type: ignore[no-untyped-def]
    state, tasks, summary = run(dag)
    assert (state, tasks) == ("success", {"pull_from_province": "success", "ingest_batches": "success"})

    assert sorted(summary["pulled"]) == sorted([*GOOD, SHORT])
    assert list(summary["failed"]) == [CORRUPT] and "checksum_mismatch" in summary["failed"][CORRUPT]
    assert sorted(p.name for p in (city.root / "pulled").iterdir()) == sorted([*GOOD, SHORT])

    store = ensure_store(store_url)
    batches = {b["batch_id"]: b for b in list_batches(store)}
    # SHORT landed and was rejected by ingestion; CORRUPT never landed, but its refusal is recorded for
    # the sender (a dispute item), as a corrupt file in the landing folder would be.
    assert {i: b["status"] for i, b in batches.items()} == {
        **dict.fromkeys(GOOD, "loaded"), SHORT: "rejected", CORRUPT: "rejected"
    }
    assert "refused" in batches[CORRUPT]["reason"] and "sha256" in batches[CORRUPT]["reason"]
    for batch_id in GOOD:
        rec = batches[batch_id]["reconciliation"]
        assert rec["balanced"] and rec["declared"] == rec["loaded"] + rec["quarantined"] > 0
    target = sa.create_engine(connections_from_file(city.connections_path)["dept_sdsj"].sqlalchemy_url())
    try:
        with target.connect() as conn:
            loads = dict(conn.execute(sa.text("SELECT batch_id, declared_rows FROM backflow_loads")).all())
    finally:
        target.dispose()
    assert loads == {i: batches[i]["reconciliation"]["declared"] for i in GOOD}

    # A rerun downloads no data again and loads nothing twice.
    data_hits = sum(province.hits(f"batches/{i}/data.csv") for i in GOOD)
    before = {i: (b["status"], b["reconciliation"]) for i, b in batches.items()}
    state, _, summary = run(dag)
    assert state == "success"
    assert sorted(summary["already_landed"]) == sorted([*GOOD, SHORT])
    assert sum(province.hits(f"batches/{i}/data.csv") for i in GOOD) == data_hits
    assert {b["batch_id"]: (b["status"], b["reconciliation"]) for b in list_batches(store)} == before
    store.dispose()


def test_only_this_date_pulls_one_day(dag, city, province, store_url) -> None:  # type: ignore[no-untyped-def]
    state, _, summary = run(dag, only_this_date=True)
    assert state == "success" and summary["date"] == "2026-11-28"
    assert "/api/batches?date=2026-11-28" in province.requests
    assert sorted(p.name for p in (city.root / "pulled").iterdir()) == [SHORT]
    store = ensure_store(store_url)
    assert {b["batch_id"]: b["status"] for b in list_batches(store)} == {SHORT: "rejected", CORRUPT: "rejected"}
    store.dispose()


def test_without_the_http_connection_pulling_is_skipped_and_ingest_runs(dag, city, store_url, capfd) -> None:  # type: ignore[no-untyped-def]
    state, tasks, summary = run(dag)
    assert (state, tasks, summary) == ("success", {"pull_from_province": "skipped", "ingest_batches": "success"}, None)
    assert "pulling from the provincial API is off" in capfd.readouterr().out


def test_an_unreachable_province_fails_the_pull_and_ingest_waits(dag, city, province, capfd) -> None:  # type: ignore[no-untyped-def]
    province.fault("batches", "503", times=None)
    state, tasks, _ = run(dag)
    assert (state, tasks) == ("failed", {"pull_from_province": "failed", "ingest_batches": "upstream_failed"})
    assert "cannot list the province's batches" in capfd.readouterr().out
