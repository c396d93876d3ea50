"""A mixed city in one night: the demo's departments on SQLite, PostgreSQL and MariaDB at once
(``govern demo create --engines``), and the census, the patrol and the quality inspection over all of
them in one run find every planted defect with the same exact counts as on the all-SQLite city, with
each quality engine (auto, fused, gx, stream).

The departments are dealt round-robin; the three rotations of the engines put every department on every
engine once. Skipped (with the reason) when PostgreSQL or MariaDB does not answer, unless
CITYGOV_REQUIRE_POSTGRES / CITYGOV_REQUIRE_MYSQL is set. The scratch databases are dropped afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, select

from citygov.catalog.importer import import_catalog
from citygov.census import register_sources, run_census
from citygov.demo import DEFAULT_AS_OF, DEPARTMENTS, PROVINCE, DemoCity, create_demo_city
from citygov.demo.servers import MYSQL, POSTGRESQL, DemoServer, drop_demo_databases
from citygov.findings import load_findings
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality.runner import inspect_batch
from citygov.sources import ConnectionInfo, connections_from_file
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import QualityRun
from tests.demo_expectations import expected_findings, found_keys
from tests.mysql import MYSQL_ADMIN_URL, mysql_problem
from tests.pg import PG_ADMIN_URL, pg_problem
from tests.store.test_quality_demo import SUITES, _planted

ROTATIONS = ("sqlite,postgresql,mysql", "postgresql,mysql,sqlite", "mysql,sqlite,postgresql")
SERVER_URLS = {POSTGRESQL: PG_ADMIN_URL, MYSQL: MYSQL_ADMIN_URL}
DIALECTS = {"sqlite": "sqlite", POSTGRESQL: "postgresql", MYSQL: "mysql"}
"""SQLAlchemy dialect name of each placement (MariaDB answers as the mysql dialect)."""


def _servers_or_skip() -> None:
    for problem, name, env in (
        (pg_problem(), "PostgreSQL", "CITYGOV_REQUIRE_POSTGRES"),
        (mysql_problem(), "MySQL/MariaDB", "CITYGOV_REQUIRE_MYSQL"),
    ):
        if problem:
            if os.environ.get(env):
                pytest.fail(f"{name} is required but not reachable: {problem}")
            pytest.skip(f"{name} not reachable: {problem}")


@pytest.fixture(params=ROTATIONS, ids=lambda r: r.replace(",", "-"))
def city(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoCity]:
    """A demo city with its departments dealt onto the three engines, its server databases dropped after."""
    _servers_or_skip()
    prefix = f"citygov_test_mixed_{uuid.uuid4().hex[:8]}"
    servers = [DemoServer.of(e, SERVER_URLS) for e in (POSTGRESQL, MYSQL)]
    try:
        yield create_demo_city(
            tmp_path / "city", engines=request.param, server_urls=SERVER_URLS, database_prefix=prefix
        )
    finally:
        drop_demo_databases(prefix, servers)
        assert all(not s.databases(prefix) for s in servers)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    yield engine
    engine.dispose()


def _quality(store: Engine, conns: dict[str, ConnectionInfo], engine: str) -> dict[tuple[str, str, str], int]:
    """One quality inspection of every entry with ``engine``; the failing (entry, rule, column) → count."""
    for batch in plan_batches(store, 11):
        report = inspect_batch(store, batch, conns.get, DEFAULT_AS_OF, suites=SUITES, engine=engine)
        for dataset in report.datasets:
            assert dataset.status in {"passed", "failed", "unreachable"}, (engine, dataset.entry_code, dataset.error)
    findings = load_findings(store, origin="quality", logical_date=DEFAULT_AS_OF)
    return {(f["entry_code"], f["rule_id"], f["column"]): f["evidence"]["unexpected_count"] for f in findings}


def test_mixed_city_finds_every_planted_defect_on_every_engine(city: DemoCity, store: Engine) -> None:
    conns = connections_from_file(city.connections_path)
    # The departments really are on the three engines, with the same tables as the SQLite city.
    assert set(city.placement.values()) == {"sqlite", POSTGRESQL, MYSQL}
    for dept in (*DEPARTMENTS, PROVINCE):
        conn = conns[dept.conn_id]
        assert conn.conn_type == {"sqlite": "sqlite", POSTGRESQL: "postgres", MYSQL: "mysql"}[city.placement[dept.key]]
        source = create_engine(conn.sqlalchemy_url())
        try:
            with source.connect() as db:
                assert db.dialect.name == DIALECTS[city.placement[dept.key]]
                assert inspect(db).get_table_names(), dept.key
        finally:
            source.dispose()

    import_catalog(store, city.catalog_path)
    register_sources(
        store, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department]
    )
    census = run_census(store, conns.get, DEFAULT_AS_OF)
    assert found_keys(load_findings(store, origin="census")) == expected_findings(city.defects_path, "census")
    kpi = json.loads(city.defects_path.read_text(encoding="utf-8"))["kpis"]["catalog_coverage"]
    assert (census.city.found, census.city.catalogued) == (kpi["denominator"], kpi["numerator"])
    for batch in plan_batches(store, 7):
        patrol_batch(store, batch, conns.get, DEFAULT_AS_OF)
    assert found_keys(load_findings(store, origin="patrol")) == expected_findings(city.defects_path, "patrol")

    planted = _planted(city.root)
    for engine in ("auto", "fused", "gx", "stream"):
        assert _quality(store, conns, engine) == planted, engine
        # Every database engine was inspected, each with the engine asked for (auto picks per table).
        with session_scope(store) as session:
            runs = session.execute(select(QualityRun.conn_id, QualityRun.engine).where(QualityRun.status != "unreachable"))
            used = {(conns[conn_id].conn_type, used_engine) for conn_id, used_engine in runs}
        database_types = {t for t, _ in used} - {"fs"}
        assert database_types == {"sqlite", "postgres", "mysql"}, engine
        if engine != "auto":
            assert {e for t, e in used if t != "fs"} == {engine}, engine


def test_the_three_rotations_seat_every_department_on_every_engine() -> None:
    """So each planted defect kind (stale by the update-time column, a changed type, an empty table, every
    quality rule…) is found on MariaDB, PostgreSQL and SQLite by the test above."""
    from citygov.demo.servers import parse_engines, place_departments

    seats: dict[str, set[str]] = {}
    for rotation in ROTATIONS:
        for key, engine in place_departments((*DEPARTMENTS, PROVINCE), parse_engines(rotation)).items():
            seats.setdefault(key, set()).add(engine)
    assert seats and all(engines == {"sqlite", POSTGRESQL, MYSQL} for engines in seats.values()), seats
