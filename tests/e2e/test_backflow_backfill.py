"""``airflow backfill create`` re-ingests past days of provincial_backflow against a running scheduler.

A private Airflow (its own home, a scratch PostgreSQL metadata database, the real dags folder) runs as
processes on loopback: ``api-server`` (the execution API the LocalExecutor's task processes report to), ``scheduler``
and ``dag-processor``. The connections the DAG needs come as ``AIRFLOW_CONN_*`` variables: a landing folder
with batches of three past days (26, 27 and 28 November 2026), the demo city's backflow staging database
and a governance store. The province's HTTP connection is not defined, so ``pull_from_province`` skips.

The scheduler's own schedule is switched off (``[scheduler] use_job_schedule``): unpausing the DAG would
otherwise start a scheduled run that takes in every landed batch, which is right in production and would
hide what the backfill did here. Backfill runs need the DAG unpaused in Airflow 3.3.

Every process is started in its own process group and stopped (SIGTERM, then SIGKILL) whatever happens.

The metadata database is PostgreSQL, not SQLite: with SQLite the scheduler, the task processes and the
``backfill create`` that clears the completed runs for ``--reprocess-behavior completed`` collided with
"database is locked" in about one run out of two, whatever the busy timeout (a lock upgrade that SQLite
refuses at once rather than waits for).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from citygov.backflow import list_batches
from citygov.catalog.importer import import_catalog
from citygov.demo import create_demo_city
from citygov.sources import connections_from_file
from citygov.store import ensure_store
from tests.pg import scratch_database

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "provincial_backflow"
DAYS = {
    "2026-11-26": ["JSDSJ-20261126-001", "JSDSJ-20261126-002"],
    "2026-11-27": ["JSDSJ-20261127-001", "JSDSJ-20261127-002"],
}
OTHER_DAY = ["JSDSJ-20261128-001", "JSDSJ-20261128-002"]
"""Batches of 28 November: one good (its row count corrected here), one corrupt. The backfill of 26–27
must not touch either: not loaded, not even recorded as rejected."""
# The dates are read in [core] default_timezone; an explicit offset says which day is meant anyway.
FROM, TO = "2026-11-26T00:00:00+08:00", "2026-11-27T23:59:59+08:00"
RUN_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Airflow:
    """A private Airflow: its environment, metadata database and the processes it runs."""

    home: Path
    env: dict[str, str]
    db: sa.Engine
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.home
        )
        assert proc.returncode == 0, f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def start(self, name: str, *args: str) -> None:
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.home
        )
        log.close()

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is still there after 5 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Workers the scheduler forked stay in its group even after it exits.
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)

    def logs(self) -> str:
        parts = []
        for name in self.procs:
            text = (self.home / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} (exit {self.procs[name].poll()}) ---\n{text[-3000:]}")
        return "\n".join(parts)

    def query(self, sql: str, **params: object) -> list[tuple]:  # type: ignore[type-arg]
        with self.db.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]

    def wait_for_runs(self, backfill_id: int, *, until_complete: bool) -> list[tuple]:  # type: ignore[type-arg]
        """Wait until every run of the backfill has finished (and, with ``until_complete``, until the
        scheduler marks the backfill complete: it checks every 30 s, and only then may another backfill of
        the DAG be created). The runs as (logical_date, state, run_type)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} died:\n{self.logs()}"
            runs = self.query(
                "SELECT logical_date, state, run_type FROM dag_run WHERE backfill_id = :b ORDER BY logical_date",
                b=backfill_id,
            )
            finished = bool(runs) and all(state in {"success", "failed"} for _, state, _ in runs)
            if finished and (
                not until_complete or self.query("SELECT completed_at FROM backfill WHERE id = :b", b=backfill_id)[0][0]
            ):
                return runs
            time.sleep(0.5)
        pytest.fail(f"backfill {backfill_id} did not finish in {RUN_TIMEOUT} s:\n{self.logs()}")

    def backfill(self, *extra: str) -> int:
        self.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", FROM, "--to-date", TO, "--max-active-runs", "1", *extra)
        return self.query("SELECT max(id) FROM backfill WHERE dag_id = :d", d=DAG_ID)[0][0]

    def task_states(self, backfill_id: int) -> set[tuple[str, str]]:
        return set(
            self.query(
                "SELECT ti.task_id, ti.state FROM task_instance ti JOIN dag_run dr "
                "ON ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id WHERE dr.backfill_id = :b",
                b=backfill_id,
            )
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo city with batches of three past days; its 28 November full batch made good."""
    city = create_demo_city(tmp_path_factory.mktemp("backfill") / "city")
    manifest_path = city.root / "landing" / OTHER_DAY[0] / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["declared_rows"] -= 3  # the demo's planted row-count defect, undone
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return city


@pytest.fixture(scope="module")
def store_url(city) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{city.root / 'governance.db'}"
    store = ensure_store(url)
    import_catalog(store, city.catalog_path)
    store.dispose()
    return url


@pytest.fixture(scope="module")
def metadata_url() -> Iterator[str]:
    with scratch_database("citygov_airflow_backfill") as url:
        yield url


@pytest.fixture(scope="module")
def airflow(city, store_url: str, metadata_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("airflow_home")
    (home / "plugins").mkdir()
    port, log_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "citygov-backfill-test",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),  # not the fixed 8793 a dev Airflow uses
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            # Parse the dags folder once: re-parsing every 30 s competes with the tasks for 2 cores.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "CITYGOV_DATA_DIR": str(home / "data"),
        }
    )
    for conn in connections_from_file(city.connections_path).values():
        if conn.conn_id in {"backflow_landing", "dept_sdsj"}:
            env[f"AIRFLOW_CONN_{conn.conn_id.upper()}"] = json.dumps(conn.to_airflow_json())
    env["AIRFLOW_CONN_GOVERNANCE_DB"] = json.dumps({"conn_type": "sqlite", "host": store_url.split("///", 1)[1]})

    af = Airflow(home, env, sa.create_engine(metadata_url, poolclass=sa.pool.NullPool))
    try:
        af.cli("db", "migrate")
        # the pools the DAGs ask for, as every install sets them (a missing pool is never scheduled)
        proc = subprocess.run([sys.executable, "-m", "citygov_airflow.pools"], env=af.env, capture_output=True, text=True,
                              timeout=120, cwd=af.home)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        af.cli("dags", "reserialize")
        # The scheduler first: it checks for finished backfills every 30 s from its start.
        af.start("scheduler", "scheduler")
        af.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "--apps", "execution", "--workers", "1")
        af.start("dag-processor", "dag-processor")
        yield af
    finally:
        af.stop()
        af.db.dispose()
        if os.environ.get("CITYGOV_KEEP_AIRFLOW_LOGS"):
            shutil.copytree(home, Path(os.environ["CITYGOV_KEEP_AIRFLOW_LOGS"]), dirs_exist_ok=True)


def target_state(city) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def,type-arg]
    """Every row of every table of the backflow staging database, comparable."""
    engine = sa.create_engine(connections_from_file(city.connections_path)["dept_sdsj"].sqlalchemy_url())
    try:
        with engine.connect() as conn:
            return {
                name: sorted(tuple(str(v) for v in r) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"')))
                for name in sa.inspect(conn).get_table_names()
            }
    finally:
        engine.dispose()


def test_backfill_reingests_exactly_its_days_and_a_second_one_changes_nothing(airflow: Airflow, city, store_url) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    first = airflow.backfill()
    runs = airflow.wait_for_runs(first, until_complete=True)
    assert [(str(d)[:10], s, t) for d, s, t in runs] == [
        ("2026-11-25", "success", "backfill"),  # 26 November 03:00 in Shanghai is 25 November 19:00 UTC
        ("2026-11-26", "success", "backfill"),
    ], airflow.logs()
    assert airflow.task_states(first) == {("pull_from_province", "skipped"), ("ingest_batches", "success")}

    store = ensure_store(store_url)
    batches = {b["batch_id"]: b for b in list_batches(store)}
    wanted = [b for day in DAYS.values() for b in day]
    assert sorted(batches) == sorted(wanted)  # nothing of 28 November, not even a rejection
    for day, ids in DAYS.items():
        for batch_id in ids:
            b = batches[batch_id]
            rec = b["reconciliation"]
            assert (b["status"], b["logical_date"], rec["balanced"]) == ("loaded", day, True)
            assert rec["declared"] == rec["loaded"] + rec["quarantined"] > 0
    after_first = target_state(city)
    loads = {r[0]: r for r in after_first["backflow_loads"]}
    assert sorted(loads) == sorted(wanted)
    for table in ("hl_qydjxx", "hl_sbcbxx"):  # each loaded row carries the batch that brought it
        lineage = {r[-1] for r in after_first[table]}
        assert not lineage & set(OTHER_DAY)

    # The same days again, rerunning the completed runs: every batch is skipped, nothing doubles.
    second = airflow.backfill("--reprocess-behavior", "completed")
    assert second != first
    runs = airflow.wait_for_runs(second, until_complete=False)
    assert [s for _, s, _ in runs] == ["success", "success"], airflow.logs()
    assert airflow.task_states(second) == {("pull_from_province", "skipped"), ("ingest_batches", "success")}
    assert target_state(city) == after_first
    again = {b["batch_id"]: b for b in list_batches(store)}
    assert {i: (b["status"], b["reconciliation"], b["loaded_at"]) for i, b in again.items()} == {
        i: (b["status"], b["reconciliation"], b["loaded_at"]) for i, b in batches.items()
    }
    store.dispose()
    print(f"two backfills took {time.monotonic() - started:.1f} s")
