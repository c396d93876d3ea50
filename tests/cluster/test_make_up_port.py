"""`make up PORT=8091`: the api-server serves on 8091, tasks reach the execution API on 8091, the printed
address says 8091, and the log servers are not Airflow's default ports.

`make up` runs as a person runs it (scripts/up.sh, `airflow standalone`) for a city profile of the test's
own: its Airflow home, metadata DB and a dags folder holding one small DAG (the pipeline's DAGs would start
running at once and take minutes). The test triggers that DAG through the REST API on 8091 and waits for
its task, which reports the execution API it was given and leaves a note for its run (the scheduler's
listener, plugin citygov_run_notes, puts it on the run); then everything `make up` started is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 8091
"""Reserved for this test on the shared machine."""
BASE = f"http://localhost:{PORT}"
DAG_ID = "citygov_port_probe"

PROBE_DAG = '''
import json

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False)
def probe():
    @task
    def where():
        from airflow.sdk.configuration import conf

        seen = {{
            "execution_api": conf.get("core", "execution_api_server_url"),
            "base_url": conf.get("api", "base_url"),
            "worker_log_port": conf.getint("logging", "worker_log_server_port"),
            "trigger_log_port": conf.getint("logging", "trigger_log_server_port"),
        }}
        with open({out!r}, "w") as f:
            json.dump(seen, f)
        # A note for the run, as the inspection tasks leave theirs (the scheduler's listener copies it).
        from airflow.sdk import get_current_context
        from citygov_airflow.run_report import RUN_NOTE_KEY

        get_current_context()["ti"].xcom_push(RUN_NOTE_KEY, "probe ran through " + seen["execution_api"])
        return seen

    where()


probe()
'''


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _wait(what: str, check, timeout: float, proc: subprocess.Popen, out: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"make up ended ({proc.returncode}) before {what}:\n{out.read_text()[-3000:]}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout:.0f} s:\n{out.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT to `make up` (as Ctrl-C), up.sh stops standalone; whatever it started and is left is killed."""
    started = [proc, *(psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else [])]
    pids = {p.pid for p in started}
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def test_make_up_port_8091_serves_and_runs_tasks_through_8091(tmp_path: Path) -> None:
    assert _free(PORT), f"port {PORT} is taken: this test needs it"
    home, dags, out = tmp_path / "airflow", tmp_path / "dags", tmp_path / "probe.json"
    home.mkdir()
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(PROBE_DAG.format(dag_id=DAG_ID, out=str(out)), encoding="utf-8")
    city_env = tmp_path / "city.env"
    city_env.write_text(
        "\n".join(
            [
                f"export CITYGOV_CITY_PROFILE={tmp_path / 'city.json'}",
                f"export AIRFLOW_HOME={home}",
                f"export AIRFLOW__CORE__DAGS_FOLDER={dags}",
                f"export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///{home / 'airflow.db'}",
                f"export GOVERNANCE_DB_URL=sqlite:///{tmp_path / 'governance.db'}",
                "export AIRFLOW__CORE__PARALLELISM=2",
                "export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CITYGOV_", "GOVERNANCE_"))}
    env["CITYGOV_CITY_ENV"] = str(city_env)
    log = tmp_path / "make-up.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "up", f"PORT={PORT}"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        with httpx.Client(base_url=BASE, timeout=10) as api:
            _wait("api-server on 8091", lambda: api.get("/api/v2/monitor/health").status_code == 200, 240, proc, log)
            printed = log.read_text()
            assert f"Airflow UI: {BASE}  user: admin" in printed
            assert "localhost:8080" not in printed

            passwords = home / "simple_auth_manager_passwords.json.generated"
            password = _wait("password file", lambda: passwords.is_file() and passwords.read_text(), 60, proc, log)
            token = api.post("/auth/token", json={"username": "admin", "password": json.loads(password)["admin"]})
            token.raise_for_status()
            api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            _wait("the probe DAG parsed", lambda: api.get(f"/api/v2/dags/{DAG_ID}").status_code == 200, 120, proc, log)
            api.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
            run = api.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
            run.raise_for_status()
            run_id = run.json()["dag_run_id"]

            def finished() -> str | None:
                state = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
                return state if state in ("success", "failed") else None

            assert _wait("the probe run to finish", finished, 240, proc, log) == "success", log.read_text()[-3000:]
            seen = json.loads(out.read_text())
            note = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["note"]
            assert note == f"probe ran through {BASE}/execution/"
            assert seen["execution_api"] == f"{BASE}/execution/"
            assert seen["base_url"] == BASE
            # Log servers off Airflow's defaults (8793/8794, taken by any other Airflow on the host).
            assert (seen["worker_log_port"], seen["trigger_log_port"]) == (PORT + 713, PORT + 714)
            # The task's log is served through 8091 too.
            logs = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/where/logs/1")
            assert logs.status_code == 200 and "Done. Returned value" in logs.text
    finally:
        _stop(proc)
    deadline = time.monotonic() + 30
    while not _free(PORT) and time.monotonic() < deadline:
        time.sleep(1)
    assert _free(PORT), "make up left something listening on 8091"
