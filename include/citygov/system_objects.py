"""The pipeline's own objects in the sources it writes to, declared once.

The backflow loader writes into a department source (the city's backflow store, ``dept_sdsj`` in the
demo), which the census and the patrol also visit. Besides the resources' tables it creates its own
bookkeeping tables, session-scoped staging tables, and a lineage column on every table it loads. None of
them is a resource a department must catalogue, so the census does not list these tables (no
应编未编) and the patrol does not report the lineage column (no 未编目字段). The loader takes its names
from here, so what it creates and what the checks skip cannot drift apart.
"""

from __future__ import annotations

BACKFLOW_LOADS = "backflow_loads"
"""One row per batch loaded into the backflow store (the target's own record of what it holds)."""
BACKFLOW_QUARANTINE = "backflow_quarantine"
"""Rows of backflow batches that could not be loaded, with line and reason."""
BACKFLOW_STAGE = "cg_backflow_stage"
"""Temporary: a batch's rows staged for checking (one load's session only)."""
BACKFLOW_REFUSED = "cg_backflow_refused"
"""Temporary: the staged rows refused, with reason (one load's session only)."""
BACKFLOW_ROWS = "cg_backflow_rows"
"""Temporary: an incremental batch copied on PostgreSQL's fast path before the upsert."""
BACKFLOW_SUSPECTS = "cg_backflow_suspects"
"""Temporary: rows whose key hash repeats on PostgreSQL's fast path, settled against each other."""
LINEAGE_COLUMN = "_batch_id"
"""The batch each loaded row came from, on every table the backflow loader writes."""

SYSTEM_TABLES: frozenset[str] = frozenset(
    {BACKFLOW_LOADS, BACKFLOW_QUARANTINE, BACKFLOW_STAGE, BACKFLOW_REFUSED, BACKFLOW_ROWS, BACKFLOW_SUSPECTS}
)
"""Tables the pipeline creates in a source."""
SYSTEM_COLUMNS: frozenset[str] = frozenset({LINEAGE_COLUMN})
"""Columns the pipeline adds to a source's tables."""


def is_system_table(name: str) -> bool:
    """Whether ``name`` is a table the pipeline itself creates in a source (case-insensitive: SQLite and
    PostgreSQL fold unquoted names differently)."""
    return name.casefold() in SYSTEM_TABLES


def is_system_column(name: str) -> bool:
    """Whether ``name`` is a column the pipeline itself adds to a source's table."""
    return name.casefold() in SYSTEM_COLUMNS
