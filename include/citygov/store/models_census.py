"""The census's per-source inventories: what each department source held at a census date.

The census is taken one source at a time (one mapped task per source in the DAG); each stores its
inventory here, keyed on (logical date, connection), and the reconcile step reads the date's inventories
back. Column samples are never stored: only the identifier kind detected in them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citygov.store.models_base import TS, Base


class CensusInventory(Base):
    """One source's inventory for one census date; rerunning the date replaces it."""

    __tablename__ = "census_inventories"

    logical_date: Mapped[date] = mapped_column(Date, primary_key=True)
    conn_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    department: Mapped[str | None] = mapped_column(String(255))
    source_kind: Mapped[str] = mapped_column(String(16))
    """``database``, ``folder`` (the source kind), ``unknown`` when the connection could not be resolved."""
    status: Mapped[str] = mapped_column(String(16))
    """``reachable``, ``unreachable`` or ``failed`` (the inventory raised); then ``error`` says why and
    ``resources`` is empty."""
    error: Mapped[str | None] = mapped_column(Text)
    resource_count: Mapped[int] = mapped_column(Integer, default=0)
    resources: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    """Each table, view or file: location, kind, columns (name, native type, letter, detected identifier
    kind), row count, last update (ISO text) and the error when it could not be read."""
    taken_at: Mapped[datetime] = mapped_column(TS)
