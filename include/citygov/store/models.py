"""The governance store: typed SQLAlchemy 2 models.

One store for every capability, planned up front so later work adds behaviour, not tables:
catalog (entries, declared columns, imports, changes, rejected rows), department sources, census
snapshots, findings from every check, quality runs and check results, dataset score history,
disputes with an append-only event log, and backflow batches.

Types are portable between SQLite and PostgreSQL (JSON, not JSONB; timezone-aware datetimes stored
as UTC).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citygov.store.models_base import TS, Base, BigId  # noqa: F401  (re-exported)

# --- catalog -----------------------------------------------------------------------------------------


class CatalogEntryRow(Base):
    """A catalog entry as last imported; withdrawn entries are kept with ``withdrawn_at`` set."""

    __tablename__ = "catalog_entries"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255), index=True)
    provider_code: Mapped[str | None] = mapped_column(String(64))
    layer: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(16))
    share_type: Mapped[str] = mapped_column(String(16))
    share_condition: Mapped[str | None] = mapped_column(Text)
    share_basis: Mapped[str | None] = mapped_column(Text)
    share_method: Mapped[str | None] = mapped_column(String(64))
    open_attr: Mapped[str] = mapped_column(String(16))
    update_cycle: Mapped[str] = mapped_column(String(16))
    publish_date: Mapped[date | None] = mapped_column(Date)
    related_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    conn_id: Mapped[str] = mapped_column(String(250), index=True)
    location: Mapped[str] = mapped_column(String(1024))
    primary_key: Mapped[list[str]] = mapped_column(JSON, default=list)
    update_time_column: Mapped[str | None] = mapped_column(String(255))
    sensitivity: Mapped[str] = mapped_column(String(4))
    sync_mode: Mapped[str | None] = mapped_column(String(8))
    lifecycle: Mapped[str] = mapped_column(String(8))
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the entry's normalised content; an import compares it to tell changed from unchanged."""
    first_imported_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    withdrawn_at: Mapped[datetime | None] = mapped_column(TS)
    last_import_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_imports.id"))

    columns: Mapped[list[CatalogColumnRow]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="CatalogColumnRow.position"
    )


class CatalogColumnRow(Base):
    """A declared 信息项 of a catalog entry."""

    __tablename__ = "catalog_columns"

    entry_code: Mapped[str] = mapped_column(
        ForeignKey("catalog_entries.code", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    dtype: Mapped[str] = mapped_column(String(1))

    entry: Mapped[CatalogEntryRow] = relationship(back_populates="columns")


class CatalogImport(Base):
    """One run of the catalog import: what file, what came of it."""

    __tablename__ = "catalog_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file: Mapped[str] = mapped_column(String(1024))
    file_sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(32))
    source_label: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(TS, index=True)
    rows_total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    withdrawn: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)


class CatalogChange(Base):
    """What an import changed in one entry: the catalog's history."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("catalog_imports.id", ondelete="CASCADE"), index=True)
    entry_code: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``added``, ``changed``, ``withdrawn`` or ``restored``."""
    diff: Mapped[dict[str, list[object]]] = mapped_column(JSON, default=dict)
    """For ``changed``: field → [old, new]."""


class CatalogImportError(Base):
    """A rejected catalog row, kept so it can be routed to the dispute queue."""

    __tablename__ = "catalog_import_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("catalog_imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str | None] = mapped_column(String(255))
    """The rejected row's 信息资源提供方 as written (the dispute goes to it when it is a known unit)."""
    message: Mapped[str] = mapped_column(Text)


# --- sources and census ------------------------------------------------------------------------------


class DepartmentSource(Base):
    """A registered department source (an Airflow connection id) and its department."""

    __tablename__ = "department_sources"

    conn_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    department: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``database`` or ``folder``."""
    registered_at: Mapped[datetime] = mapped_column(TS)


class CensusSnapshot(Base):
    """One census run: every resource found in every source at a logical date."""

    __tablename__ = "census_snapshots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    logical_date: Mapped[date] = mapped_column(Date, unique=True)
    taken_at: Mapped[datetime] = mapped_column(TS)
    summary: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class CensusResource(Base):
    """A table, view or file found by the census."""

    __tablename__ = "census_resources"
    __table_args__ = (UniqueConstraint("snapshot_id", "conn_id", "location"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("census_snapshots.id", ondelete="CASCADE"))
    conn_id: Mapped[str] = mapped_column(String(250))
    department: Mapped[str | None] = mapped_column(String(255))
    location: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(16))
    columns: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    last_updated: Mapped[datetime | None] = mapped_column(TS)
    entry_code: Mapped[str | None] = mapped_column(String(64))
    """The catalog entry covering this resource, if any."""


# --- findings from every check -----------------------------------------------------------------------


class Finding(Base):
    """A typed finding of the census, the patrol, quality checks or backflow.

    Keyed on (origin, entry or resource, rule, logical date, subject): rerunning a date replaces that
    date's findings instead of duplicating them.
    """

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("origin", "logical_date", "fingerprint", name="uq_findings_run_fingerprint"),
        Index("ix_findings_entry_date", "entry_code", "logical_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(16))
    """``census``, ``patrol``, ``quality``, ``backflow`` or ``catalog``."""
    rule_id: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(16))
    """GB/T 36344 dimension: 规范性, 完整性, 准确性, 一致性, 时效性, 可访问性."""
    severity: Mapped[str] = mapped_column(String(8))
    entry_code: Mapped[str | None] = mapped_column(String(64))
    conn_id: Mapped[str | None] = mapped_column(String(250))
    location: Mapped[str | None] = mapped_column(String(1024))
    column: Mapped[str | None] = mapped_column(String(255))
    record_key: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255), index=True)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    """Masked evidence only."""
    logical_date: Mapped[date] = mapped_column(Date, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """Stable hash of (origin, rule, entry or resource, column, record key) used to dedup disputes."""
    created_at: Mapped[datetime] = mapped_column(TS)
    routed_dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"))


class PatrolObservation(Base):
    """What the patrol saw of an entry on a logical date: the history behind timeliness and volume."""

    __tablename__ = "patrol_observations"
    __table_args__ = (UniqueConstraint("entry_code", "logical_date"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_code: Mapped[str] = mapped_column(String(64), index=True)
    logical_date: Mapped[date] = mapped_column(Date)
    reachable: Mapped[bool]
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    last_updated: Mapped[datetime | None] = mapped_column(TS)
    content_signature: Mapped[str | None] = mapped_column(String(64))
    """Row count and column list hashed: tells "changed since the last patrol" without an update column."""
    changed_since: Mapped[date | None] = mapped_column(Date)
    """The logical date from which the content has been as observed (for entries without update column)."""
    observed_at: Mapped[datetime] = mapped_column(TS)


# --- backflow ----------------------------------------------------------------------------------------


class BackflowBatch(Base):
    """A provincial or national backflow batch and its reconciliation."""

    __tablename__ = "backflow_batches"

    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource_code: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str | None] = mapped_column(String(255))
    logical_date: Mapped[date] = mapped_column(Date, index=True)
    mode: Mapped[str] = mapped_column(String(16))
    declared_rows: Mapped[int | None] = mapped_column(BigInteger)
    loaded_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    schema_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    """``loaded``, ``rejected`` or ``loading``."""
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(TS)
    loaded_at: Mapped[datetime | None] = mapped_column(TS)

    deliveries: Mapped[list[BackflowDelivery]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", order_by="BackflowDelivery.first_seen_at"
    )


class BackflowDelivery(Base):
    """One arrival of a batch id with one content (sha256): what became of it.

    The same file seen again (a rerun) updates ``last_seen_at`` and ``attempts``; the same batch id with
    another content is a delivery of its own, ``duplicate-different-content``.
    """

    __tablename__ = "backflow_deliveries"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("backflow_batches.batch_id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 the manifest declares (``-`` when there is no usable manifest)."""
    status: Mapped[str] = mapped_column(String(32))
    """``accepted`` (loaded), ``duplicate`` (already loaded, skipped), ``duplicate-different-content``,
    ``rejected`` or ``failed`` (interrupted; retried on the next run)."""
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS, index=True)

    batch: Mapped[BackflowBatch] = relationship(back_populates="deliveries")


# Capability models live in their own modules on the same Base; importing them here puts every table in
# Base.metadata for Alembic and create_all.
from citygov.store.models_census import CensusInventory  # noqa: E402
from citygov.store.models_disputes import Dispute, DisputeEvent  # noqa: E402
from citygov.store.models_notify import NotificationDelivery  # noqa: E402
from citygov.store.models_quality import CheckResult, DatasetScore, QualityRun  # noqa: E402
from citygov.store.models_trace import ShareTrace  # noqa: E402

__all__ = [
    "BackflowBatch", "BackflowDelivery", "Base", "CatalogChange", "CatalogColumnRow", "CatalogEntryRow", "CatalogImport",
    "CatalogImportError", "CensusInventory", "CensusResource", "CensusSnapshot", "CheckResult", "DatasetScore", "DepartmentSource",
    "Dispute", "DisputeEvent", "Finding", "NotificationDelivery", "PatrolObservation", "QualityRun", "ShareTrace",
]
