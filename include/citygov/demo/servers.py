"""Where the demo city's database departments live: SQLite files beside the city (the default), or one
database per department on a PostgreSQL or MariaDB/MySQL server (``govern demo create --engines``).

A mixed city shows that the census, the patrol and the quality inspection find the same planted defects
whatever engine a department runs on. The departments (the six city departments, then the provincial
backflow staging ``sdsj``, in :data:`~citygov.demo.model.DEPARTMENTS` order) are dealt round-robin onto
the engines in the order given: ``sqlite,postgresql,mysql`` puts 公安局 on SQLite, 市场监管局 on
PostgreSQL, 人社局 on MariaDB, 民政局 on SQLite again, and so on. The folder department stays a folder.

A server department gets its own database ``<prefix>_<key>`` (``citygov_demo_gaj``), dropped and created
again every time the city is generated: whatever a database of that name held is lost, so the prefix is
the city's claim on those names. Tables carry the same columns (the server's spelling of the SQLite type),
the same rows and therefore the same defects; no primary keys or indexes, as in the SQLite files (the
duplicate keys are a planted defect).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql import quoted_name

from citygov.demo.model import Dataset, Department
from citygov.sources import SOURCE_EXTRA_KEY, ConnectionInfo

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
MYSQL = "mysql"
ENGINES = (SQLITE, POSTGRESQL, MYSQL)
"""Engines a database department can be placed on."""
ENGINE_ALIASES = {"postgres": POSTGRESQL, "pg": POSTGRESQL, "mariadb": MYSQL}
"""Other spellings accepted on the command line."""
DEFAULT_SERVER_URLS: dict[str, str] = {
    POSTGRESQL: "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    MYSQL: "mysql+pymysql://root@127.0.0.1:3306/",
}
"""Administrative URLs of the local servers (a user allowed to create and drop databases)."""
DEFAULT_DATABASE_PREFIX = "citygov_demo"
CONN_TYPES = {POSTGRESQL: "postgres", MYSQL: "mysql"}
"""Airflow connection type of a department database on each server engine."""
CONNECT_TIMEOUT_S = 5

_PREFIX_RE = re.compile(r"[a-z][a-z0-9_]{0,40}")
_TYPE_RE = re.compile(r"(?P<name>[A-Z]+)(?:\((?P<args>[0-9, ]+)\))?")


def parse_engines(spec: str | Iterable[str]) -> tuple[str, ...]:
    """``"sqlite,postgresql,mysql"`` (or a sequence) → the engines, in order; aliases folded, repeats
    kept (``sqlite,sqlite,mysql`` puts two departments in three on SQLite)."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for raw in names:
        name = raw.strip().lower()
        name = ENGINE_ALIASES.get(name, name)
        if name not in ENGINES:
            raise ValueError(f"unknown engine {raw.strip()!r} for the demo departments; choose from {', '.join(ENGINES)}")
        out.append(name)
    if not out:
        raise ValueError("no engine given for the demo departments; e.g. sqlite,postgresql,mysql")
    return tuple(out)


def place_departments(departments: Sequence[Department], engines: Sequence[str]) -> dict[str, str]:
    """Department key → engine, dealt round-robin in the order of ``departments``."""
    return {d.key: engines[i % len(engines)] for i, d in enumerate(departments)}


def check_prefix(prefix: str) -> str:
    """The database-name prefix, refused unless it is a plain lower-case identifier (it is spliced into
    ``CREATE``/``DROP DATABASE``, and the names must mean the same on both servers)."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"database prefix {prefix!r} must be lower-case letters, digits and underscores, starting with a "
            "letter, at most 41 characters"
        )
    return prefix


@dataclass(frozen=True)
class DemoServer:
    """A PostgreSQL or MariaDB/MySQL server that holds demo department databases."""

    engine: str
    """:data:`POSTGRESQL` or :data:`MYSQL`."""
    admin_url: str
    """A URL whose user may create and drop databases (the database in it is only where to log in)."""

    @classmethod
    def of(cls, engine: str, urls: Mapping[str, str] | None = None) -> DemoServer:
        url = (urls or {}).get(engine) or DEFAULT_SERVER_URLS[engine]
        return cls(engine, url)

    def _url(self, database: str | None) -> URL:
        url = make_url(self.admin_url)
        if self.engine == MYSQL:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url.set(database=database) if database is not None else url

    def _engine(self, database: str | None = None, *, autocommit: bool = False) -> Engine:
        kwargs: dict[str, object] = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
        if autocommit:
            kwargs["isolation_level"] = "AUTOCOMMIT"
        return create_engine(self._url(database), **kwargs)  # type: ignore[arg-type]

    def problem(self) -> str | None:
        """None when the server answers, else why not (for an error a person reads)."""
        engine = self._engine()
        try:
            with engine.connect():
                return None
        except Exception as exc:  # any driver error: the server cannot be used
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            engine.dispose()

    def recreate(self, name: str) -> None:
        """Drop the database ``name`` if it exists and create it empty (UTF-8)."""
        self.drop([name])
        admin = self._engine(autocommit=True)
        try:
            with admin.connect() as conn:
                quoted = conn.dialect.identifier_preparer.quote_identifier(name)
                if self.engine == POSTGRESQL:
                    conn.execute(text(f"CREATE DATABASE {quoted} ENCODING 'UTF8' TEMPLATE template0"))
                else:
                    conn.execute(text(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
        finally:
            admin.dispose()

    def drop(self, names: Iterable[str]) -> None:
        """Drop these databases where they exist (PostgreSQL's sessions on them are ended first)."""
        admin = self._engine(autocommit=True)
        try:
            with admin.connect() as conn:
                for name in names:
                    quoted = conn.dialect.identifier_preparer.quote_identifier(name)
                    force = " WITH (FORCE)" if self.engine == POSTGRESQL else ""
                    conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}{force}"))
        finally:
            admin.dispose()

    def databases(self, prefix: str) -> list[str]:
        """The databases on this server whose names start with ``<prefix>_``."""
        admin = self._engine()
        try:
            with admin.connect() as conn:
                if self.engine == POSTGRESQL:
                    names = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
                else:
                    names = conn.execute(text("SHOW DATABASES")).scalars().all()
        finally:
            admin.dispose()
        return sorted(n for n in names if n.startswith(f"{prefix}_"))

    def write(self, name: str, datasets: Iterable[Dataset]) -> tuple[int, int]:
        """Create each dataset's table in database ``name`` and insert its rows; returns (tables, rows)."""
        engine = self._engine(name)
        tables = rows = 0
        try:
            for ds in datasets:
                metadata = sa.MetaData()
                columns = [sa.Column(quoted_name(c.name, True), _server_type(c.sql)) for c in ds.columns]
                table = sa.Table(quoted_name(ds.location, True), metadata, *columns)
                converters = [_converter(c.sql) for c in ds.columns]
                values = [
                    {c.name: convert(v) for c, convert, v in zip(ds.columns, converters, row, strict=True)}
                    for row in ds.matrix()
                ]
                with engine.begin() as conn:
                    metadata.create_all(conn)
                    if values:
                        conn.execute(table.insert(), values)
                tables += 1
                rows += len(values)
        finally:
            engine.dispose()
        return tables, rows

    def connection(self, dept: Department, database: str) -> ConnectionInfo:
        """The department's Airflow connection to its database on this server."""
        url = make_url(self.admin_url)
        return ConnectionInfo(
            conn_id=dept.conn_id,
            conn_type=CONN_TYPES[self.engine],
            host=url.host,
            schema=database,
            login=url.username,
            password=url.password if isinstance(url.password, str) else None,
            port=url.port,
            extra={SOURCE_EXTRA_KEY: dept.name},
        )

    def describe(self, database: str) -> str:
        """Where a database is, for a person (no password)."""
        url = make_url(self.admin_url)
        port = f":{url.port}" if url.port else ""
        return f"{self.engine}://{url.host or 'localhost'}{port}/{database}"


def database_name(prefix: str, dept: Department) -> str:
    return f"{prefix}_{dept.key}"


def drop_demo_databases(prefix: str, servers: Iterable[DemoServer]) -> list[str]:
    """Drop every ``<prefix>_*`` database on these servers (a demo city's, or a test's scratch city);
    returns what was dropped."""
    dropped = []
    for server in servers:
        names = server.databases(check_prefix(prefix))
        server.drop(names)
        dropped += [f"{server.engine}:{n}" for n in names]
    return dropped


def _server_type(sql: str) -> sa.types.TypeEngine:  # type: ignore[type-arg]
    """The server type of a column declared with a SQLite type name (``DATETIME`` is PostgreSQL's
    ``TIMESTAMP``, SQLAlchemy spells it per dialect)."""
    match = _TYPE_RE.fullmatch(sql.strip().upper())
    if match is None:
        raise ValueError(f"demo column type {sql!r} has no server equivalent")
    args = [int(a) for a in (match["args"] or "").replace(" ", "").split(",") if a]
    name = match["name"]
    if name == "TEXT":
        return sa.Text()
    if name == "VARCHAR" and len(args) == 1:
        return sa.String(args[0])
    if name == "INTEGER":
        return sa.Integer()
    if name == "DECIMAL" and len(args) == 2:
        return sa.Numeric(args[0], args[1])
    if name == "DATE":
        return sa.Date()
    if name == "DATETIME":
        return sa.DateTime()
    raise ValueError(f"demo column type {sql!r} has no server equivalent")


def _converter(sql: str) -> Callable[[object], object]:
    """How a generated value (ISO text for dates and times, float for decimals) becomes the Python value
    the server type takes; SQLite stores the generated value as it is."""
    name = sql.strip().upper().split("(")[0]

    def as_date(v: object) -> object:
        return date.fromisoformat(v) if isinstance(v, str) else v

    def as_datetime(v: object) -> object:
        return datetime.fromisoformat(v) if isinstance(v, str) else v

    def as_decimal(v: object) -> object:
        return Decimal(str(v)) if isinstance(v, float) else v

    def same(v: object) -> object:
        return v

    return {"DATE": as_date, "DATETIME": as_datetime, "DECIMAL": as_decimal}.get(name, same)
