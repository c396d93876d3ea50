"""What the pages and the dispute API need from the Airflow process they run in: the governance store
(connection ``governance_db``), department and KPI sources (Airflow connections), the Data Docs folder."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

_ENGINE_LOCK = threading.Lock()


def governance_engine():  # type: ignore[no-untyped-def]
    """The governance store of this api-server process (routes run in threads). A new, empty store gets
    the schema on first use; one at an older schema raises :class:`citygov.store.StoreOutOfDate` until
    ``govern store upgrade`` has run."""
    with _ENGINE_LOCK:
        return _make_engine()


@cache
def _make_engine():  # type: ignore[no-untyped-def]
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    from citygov.settings import GOVERNANCE_CONN_ID, governance_url
    from citygov.sources import connection_from_airflow
    from citygov.store import ensure_store

    try:
        conn = Connection.get_connection_from_secrets(GOVERNANCE_CONN_ID)
        url = connection_from_airflow(conn).sqlalchemy_url().render_as_string(hide_password=False)
    except AirflowNotFoundException:
        url = governance_url()
    return ensure_store(url)


def airflow_connection(conn_id: str) -> Any:
    """An Airflow connection as a :class:`citygov.sources.ConnectionInfo`, None when it is not defined."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    from citygov.sources import connection_from_airflow

    try:
        return connection_from_airflow(Connection.get_connection_from_secrets(conn_id))
    except AirflowNotFoundException:
        return None


def data_docs_dir() -> Path:
    """The Data Docs site the quality inspection builds (``data/data_docs`` or ``$CITYGOV_DATA_DIR``)."""
    from citygov.quality.docs import default_docs_dir

    return default_docs_dir()


class LazyApp:
    """An ASGI app that builds its app with ``build()`` on the first request: every Airflow process (task
    runners too) imports plugins, and importing one must stay cheap."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)
