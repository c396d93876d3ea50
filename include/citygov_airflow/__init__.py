"""The thin layer between Airflow and the Airflow-free ``citygov`` core.

DAG files import from here, never from ``airflow.models``: this is where an Airflow ``Connection`` becomes
a SQLAlchemy URL the core understands (a task opens the store with ``with governance_engine() as engine``),
and where the defaults every citygov DAG shares are kept. Importing
this module does no I/O and touches no database, so DAG files stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citygov.settings import CITY_TZ, GOVERNANCE_CONN_ID, governance_url
from citygov.sources import ConnectionInfo, connection_from_airflow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from citygov.catalog.importer import ImportReport

OWNER = "citygov"
"""Owner shown on every citygov DAG (the governance team, not the default ``airflow``)."""

TIMEZONE = "Asia/Shanghai"
"""Timezone for DAG start dates and schedules: the city keeps Beijing time."""

def _asset(name: str):  # type: ignore[no-untyped-def]
    from airflow.sdk import Asset

    return Asset(name=f"citygov_{name}", uri=f"citygov://{name}")


# The pipeline's assets, defined once: producers emit them, consumers are scheduled on them.
CATALOG = _asset("catalog")
"""The governance store's catalog; updated when an import changes it (catalog_sync)."""
CENSUS = _asset("census")
"""The census snapshot and its findings for a logical date (public_data_census)."""
PATROL = _asset("patrol")
"""The patrol's findings for a logical date (catalog_patrol)."""
QUALITY = _asset("quality")
"""Quality results, scores and Data Docs for a logical date (quality_inspection)."""
BACKFLOW = _asset("backflow")
"""Provincial backflow batches verified, loaded or rejected (provincial_backflow)."""
DISPUTES = _asset("disputes")
"""The dispute queue, updated from the checks' findings (dispute_routing)."""

def _operators_notifier():  # type: ignore[no-untyped-def]
    from citygov_airflow.notify import FailureNotifier

    return FailureNotifier()


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    # A department database that is briefly unreachable usually is back within minutes.
    "retry_delay": timedelta(minutes=5),
    # A task that fails for good is told to the operators (citygov_airflow.notify; nothing without a connection).
    "on_failure_callback": _operators_notifier(),
}
"""``default_args`` shared by citygov DAGs; pass a copy (``dict(DEFAULT_ARGS)``) to change one key."""


def governance_url_from_airflow(conn_id: str = GOVERNANCE_CONN_ID) -> str:
    """The governance store's SQLAlchemy URL, read from the Airflow connection ``conn_id``.

    Call this inside a task: it asks Airflow (metadata DB, ``AIRFLOW_CONN_*`` environment variables or a
    secrets backend) for the connection. When no such connection exists it falls back to
    :func:`citygov.settings.governance_url` (``GOVERNANCE_DB_URL``, then the embedded SQLite store), the
    same resolution the ``govern`` command line uses, so a DAG and the CLI always agree on the store.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return governance_url()
    url = connection_from_airflow(conn).sqlalchemy_url()
    return url.render_as_string(hide_password=False)


@contextmanager
def governance_engine(conn_id: str = GOVERNANCE_CONN_ID) -> Iterator[Engine]:
    """The governance store for the length of a ``with`` block in a task, disposed of at its end.

    The store is the one :func:`governance_url_from_airflow` names. A new, empty store gets the schema; a
    store at an older schema fails the task at once with ``AirflowFailException`` (no retry: waiting will
    not migrate it) naming the command to run, ``govern store upgrade`` or ``make init``: tasks never run
    migrations.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from citygov.store import StoreOutOfDate, ensure_store

    try:
        engine = ensure_store(governance_url_from_airflow(conn_id))
    except StoreOutOfDate as exc:
        raise AirflowFailException(str(exc)) from None
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def database_engine(conn: ConnectionInfo) -> Iterator[Engine]:
    """An engine for a database connection (the city's backflow store, a department's database) for the
    length of a ``with`` block, disposed of at its end."""
    from sqlalchemy import create_engine

    engine = create_engine(conn.sqlalchemy_url())
    try:
        yield engine
    finally:
        engine.dispose()


def catalog_file_path(param_value: str | None, variable_key: str) -> Path:
    """The catalog file a run imports: the run's param, else the Airflow Variable ``variable_key``.

    Raises ``AirflowFailException`` (no retry: waiting will not make a file appear at the wrong path)
    when neither names a file or the file does not exist.
    """
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowFailException

    value = param_value or Variable.get(variable_key, default=None)
    if not value:
        raise AirflowFailException(
            f"no catalog file: trigger the run with param catalog_file, or set the Airflow Variable "
            f"{variable_key} to the path of the office's catalog export (make demo sets it for the demo city)"
        )
    path = Path(value).expanduser()
    if not path.is_file():
        raise AirflowFailException(
            f"catalog file {path} does not exist; check the param catalog_file or the Variable {variable_key}"
        )
    return path


def import_summary(report: ImportReport) -> dict[str, Any]:
    """The counts of a catalog import, small enough for XCom and an asset event's extra."""
    return {
        "import_id": report.import_id,
        "file": report.file,
        "encoding": report.encoding,
        "rows_total": report.rows_total,
        "accepted": report.accepted,
        "rejected": len({e.line for e in report.rejected}),
        "problems": len(report.rejected),
        "added": len(report.added),
        "changed": len(report.changed),
        "restored": len(report.restored),
        "withdrawn": len(report.withdrawn),
        "unchanged": report.unchanged,
    }


def source_resolver() -> Callable[[str], ConnectionInfo | None]:
    """A ``ConnectionResolver`` for the core (census, patrol): Airflow connections by id, None when undefined.

    Call it inside a task. Each connection is asked for once per resolver, however many entries use it.
    """
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    cache: dict[str, ConnectionInfo | None] = {}

    def resolve(conn_id: str) -> ConnectionInfo | None:
        if conn_id not in cache:
            try:
                cache[conn_id] = connection_from_airflow(Connection.get(conn_id))
            except AirflowNotFoundException:
                cache[conn_id] = None
        return cache[conn_id]

    return resolve


def city_date(logical_date: datetime | None = None) -> date:
    """The city's calendar date (Asia/Shanghai) a run is for.

    ``logical_date`` is the task's ``logical_date`` from the context; a manually triggered run in Airflow 3
    may have none, and then the run's ``run_after`` (when it was triggered) is used.
    """
    if logical_date is None:
        from airflow.sdk import get_current_context

        logical_date = get_current_context()["dag_run"].run_after
    return logical_date.astimezone(CITY_TZ).date()


def merge_summaries(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add up the summaries of mapped tasks (one per batch) into one.

    Numbers are summed, dicts merged key by key the same way, lists concatenated without repeats, and
    any other value (a date, a label) is kept when all batches agree, else the distinct values are listed.
    """
    total: dict[str, Any] = {}
    for summary in summaries:
        total = _merge(total, summary)
    return total


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = _merge(out[key], value) if key in out else value
        return out
    if isinstance(a, bool) or isinstance(b, bool):
        return a if a == b else [a, b]
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + [x for x in b if x not in a]
    if a == b:
        return a
    if isinstance(a, list):  # values that already disagreed in earlier batches
        return a if b in a else [*a, b]
    return [a, b]
