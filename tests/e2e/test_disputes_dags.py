"""dispute_routing and dispute_sla run through Airflow (``dag.test``) against a real governance store.

The findings come from the census and the patrol of the demo city, run through the core (their own DAGs
have their own tests); the store is a SQLite file registered as the ``governance_db`` connection.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.census import register_sources, run_census
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.patrol import patrol_batch, plan_batches
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import engine_for, upgrade

pytestmark = pytest.mark.airflow

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dags(airflow_db):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    out = {}
    for name in (
        "dispute_routing",
        "dispute_sla",
    ):  # only these files: parsing the whole folder costs seconds
        bag = DagBag(dag_folder=DAGS_FOLDER / f"{name}.py", safe_mode=False)
        assert not bag.import_errors, bag.import_errors
        out[name] = bag.dags[name]
    return out


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The demo city checked on its date, findings stored but not routed yet."""
    city = create_demo_city(tmp_path / "city").root
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVERNANCE_DB",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "governance.db")}),
    )
    upgrade(url)
    engine = engine_for(url)
    conns = connections_from_file(city / "connections.json")
    import_catalog(engine, city / "catalog.csv")
    register_sources(
        engine,
        [
            (c.conn_id, c.department, "folder" if c.is_folder else "database")
            for c in conns.values()
            if c.department
        ],
    )
    run_census(engine, conns.get, DEFAULT_AS_OF)
    for batch in plan_batches(engine, 50):
        patrol_batch(engine, batch, conns.get, DEFAULT_AS_OF)
    yield engine
    engine.dispose()


def run(dag, when: datetime) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run = dag.test(run_after=when, logical_date=when)
    with create_session() as session:
        (ti,) = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        value = (
            session.query(XComModel.value)
            .filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id, task_id=ti.task_id, key="return_value")
            .scalar()
        )
    assert str(ti.state) == "success", f"{dag.dag_id}.{ti.task_id} ended {ti.state}"
    return str(dag_run.state), value


def test_routing_then_sla_through_airflow(dags, store) -> None:  # type: ignore[no-untyped-def]
    routed_at = datetime.combine(DEFAULT_AS_OF, time(3), tzinfo=CITY_TZ)
    state, report = run(dags["dispute_routing"], routed_at)
    assert state == "success"
    assert {(r["origin"], r["logical_date"]) for r in report["runs"]} >= {
        ("census", DEFAULT_AS_OF.isoformat()),
        ("patrol", DEFAULT_AS_OF.isoformat()),
    }
    items = dq.list_disputes(store)
    assert len(items) == len(report["opened"]) == 11
    assert {i.created_at for i in items} == {
        routed_at
    }  # deadlines start at the run's time, not the wall clock
    assert all(i.due_date == dq.add_workdays(routed_at, 2).due_date for i in items)

    # The first run after the accept deadline escalates every item, once (a second run of the same hour
    # and the hours before the deadline are covered by tests/store/test_disputes_queue.py).
    due = items[0].due_at
    state, sla = run(dags["dispute_sla"], due + timedelta(minutes=5))
    assert state == "success"
    assert sorted(sla["escalated"]) == sorted(i.id for i in items)
    assert sum(sla["by_department"].values()) == 11
    escalations = [e for e in dq.audit_events(store) if e["action"] == "escalate"]
    assert len(escalations) == 11 and {e["actor"] for e in escalations} == {"system:dispute_sla"}
    assert all(d.escalation_level == 1 and d.overdue for d in dq.list_disputes(store, now=due))
