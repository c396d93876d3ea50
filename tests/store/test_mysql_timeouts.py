"""A MySQL/MariaDB department source that does not answer is unreachable within the connect timeout
(issue 19, item 4), while a statement on one that does may run for the statement timeout.

PyMySQL reads the server's greeting under its *read* timeout, not its connect timeout: with the read
timeout set to the statement timeout (minutes), a server that accepts the connection and never greets
(a stuck proxy, a frozen server) would hold the task for the statement timeout. The silent server here
is a real TCP listener on loopback that never sends a byte.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from citygov.inventory import inspect_source
from citygov.sources import ConnectionInfo
from citygov.sources.database import source_engine
from tests.dags.test_source_isolation import silent_server  # noqa: F401  (a fixture)
from tests.mysql import mysql_connection, scratch_mysql_database

CONNECT_S = 2


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYGOV_SOURCE_TIMEOUT_S", str(CONNECT_S))
    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "120")


@pytest.mark.parametrize("conn_type", ["mysql", "mariadb"])
def test_a_silent_mysql_server_is_unreachable_within_the_connect_timeout(
    conn_type: str, silent_server: int, timeouts: None  # noqa: F811
) -> None:
    conn = ConnectionInfo("dept_hung", conn_type, host="127.0.0.1", port=silent_server, schema="hung", login="u")
    started = time.monotonic()
    inventory = inspect_source(conn, locations=["t"])
    took = time.monotonic() - started
    assert inventory.error is not None and "timed out" in inventory.error, inventory.error
    assert took < CONNECT_S + 3, took  # not the 120 s statement timeout


@pytest.fixture(scope="module")
def mysql_url() -> Iterator[str]:
    with scratch_mysql_database("c_timeouts") as url:
        yield url


def test_a_statement_runs_under_the_statement_timeout_not_the_connect_timeout(
    mysql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGOV_SOURCE_TIMEOUT_S", "1")
    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "10")
    engine = source_engine(mysql_connection(mysql_url))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT SLEEP(2)").scalar() == 0  # longer than the connect timeout
    finally:
        engine.dispose()
    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "1")
    engine = source_engine(mysql_connection(mysql_url))
    started = time.monotonic()
    try:
        with pytest.raises(sa.exc.OperationalError, match="timed out"), engine.connect() as conn:
            conn.exec_driver_sql("SELECT SLEEP(5)").scalar()
    finally:
        engine.dispose()
    assert time.monotonic() - started < 4
