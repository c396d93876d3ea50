"""Kill-mid-load: the backflow ingest is SIGKILLed at random points of its load and run again; in the end
every row is in the target exactly once, with the right ``_batch_id``, and declared = loaded + quarantined.

The killed ingests run in a forked child process (``ingest_landing``, what the DAG task and ``govern
backflow ingest`` call) rather than through ``dag.test`` in a fresh interpreter: a fork starts with Great
Expectations already imported, which keeps several kills per backend within seconds. The retry that
finishes the job is the real ``provincial_backflow`` DAG, as Airflow would retry the killed task. The parent kills it
with SIGKILL, no cleanup runs: the database sees a dropped connection mid-transaction. Each kill waits
until the target is in the middle of a write (a session of the child's in a transaction on PostgreSQL, a
rollback journal on SQLite; on PostgreSQL one kill waits for the ``COPY`` itself), then a seeded random
delay more: fixed delays would miss loads that finish in well under a second. Between kills the target must hold each batch either
fully (its ``backflow_loads`` marker and all its rows) or not at all.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from citygov.backflow import ingest_landing, list_batches
from citygov.catalog.importer import import_catalog
from citygov.demo import create_demo_city
from citygov.identifiers import ric_check_char
from citygov.settings import CITY_TZ
from citygov.store import engine_for, upgrade
from tests.e2e.conftest import airflow_conn_json, load_dag
from tests.pg import scratch_database

pytestmark = pytest.mark.airflow

INSURED = "320700-SDSJ-0002"
ROWS = 60_000
BAD = {1_000, 17_000, 19_999}
"""Row numbers (per batch) whose division code is unknown: the suite sends them to quarantine."""
BATCHES = [("KILL-20261126-001", date(2026, 11, 26), 0), ("KILL-20261127-001", date(2026, 11, 27), ROWS)]
"""(batch id, logical date, first person number): the batches hold different people."""


def person(n: int) -> str:
    body = f"320706{date(1960, 1, 1) + timedelta(days=n % 15_000):%Y%m%d}{n // 15_000:03d}"
    return body + ric_check_char(body)


def write_landing(landing: Path) -> None:
    for batch_id, day, first in BATCHES:
        folder = landing / batch_id
        folder.mkdir(parents=True)
        with (folder / "data.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["sfzhm", "xm", "xzlx", "cbdq", "cbrq", "tbsj"])
            writer.writerows(
                (person(first + i), f"李{i}", "110", "329999" if i in BAD else "320706", "2020-01-02",
                 f"{day.isoformat()} 02:00:00")
                for i in range(ROWS)
            )
        data = (folder / "data.csv").read_bytes()
        manifest = {
            "batch_id": batch_id, "resource_code": INSURED, "logical_date": day.isoformat(), "mode": "incremental",
            "declared_rows": ROWS, "sha256": hashlib.sha256(data).hexdigest(), "schema_version": "1.0",
            "sender": "江苏省大数据管理中心", "encoding": "utf-8",
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city").catalog_path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(governance store URL, target URL) on one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'governance.db'}", f"sqlite:///{tmp_path / 'backflow.db'}"
        return
    with scratch_database("citygov_kill_store") as store, scratch_database("citygov_kill_target") as target:
        yield store, target


def _child(store_url: str, target_url: str, landing: str) -> None:
    store, target = engine_for(store_url), sa.create_engine(target_url)
    ingest_landing(store, target, Path(landing), chunk_size=2_000)
    os._exit(0)


def _target_busy(target_url: str, *, copy_only: bool) -> bool:
    """Whether a load is writing to the target right now (``copy_only``: a COPY is running)."""
    url = sa.make_url(target_url)
    if url.get_backend_name() == "sqlite":
        return Path(f"{url.database}-journal").exists() or Path(f"{url.database}-wal").exists()
    busy = (
        "query LIKE 'COPY %'" if copy_only else
        "state IN ('active', 'idle in transaction') AND xact_start IS NOT NULL"
    )
    engine = sa.create_engine(target_url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(
                f"SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid() AND {busy}"
            ), {"d": url.database}).scalar())
    finally:
        engine.dispose()


def _run_and_kill(store_url: str, target_url: str, landing: Path, delay: float, *, wait_for_copy: bool) -> bool:
    """Start the ingest in a child; once it writes to the target (or runs COPY), SIGKILL it ``delay`` s later;
    True if it was killed while still running."""
    process = multiprocessing.get_context("fork").Process(target=_child, args=(store_url, target_url, str(landing)))
    process.start()
    started = time.monotonic()
    while process.is_alive() and time.monotonic() - started < 60:
        if _target_busy(target_url, copy_only=wait_for_copy):
            time.sleep(delay)
            alive = process.is_alive()
            os.kill(process.pid, signal.SIGKILL)
            process.join()
            return alive
        time.sleep(0.002)
    process.join()
    return False


def _target_state(target_url: str) -> dict[str, tuple[int, int | None]]:
    """Per batch: (rows carrying its _batch_id, loaded_rows of its marker or None)."""
    engine = sa.create_engine(target_url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            rows = dict(conn.execute(sa.text('SELECT "_batch_id", count(*) FROM "hl_sbcbxx" GROUP BY 1')).all()) if (
                "hl_sbcbxx" in tables) else {}
            markers = dict(conn.execute(sa.text("SELECT batch_id, loaded_rows FROM backflow_loads")).all()) if (
                "backflow_loads" in tables) else {}
    finally:
        engine.dispose()
    return {b: (int(rows.get(b, 0)), markers.get(b)) for b, _, _ in BATCHES}


def test_killed_loads_end_with_every_row_exactly_once(
    databases: tuple[str, str], catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_url, target_url = databases
    postgres = store_url.startswith("postgresql")
    upgrade(store_url)
    store = engine_for(store_url)
    import_catalog(store, catalog)
    landing = tmp_path / "landing"
    write_landing(landing)

    kills = 0
    for seed in (11, 23, 47):
        delay = random.Random(seed).uniform(0.0, 0.2)
        wait_for_copy = postgres and seed == 23
        kills += _run_and_kill(store_url, target_url, landing, delay, wait_for_copy=wait_for_copy)
        for batch_id, (rows, marker) in _target_state(target_url).items():
            # all or nothing: a batch's rows are there exactly when its marker is
            assert (rows, marker) in {(0, None), (ROWS - len(BAD), ROWS - len(BAD))}, (seed, batch_id, rows, marker)
    assert kills >= 2

    # The retry: the DAG itself, on connections that name this store, target and landing folder.
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(store_url))
    monkeypatch.setenv("AIRFLOW_CONN_KILL_TARGET", airflow_conn_json(target_url))
    monkeypatch.setenv("AIRFLOW_CONN_KILL_LANDING", json.dumps({"conn_type": "fs", "extra": {"path": str(landing)}}))
    run = load_dag("provincial_backflow").test(
        logical_date=datetime(2026, 11, 28, 3, tzinfo=CITY_TZ),
        run_conf={"landing_conn": "kill_landing", "target_conn": "kill_target", "only_this_date": False},
    )
    assert str(run.state) == "success"

    engine = sa.create_engine(target_url)
    with engine.connect() as conn:
        total, distinct = conn.execute(sa.text('SELECT count(*), count(DISTINCT "sfzhm") FROM "hl_sbcbxx"')).one()
        lineage = conn.execute(sa.text('SELECT "sfzhm", "_batch_id" FROM "hl_sbcbxx"')).all()
        quarantine = conn.execute(sa.text("SELECT batch_id, line, reason_code FROM backflow_quarantine")).all()
        markers = conn.execute(sa.text("SELECT batch_id, declared_rows, loaded_rows, quarantined_rows FROM backflow_loads")).all()
    engine.dispose()
    expected = {person(first + i): batch_id for batch_id, _, first in BATCHES for i in range(ROWS) if i not in BAD}
    assert total == distinct == len(expected)
    assert dict(lineage) == expected
    assert sorted(quarantine) == sorted(
        (batch_id, i + 2, "expect_column_values_to_be_valid_division_code") for batch_id, _, _ in BATCHES for i in BAD
    )
    assert sorted(markers) == [(b, ROWS, ROWS - len(BAD), len(BAD)) for b, _, _ in BATCHES]
    listed = {b["batch_id"]: b for b in list_batches(store)}
    for batch_id, _, _ in BATCHES:
        assert listed[batch_id]["status"] == "loaded"
        assert listed[batch_id]["reconciliation"] == {
            "declared": ROWS, "loaded": ROWS - len(BAD), "quarantined": len(BAD), "balanced": True
        }
    store.dispose()
