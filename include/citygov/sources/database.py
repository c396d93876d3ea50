"""Database sources through SQLAlchemy: SQLite files (opened read-only), PostgreSQL (and Kingbase, openGauss,
GaussDB: :mod:`citygov.sources.pgfamily`), MySQL and MariaDB, Oracle and 达梦 DM (never run against a live server
here: README).

Every table and view is a resource. Counts and the latest update time come from one aggregate query, so
describing a table never reads it into memory; rows are streamed from a server-side cursor (PyMySQL's
unbuffered ``SSCursor`` on MySQL). A MySQL table without an update-time column reports the server's own
last change (``information_schema.TABLES.UPDATE_TIME``); its row estimate (``TABLE_ROWS``, off by up to
half on InnoDB) is never used: the census and the patrol ask exact counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text, types
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.sql import column as sql_column
from sqlalchemy.sql import quoted_name
from sqlalchemy.sql import table as sql_table

from citygov.catalog.schema import ColumnType
from citygov.sources.base import (
    BLOCK_ROWS,
    CHUNK_ROWS,
    MissingColumns,
    ObservedColumn,
    Resource,
    Rows,
    describe_error,
)
from citygov.sources.blocks import TextBlock, pack_rows
from citygov.sources.connection import DATABASE_DRIVERS, URL_TYPES, ConnectionInfo
from citygov.sources.pgfamily import tolerate_server_versions
from citygov.sources.timeouts import connect_timeout_s, statement_timeout_s
from citygov.sources.values import as_datetime

tolerate_server_versions()  # openGauss, GaussDB, Kingbase: version() is not PostgreSQL's


def ident(name: str) -> quoted_name:
    """A name from a catalog or a source, always quoted as an identifier."""
    return quoted_name(name, quote=True)


def stored_name(dialect: Any, name: str) -> str:
    """A reflected name as the database stores it: Oracle and DM keep case-insensitive names in upper case,
    and SQLAlchemy reflects them in lower case (``RKXX`` as ``rkxx``), which quoted would name another
    table; elsewhere the name itself."""
    return dialect.denormalize_name(name) if getattr(dialect, "requires_name_normalize", False) else name


ORACLE_UPDATE_TIME_SQL = (
    "SELECT MAX(TIMESTAMP) FROM ALL_TAB_MODIFICATIONS"
    " WHERE TABLE_OWNER = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND TABLE_NAME = :name"
)
"""When Oracle last recorded DML on a table (``ALL_TAB_MODIFICATIONS``, kept by table monitoring since the
last statistics gathering and flushed every few minutes): the census's last update of a table without an
update-time column, as ``information_schema.TABLES.UPDATE_TIME`` is on MySQL. Not run against a live server
here."""


def type_letter(sql_type: Any) -> ColumnType:
    """Map a reflected SQLAlchemy type onto a catalog type letter."""
    if isinstance(sql_type, types.DateTime):
        return ColumnType.DATETIME
    if isinstance(sql_type, types.Date):
        return ColumnType.DATE
    if isinstance(sql_type, (types.Integer, types.Numeric, types.Float, mysql_types.YEAR)):
        return ColumnType.NUMBER  # MySQL's YEAR (年度 2026) is a number, not text
    if isinstance(sql_type, (types.LargeBinary, types._Binary)):
        return ColumnType.BINARY
    return ColumnType.STRING


def source_engine(conn: ConnectionInfo) -> Engine:
    """An engine for a database source; SQLite files are opened read-only and never created.

    Connecting gives up after :func:`~citygov.sources.timeouts.connect_timeout_s` and a statement after
    :func:`~citygov.sources.timeouts.statement_timeout_s` where the driver can enforce it (PostgreSQL's
    ``statement_timeout``, PyMySQL's read timeout), so a source that does not answer fails its own entries
    within bounded time instead of holding the task.
    """
    url = conn.sqlalchemy_url()
    connect_s, statement_s = connect_timeout_s(), statement_timeout_s()
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        if path and path != ":memory:" and not Path(path).is_file():
            raise FileNotFoundError(f"database file {path} does not exist")
        # A local file: the timeout is how long to wait for another process's write lock.
        return create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": connect_s}
        )
    connect_args: dict[str, Any] = {"connect_timeout": connect_s}
    if backend == "oracle":  # python-oracledb names it so (and has no statement timeout to set here)
        connect_args = {"tcp_connect_timeout": float(connect_s)}
    elif backend == "dm":  # dmPython's connect takes no timeout argument known to work here
        connect_args = {}
    if backend == "postgresql" and url.get_driver_name() in ("psycopg", "psycopg2"):
        # UTF-8 whatever the role or database sets (GBK, GB18030 on many Kingbase and openGauss servers):
        # the rules' SQL holds characters GBK lacks ('・'), and the rows arrive as Unicode either way. In the
        # URL, so that GX's own engine (built from it) has it too.
        url = url.update_query_dict({"client_encoding": "UTF8"}) if "client_encoding" not in url.query else url
        # Added to the connection's own options (a search_path, say), which connect_args would replace.
        own = url.query.get("options")
        own_text = " ".join(own) if isinstance(own, tuple) else (own or "")
        connect_args["options"] = f"{own_text} -c statement_timeout={statement_s * 1000}".strip()
    elif backend in ("mysql", "mariadb") and url.get_driver_name() == "pymysql":
        # PyMySQL reads the server's greeting under its read timeout, not its connect timeout: a server that
        # accepts the connection and never greets would hold the task for the statement timeout. So the
        # handshake reads under the connect timeout, and each connection, once made, gets the statement's.
        connect_args["read_timeout"] = connect_s
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        event.listen(engine, "connect", _pymysql_read_timeout(statement_s))
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _pymysql_read_timeout(seconds: int) -> Any:
    """A ``connect`` listener giving a made PyMySQL connection ``seconds`` to read each answer (PyMySQL
    applies its ``_read_timeout`` from the next read on; it has no public setter)."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if not hasattr(dbapi_connection, "_read_timeout"):
            raise RuntimeError("this PyMySQL has no _read_timeout: the statement timeout cannot be set")
        dbapi_connection._read_timeout = seconds

    return on_connect


class DatabaseSource:
    """A database reached through SQLAlchemy; one engine and, while describing, one connection."""

    kind: ClassVar[str] = "database"
    conn_types: ClassVar[frozenset[str]] = frozenset(DATABASE_DRIVERS) | URL_TYPES
    numbered_rows: ClassVar[bool] = False

    def __init__(self, conn: ConnectionInfo) -> None:
        self.conn = conn
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        self._inspector: Inspector | None = None

    def __enter__(self) -> DatabaseSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._connection = self._inspector = None

    def sql_engine(self) -> Engine:
        if self._engine is None:
            self._engine = source_engine(self.conn)
        return self._engine

    def _open(self) -> tuple[Connection, Inspector]:
        if self._connection is None or self._inspector is None:
            self._connection = self.sql_engine().connect()
            self._inspector = inspect(self._connection)
        return self._connection, self._inspector

    def unreachable(self) -> str | None:
        try:
            with self.sql_engine().connect():
                return None
        except Exception as exc:
            return f"cannot connect: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"

    def resources(self, locations: Iterable[str] | None = None) -> list[tuple[str, str]]:
        connection, inspector = self._open()
        dialect = connection.dialect
        found = [(stored_name(dialect, name), "table") for name in inspector.get_table_names()]
        found += [(stored_name(dialect, name), "view") for name in inspector.get_view_names()]
        wanted = set(locations) if locations is not None else None
        return [(name, kind) for name, kind in sorted(found) if wanted is None or name in wanted]

    def describe(
        self, location: str, kind: str = "table", *, update_column: str | None = None, count_rows: bool = True,
        sample: int = 0,
    ) -> Resource:
        """Reflected columns, then the row count and the latest ``update_column`` value in one scan."""
        resource = Resource(conn_id=self.conn.conn_id, location=location, kind=kind)
        connection, inspector = self._open()
        try:
            resource.columns = [
                ObservedColumn(stored_name(connection.dialect, c["name"]), str(c["type"]), type_letter(c["type"]))
                for c in inspector.get_columns(location)
            ]
            target = sql_table(ident(location), *[sql_column(ident(c.name)) for c in resource.columns])
            aggregates = [func.count()] if count_rows else []
            if update_column and resource.column(update_column):
                aggregates.append(func.max(target.c[update_column]))
            if aggregates:
                values = connection.execute(select(*aggregates).select_from(target)).one()
                if count_rows:
                    resource.row_count = values[0]
                if len(values) > int(count_rows):
                    resource.last_updated = as_datetime(values[-1])
            if not update_column and connection.dialect.name in ("mysql", "mariadb"):
                resource.last_updated = mysql_update_time(connection, location)
            elif not update_column and connection.dialect.name == "oracle":
                resource.last_updated = oracle_update_time(connection, location)
            if sample and resource.columns:
                result = connection.execute(select(*target.c).limit(sample))
                names = [c.name for c in resource.columns]
                resource.samples = {n: [] for n in names}
                for row in result:
                    for n, v in zip(names, row, strict=True):
                        if v is not None and str(v).strip():
                            resource.samples[n].append(str(v))
        except Exception as exc:  # e.g. the table was dropped between listing and reading
            connection.rollback()
            resource.error = describe_error(exc)
        return resource

    def read(
        self, location: str, *, columns: list[str] | None = None, chunk_rows: int = CHUNK_ROWS
    ) -> tuple[list[str], Iterator[Rows]]:
        engine = self.sql_engine()
        names = list(columns) if columns is not None else [
            stored_name(engine.dialect, c["name"]) for c in inspect(engine).get_columns(location)
        ]
        query = select(*[sql_column(ident(n)) for n in names]).select_from(sql_table(ident(location)))

        def chunks() -> Iterator[Rows]:
            with engine.connect() as db:
                result = db.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
                for part in result.partitions(chunk_rows):
                    yield [list(row) for row in part]

        return names, chunks()

    def read_blocks(
        self, location: str, *, columns: list[str], block_rows: int = BLOCK_ROWS
    ) -> tuple[list[str], Iterator[TextBlock]]:
        """PostgreSQL: binary ``COPY`` of the columns as text (:mod:`citygov.sources.pgcopy`); other
        databases: the rows of :meth:`read` packed into blocks (the driver's values kept)."""
        engine = self.sql_engine()
        return list(columns), table_blocks(engine, location, list(columns), block_rows)

    def local_file(self, location: str) -> Path | None:
        return None


def mysql_update_time(connection: Connection, table: str) -> datetime | None:
    """When MySQL last changed ``table`` (``information_schema.TABLES.UPDATE_TIME``), None when it does
    not know: views, and InnoDB tables not written since the server started (it keeps the time in
    memory). Read as a Unix time, so the server's time zone cannot shift it."""
    seconds = connection.execute(
        text("SELECT UNIX_TIMESTAMP(UPDATE_TIME) FROM information_schema.TABLES"
             " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :name"),
        {"name": table},
    ).scalar()
    return None if seconds is None else datetime.fromtimestamp(float(seconds), UTC)


def oracle_update_time(connection: Connection, table: str) -> datetime | None:
    """:data:`ORACLE_UPDATE_TIME_SQL` for ``table``; None when Oracle has no record (or the view cannot be
    read: the census then reports no update time rather than an unreadable table)."""
    try:
        with connection.begin_nested():
            value = connection.execute(text(ORACLE_UPDATE_TIME_SQL), {"name": table}).scalar()
    except Exception:  # no privilege on the view, monitoring off: no update time, not an unreadable table
        return None
    return as_datetime(value)


def table_blocks(engine: Engine, table: str, columns: list[str], block_rows: int = BLOCK_ROWS) -> Iterator[TextBlock]:
    """``columns`` of ``table`` as text blocks, with the fastest reader the database has. A column the
    table lacks raises :class:`MissingColumns` before anything is read."""
    reflected = {stored_name(engine.dialect, c["name"]): c["type"] for c in inspect(engine).get_columns(table)}
    missing = [c for c in columns if c not in reflected]
    if missing:
        raise MissingColumns(f"column {', '.join(missing)} is not in table {table}")
    if engine.dialect.name == "postgresql":
        from citygov.sources.pgcopy import copy_blocks

        return copy_blocks(engine, table, columns, [reflected[c] for c in columns], block_rows)
    query = select(*[sql_column(ident(n)) for n in columns]).select_from(sql_table(ident(table)))

    def blocks() -> Iterator[TextBlock]:
        with engine.connect() as db:
            result = db.execution_options(stream_results=True, yield_per=block_rows).execute(query)
            for part in result.partitions(block_rows):
                yield pack_rows(columns, part)

    return blocks()
