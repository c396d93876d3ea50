"""Session-wide test setup: an Airflow and a data folder of the test session's own.

This module runs before any test module imports Airflow, and Airflow reads its configuration once, at
import; so the environment is set here, at import time, not in a fixture. Tests never see the
developer's ``.airflow/``, ``data/``, ``AIRFLOW_CONN_*`` variables or ``GOVERNANCE_DB_URL``.

The Airflow metadata database (SQLite in a temporary folder) is created once per session and only when
a test marked ``airflow`` runs, so ``pytest tests/unit`` stays fast.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = ROOT / "dags"

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="citygov-tests-"))
atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)

for _key in [k for k in os.environ if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))]:
    del os.environ[_key]
os.environ.pop("GOVERNANCE_DB_URL", None)
# Nor the developer's active city (govern city init): a city a test activates goes to the session's folder.
for _key in ("CITYGOV_CITY_PROFILE", "CITYGOV_SUITES_DIR", "CITYGOV_CATALOG_FILE", "CITYGOV_CONNECTIONS_FILE"):
    os.environ.pop(_key, None)
os.environ["CITYGOV_CITY_ENV"] = str(_SESSION_HOME / "city.env")
os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_HOME / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_SESSION_HOME / 'airflow' / 'airflow.db'}",
        "CITYGOV_DATA_DIR": str(_SESSION_HOME / "data"),
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's Airflow metadata database, created on first use."""
    from airflow.utils.db import resetdb

    resetdb()


@pytest.fixture(autouse=True)
def _airflow_db_for_airflow_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("airflow"):
        request.getfixturevalue("airflow_db")


_SERIAL = ("e2e", "cluster")
"""Test folders whose tests start Airflow or Celery (servers, a scheduler, a few fixed ports): under
``pytest -n`` (``make test``) they all run in one worker, one after the other, while the other worker
takes the rest."""
_BROWSER = "web"
"""The browser tests: one worker runs them one after the other (each module starts its own api-server on a
free port and a Chromium); they may run beside the ``servers`` group."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).relative_to(ROOT / "tests").parts[0]
        if folder == _BROWSER:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif folder in _SERIAL or item.get_closest_marker("airflow"):
            item.add_marker(pytest.mark.xdist_group("servers"))
