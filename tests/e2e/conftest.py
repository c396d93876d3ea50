"""Fixtures shared by the end-to-end tests: governance stores registered as Airflow connections."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from citygov.store import engine_for
from tests.pg import scratch_database

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def load_dag(dag_id: str):  # type: ignore[no-untyped-def]
    """The project's DAG ``dag_id`` parsed from the real dags folder, retries off (``dag.test`` would sleep
    through ``retry_delay`` on a failure)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
    return dag


def airflow_conn_json(url: str) -> str:
    """``url`` as the JSON an ``AIRFLOW_CONN_*`` variable holds, the way ops would register it."""
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        return json.dumps({"conn_type": "sqlite", "host": u.database})
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": u.host,
            "port": u.port,
            "login": u.username,
            "password": u.password,
            "schema": u.database,
        }
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """An empty governance store (the first task to open it gives it the schema) registered as the
    governance_db connection."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'governance.db'}"
        monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
        yield url
        return
    with scratch_database("citygov_e2e") as url:
        monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
        yield url


@pytest.fixture
def store(store_url: str):  # type: ignore[no-untyped-def]
    engine = engine_for(store_url)
    yield engine
    engine.dispose()
