"""quality_inspection run through Airflow (``dag.test``) on the demo city, against a real store.

The store (SQLite, and a fresh PostgreSQL database) holds the imported demo catalog and one night's
patrol; the department sources and the store are Airflow connections given as ``AIRFLOW_CONN_*``
variables, the way a deployment's secrets backend would. The run must store exactly the planted quality
defects as findings, scores for every dataset and a masked Data Docs site.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from citygov.catalog.importer import import_catalog
from citygov.census import register_sources
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality.masking import find_unmasked
from citygov.quality.scores import load_scores
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import engine_for, upgrade

pytestmark = pytest.mark.airflow

DAG_ID = "quality_inspection"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[DAG_ID]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city").root


@pytest.fixture
def store_url(store_url: str, city: Path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """The e2e store (SQLite, then PostgreSQL; registered as governance_db) holding the demo catalog and
    one patrol; the demo's sources registered as Airflow connections."""
    conns = connections_from_file(city / "connections.json")
    for conn in conns.values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    upgrade(store_url)
    engine = engine_for(store_url)
    import_catalog(engine, city / "catalog.csv")
    register_sources(
        engine,
        [
            (c.conn_id, c.department, "folder" if c.is_folder else "database")
            for c in conns.values()
            if c.department
        ],
    )
    for batch in plan_batches(engine, 50):
        patrol_batch(engine, batch, conns.get, DEFAULT_AS_OF)
    engine.dispose()
    return store_url


_run_number = iter(range(100_000))


def run_dag(dag, **conf):  # type: ignore[no-untyped-def]
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    logical_date = datetime(2026, 11, 28, 1, tzinfo=CITY_TZ) + timedelta(minutes=next(_run_number))
    params = {"date": None, "docs_dir": None, "batch_size": 50, "engine": "fused", **conf}
    dag_run = dag.test(logical_date=logical_date, run_conf=params)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id).all()
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in tis}
        total = (
            session.query(XComModel.value)
            .filter_by(dag_id=DAG_ID, run_id=dag_run.run_id, task_id="build_data_docs", key="return_value")
            .scalar()
        )
    return str(dag_run.state), states, total


def test_nightly_inspection_of_the_demo_city(dag, store_url: str, city: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    state, states, total = run_dag(dag, batch_size=12, docs_dir=str(docs))

    assert state == "success", states
    mapped = [k for k in states if k[0].endswith(".inspect_batch")]
    assert len(mapped) == 4  # 31 entries in batches of 12 within each source shard's pool
    assert set(states.values()) == {"success"}
    engine = engine_for(store_url)
    try:
        findings = load_findings(engine, origin="quality", logical_date=DEFAULT_AS_OF)
        planted = [
            d
            for d in json.loads((city / "defects.json").read_text(encoding="utf-8"))["defects"]
            if d["detected_by"] == "quality"
        ]
        assert sorted(
            (f["entry_code"], f["column"], f["evidence"]["unexpected_count"]) for f in findings
        ) == sorted((d["entry_code"], d["column"], d["count"]) for d in planted)
        scores = load_scores(engine)
        assert scores["logical_date"] == DEFAULT_AS_OF.isoformat() and len(scores["datasets"]) == 31
    finally:
        engine.dispose()
    assert total["entries"] == 31 and total["findings"] == len(planted)
    # The task names the dataset it could not validate (the catalogued table that does not exist) and why.
    assert list(total["not_scored"]) == ["320700-GAJ-0005"] and "hjrktjyb" in total["not_scored"]["320700-GAJ-0005"]
    assert (docs / "index.html").is_file()
    leaks = [t for p in docs.rglob("*.html") for t in find_unmasked(p.read_text(encoding="utf-8"))]
    assert leaks == []


def test_the_inspection_date_follows_the_patrol(dag) -> None:
    """Param first, then the latest triggering patrol event's logical date, then the run's own date."""
    from types import SimpleNamespace

    from airflow.sdk import Asset

    patrol = Asset(name="citygov_patrol", uri="citygov://patrol")
    decide = dag.get_task("inspection_date").python_callable
    events = {
        patrol: [
            SimpleNamespace(extra={"logical_date": "2026-11-26"}, timestamp=datetime(2026, 11, 26, 18, tzinfo=CITY_TZ)),
            SimpleNamespace(extra={"logical_date": "2026-11-27"}, timestamp=datetime(2026, 11, 27, 18, tzinfo=CITY_TZ)),
        ]
    }
    run_date = datetime(2026, 11, 28, 1, 30, tzinfo=CITY_TZ)
    assert decide(params={"date": "2026-11-01"}, triggering_asset_events=events, logical_date=run_date) == "2026-11-01"
    assert decide(params={"date": None}, triggering_asset_events=events, logical_date=run_date) == "2026-11-27"
    assert decide(params={"date": None}, triggering_asset_events={}, logical_date=run_date) == "2026-11-28"
