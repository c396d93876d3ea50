"""A governance store holding the demo city's catalog and sources, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from citygov.catalog.importer import import_catalog
from citygov.census import register_sources
from citygov.sources import ConnectionInfo, connections_from_file
from citygov.store import engine_for, upgrade
from tests.pg import scratch_database


@contextmanager
def demo_store(kind: str, city: Path, folder: Path) -> Iterator[tuple[Engine, dict[str, ConnectionInfo]]]:
    """A migrated store on ``kind`` (``sqlite``, in ``folder``; or ``postgresql``, a scratch database) with
    the city's catalog imported and its department sources registered; yields it with the city's connections."""
    with scratch_database() if kind == "postgresql" else _sqlite_url(folder) as url:
        upgrade(url)
        engine = engine_for(url)
        conns = connections_from_file(city / "connections.json")
        import_catalog(engine, city / "catalog.csv")
        register_sources(engine, [(c.conn_id, c.department, "folder" if c.is_folder else "database") for c in conns.values() if c.department])
        try:
            yield engine, conns
        finally:
            engine.dispose()


@contextmanager
def _sqlite_url(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'governance.db'}"
