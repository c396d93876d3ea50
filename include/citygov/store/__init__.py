"""The governance store: engine, migrations and sessions.

``upgrade(url)`` brings any SQLite or PostgreSQL database to the current schema with Alembic; every
shell (DAG task, CLI, web API) calls it or assumes it has been called by ``make init``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from citygov.settings import governance_url

MIGRATIONS = Path(__file__).with_name("migrations")


def engine_for(url: str | None = None) -> Engine:
    """An engine for the governance store at ``url`` (default: :func:`citygov.settings.governance_url`)."""
    url = governance_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic config for the store at ``url`` using the migrations shipped in this package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Create or migrate the governance store to ``revision`` (idempotent)."""
    from alembic import command

    url = governance_url(url)
    engine_for(url).dispose()  # makes the SQLite parent folder
    command.upgrade(alembic_config(url), revision)


def current_revisions(engine: Engine) -> set[str]:
    """Every Alembic head the store is at (empty for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    """The newest revisions the shipped migrations know (one per branch)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def ensure_store(url: str | None = None) -> Engine:
    """An engine for a store at the latest schema, migrating it first when it is behind."""
    url = governance_url(url)
    engine = engine_for(url)
    if current_revisions(engine) != head_revisions():
        upgrade(url)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
