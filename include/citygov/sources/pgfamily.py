"""Servers of the PostgreSQL family (人大金仓 Kingbase, openGauss, 华为 GaussDB) read through the PostgreSQL path.

They speak PostgreSQL's protocol and SQL, and psycopg reaches them as it reaches PostgreSQL; what differs
and is handled here or where it matters:

- ``version()`` does not always say ``PostgreSQL x.y`` (openGauss: ``(openGauss 5.0.0 build …) compiled
  at …``, GaussDB and Kingbase their own words), and SQLAlchemy's PostgreSQL dialect refuses to connect
  when it cannot read a version there (``Could not determine version from string …``).
  :func:`tolerate_server_versions` (called when :mod:`citygov.sources.database` is imported) reads
  the version from ``server_version_num`` (or ``server_version``) then.
- openGauss (PostgreSQL 9.2's heir) has no ``jit`` setting: :func:`citygov.quality.sqlcond.prepare_connection`
  only turns JIT off on servers of version 11 or later.
- A database whose ``client_encoding`` is set to GBK or GB18030 (per role or database), or whose own
  encoding is ``EUC_CN``, would hand text, binary ``COPY`` included, in that encoding, and GBK cannot
  carry every character the rules' SQL names (``'・'``): a source's URL asks for ``client_encoding=UTF8``
  (:func:`citygov.sources.database.source_engine`), and :mod:`citygov.sources.pgcopy` asks for it for its
  statement on any other engine. A server encoding that lacks a character the SQL names still refuses
  the statement: on ``EUC_CN`` (GB2312) the plate rule's ``'·'``, so the fused engine cannot validate a
  table with a plate rule there (the streaming engine, ``auto``'s choice, can).
- ``search_path`` set per role or database (openGauss and Kingbase give each user a schema of its own
  name, first on the path) and upper-case or mixed-case names need nothing: reflection follows the
  current schema, and every name is quoted.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.dialects.postgresql.base import PGDialect

PG_FAMILY_TYPES = ("kingbase", "opengauss", "gaussdb")
"""Connection types of PostgreSQL-family servers; read as ``postgres`` connections are."""


def version_from_settings(version_num: str | None, version: str | None) -> tuple[int, ...] | None:
    """The server's version from ``server_version_num`` (``90204`` → (9, 2, 4), ``150020`` → (15, 20))
    or else ``server_version`` (``9.2.4`` → (9, 2, 4)); None when neither reads as one."""
    if version_num and version_num.strip().isdigit():
        n = int(version_num)
        if n >= 100000:
            return (n // 10000, n % 10000)
        if n >= 10000:
            return (n // 10000, n // 100 % 100, n % 100)
    m = re.match(r"\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", version or "")
    if m:
        return tuple(int(x) for x in m.groups() if x is not None)
    return None


def _tolerant(parse: Any) -> Any:
    def server_version(self: Any, connection: Any) -> tuple[int, ...]:
        try:
            return parse(self, connection)  # type: ignore[no-any-return]
        except AssertionError:  # SQLAlchemy's "Could not determine version from string …"
            # pg_settings, not current_setting(name, missing_ok): that form is PostgreSQL 9.6's
            settings = dict(connection.exec_driver_sql(
                "SELECT name, setting FROM pg_catalog.pg_settings"
                " WHERE name IN ('server_version_num', 'server_version')"
            ).all())
            found = version_from_settings(settings.get("server_version_num"), settings.get("server_version"))
            if found is None:
                raise
            return found

    server_version.citygov_tolerant = True  # type: ignore[attr-defined]
    server_version.__wrapped__ = parse  # type: ignore[attr-defined]
    return server_version


def tolerate_server_versions() -> None:
    """Let every PostgreSQL engine of this process connect to a server whose ``version()`` SQLAlchemy cannot
    read, taking the version from the server's settings instead. Class-wide, because GX's
    ``engine="gx"`` builds its own engine from the source's URL; a version SQLAlchemy reads is read as
    before (only what would have refused to connect changes). Idempotent."""
    parse = PGDialect._get_server_version_info
    if not getattr(parse, "citygov_tolerant", False):
        PGDialect._get_server_version_info = _tolerant(parse)  # type: ignore[method-assign]

