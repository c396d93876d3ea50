"""What someone holding a copy of a database reads: the text of every row of every table."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Engine


def every_row(engine: Engine) -> str:
    """The text of every row of every table, one row a line (names quoted by the dialect)."""
    out = []
    with engine.connect() as conn:
        for name in sorted(sa.inspect(conn).get_table_names()):
            quoted = conn.dialect.identifier_preparer.quote(name)
            out.extend(f"{name}: {tuple(r)!r}" for r in conn.execute(sa.text(f"SELECT * FROM {quoted}")))
    return "\n".join(out)
