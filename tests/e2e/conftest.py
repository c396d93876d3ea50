"""Fixtures shared by the end-to-end tests: governance stores registered as Airflow connections."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from citygov.store import engine_for

PG_ADMIN_URL = os.environ.get("CITYGOV_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


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
    """An empty governance store (the DAG migrates it) registered as the governance_db connection."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'governance.db'}"
        monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
        yield url
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            name = f"citygov_e2e_{uuid.uuid4().hex[:12]}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any driver error means "no server"
        admin.dispose()
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(store_url: str):  # type: ignore[no-untyped-def]
    engine = engine_for(store_url)
    yield engine
    engine.dispose()
