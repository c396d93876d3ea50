"""Isolation of department sources (issue 19, item 4): one department's source hangs.

The hanging source is a real TCP server on loopback that accepts connections and never answers a byte,
registered as that department's PostgreSQL connection: what a database host behind a stuck proxy or a
frozen server looks like to a client. The rest is the demo city on SQLite sources. With
``CITYGOV_SOURCE_TIMEOUT_S`` small, the hanging department's entries must be unreachable for the run
within the timeout, every other department's results must arrive as on a healthy night, and no task may
hold its slot past its timeout. The DAG runs go through Airflow (``dag.test``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.catalog.queries import load_entries
from citygov.census import register_sources
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.findings import RULES, load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality.runner import inspect_batch
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo, connections_from_file
from citygov.store import engine_for, upgrade
from citygov_airflow.pools import (
    PROVINCE_POOL,
    SOURCE_POOL_COUNT,
    SOURCE_POOLS,
    assign_shards,
    source_pool,
    sources_in_shard,
    split_by_shard,
)
from tests.demo_expectations import expected_findings, found_keys

HUNG = "dept_wjw"
"""The department connection that hangs (卫健委: SQLite in the demo, a silent server here)."""
TIMEOUT_S = 2
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def silent_server() -> Iterator[int]:
    """A TCP port on loopback that accepts every connection and never sends anything."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city").root


@pytest.fixture
def conns(city: Path, silent_server: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, ConnectionInfo]:
    """The demo city's connections with HUNG pointing at the silent server; also as Airflow connections."""
    data = json.loads((city / "connections.json").read_text(encoding="utf-8"))
    data[HUNG] = {**data[HUNG], "conn_type": "postgres", "host": "127.0.0.1", "port": silent_server,
                  "login": "wjw", "schema": "wjw"}
    path = city.parent / "connections-hung.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = connections_from_file(path)
    for conn in out.values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    monkeypatch.setenv("CITYGOV_SOURCE_TIMEOUT_S", str(TIMEOUT_S))
    return out


@pytest.fixture
def store(tmp_path: Path, city: Path, conns: dict[str, ConnectionInfo], monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A SQLite governance store with the demo catalog, registered as the governance_db connection."""
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "governance.db")}))
    upgrade(url)
    engine = engine_for(url)
    import_catalog(engine, city / "catalog.csv")
    register_sources(
        engine, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department]
    )
    yield engine
    engine.dispose()


def _hung_codes(store: Engine) -> set[str]:
    codes = {e.code for e in load_entries(store) if e.conn_id == HUNG}
    assert codes, f"the demo city has no published entry on {HUNG}"
    return codes


def _assert_patrol_isolated(store: Engine, city: Path) -> None:
    """HUNG's entries: one 可访问性 finding each, unreachable; everyone else: the healthy night's findings."""
    hung = _hung_codes(store)
    findings = load_findings(store, origin="patrol", logical_date=DEFAULT_AS_OF)
    of_hung = [f for f in findings if f["entry_code"] in hung]
    assert {f["entry_code"] for f in of_hung} == hung
    assert {f["rule_id"] for f in of_hung} == {"patrol.source.unreachable"}
    assert {f["dimension"] for f in of_hung} == {RULES["patrol.source.unreachable"].dimension.value} == {"可访问性"}
    assert all("timeout" in f["message"] or "timed out" in f["message"] for f in of_hung), of_hung[0]["message"]
    others = found_keys([f for f in findings if f["entry_code"] not in hung])
    expected = {k for k in expected_findings(city / "defects.json", "patrol") if k[2] not in hung}
    assert others == expected


def test_the_patrol_gives_up_on_a_silent_source_and_patrols_the_rest(store: Engine, city: Path, conns) -> None:  # type: ignore[no-untyped-def]
    took: dict[bool, float] = {}
    for batch in plan_batches(store, 200):  # one batch: the silent source among all the others
        started = time.monotonic()
        report = patrol_batch(store, batch, conns.get, DEFAULT_AS_OF)
        took[HUNG in report.unreachable_sources] = time.monotonic() - started
    assert took[True] < TIMEOUT_S + 5  # one connect timeout for the source, not one per entry
    _assert_patrol_isolated(store, city)


def test_the_quality_batch_asks_a_silent_source_once_and_validates_the_rest(store: Engine, conns) -> None:  # type: ignore[no-untyped-def]
    hung = _hung_codes(store)
    codes = [c for batch in plan_batches(store, 200) for c in batch]
    started = time.monotonic()
    report = inspect_batch(store, codes, conns.get, DEFAULT_AS_OF, engine="fused")
    took = time.monotonic() - started
    status = {d.entry_code: d for d in report.datasets}
    for code in hung:
        if status[code].status not in ("no_suite", "suite_invalid"):
            assert status[code].status == "unreachable" and "timeout" in (status[code].error or ""), status[code]
    others = [d for d in report.datasets if d.entry_code not in hung]
    assert others and not [d for d in others if d.status == "unreachable" and HUNG in (d.error or "")]
    assert {d.status for d in others} & {"passed", "failed"}  # the other departments were validated
    # The silent source cost one connect timeout for the batch, however many of its entries it holds.
    assert sum(1 for c in hung if status[c].status == "unreachable") >= 2
    assert took < 2 * TIMEOUT_S + 60, took


# --- the shards and their pools -------------------------------------------------------------------------


def test_sources_are_dealt_to_shards_that_keep_batches_whole() -> None:
    assert [source_pool(i) for i in range(SOURCE_POOL_COUNT)] == [f"citygov_sources_{i}" for i in range(SOURCE_POOL_COUNT)]
    assert set(SOURCE_POOLS) == {*(source_pool(i) for i in range(SOURCE_POOL_COUNT)), PROVINCE_POOL}
    # Sorted ids dealt in turn: every shard gets a source before any gets two, whatever the ids hash to.
    assert assign_shards(["e", "a", "c", "b", "d", "a"], 4) == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}
    conn_of = {"a1": "dept_gaj", "a2": "dept_gaj", "b1": "dept_scjgj", "c1": "dept_wjw", "c2": "dept_wjw"}
    batches = [["a1", "a2", "b1"], ["c1", "c2"]]
    split = [split_by_shard(batches, conn_of, i, 200) for i in range(SOURCE_POOL_COUNT)]
    assert split == [[["a1", "a2"]], [["b1"]], [["c1", "c2"]], []]
    # A shard's entries, in the planner's order (grouped by source), cut anew: full batches, not fragments.
    conn_of |= {"a3": "dept_scjgj", "d1": "dept_zrzyj", "d2": "dept_zrzyj"}  # shards: gaj 0, scjgj 1, wjw 2, zrzyj 3
    assert assign_shards(conn_of.values()) == {"dept_gaj": 0, "dept_scjgj": 1, "dept_wjw": 2, "dept_zrzyj": 3}
    planned = [["a1", "a2"], ["b1", "a3"], ["c1", "c2"], ["d1", "d2"]]
    assert split_by_shard(planned, conn_of, 1, 2) == [["b1", "a3"]]
    assert split_by_shard(planned, conn_of, 3, 1) == [["d1"], ["d2"]]
    # An entry withdrawn between the plan's two catalog reads stays in the plan (shard 0), never dropped.
    assert split_by_shard([["a1", "gone"]], conn_of, 0, 200) == [["a1", "gone"]]
    census = ["dept_wjw", "dept_gaj", "dept_zrzyj", "dept_mzj", "dept_rsj"]
    assert [sources_in_shard(census, i) for i in range(SOURCE_POOL_COUNT)] == [
        ["dept_gaj", "dept_zrzyj"], ["dept_mzj"], ["dept_rsj"], ["dept_wjw"]
    ]
    with pytest.raises(ValueError, match="shard 4"):
        source_pool(SOURCE_POOL_COUNT)


def test_every_task_that_reads_a_source_has_a_source_pool_and_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CITYGOV_SOURCE_TASK_TIMEOUT_S", "1234")
    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    readers = {
        "catalog_patrol": "patrol_batch",
        "quality_inspection": "inspect_batch",
    }
    for dag_id, name in readers.items():
        tasks = [t for t in bag.dags[dag_id].tasks if t.task_id.endswith(f".{name}")]
        assert sorted(t.pool for t in tasks) == [source_pool(i) for i in range(SOURCE_POOL_COUNT)], dag_id
        assert {t.execution_timeout for t in tasks} == {timedelta(seconds=1234)}, dag_id
        assert all(t.task_id == f"sources_{source_pool_index(t.pool)}.{name}" for t in tasks)
    pull = bag.dags["provincial_backflow"].get_task("pull_from_province")
    assert (pull.pool, pull.execution_timeout) == (PROVINCE_POOL, timedelta(seconds=1234))


def source_pool_index(pool: str) -> int:
    return int(pool.rsplit("_", 1)[1])


# --- through Airflow ---------------------------------------------------------------------------------------


@pytest.mark.airflow
def test_the_patrol_dag_finishes_within_the_timeout_with_every_other_department(store: Engine, city: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=DAGS_FOLDER / "catalog_patrol.py", safe_mode=False).dags["catalog_patrol"]
    for task in dag.tasks:
        task.retries = 0
    dag_run = dag.test(logical_date=datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=1),
                       run_conf={"batch_size": 200})
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        ran = {(ti.task_id, ti.map_index): (str(ti.state), ti.pool, ti.duration) for ti in tis}
    assert str(dag_run.state) == "success", ran
    batches = {k: v for k, v in ran.items() if k[0].endswith(".patrol_batch")}
    hung_shard = assign_shards(e.conn_id for e in load_entries(store))[HUNG]
    assert {v[1] for k, v in batches.items()} <= set(SOURCE_POOLS)
    assert all(v[1] == source_pool(int(k[0].split(".")[0].rsplit("_", 1)[1])) for k, v in batches.items())
    assert any(k[0] == f"sources_{hung_shard}.patrol_batch" and v[0] == "success" for k, v in batches.items())
    # No slot held past the source timeout (plus the task's own start and store work).
    assert max(v[2] or 0 for v in batches.values()) < TIMEOUT_S + 20, batches
    _assert_patrol_isolated(store, city)


@pytest.mark.airflow
def test_execution_timeout_frees_the_slot_when_the_source_timeouts_do_not(
    store: Engine, city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backstop: a source timeout longer than the task's, so only ``execution_timeout`` can end the
    wait. The silent department's batch fails at the task timeout; the other shard's batch succeeds, and
    the shards without sources are skipped."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import update

    from citygov.store import session_scope
    from citygov.store.models import CatalogEntryRow

    kept = {HUNG, "dept_gaj"}  # dealt to shards 1 and 0; shards 2 and 3 hold nothing
    with session_scope(store) as session:
        session.execute(update(CatalogEntryRow).where(CatalogEntryRow.conn_id.not_in(kept))
                        .values(withdrawn_at=datetime.now(CITY_TZ)))
    assert assign_shards(kept) == {"dept_gaj": 0, HUNG: 1}
    monkeypatch.setenv("CITYGOV_SOURCE_TIMEOUT_S", "120")
    monkeypatch.setenv("CITYGOV_SOURCE_TASK_TIMEOUT_S", "3")  # read when the DAG file is parsed
    dag = DagBag(dag_folder=DAGS_FOLDER / "catalog_patrol.py", safe_mode=False).dags["catalog_patrol"]
    for task in dag.tasks:
        task.retries = 0
    started = time.monotonic()
    dag_run = dag.test(logical_date=datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=2),
                       run_conf={"batch_size": 200})
    took = time.monotonic() - started
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        ran = {ti.task_id: (str(ti.state), ti.duration) for ti in tis if ti.task_id.endswith(".patrol_batch")}
    assert ran["sources_1.patrol_batch"][0] == "failed", ran
    assert 3 <= ran["sources_1.patrol_batch"][1] < 3 + 10, ran  # failed at the task timeout, not the source's
    assert ran["sources_0.patrol_batch"][0] == "success", ran
    assert {ran[f"sources_{i}.patrol_batch"][0] for i in (2, 3)} == {"skipped"}, ran
    assert took < 120, took  # nobody waited for the 120 s source timeout
    gaj = {e.code for e in load_entries(store) if e.conn_id == "dept_gaj"}
    findings = load_findings(store, origin="patrol", logical_date=DEFAULT_AS_OF)
    # The other department's results arrived (its batch stored them); the failed batch stored nothing.
    assert found_keys(findings) == {k for k in expected_findings(city / "defects.json", "patrol") if k[2] in gaj}


@pytest.mark.airflow
def test_the_init_sets_every_pool_of_the_topology() -> None:
    """What ``citygov_deploy.init`` (compose's airflow-init, ``scripts/cluster.py``) and
    ``python -m citygov_airflow.pools`` do: create the pools, and set them again when rerun."""
    from airflow.models.pool import Pool
    from citygov_deploy.topology import POOLS

    from citygov_airflow.pools import ensure_pools

    assert set(SOURCE_POOLS) < set(POOLS) and "default_pool" in POOLS
    assert ensure_pools(POOLS) == list(POOLS)
    assert ensure_pools(POOLS) == list(POOLS)  # idempotent
    for name, (slots, description) in POOLS.items():
        pool = Pool.get_pool(name)
        assert pool is not None and (pool.slots, pool.description) == (slots, description), name


@pytest.mark.airflow
@pytest.mark.parametrize("conn_type", ["postgres", "mysql"])
def test_the_census_dag_records_a_silent_source_unreachable_within_the_timeout(
    conn_type: str, store: Engine, city: Path, silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The census's mapped inventory of the silent department (a PostgreSQL or a MySQL connection: PyMySQL
    reads the greeting under its read timeout) ends within the source timeout, stored unreachable; every
    other department's inventory and census findings arrive; the run is a clean success."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from citygov.census_inventory import REACHABLE, UNREACHABLE, load_inventories

    monkeypatch.setenv(f"AIRFLOW_CONN_{HUNG.upper()}", json.dumps(
        {"conn_type": conn_type, "host": "127.0.0.1", "port": silent_server, "login": "wjw", "schema": "wjw"}))
    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "120")  # only the connect timeout may end the wait
    dag = DagBag(dag_folder=DAGS_FOLDER / "public_data_census.py", safe_mode=False).dags["public_data_census"]
    for task in dag.tasks:
        task.retries = 0
    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=3 + ["postgres", "mysql"].index(conn_type))
    dag_run = dag.test(logical_date=when)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        ran = {(ti.task_id, ti.map_index): (str(ti.state), ti.pool, ti.duration) for ti in tis}
    assert str(dag_run.state) == "success", ran
    inventories = {k: v for k, v in ran.items() if k[0].endswith(".inventory_source")}
    assert {v[0] for v in inventories.values()} == {"success"}, inventories
    assert all(v[1] == source_pool(int(k[0].split(".")[0].rsplit("_", 1)[1])) for k, v in inventories.items())
    assert max(v[2] or 0 for v in inventories.values()) < TIMEOUT_S + 20, inventories  # no slot held past it

    stored = load_inventories(store, DEFAULT_AS_OF)
    assert stored[HUNG].status == UNREACHABLE and any(w in (stored[HUNG].error or "") for w in ("timeout", "timed out"))
    assert all(i.status == REACHABLE and i.resources for c, i in stored.items() if c != HUNG)
    findings = load_findings(store, origin="census", logical_date=DEFAULT_AS_OF)
    assert [f["conn_id"] for f in findings if f["rule_id"] == "census.source_unreachable"] == [HUNG]
    hung = _hung_codes(store)
    others = {k for k in found_keys(findings) if k[1] != "census.source_unreachable"}
    assert others == {k for k in expected_findings(city / "defects.json", "census") if k[2] not in hung}


def test_a_silent_mysql_department_costs_the_patrol_and_the_quality_one_connect_timeout(
    store: Engine, city: Path, conns: dict[str, ConnectionInfo], silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above with the silent department on a MySQL connection, the statement timeout far longer."""
    from dataclasses import replace

    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "120")
    conns = {**conns, HUNG: replace(conns[HUNG], conn_type="mysql")}
    started = time.monotonic()
    for batch in plan_batches(store, 200):
        patrol_batch(store, batch, conns.get, DEFAULT_AS_OF)
    assert time.monotonic() - started < TIMEOUT_S + 20
    _assert_patrol_isolated(store, city)
    hung = _hung_codes(store)
    started = time.monotonic()
    report = inspect_batch(store, [c for b in plan_batches(store, 200) for c in b], conns.get, DEFAULT_AS_OF, engine="fused")
    assert time.monotonic() - started < TIMEOUT_S + 60
    status = {d.entry_code: d for d in report.datasets}
    assert sum(1 for c in hung if status[c].status == "unreachable" and "timed out" in (status[c].error or "")) >= 2
    assert {d.status for d in report.datasets if d.entry_code not in hung} & {"passed", "failed"}


@pytest.mark.airflow
def test_the_quality_dag_records_a_silent_source_unreachable_within_the_timeout(store: Engine, city: Path) -> None:
    """The inspection through Airflow: the silent department's batch ends within the source timeout (plus
    the healthy entries' validation), its entries unreachable; every other department's findings arrive."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=DAGS_FOLDER / "quality_inspection.py", safe_mode=False).dags["quality_inspection"]
    for task in dag.tasks:
        task.retries = 0
    when = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=6)
    dag_run = dag.test(logical_date=when, run_conf={"date": DEFAULT_AS_OF.isoformat(), "batch_size": 200, "engine": "fused"})
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        ran = {(ti.task_id, ti.map_index): (str(ti.state), ti.pool, ti.duration) for ti in tis}
    assert str(dag_run.state) == "success", ran
    batches = {k: v for k, v in ran.items() if k[0].endswith(".inspect_batch")}
    hung_shard = assign_shards(e.conn_id for e in load_entries(store))[HUNG]
    hung_batch = [v for k, v in batches.items() if k[0] == f"sources_{hung_shard}.inspect_batch"]
    assert hung_batch and all(v[0] == "success" for v in batches.values()), batches
    assert max(v[2] or 0 for v in hung_batch) < TIMEOUT_S + 60, batches  # one connect timeout, then the others' work
    from sqlalchemy import select

    from citygov.store import session_scope
    from citygov.store.models_quality import QualityRun

    hung = _hung_codes(store)
    with session_scope(store) as session:  # unreachable for the run: the patrol's finding says so, not quality's
        runs = {r.entry_code: (r.status, r.error or "") for r in session.scalars(
            select(QualityRun).where(QualityRun.logical_date == DEFAULT_AS_OF, QualityRun.entry_code.in_(hung)))}
    assert runs and {s for s, _ in runs.values()} == {"unreachable"} and all("timeout" in e for _, e in runs.values()), runs
    findings = load_findings(store, origin="quality", logical_date=DEFAULT_AS_OF)
    assert not [f for f in findings if f["entry_code"] in hung]
    planted = [d for d in json.loads((city / "defects.json").read_text(encoding="utf-8"))["defects"]
               if d["detected_by"] == "quality" and d["entry_code"] not in hung]
    got = sorted((f["entry_code"], f["column"], f["evidence"]["unexpected_count"]) for f in findings
                 if f["entry_code"] not in hung and "unexpected_count" in (f["evidence"] or {}))
    assert planted and got == sorted((d["entry_code"], d["column"], d["count"]) for d in planted)
