"""The governance store: engine, migrations and sessions.

``upgrade(url)`` brings any SQLite or PostgreSQL database to the current schema with Alembic. Only
``govern store upgrade`` and the init jobs (``make init``, ``govern city init``, the cluster's
``citygov_deploy.init``) call it on a store that holds data; every other shell (DAG task, CLI, web API)
opens the store with :func:`ensure_store`, which refuses a store at an older schema
(:class:`StoreOutOfDate`) instead of migrating it in the middle of a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
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


class StoreOutOfDate(RuntimeError):
    """The store's schema is not the one this code expects: it is behind (``govern store upgrade`` brings
    it up) or ahead (migrated by a newer citygov)."""

    def __init__(self, url: str, current: set[str], heads: set[str]) -> None:
        self.url, self.current, self.heads = url, current, heads
        where = make_url(url).render_as_string(hide_password=True)
        at, expected = ", ".join(sorted(current)), ", ".join(sorted(heads))
        if current <= _known_revisions():
            message = (
                f"the governance store {where} is at schema revision {at}, older than this code's {expected}: "
                f"run `govern store upgrade` (or `make init`) to migrate it, then rerun"
            )
        else:
            message = (
                f"the governance store {where} is at schema revision {at}, which this code does not know "
                f"(it expects {expected}): it was migrated by a newer citygov; deploy that version here"
            )
        super().__init__(message)


def ensure_store(url: str | None = None) -> Engine:
    """An engine for a store at the latest schema.

    A new, empty database (no schema revision yet) gets the schema: it holds nothing to migrate. A store
    at another revision raises :class:`StoreOutOfDate` naming the command to run; migrating a store that
    holds data is left to ``govern store upgrade`` and the init jobs, so that a task or command never runs
    a migration in passing (several tasks at once, or in the middle of a run)."""
    url = governance_url(url)
    engine = engine_for(url)
    current, heads = current_revisions(engine), head_revisions()
    if current == heads:
        return engine
    if not current:
        upgrade(url)
        return engine
    engine.dispose()
    raise StoreOutOfDate(url, current, heads)


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
