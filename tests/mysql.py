"""A throwaway database on the local MariaDB / MySQL, for tests that run on it too.

A test that needs MySQL is skipped (with the reason) when no server answers, unless
CITYGOV_REQUIRE_MYSQL is set: then a missing server fails the test instead of silently skipping
(the pattern of :mod:`tests.pg`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from citygov.sources.connection import ConnectionInfo

MYSQL_ADMIN_URL = os.environ.get("CITYGOV_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4")


def mysql_problem() -> str | None:
    """None when the local MariaDB / MySQL answers, else why not."""
    try:
        engine = create_engine(MYSQL_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any driver error (or no driver) means "no server"
        return str(exc).splitlines()[0]


@contextmanager
def scratch_mysql_database(prefix: str = "citygov_test") -> Iterator[str]:
    """Create a utf8mb4 database, yield its URL, drop it."""
    problem = mysql_problem()
    if problem:
        if os.environ.get("CITYGOV_REQUIRE_MYSQL"):
            pytest.fail(f"MySQL/MariaDB is required but not reachable: {problem}")
        pytest.skip(f"MySQL/MariaDB not reachable: {problem}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(MYSQL_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
    try:
        yield make_url(MYSQL_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def mysql_connection(url: str, conn_id: str = "dept_mysql") -> ConnectionInfo:
    """A department connection of type ``mariadb`` to the database at ``url`` (what the pipeline opens)."""
    parts = make_url(url)
    return ConnectionInfo(conn_id=conn_id, conn_type="mariadb", host=parts.host, port=parts.port,
                          schema=parts.database, login=parts.username, password=parts.password)
