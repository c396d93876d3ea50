"""What writing a batch's good rows into a resource's table means, defined once for every load path.

- A ``full`` batch replaces the table: its rows are all the table holds afterwards.
- An ``incremental`` batch replaces the rows whose primary key it carries and adds the others; a
  resource without a primary key gets its rows appended.
- Every row written carries the batch it came from in the lineage column (``_batch_id``).

Where the table holds its primary key as a constraint on PostgreSQL the replacement is one
``INSERT … ON CONFLICT DO UPDATE``; elsewhere (SQLite, a table whose key is not a constraint) the rows
with those keys are deleted first. The general load (:mod:`citygov.backflow.loader`) and PostgreSQL's fast
path (:mod:`citygov.backflow.pgfast`, which empties a table for a full batch by ``TRUNCATE`` and COPYs
straight into it) both write through :func:`upsert`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection

from citygov.backflow.rows import has_key
from citygov.system_objects import LINEAGE_COLUMN

_ROWCOUNT = {"preserve_rowcount": True}
"""SQLAlchemy 2.1 reports -1 for INSERT … SELECT unless asked to keep the driver's count."""


def written_columns(names: Sequence[str]) -> list[str]:
    """The columns a load writes, in order: the resource's 信息项 ``names``, then the lineage column."""
    return [*names, LINEAGE_COLUMN]


def upsert(conn: Connection, table: sa.Table, rows: sa.Select, names: Sequence[str], pk: Sequence[str], *,
           full: bool) -> int:
    """Write ``rows`` into ``table`` as the module docstring says; returns the rows written.

    ``rows`` selects the :func:`written_columns` of ``names`` in that order (the batch id as the last),
    each labelled with its column's name; ``pk`` is the resource's primary key (empty: none)."""
    targets = [table.c[c] for c in written_columns(names)]
    if full:
        conn.execute(table.delete())
    elif pk and conn.dialect.name == "postgresql" and has_key(conn, table.name, list(pk)):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).from_select(targets, rows)
        updates = {c.name: statement.excluded[c.name] for c in targets if c.name not in pk}
        statement = (statement.on_conflict_do_update(index_elements=[table.c[k] for k in pk], set_=updates)
                     if updates else statement.on_conflict_do_nothing(index_elements=[table.c[k] for k in pk]))
        return conn.execute(statement, execution_options=_ROWCOUNT).rowcount
    elif pk:
        given = rows.subquery()
        keys = sa.select(*[given.c[k] for k in pk])
        conn.execute(table.delete().where(sa.tuple_(*[table.c[k] for k in pk]).in_(keys)))
    return conn.execute(table.insert().from_select(targets, rows), execution_options=_ROWCOUNT).rowcount
