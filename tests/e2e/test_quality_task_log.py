"""The quality inspection's task logs name what failed, and its run gets a note that says so.

The demo city's quality_inspection runs through Airflow (``dag.test`` with each task logging to its log file,
as ``make demo`` runs it); the test reads the task logs from Airflow's log folder, the way the UI does, and
the run's note from the metadata database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citygov.catalog.queries import load_entries
from citygov.demo import DEFAULT_AS_OF
from citygov.findings import load_findings
from citygov.rulebook import describe
from citygov.store import engine_for
from tests.e2e.test_quality_inspection_dag import DAG_ID, city, dag, run_dag, store_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.airflow

BASE_URL = "http://gov.example:8091"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_quality_task_logs_name_each_failing_dataset_and_rule(
    dag, store_url: str, city: Path, monkeypatch  # noqa: F811
) -> None:
    from airflow.configuration import conf
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from citygov_airflow.dag_test_logs import task_log_files, task_log_path

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    with task_log_files():
        state, states, _ = run_dag(dag, batch_size=50)
    assert state == "success", states

    planted = [
        d for d in json.loads((city / "defects.json").read_text(encoding="utf-8"))["defects"]
        if d["detected_by"] == "quality"
    ]
    assert planted
    engine = engine_for(store_url)
    names = {e.code: e.name for e in load_entries(engine, published_only=False)}
    findings = load_findings(engine, origin="quality", logical_date=DEFAULT_AS_OF)
    engine.dispose()
    # The stored findings are the planted defects (test_quality_inspection_dag checks that in detail).
    assert sorted((f["entry_code"], f["column"]) for f in findings) == sorted(
        (d["entry_code"], d["column"]) for d in planted
    )

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=DAG_ID).order_by(DagRun.id.desc()).first()
        tis = session.query(TaskInstance).filter_by(dag_id=DAG_ID, run_id=run.run_id).all()
        logs = {(ti.task_id, ti.map_index): task_log_path(ti) for ti in tis}
        note = run.note
    folder = Path(conf.get("logging", "base_log_folder"))
    assert all(path.is_relative_to(folder) and path.is_file() for path in logs.values()), logs
    batch_logs = "".join(p.read_text(encoding="utf-8") for k, p in logs.items() if k[0].endswith(".inspect_batch"))
    final_log = logs[("build_data_docs", -1)].read_text(encoding="utf-8")
    for log in (batch_logs, final_log):
        assert f"quality {DEFAULT_AS_OF.isoformat()}" in log
        for f in findings:
            code = f["entry_code"]
            assert code in log and names[code] in log, code
            assert f"{describe(f['rule_id']).label} ({f['column']})" in log, f["rule_id"]
            assert f"{BASE_URL}/citygov/web/datasets/{code}" in log
    # The log is JSON lines (as a worker's supervisor writes it); the table is the task's last word, and
    # GX's noise (its registry's doubled metrics for SparkDF) is not there. (Its DeprecationWarnings are
    # silenced too, but pytest turns DeprecationWarnings on again for every test.)
    entries = [json.loads(line) for line in final_log.splitlines() if line.strip()]
    ours = [e for e in entries if e.get("logger", "").startswith("citygov")]
    assert ours[-1]["event"].startswith(f"quality {DEFAULT_AS_OF.isoformat()}: {len(findings)} failing")
    for log in (batch_logs, final_log):
        assert "SparkDFExecutionEngine" not in log
    assert note and note.startswith(f"**quality {DEFAULT_AS_OF.isoformat()}**")
    assert f"findings {len(planted)}" in note and len(note) <= 1000
    assert planted[0]["entry_code"] in note
