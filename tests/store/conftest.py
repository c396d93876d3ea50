"""Store fixtures: every test here runs on SQLite and on the local PostgreSQL.

The PostgreSQL variant creates its own database and drops it afterwards (:mod:`tests.pg`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.demo import create_demo_city
from citygov.store import engine_for, upgrade
from tests.pg import scratch_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated governance store URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'governance.db'}"
        upgrade(url)
        yield url
        return
    with scratch_database() as url:
        upgrade(url)
        yield url


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


@pytest.fixture
def governed(store: Engine, city: Path) -> Engine:
    """The store with the demo catalog imported."""
    import_catalog(store, city / "catalog.csv")
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A backflow target on each backend: SQLite (the general path) and PostgreSQL (where a plain UTF-8 CSV
    takes the fast path)."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'backflow.db'}")
        yield engine
        engine.dispose()
        return
    with scratch_database("citygov_backflow_target") as url:
        engine = sa.create_engine(url)
        yield engine
        engine.dispose()
