"""The production topology (docker-compose.yml) as real processes: CeleryExecutor on PostgreSQL and Redis.

``scripts/cluster.py`` starts api-server, scheduler, dag-processor, triggerer and one Celery worker on
loopback, with the Airflow metadata database and the governance store as two scratch databases on the
local PostgreSQL, Redis as broker (a queue of this run's own) and the demo city registered by the same
init as compose's airflow-init. Everything goes through the REST API as an operator would: log in with
``POST /auth/token``, unpause, trigger, backfill.

Two settings make the worker-kill test take seconds instead of minutes, and only in this test cluster:
the scheduler declares a task dead after 15 s without a heartbeat (production default 300 s), and a
cluster policy (``airflow_local_settings.task_policy``) shortens every task's retry_delay to 2 s (the DAGs
say 5 minutes).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.settings import CITY_TZ
from citygov.store.models import Finding
from citygov.store.models_disputes import Dispute
from citygov.store.models_quality import CheckResult, QualityRun
from scripts import cluster as topology
from tests.demo_expectations import expected_findings, found_keys
from tests.pg import pg_problem

pytestmark = pytest.mark.airflow

PIPELINE = ["catalog_sync", "public_data_census", "catalog_patrol", "quality_inspection", "dispute_routing"]
"""The nightly chain this test runs; quality_inspection and dispute_routing follow the assets."""
AS_OF: date = DEFAULT_AS_OF
NIGHT = datetime.combine(AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=1)
TERMINAL = {"success", "failed"}

RETRY_POLICY = '''\
from datetime import timedelta


def task_policy(task):
    """Test cluster only: retry after 2 s instead of the DAGs' 5 minutes."""
    task.retry_delay = timedelta(seconds=2)
'''


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        return None
    except Exception as exc:  # any client error means "no server"
        return str(exc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[topology.ClusterConfig]:
    """The topology on free ports with the demo city; stopped, databases dropped, no process left."""
    tag = uuid.uuid4().hex[:10]
    redis_url = f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
    for problem in (pg_problem(), _redis_problem(redis_url)):
        if problem:
            if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
                pytest.fail(f"the cluster needs PostgreSQL and Redis on 127.0.0.1: {problem}")
            pytest.skip(f"PostgreSQL or Redis not reachable: {problem}")
    tmp = tmp_path_factory.mktemp("cluster")
    city = create_demo_city(tmp / "city")
    cfg = topology.ClusterConfig(
        run_dir=tmp / "run",
        api_port=topology.free_port(),
        metadata_db=f"citygov_ct_{tag}_airflow",
        store_db=f"citygov_ct_{tag}_governance",
        redis_url=redis_url,
        queue=f"citygov_ct_{tag}",
        connections_file=str(city.connections_path),
        catalog_file=str(city.catalog_path),
        extra_env={
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
        },
    )
    (cfg.airflow_home / "config").mkdir(parents=True)
    (cfg.airflow_home / "config" / "airflow_local_settings.py").write_text(RETRY_POLICY)
    started: set[int] = set()
    try:
        topology.up(cfg, timeout=180)
        cfg.extra_env["_city"] = str(city.root)  # for the tests; not passed on (the cluster is running)
        yield cfg
    finally:
        started |= _all_pids(cfg)
        strays = topology.down(cfg, drop=True, grace=15)
        left = [pid for pid in started if _running(pid)] + [p.pid for p in topology.stray_processes(cfg.run_id)]
        assert not left, f"processes still running after cluster down: {left}"
        assert not strays, f"down had to kill processes outside the components' trees: {strays}"


def _all_pids(cfg: topology.ClusterConfig) -> set[int]:
    pids: set[int] = set()
    for rec in (cfg.run_dir / "pids").glob("*.json"):
        pid = topology.service_pid(cfg, rec.stem)
        if pid:
            pids |= {p.pid for p in topology.process_tree(pid)}
    return pids


def _running(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Api:
    """The Airflow REST API as a logged-in user."""

    def __init__(self, cfg: topology.ClusterConfig, user: str) -> None:
        response = httpx.post(
            f"{cfg.api_url}/auth/token",
            json={"username": user, "password": cfg.passwords[user]},
            timeout=30,
        )
        assert response.status_code in (200, 201), response.text
        self.http = httpx.Client(
            base_url=f"{cfg.api_url}/api/v2",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            timeout=30,
        )

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = 200, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        codes = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in codes, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def unpause(self, dag_id: str) -> None:
        assert self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})["is_paused"] is False

    def trigger(self, dag_id: str, logical_date: datetime | None, conf: dict | None = None) -> str:
        body = {"logical_date": logical_date.isoformat() if logical_date else None, "conf": conf or {}}
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def runs(self, dag_id: str = "~") -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 150) -> dict:
        deadline = time.monotonic() + timeout
        while (run := self.run(dag_id, run_id))["state"] not in TERMINAL:
            assert time.monotonic() < deadline, f"{dag_id} {run_id} still {run['state']} after {timeout} s"
            time.sleep(1)
        return run

    def wait_settled(self, timeout: float = 240) -> list[dict]:
        """Wait until no DAG run is queued or running, twice in a row (asset-triggered runs appear a
        scheduler loop after their event); return every run."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:
            assert time.monotonic() < deadline, f"runs still active after {timeout} s: {self._active()}"
            quiet = quiet + 1 if not self._active() else 0
            time.sleep(2)
        return self.runs()

    def _active(self) -> list[tuple[str, str]]:
        return [(r["dag_id"], r["state"]) for r in self.runs() if r["state"] not in TERMINAL]


@pytest.fixture(scope="module")
def api(cluster: topology.ClusterConfig) -> Api:
    return Api(cluster, "operator")


@pytest.fixture(scope="module")
def store(cluster: topology.ClusterConfig):  # type: ignore[no-untyped-def]
    engine = create_engine(cluster.store_url)
    yield engine
    engine.dispose()


def _findings(store, origin: str, day: date) -> list[dict]:  # type: ignore[no-untyped-def]
    with store.connect() as conn:
        rows = conn.execute(select(Finding).where(Finding.origin == origin, Finding.logical_date == day))
        return [dict(r._mapping) for r in rows]


def _open_items(store) -> Counter:  # type: ignore[no-untyped-def]
    with store.connect() as conn:
        return Counter(conn.scalars(select(Dispute.fingerprint)))


def _city_day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp).astimezone(CITY_TZ).date()


def _worker_log(cfg: topology.ClusterConfig, name: str = "airflow-worker") -> str:
    return (cfg.run_dir / "logs" / f"{name}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def nightly(cluster: topology.ClusterConfig, api: Api) -> list[dict]:
    """The nightly chain for the demo's date, triggered through the REST API; every run when it settled."""
    dags = {d["dag_id"] for d in api.call("GET", "/dags", params={"limit": 100})["dags"]}
    assert set(PIPELINE) <= dags, dags
    for dag_id in ["quality_inspection", "dispute_routing", "catalog_sync"]:
        api.unpause(dag_id)
    sync = api.trigger("catalog_sync", NIGHT)
    assert api.wait_run("catalog_sync", sync)["state"] == "success"
    for dag_id in ["public_data_census", "catalog_patrol"]:
        api.unpause(dag_id)
        api.trigger(dag_id, NIGHT + timedelta(minutes=30))
    return api.wait_settled()


def test_only_logged_in_users_with_a_role_that_may_run_dags_can_trigger(cluster, api: Api) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{cluster.api_url}/api/v2/dags", timeout=30).status_code == 401
    bad = httpx.post(f"{cluster.api_url}/auth/token", json={"username": "admin", "password": "nope"}, timeout=30)
    assert bad.status_code == 401
    viewer = Api(cluster, "viewer")
    assert viewer.call("GET", "/dags", params={"limit": 1})["total_entries"] >= len(PIPELINE)
    viewer.call("POST", "/dags/dispute_sla/dagRuns", expect=403, json={"logical_date": None})
    viewer.call("PATCH", "/dags/dispute_sla", expect=403, json={"is_paused": False})


def test_the_nightly_chain_runs_on_the_celery_worker(cluster, api: Api, nightly: list[dict]) -> None:  # type: ignore[no-untyped-def]
    by_dag = Counter(r["dag_id"] for r in nightly)
    assert set(PIPELINE) <= set(by_dag), by_dag
    assert {(r["dag_id"], r["state"]) for r in nightly if r["state"] != "success"} == set()
    manual = [r for r in nightly if r["run_type"] == "manual"]
    assert {r["dag_id"] for r in manual} == {"catalog_sync", "public_data_census", "catalog_patrol"}
    assert {r["run_type"] for r in nightly if r["dag_id"] in ("quality_inspection", "dispute_routing")} == {
        "asset_triggered"
    }

    worker_log = _worker_log(cluster)
    tis = [ti for r in nightly for ti in api.task_instances(r["dag_id"], r["dag_run_id"])]
    ran = [ti for ti in tis if ti["state"] == "success"]
    assert {ti["dag_id"] for ti in ran} >= set(PIPELINE)
    for ti in ran:
        # The scheduler sent it to this run's Celery queue, and this run's worker executed it.
        assert ti["queue"] == cluster.queue, ti
        assert ti["hostname"] and ti["pid"], ti
        assert f"id=UUID('{ti['id']}')" in worker_log, f"{ti['dag_id']}.{ti['task_id']} not in the worker's log"
    assert worker_log.count("Executing workload in Celery") >= len(ran)


def test_results_are_in_the_postgresql_governance_store(cluster, nightly: list[dict], store) -> None:  # type: ignore[no-untyped-def]
    assert store.dialect.name == "postgresql"
    defects = Path(cluster.extra_env["_city"]) / "defects.json"
    for origin in ("census", "patrol"):
        found = _findings(store, origin, AS_OF)
        assert found_keys(found) == expected_findings(defects, origin), origin
        assert len(found) == len(found_keys(found)), f"{origin}: a finding stored twice"
    with store.connect() as conn:
        runs = conn.scalar(select(func.count()).select_from(QualityRun).where(QualityRun.logical_date == AS_OF))
    assert runs and runs >= 25  # one per published dataset of the demo city
    items = _open_items(store)
    assert items and max(items.values()) == 1
    with store.connect() as conn:
        origins = set(conn.scalars(select(Dispute.origin)))
    assert {"census", "patrol", "quality"} <= origins


def test_a_backfill_through_the_rest_api(cluster, api: Api, nightly: list[dict], store) -> None:  # type: ignore[no-untyped-def]
    # public_data_census runs on Mondays 02:00; nothing ran for the Monday two weeks before the demo's date.
    monday = AS_OF - timedelta(days=AS_OF.weekday() + 14)
    assert not _findings(store, "census", monday)
    backfill = api.call(
        "POST",
        "/backfills",
        json={
            "dag_id": "public_data_census",
            "from_date": (datetime.combine(monday, datetime.min.time(), CITY_TZ) - timedelta(days=1)).isoformat(),
            "to_date": (datetime.combine(monday, datetime.min.time(), CITY_TZ) + timedelta(days=1)).isoformat(),
            "max_active_runs": 1,
        },
    )
    deadline = time.monotonic() + 120
    while not (state := api.call("GET", f"/backfills/{backfill['id']}"))["completed_at"]:
        assert time.monotonic() < deadline, f"backfill not complete after 120 s: {state}"
        time.sleep(2)
    runs = [r for r in api.runs("public_data_census") if r["run_type"] == "backfill"]
    assert [(r["state"], _city_day(r["logical_date"])) for r in runs] == [("success", monday)]
    defects = Path(cluster.extra_env["_city"]) / "defects.json"
    assert found_keys(_findings(store, "census", monday)) == expected_findings(defects, "census")


def test_a_worker_killed_mid_task_is_survived_without_duplicates(cluster, api: Api, nightly: list[dict], store) -> None:  # type: ignore[no-untyped-def]
    api.wait_settled()
    before_findings = Counter(f["fingerprint"] for f in _findings(store, "quality", AS_OF))
    with store.connect() as conn:
        before_checks = conn.scalar(
            select(func.count()).select_from(CheckResult).join(QualityRun).where(QualityRun.logical_date == AS_OF)
        )
    before_items = _open_items(store)
    assert before_findings and before_checks and max(before_findings.values()) == 1

    # Re-inspect the demo's date: a mapped task per source shard (a few seconds of real work); one is killed.
    run_id = api.trigger("quality_inspection", None, {"date": AS_OF.isoformat()})
    worker_pid = topology.service_pid(cluster, "airflow-worker")
    assert worker_pid
    deadline = time.monotonic() + 120
    while True:
        ti = next((t for t in api.task_instances("quality_inspection", run_id)
                   if t["task_id"].endswith(".inspect_batch") and t["state"] == "running" and t["pid"]), None)
        if ti and ti["state"] == "running" and ti["pid"]:
            break
        assert not ti or ti["state"] in (None, "scheduled", "queued", "running"), ti
        assert time.monotonic() < deadline, f"inspect_batch never ran: {ti}"
        time.sleep(0.2)
    tree = {p.pid for p in topology.process_tree(worker_pid)}
    assert ti["pid"] in tree, "the task is not a process of the Celery worker"
    time.sleep(1.0)
    killed = topology.kill_service(cluster, "airflow-worker")
    assert ti["pid"] in killed and not any(_running(pid) for pid in killed)
    def same(t: dict) -> bool:  # type: ignore[type-arg]
        return t["task_id"] == ti["task_id"] and t.get("map_index") == ti.get("map_index")

    mid_task = next(t for t in api.task_instances("quality_inspection", run_id) if same(t))
    assert mid_task["state"] == "running" and mid_task["try_number"] == 1, "the task had finished before the kill"

    topology.start_service(cluster, "airflow-worker", name="airflow-worker-2")
    topology.wait_healthy(cluster, timeout=90, worker="airflow-worker-2")
    run = api.wait_run("quality_inspection", run_id, timeout=180)
    assert run["state"] == "success"
    ti = next(t for t in api.task_instances("quality_inspection", run_id) if same(t))
    assert ti["try_number"] == 2 and ti["state"] == "success"
    tries = api.call(
        "GET", f"/dags/quality_inspection/dagRuns/{run_id}/taskInstances/{ti['task_id']}/{ti['map_index']}/tries"
    )["task_instances"]
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")]
    assert f"id=UUID('{ti['id']}')" in _worker_log(cluster, "airflow-worker-2")
    assert "attempt=2.log" in _worker_log(cluster, "airflow-worker-2")

    api.wait_settled()  # the routing pass that follows the inspection
    assert Counter(f["fingerprint"] for f in _findings(store, "quality", AS_OF)) == before_findings
    with store.connect() as conn:
        after_checks = conn.scalar(
            select(func.count()).select_from(CheckResult).join(QualityRun).where(QualityRun.logical_date == AS_OF)
        )
    assert after_checks == before_checks
    assert _open_items(store) == before_items

