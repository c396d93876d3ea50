"""What a department source actually holds: tables, views and files, with columns and counts.

The census and the patrol both look at sources through :func:`inspect_source`, which asks the source's
:class:`~citygov.sources.Source` kind for its resources and describes each. Names that come from a source
or the catalog are always quoted as identifiers, never pasted into SQL. A source that cannot be reached
yields an inventory with ``error`` set, not an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from citygov.sources import ConnectionInfo, open_source
from citygov.sources.base import ObservedColumn, Resource, describe_error

# Where these lived before sources became a package; kept importable from here.
from citygov.sources.database import ident, source_engine, type_letter
from citygov.sources.folder import FILE_SUFFIXES, SAMPLE_ROWS, read_table_file
from citygov.sources.values import infer_letter

__all__ = [
    "FILE_SUFFIXES",
    "SAMPLE_ROWS",
    "Inventory",
    "ObservedColumn",
    "Resource",
    "ident",
    "infer_letter",
    "inspect_source",
    "read_table_file",
    "source_engine",
    "type_letter",
]


@dataclass
class Inventory:
    """Everything one source holds, or why it could not be read."""

    conn_id: str
    department: str | None
    kind: str
    """``database`` or ``folder`` (the source kind's name), ``unknown`` when the connection is not known."""
    resources: list[Resource] = field(default_factory=list)
    error: str | None = None
    """Set when the source itself is unreachable; ``resources`` is then empty."""

    def find(self, location: str) -> Resource | None:
        return next((r for r in self.resources if r.location == location), None)


def inspect_source(
    conn: ConnectionInfo,
    *,
    locations: Iterable[str] | None = None,
    update_columns: dict[str, str] | None = None,
    count_rows: bool = True,
    sample: int = 0,
) -> Inventory:
    """List a source's resources with columns, row counts and last update time.

    ``locations`` limits the work to those resources (the patrol passes its batch's tables); the
    census passes None to list everything. ``update_columns`` maps a location to its update-time
    column, whose maximum is the resource's last update. ``sample`` > 0 reads that many first rows'
    values into ``Resource.samples`` (raw values: mask them before showing them to anyone).
    """
    update_columns = update_columns or {}
    inventory = Inventory(conn_id=conn.conn_id, department=conn.department, kind="unknown")
    try:
        with open_source(conn) as source:
            inventory.kind = source.kind
            for location, kind in source.resources(locations):
                inventory.resources.append(
                    source.describe(
                        location, kind, update_column=update_columns.get(location), count_rows=count_rows,
                        sample=sample,
                    )
                )
    except Exception as exc:  # any failure to reach the source is a finding, not a crash
        inventory.resources = []
        inventory.error = describe_error(exc)
    return inventory
