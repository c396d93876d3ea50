"""Connection records as the core sees them: the parts of an Airflow connection, no Airflow objects.

A DAG task turns an Airflow ``Connection`` into a :class:`ConnectionInfo`; the CLI and the tests build
them directly. Which kind of source a connection is (and how it is read) is
:func:`citygov.sources.open_source`'s business; this module only translates the record: a SQLAlchemy URL
for database types, the folder (and a file safely inside it) for folder types.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

SOURCE_EXTRA_KEY = "citygov_department"
"""Key in a connection's extra that registers it as a department source, valued with the department name."""

DATABASE_DRIVERS = {
    "sqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    # PostgreSQL-family servers (人大金仓, openGauss, GaussDB) speak PostgreSQL's protocol: citygov.sources.pgfamily
    "kingbase": "postgresql+psycopg",
    "opengauss": "postgresql+psycopg",
    "gaussdb": "postgresql+psycopg",
    # Oracle (python-oracledb, thin mode: no client library) and 达梦 DM: the oracle and dm extras; their SQL is
    # compiled and unit-tested, never run against a live server here (README, "Run it on your own city")
    "oracle": "oracle+oracledb",
    "dm": "dm+dmPython",
}
"""Airflow connection type → SQLAlchemy driver of a database source (MySQL and MariaDB through PyMySQL,
the ``mysql`` extra; Kingbase, openGauss and GaussDB through psycopg, as PostgreSQL)."""
DRIVER_QUERY = {"mysql+pymysql": {"charset": "utf8mb4"}}
"""URL options a driver always gets: MySQL's ``utf8`` is a three-byte subset, and a connection in
another character set would hand over GBK or Latin-1 text undecoded or mangled; with ``utf8mb4`` the
server converts every column (a GBK table included) to Unicode, as the rules read it."""
URL_TYPES = frozenset({"generic", "sqlalchemy"})
"""Connection types whose host holds a whole SQLAlchemy URL (``postgresql+psycopg://…``)."""
FOLDER_TYPES = frozenset({"fs", "file", "folder"})
"""Connection types of a folder of files (Airflow's ``fs`` with ``{"path": ...}`` in extra)."""


@dataclass(frozen=True)
class ConnectionInfo:
    """The parts of an Airflow connection the core needs."""

    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def department(self) -> str | None:
        """The department this source belongs to, when it is registered as a department source."""
        value = self.extra.get(SOURCE_EXTRA_KEY)
        return str(value) if value else None

    @property
    def is_folder(self) -> bool:
        """Whether this is a folder of files rather than a database."""
        return self.conn_type in FOLDER_TYPES

    def folder(self) -> Path:
        """The folder of a file source."""
        if not self.is_folder:
            raise ValueError(f"connection {self.conn_id!r} is a {self.conn_type} source, not a folder")
        path = self.extra.get("path") or self.host
        if not path:
            raise ValueError(f"folder connection {self.conn_id!r} has no path in its extra")
        return Path(str(path))

    def file(self, location: str) -> Path:
        """The file ``location`` names inside this folder source; a location that leads outside the folder
        (``../x.csv``, an absolute path, a link pointing out) is refused with a ValueError."""
        root = self.folder().resolve()
        path = (root / location).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"{location!r} is not a file inside the folder of connection {self.conn_id!r} ({root})")
        return path

    def sqlalchemy_url(self) -> URL:
        """The SQLAlchemy URL of a database source."""
        if self.is_folder:
            raise ValueError(f"connection {self.conn_id!r} is a folder, not a database")
        if self.conn_type in URL_TYPES and self.host and "://" in self.host:
            return make_url(self.host)
        driver = DATABASE_DRIVERS.get(self.conn_type)
        if driver is None:
            raise ValueError(
                f"connection {self.conn_id!r} has type {self.conn_type!r}; supported: "
                f"{', '.join(sorted(DATABASE_DRIVERS))}, fs (folder)"
            )
        if driver == "sqlite":
            # Airflow keeps the database file path in host (SqliteHook does the same).
            return URL.create("sqlite", database=self.host or self.schema or ":memory:")
        return URL.create(
            driver,
            username=self.login or None,
            password=self.password or None,
            host=self.host or None,
            port=self.port or None,
            database=self.schema or None,
            query=DRIVER_QUERY.get(driver, {}),
        )

    def to_airflow_json(self) -> dict[str, Any]:
        """This connection in the format ``airflow connections import`` reads."""
        out: dict[str, Any] = {"conn_type": self.conn_type}
        for key in ("host", "schema", "login", "password", "port"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.extra:
            out["extra"] = self.extra
        return out


def connection_from_airflow(conn: Any) -> ConnectionInfo:
    """Copy an Airflow ``Connection`` (any object with its attributes) into a :class:`ConnectionInfo`."""
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    return ConnectionInfo(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        extra=dict(extra or {}),
    )


def connections_from_data(data: dict[str, Any]) -> dict[str, ConnectionInfo]:
    """Connections from the ``airflow connections import`` JSON structure (conn_id → fields)."""
    out: dict[str, ConnectionInfo] = {}
    for conn_id, fields in data.items():
        extra = fields.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        out[conn_id] = ConnectionInfo(
            conn_id=conn_id,
            conn_type=fields.get("conn_type", "generic"),
            host=fields.get("host"),
            schema=fields.get("schema"),
            login=fields.get("login"),
            password=fields.get("password"),
            port=fields.get("port"),
            extra=extra,
        )
    return out


def connections_from_file(path: Path) -> dict[str, ConnectionInfo]:
    """Read a connections file in the ``airflow connections import`` JSON format."""
    return connections_from_data(json.loads(Path(path).read_text(encoding="utf-8")))


def connection_from_env(conn_id: str) -> ConnectionInfo | None:
    """A connection from ``AIRFLOW_CONN_<ID>`` in Airflow's JSON form (how the CLI and tests set them)."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw or not raw.strip().startswith("{"):
        return None
    return connections_from_data({conn_id: json.loads(raw)})[conn_id]
