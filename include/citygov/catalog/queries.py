"""Read the catalog and its history back out of the governance store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload

from citygov.catalog.importer import stored_content
from citygov.catalog.schema import (
    CatalogEntry,
    ColumnType,
    DeclaredColumn,
    Layer,
    Lifecycle,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    SyncMode,
    UpdateCycle,
)
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import CatalogChange, CatalogEntryRow, CatalogImport, CatalogImportError


def city_time(value: datetime) -> datetime:
    """A stored timestamp in the city's time zone (SQLite returns stored UTC values without a zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CITY_TZ)


def list_entries(engine: Engine, *, include_withdrawn: bool = False) -> list[dict[str, Any]]:
    """Catalog entries ordered by code, as JSON-able dicts (``withdrawn_at`` set for withdrawn ones)."""
    with session_scope(engine) as session:
        query = select(CatalogEntryRow).options(selectinload(CatalogEntryRow.columns)).order_by(CatalogEntryRow.code)
        if not include_withdrawn:
            query = query.where(CatalogEntryRow.withdrawn_at.is_(None))
        return [
            {
                "code": row.code,
                **stored_content(row),
                "updated_at": city_time(row.updated_at).isoformat(),
                "withdrawn_at": city_time(row.withdrawn_at).isoformat() if row.withdrawn_at else None,
            }
            for row in session.scalars(query)
        ]


def catalogued_codes(engine: Engine) -> set[str]:
    """Every code the catalog holds, withdrawn entries included (each has a scorecard page)."""
    with session_scope(engine) as session:
        return set(session.scalars(select(CatalogEntryRow.code)))


def import_history(engine: Engine, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest catalog imports, newest first, each with its changes and rejected rows."""
    with session_scope(engine) as session:
        imports = session.scalars(
            select(CatalogImport).order_by(CatalogImport.id.desc()).limit(limit)
        ).all()
        out = []
        for imp in imports:
            changes = session.scalars(
                select(CatalogChange).where(CatalogChange.import_id == imp.id).order_by(CatalogChange.id)
            ).all()
            errors = session.scalars(
                select(CatalogImportError)
                .where(CatalogImportError.import_id == imp.id)
                .order_by(CatalogImportError.id)
            ).all()
            out.append(
                {
                    "import_id": imp.id,
                    "file": imp.file,
                    "encoding": imp.encoding,
                    "source_label": imp.source_label,
                    "imported_at": city_time(imp.imported_at).isoformat(),
                    "rows_total": imp.rows_total,
                    "accepted": imp.accepted,
                    "rejected": imp.rejected,
                    "added": imp.added,
                    "changed": imp.changed,
                    "withdrawn": imp.withdrawn,
                    "unchanged": imp.unchanged,
                    "changes": [{"code": c.entry_code, "kind": c.kind, "diff": c.diff} for c in changes],
                    "errors": [
                        {"line": e.line, "column": e.column, "code": e.code, "message": e.message}
                        for e in errors
                    ],
                }
            )
        return out


def load_entries(
    engine: Engine, *, codes: list[str] | None = None, published_only: bool = True
) -> list[CatalogEntry]:
    """Current catalog entries as typed records (not withdrawn; published only unless told otherwise)."""
    with session_scope(engine) as session:
        query = (
            select(CatalogEntryRow)
            .options(selectinload(CatalogEntryRow.columns))
            .where(CatalogEntryRow.withdrawn_at.is_(None))
            .order_by(CatalogEntryRow.code)
        )
        if published_only:
            query = query.where(CatalogEntryRow.lifecycle == Lifecycle.PUBLISHED.value)
        if codes is None:
            return [to_entry(r) for r in session.scalars(query)]
        rows: list[CatalogEntryRow] = []
        for start in range(0, len(codes), 500):  # bounded IN lists
            rows += session.scalars(query.where(CatalogEntryRow.code.in_(codes[start : start + 500])))
        return [to_entry(r) for r in sorted(rows, key=lambda r: r.code)]


def to_entry(row: CatalogEntryRow) -> CatalogEntry:
    """A stored row back as a :class:`CatalogEntry`."""
    return CatalogEntry(
        code=row.code,
        name=row.name,
        provider=row.provider,
        layer=Layer(row.layer),
        columns=tuple(DeclaredColumn(c.name, ColumnType(c.dtype)) for c in row.columns),
        share_type=ShareType(row.share_type),
        open_attr=OpenAttr(row.open_attr),
        update_cycle=UpdateCycle(row.update_cycle),
        conn_id=row.conn_id,
        location=row.location,
        sensitivity=Sensitivity(row.sensitivity),
        provider_code=row.provider_code,
        summary=row.summary,
        format=ResourceFormat(row.format) if row.format else None,
        share_condition=row.share_condition,
        share_basis=row.share_basis,
        share_method=row.share_method,
        publish_date=row.publish_date,
        related_codes=tuple(row.related_codes or ()),
        primary_key=tuple(row.primary_key or ()),
        update_time_column=row.update_time_column,
        sync_mode=SyncMode(row.sync_mode) if row.sync_mode else None,
        lifecycle=Lifecycle(row.lifecycle),
        extra=dict(row.extra or {}),
    )
