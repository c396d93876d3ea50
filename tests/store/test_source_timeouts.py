"""Source timeouts (issue 19): a statement on a PostgreSQL source is cancelled by the server after
``CITYGOV_SOURCE_STATEMENT_TIMEOUT_S``, on top of the connection's own options, and a resource that does
not finish reading is an unreadable resource for the run, not a task that never ends."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy import make_url

from citygov.inventory import inspect_source
from citygov.sources import ConnectionInfo
from citygov.sources.database import source_engine
from tests.pg import scratch_database

pytestmark = pytest.mark.postgres


def test_a_statement_past_the_timeout_is_cancelled_and_the_rest_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYGOV_SOURCE_STATEMENT_TIMEOUT_S", "1")
    with scratch_database("citygov_timeouts") as url:
        admin = sa.create_engine(url)
        with admin.begin() as db:
            db.execute(sa.text("CREATE TABLE quick (id int)"))
            db.execute(sa.text("INSERT INTO quick VALUES (1), (2)"))
            # A view that takes far longer than the timeout to answer: a runaway query on a department's side.
            db.execute(sa.text("CREATE VIEW slow AS SELECT id FROM quick, pg_sleep(30)"))
        admin.dispose()
        u = make_url(url)
        # The connection's own options (a search_path) are kept beside the timeout.
        conn = ConnectionInfo(conn_id="dept_x", conn_type="generic",
                              host=f"{u.render_as_string(hide_password=False)}?options=-csearch_path%3Dpublic")
        engine = source_engine(conn)
        with engine.connect() as db:
            assert db.execute(sa.text("SHOW statement_timeout")).scalar() == "1s"
            assert db.execute(sa.text("SHOW search_path")).scalar() == "public"
        engine.dispose()

        started = time.monotonic()
        inventory = inspect_source(conn, locations=["quick", "slow"])
        assert time.monotonic() - started < 10
        assert inventory.error is None
        found = {r.location: r for r in inventory.resources}
        assert (found["quick"].row_count, found["quick"].error) == (2, None)
        assert "statement timeout" in (found["slow"].error or ""), found["slow"]
