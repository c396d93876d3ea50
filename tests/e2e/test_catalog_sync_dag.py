"""catalog_sync run through Airflow (``dag.test``) against a real governance store.

The store is a fresh SQLite file, and a fresh database on the local PostgreSQL; Airflow finds it through
the ``governance_db`` connection, given as ``AIRFLOW_CONN_GOVERNANCE_DB`` the way a deployment's secrets
backend or environment would.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from citygov.catalog.queries import import_history, list_entries
from citygov.settings import CITY_TZ
from tests.catalog_files import GOOD_ROWS, row, write_catalog
from tests.e2e.conftest import airflow_conn_json

pytestmark = pytest.mark.airflow

DAG_ID = "catalog_sync"
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dag(airflow_db):
    """The DAG as parsed from the real dags folder (the one Airflow is configured with)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[DAG_ID]
    for task in dag.tasks:
        # dag.test sleeps through retry_delay in-process; retries stay on, so a test can see whether a
        # failure was retried (try_number), but happen at once.
        task.retry_delay = timedelta(0)
    return dag


@pytest.fixture
def sqlite_store_url(tmp_path: Path, monkeypatch) -> str:
    """For runs that fail before they reach the store: the backend does not matter there."""
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
    return url


_run_number = iter(range(100_000))


class Run(NamedTuple):
    state: str
    """The DAG run's final state."""
    tasks: dict[str, str]
    """Task id → final state."""
    summary: dict | None
    """What import_catalog_file returned (XCom), None when it failed."""
    tries: dict[str, int]
    """Task id → attempts made."""


def run_dag(dag, catalog_file: Path | None, **conf) -> Run:
    """Run catalog_sync once through Airflow (``dag.test``: real task runner, metadata DB, no scheduler)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    # Each run gets its own logical date so runs within one session never collide.
    logical_date = datetime(2025, 3, 1, tzinfo=CITY_TZ) + timedelta(hours=next(_run_number))
    # Always pass the param: dag.test on a reused DAG object keeps the previous run's conf as the default.
    conf["catalog_file"] = str(catalog_file) if catalog_file else None
    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=dag_run.run_id).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
        tries = {ti.task_id: ti.try_number for ti in tis}
        summary = (
            session.query(XComModel.value)
            .filter_by(
                dag_id=DAG_ID, run_id=dag_run.run_id, task_id="import_catalog_file", key="return_value"
            )
            .scalar()
        )
    return Run(str(dag_run.state), states, summary, tries)


def catalog_events() -> list[dict]:
    """Asset events Airflow recorded for the catalog asset, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "citygov_catalog")
            .order_by(AssetEvent.id)
            .all()
        )
        return [dict(e.extra or {}) for e in rows]


@pytest.fixture(scope="module")
def demo_city(tmp_path_factory: pytest.TempPathFactory):
    from citygov.demo import create_demo_city

    return create_demo_city(tmp_path_factory.mktemp("demo") / "city")


# --- tests --------------------------------------------------------------------------------------------


def test_demo_city_catalog_is_imported_and_its_bad_row_recorded(dag, store, demo_city) -> None:
    expected = [
        d
        for d in json.loads(demo_city.defects_path.read_text())["defects"]
        if d["detected_by"] == "catalog_import"
    ]
    assert expected, "the demo city should have a catalog row the import rejects"

    state, tasks, summary, _ = run_dag(dag, demo_city.catalog_path)

    assert state == "success", "rejected rows are recorded; they do not fail the run"
    assert tasks == {"import_catalog_file": "success", "announce_catalog_change": "success"}
    assert summary["rows_total"] == demo_city.n_catalog_rows
    assert summary["accepted"] == summary["added"] == demo_city.n_entries
    assert summary["rejected"] == len(expected)
    assert len(list_entries(store)) == demo_city.n_entries
    (history,) = import_history(store)
    assert {(e["line"], e["column"], e["code"]) for e in history["errors"]} == {
        (d["line"], d["column"], d["entry_code"]) for d in expected
    }
    assert not {d["entry_code"] for d in expected} & {e["code"] for e in list_entries(store)}


def test_catalog_follows_the_export(dag, store, tmp_path: Path) -> None:
    """First run imports good rows and records the bad one; later runs follow edits and withdrawals."""
    catalog = tmp_path / "目录.csv"
    bad = row(**{"信息资源代码": "320700-GAJ-0009", "敏感级别": "L9"})
    write_catalog(catalog, [*GOOD_ROWS, bad], encoding="gbk")
    events_before = len(catalog_events())

    state, tasks, summary, _ = run_dag(dag, catalog)

    assert state == "success"
    assert tasks == {"import_catalog_file": "success", "announce_catalog_change": "success"}
    assert summary["accepted"] == 3 and summary["rejected"] == 1 and summary["added"] == 3
    assert summary["encoding"] == "gbk"
    assert [e["code"] for e in list_entries(store)] == sorted(r["信息资源代码"] for r in GOOD_ROWS)
    (history,) = import_history(store)
    assert history["source_label"].startswith(f"airflow:{DAG_ID}/")
    assert history["rejected"] == 1
    assert "L9" in json.dumps(history, ensure_ascii=False)
    events = catalog_events()[events_before:]
    assert len(events) == 1 and events[0]["added"] == 3 and events[0]["import_id"] == summary["import_id"]

    # The same file again: nothing changes, and the patrol is not woken up for nothing.
    state, tasks, summary, _ = run_dag(dag, catalog)
    assert state == "success"
    assert tasks["announce_catalog_change"] == "skipped"
    assert summary["unchanged"] == 3 and summary["added"] == summary["changed"] == summary["withdrawn"] == 0
    assert len(catalog_events()) == events_before + 1

    # The office renames one resource and drops another.
    renamed = dict(GOOD_ROWS[0], **{"信息资源名称": "人口基本信息（新）"})
    write_catalog(catalog, [renamed, GOOD_ROWS[1]], encoding="gbk")
    state, tasks, summary, _ = run_dag(dag, catalog)
    assert state == "success" and tasks["announce_catalog_change"] == "success"
    assert (summary["changed"], summary["withdrawn"], summary["rejected"]) == (1, 1, 0)
    assert {e["code"]: e["name"] for e in list_entries(store)} == {
        GOOD_ROWS[0]["信息资源代码"]: "人口基本信息（新）",
        GOOD_ROWS[1]["信息资源代码"]: GOOD_ROWS[1]["信息资源名称"],
    }


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        pytest.param(lambda tmp: tmp / "missing.csv", "catalog file {path} does not exist", id="missing"),
        pytest.param(
            lambda tmp: _write(tmp / "empty.csv", b""),
            "cannot import the catalog: {path}: the file is empty",
            id="empty",
        ),
        pytest.param(
            lambda tmp: _write(tmp / "not_a_catalog.csv", b"a,b\n1,2\n"),
            "cannot import the catalog: {path}:1: missing required column(s): 信息资源代码",
            id="not-a-catalog",
        ),
    ],
)
def test_unreadable_file_fails_the_run_without_retry(
    dag, store_url, tmp_path, make_file, message, capfd
) -> None:
    path = make_file(tmp_path)

    state, tasks, summary, tries = run_dag(dag, path)

    assert state == "failed"
    assert tasks["import_catalog_file"] == "failed"
    assert tries["import_catalog_file"] == 1, "a bad file will not mend itself: no retries"
    assert tasks["announce_catalog_change"] == "upstream_failed"
    assert summary is None
    assert "AirflowFailException: " + message.format(path=path) in _task_output(capfd)


def test_no_catalog_file_configured_says_what_to_set(dag, sqlite_store_url, capfd) -> None:
    state, tasks, _, _ = run_dag(dag, None)

    assert state == "failed" and tasks["import_catalog_file"] == "failed"
    assert "set the Airflow Variable citygov_catalog_file" in _task_output(capfd)


def _task_output(capfd) -> str:
    """What the task printed: under dag.test the task runner logs to stdout, not through caplog."""
    out, err = capfd.readouterr()
    return out + err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
