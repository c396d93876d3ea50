"""The backflow store's tables: one per resource and the bookkeeping tables.

The target database (SQLite by default, PostgreSQL in production) gets, per resource, a table named
after the catalog entry's resource location (its 资源位置, e.g. ``hl_qydjxx``; the resource code when
the location is not a plain table name) with the declared 信息项 plus ``_batch_id`` (lineage), and two
bookkeeping tables:

- ``backflow_quarantine``: every row that could not be loaded, with its line number and reason;
- ``backflow_loads``: one row per loaded batch, written in the same transaction as the data, so the
  target itself knows which batches it holds (:mod:`citygov.backflow.loader`).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.sql.elements import quoted_name

from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.system_objects import BACKFLOW_LOADS as LOADS_TABLE
from citygov.system_objects import BACKFLOW_QUARANTINE as QUARANTINE_TABLE
from citygov.system_objects import LINEAGE_COLUMN

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ident(name: str) -> quoted_name:
    """A column or table name quoted as it is written (信息项 may be any case or script)."""
    return quoted_name(name, quote=True)


def target_table_name(entry: CatalogEntry) -> str:
    """The target table of a resource: its 资源位置 when that is a plain table name, else its code."""
    return entry.location if _PLAIN_NAME.match(entry.location or "") else entry.code


_SA_TYPES: dict[ColumnType, Any] = {
    ColumnType.NUMBER: sa.Numeric,
    ColumnType.DATE: sa.Date,
    ColumnType.DATETIME: sa.DateTime,
}


_KEY_TEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
"""A text 信息项 of the primary key: on PostgreSQL in the "C" collation, bytewise. Equality is the same in
every deterministic collation, so the key means the same, but PostgreSQL compares such keys with
``memcmp`` instead of the locale's rules: the primary key a full load rebuilds builds markedly faster
(and ``LIKE 'prefix%'`` can use it). Only the order of ``ORDER BY`` on that column can differ from a
database whose default collation is not C or C.UTF-8 (UTF-8 bytes sort in code point order)."""


def data_table(entry: CatalogEntry) -> sa.Table:
    """The resource's table: its 信息项 (primary-key columns NOT NULL) and the lineage column."""
    metadata = sa.MetaData()
    pk = set(entry.primary_key)
    columns = [
        sa.Column(ident(c.name), _KEY_TEXT if c.name in pk and c.dtype not in _SA_TYPES else _SA_TYPES.get(c.dtype, sa.Text)(),
                  nullable=c.name not in pk)
        for c in entry.columns
    ]
    columns.append(sa.Column(ident(LINEAGE_COLUMN), sa.String(128), index=False))
    constraints = [sa.PrimaryKeyConstraint(*[ident(k) for k in entry.primary_key])] if entry.primary_key else []
    return sa.Table(ident(target_table_name(entry)), metadata, *columns, *constraints)


_BOOK = sa.MetaData()
quarantine_table = sa.Table(
    QUARANTINE_TABLE,
    _BOOK,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.String(128), nullable=False, index=True),
    sa.Column("resource_code", sa.String(64), nullable=False),
    sa.Column("logical_date", sa.Date, nullable=False, index=True),
    sa.Column("line", sa.Integer, nullable=False),
    # A structural code (field_count, bad_json, missing_key, bad_value, duplicate_key, …) or the name of the
    # suite expectation the row fails.
    sa.Column("reason_code", sa.String(64), nullable=False),
    sa.Column("column_name", sa.String(255)),
    sa.Column("reason", sa.Text, nullable=False),
    # The raw fields as JSON: the target holds raw data anyway; findings get masked evidence only.
    sa.Column("record", sa.Text, nullable=False),
)
loads_table = sa.Table(
    LOADS_TABLE,
    _BOOK,
    sa.Column("batch_id", sa.String(128), primary_key=True),
    sa.Column("resource_code", sa.String(64), nullable=False),
    sa.Column("logical_date", sa.Date, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("declared_rows", sa.BigInteger, nullable=False),
    sa.Column("loaded_rows", sa.BigInteger, nullable=False),
    sa.Column("quarantined_rows", sa.BigInteger, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)


def ensure_target_tables(target: Engine, entry: CatalogEntry) -> sa.Table:
    """Create the bookkeeping tables and the resource's table if missing; add ``_batch_id`` to an existing
    staging table that lacks it. Committed on its own: empty tables, no data."""
    table = data_table(entry)
    with target.begin() as conn:
        _BOOK.create_all(conn)
        inspector = sa.inspect(conn)
        width = {c["name"]: c["type"] for c in inspector.get_columns(QUARANTINE_TABLE)}["reason_code"]
        if conn.dialect.name == "postgresql" and (getattr(width, "length", None) or 64) < 64:
            # quarantine tables made before reason codes carried expectation names
            conn.exec_driver_sql(f"ALTER TABLE {QUARANTINE_TABLE} ALTER COLUMN reason_code TYPE VARCHAR(64)")
        if not inspector.has_table(table.name):
            table.create(conn)
            return table
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in entry.columns if c.name not in have]
        if missing:
            raise ValueError(
                f"target table {table.name} lacks declared 信息项 {', '.join(missing)}; migrate the table first"
            )
        if LINEAGE_COLUMN not in have:
            quoted = conn.dialect.identifier_preparer.quote
            conn.execute(sa.text(f"ALTER TABLE {quoted(table.name)} ADD COLUMN {quoted(LINEAGE_COLUMN)} VARCHAR(128)"))
    return table
