"""Store fixtures: every test here runs on SQLite and on the local PostgreSQL.

The PostgreSQL variant creates its own database and drops it afterwards; it is skipped (with the
reason) only when no server answers on 127.0.0.1:5432 and CITYGOV_REQUIRE_POSTGRES is unset. CI sets
it, so a missing server fails CI instead of silently skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from citygov.demo import create_demo_city
from citygov.store import engine_for, upgrade

PG_ADMIN_URL = os.environ.get("CITYGOV_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any driver error means "no server"
        return str(exc).splitlines()[0]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated governance store URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'governance.db'}"
        upgrade(url)
        yield url
        return
    problem = _pg_available()
    if problem:
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"citygov_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    engine = engine_for(store_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo city, generated once per module."""
    return create_demo_city(tmp_path_factory.mktemp("demo") / "city").root


@pytest.fixture
def city(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo city (tests may break its sources); connections point at the copy."""
    root = tmp_path / "city"
    shutil.copytree(demo_template, root)
    text = (root / "connections.json").read_text(encoding="utf-8").replace(str(demo_template), str(root))
    (root / "connections.json").write_text(text, encoding="utf-8")
    return root
