"""A throwaway database on the local PostgreSQL, for tests that run on both backends.

A test that needs PostgreSQL is skipped (with the reason) when no server answers, unless
CITYGOV_REQUIRE_POSTGRES is set: CI sets it, so a missing server fails CI instead of silently skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("CITYGOV_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_problem() -> str | None:
    """None when the local PostgreSQL answers, else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any driver error means "no server"
        return str(exc).splitlines()[0]


@contextmanager
def scratch_database(prefix: str = "citygov_test", *, template: str | None = None) -> Iterator[str]:
    """Create a database (optionally copied from ``template``, a database name), yield its URL, drop it."""
    problem = pg_problem()
    if problem:
        if os.environ.get("CITYGOV_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
