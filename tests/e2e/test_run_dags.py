"""The demo runner (scripts/run_dags.py) runs every DAG it is given, whatever happened to the ones before."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from citygov.disputes import list_disputes
from citygov.findings import FindingRecord, replace_findings
from citygov.store import ensure_store

pytestmark = pytest.mark.airflow

RUNNER = Path(__file__).resolve().parents[2] / "scripts" / "run_dags.py"
DAY = date(2026, 11, 28)


def test_a_failing_dag_does_not_stop_the_others(store_url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """catalog_sync fails (its catalog file is gone), provincial_backflow is skipped (no backflow in this
    city), and dispute_routing still runs and takes the census finding into the queue; the runner lists
    each outcome and exits 1 because one DAG failed."""
    store = ensure_store(store_url)
    replace_findings(store, "census", DAY, [
        FindingRecord("census", "census.uncatalogued", "dept_x: table t is not in the catalog", DAY,
                      department="市测试局", conn_id="dept_x", location="t"),
    ])
    monkeypatch.setenv("AIRFLOW_VAR_CITYGOV_CATALOG_FILE", str(tmp_path / "gone.csv"))
    home = tmp_path / "home"
    home.mkdir()
    # The runner logs to $AIRFLOW_HOME/logs: a home of this test's own, the session's metadata DB.
    env = {**os.environ, "AIRFLOW_HOME": str(home), "CITYGOV_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(RUNNER), DAY.isoformat(), "catalog_sync", "provincial_backflow", "dispute_routing"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary = done.stdout[done.stdout.index("── every DAG run"):]
    assert "catalog_sync: failed (failing: import_catalog_file)" in summary
    assert ("provincial_backflow: skipped (no backflow in this city: neither 'backflow_landing' (landing folder) "
            "nor 'province_backflow_api' (provincial API) is defined") in summary
    assert "dispute_routing: success" in summary
    assert f"catalog file {tmp_path / 'gone.csv'} does not exist" in done.stdout
    items = list_disputes(store)
    assert [(i.responsible_unit, i.origin, i.rule_id) for i in items] == [("市测试局", "census", "census.uncatalogued")]
    store.dispose()
