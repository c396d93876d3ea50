"""One source's census inventory, kept in the governance store per (census date, connection).

The census is taken one source at a time: each source's inventory (:func:`citygov.inventory.inspect_source`)
is turned into a :class:`SourceInventory` and stored with :func:`save_inventory`; the reconcile step reads a
date's inventories back with :func:`load_inventories`. Keeping them in the store rather than passing them
between tasks keeps a large city's inventories out of Airflow's XCom, lets one source be re-inventoried
alone, and lets a reconcile be rerun without reaching any source again.

Raw sample values never reach the store: a column keeps only the identifier kind detected in its sample
(``ric``, ``mobile``, …), which is all the drafts need to suggest a grade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from citygov.identifiers import detect_kind
from citygov.inventory import Inventory
from citygov.store import session_scope
from citygov.store.models_census import CensusInventory

REACHABLE = "reachable"
UNREACHABLE = "unreachable"
FAILED = "failed"
"""The inventory raised (neither an answer nor a source that did not answer): ``error`` says what."""


@dataclass(frozen=True)
class InventoriedColumn:
    """A column of a resource as the census stores it."""

    name: str
    native_type: str
    """The type the source declares, or ``inferred`` for files."""
    letter: str
    """The catalog type letter (C, N, D, T, B)."""
    kind: str
    """The identifier kind detected in the column's sample (``ric``, ``mobile``, ``name``…), ``""`` for none."""


@dataclass(frozen=True)
class InventoriedResource:
    """A table, view or file one source held at the census date."""

    conn_id: str
    location: str
    kind: str
    """``table``, ``view`` or ``file``."""
    columns: tuple[InventoriedColumn, ...] = ()
    row_count: int | None = None
    last_updated: datetime | None = None
    error: str | None = None
    """Set when the resource was listed but could not be read."""

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "kind": self.kind,
            "columns": [
                {"name": c.name, "type": c.native_type, "letter": c.letter, "kind": c.kind} for c in self.columns
            ],
            "row_count": self.row_count,
            "last_updated": self.last_updated.isoformat() if self.last_updated else None,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, conn_id: str, data: dict[str, Any]) -> InventoriedResource:
        updated = data.get("last_updated")
        return cls(
            conn_id=conn_id,
            location=data["location"],
            kind=data["kind"],
            columns=tuple(
                InventoriedColumn(c["name"], c["type"], c["letter"], c.get("kind") or "") for c in data["columns"]
            ),
            row_count=data.get("row_count"),
            last_updated=datetime.fromisoformat(updated) if updated else None,
            error=data.get("error"),
        )


@dataclass
class SourceInventory:
    """Everything one source held at a census date, or why it could not be reached."""

    logical_date: date
    conn_id: str
    department: str | None
    source_kind: str
    """``database``, ``folder``, or ``unknown`` when the connection could not be resolved."""
    resources: list[InventoriedResource] = field(default_factory=list)
    error: str | None = None
    """Why the source could not be reached, or what the inventory raised; ``resources`` is then empty."""
    failed: bool = False
    """The inventory raised (:data:`FAILED`) rather than finding the source unreachable."""

    @property
    def status(self) -> str:
        return FAILED if self.failed else UNREACHABLE if self.error else REACHABLE

    @classmethod
    def from_inventory(cls, inventory: Inventory, logical_date: date) -> SourceInventory:
        """The storable form of a fresh inventory: each column's sample reduced to its detected kind."""
        return cls(
            logical_date=logical_date,
            conn_id=inventory.conn_id,
            department=inventory.department,
            source_kind=inventory.kind,
            error=inventory.error,
            resources=[
                InventoriedResource(
                    conn_id=inventory.conn_id,
                    location=r.location,
                    kind=r.kind,
                    columns=tuple(
                        InventoriedColumn(c.name, c.native_type, c.letter.value,
                                          detect_kind(r.samples.get(c.name, [])) or "")
                        for c in r.columns
                    ),
                    row_count=r.row_count,
                    last_updated=r.last_updated,
                    error=r.error,
                )
                for r in inventory.resources
            ],
        )


def save_inventory(engine: Engine, inventory: SourceInventory) -> None:
    """Store ``inventory`` as its source's for its date, replacing what was stored for that pair (a retry
    or a rerun of the date). One transaction: a reader sees the old inventory or the new, never half."""
    with session_scope(engine) as session:
        session.execute(delete(CensusInventory).where(
            CensusInventory.logical_date == inventory.logical_date, CensusInventory.conn_id == inventory.conn_id
        ))
        session.add(CensusInventory(
            logical_date=inventory.logical_date,
            conn_id=inventory.conn_id,
            department=inventory.department,
            source_kind=inventory.source_kind,
            status=inventory.status,
            error=inventory.error,
            resource_count=len(inventory.resources),
            resources=[r.to_json() for r in inventory.resources],
            taken_at=datetime.now(UTC),
        ))


def load_inventories(
    engine: Engine, logical_date: date, conn_ids: Iterable[str] | None = None
) -> dict[str, SourceInventory]:
    """The inventories stored for ``logical_date`` by connection id (only ``conn_ids`` when given), sorted."""
    wanted = None if conn_ids is None else set(conn_ids)  # filtered here: no bound-parameter limit to hit
    with session_scope(engine) as session:
        rows = [
            row for row in session.scalars(
                select(CensusInventory).where(CensusInventory.logical_date == logical_date)
                .order_by(CensusInventory.conn_id)
            )
            if wanted is None or row.conn_id in wanted
        ]
        return {
            row.conn_id: SourceInventory(
                logical_date=row.logical_date,
                conn_id=row.conn_id,
                department=row.department,
                source_kind=row.source_kind,
                error=row.error,
                failed=row.status == FAILED,
                resources=[InventoriedResource.from_json(row.conn_id, r) for r in row.resources],
            )
            for row in rows
        }


def clear_inventories(engine: Engine, logical_date: date) -> int:
    """Drop every inventory stored for ``logical_date`` (a census of the date starting afresh, so that a
    source whose inventory is not taken again is not reconciled from an earlier run). Returns how many."""
    with session_scope(engine) as session:
        result = session.execute(delete(CensusInventory).where(CensusInventory.logical_date == logical_date))
        return int(getattr(result, "rowcount", 0) or 0)


def inventory_status(engine: Engine, logical_date: date | None = None) -> list[dict[str, Any]]:
    """Per source, what its census inventory of ``logical_date`` (default: the latest date with any) says:
    reachable or not and why, how many resources, when it was taken. Empty when none is stored."""
    with session_scope(engine) as session:
        if logical_date is None:
            logical_date = session.scalar(
                select(CensusInventory.logical_date).order_by(CensusInventory.logical_date.desc()).limit(1)
            )
        if logical_date is None:
            return []
        rows = session.scalars(
            select(CensusInventory).where(CensusInventory.logical_date == logical_date)
            .order_by(CensusInventory.conn_id)
        )
        return [
            {"logical_date": r.logical_date.isoformat(), "conn_id": r.conn_id, "department": r.department,
             "source_kind": r.source_kind, "status": r.status, "resources": r.resource_count, "error": r.error,
             "taken_at": r.taken_at.isoformat()}
            for r in rows
        ]
