"""Read the catalog and its history back out of the governance store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, or_, select
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


def entry_dict(row: CatalogEntryRow) -> dict[str, Any]:
    """A stored entry as :func:`list_entries` lists it: ``code``, its content, ``updated_at`` and
    ``withdrawn_at`` (city time, ISO; None while current)."""
    return {
        "code": row.code,
        **stored_content(row),
        "updated_at": city_time(row.updated_at).isoformat(),
        "withdrawn_at": city_time(row.withdrawn_at).isoformat() if row.withdrawn_at else None,
    }


def list_entries(engine: Engine, *, include_withdrawn: bool = False) -> list[dict[str, Any]]:
    """Catalog entries ordered by code, as JSON-able dicts (``withdrawn_at`` set for withdrawn ones)."""
    with session_scope(engine) as session:
        query = select(CatalogEntryRow).options(selectinload(CatalogEntryRow.columns)).order_by(CatalogEntryRow.code)
        if not include_withdrawn:
            query = query.where(CatalogEntryRow.withdrawn_at.is_(None))
        return [entry_dict(row) for row in session.scalars(query)]


@dataclass(frozen=True)
class CatalogPage:
    """One page of the catalog's entries that match a filter."""

    total: int
    """Entries matching the filter, on every page."""
    entries: list[dict[str, Any]]
    """This page's entries, ordered by code, as :func:`list_entries` gives them."""


def page_entries(
    engine: Engine, *, include_withdrawn: bool = False, text: str | None = None, department: str | None = None,
    limit: int = 100, offset: int = 0,
) -> CatalogPage:
    """One page of the catalog (``limit`` entries from ``offset``, ordered by code), counted and cut in SQL.

    ``text`` keeps the entries whose code, name or provider (department) contains it, ignoring ASCII case and
    taken literally (``%``, ``_``, quotes match themselves); ``department`` keeps one provider's entries
    exactly; withdrawn entries only with ``include_withdrawn``. An offset past the last entry is an empty page.
    """
    where = _entry_filter(include_withdrawn, text, department)
    with session_scope(engine) as session:
        total = session.scalar(select(func.count()).select_from(CatalogEntryRow).where(*where)) or 0
        rows = session.scalars(
            select(CatalogEntryRow).options(selectinload(CatalogEntryRow.columns)).where(*where)
            .order_by(CatalogEntryRow.code).limit(limit).offset(offset)
        )
        return CatalogPage(total, [entry_dict(row) for row in rows])


def _entry_filter(include_withdrawn: bool, text: str | None, department: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not include_withdrawn:
        where.append(CatalogEntryRow.withdrawn_at.is_(None))
    if department:
        where.append(CatalogEntryRow.provider == department)
    if text:
        needle = text.lower()
        # autoescape: LIKE's wildcards in the text are escaped, the text is one bound parameter
        where.append(or_(*(func.lower(col).contains(needle, autoescape=True)
                           for col in (CatalogEntryRow.code, CatalogEntryRow.name, CatalogEntryRow.provider))))
    return where


def catalog_departments(engine: Engine, *, include_withdrawn: bool = False) -> list[str]:
    """The providers (departments) of the catalog's entries, sorted (withdrawn entries' too when asked)."""
    query = select(CatalogEntryRow.provider).distinct().order_by(CatalogEntryRow.provider)
    if not include_withdrawn:
        query = query.where(CatalogEntryRow.withdrawn_at.is_(None))
    with session_scope(engine) as session:
        return list(session.scalars(query))


def get_entry(engine: Engine, code: str) -> dict[str, Any] | None:
    """The entry ``code`` (withdrawn too) as :func:`list_entries` lists it; None when the catalog has no such code."""
    with session_scope(engine) as session:
        row = session.get(CatalogEntryRow, code, options=[selectinload(CatalogEntryRow.columns)])
        return entry_dict(row) if row is not None else None


def catalogued_codes(engine: Engine) -> set[str]:
    """Every code the catalog holds, withdrawn entries included (each has a scorecard page)."""
    with session_scope(engine) as session:
        return set(session.scalars(select(CatalogEntryRow.code)))


def catalogued_among(engine: Engine, codes: Iterable[str | None]) -> set[str]:
    """Those of ``codes`` the catalog holds (withdrawn entries included): :func:`catalogued_codes` for a
    page that shows a few codes, read without reading every code."""
    wanted = sorted({c for c in codes if c})
    found: set[str] = set()
    with session_scope(engine) as session:
        for start in range(0, len(wanted), 500):  # bounded IN lists
            found.update(session.scalars(select(CatalogEntryRow.code)
                                         .where(CatalogEntryRow.code.in_(wanted[start : start + 500]))))
    return found


def import_history(engine: Engine, *, limit: int = 20, changes_limit: int | None = None) -> list[dict[str, Any]]:
    """The latest catalog imports, newest first, each with its changes and rejected rows (the first
    ``changes_limit`` of each when given: a city's first import adds every entry; the import's counts
    ``added`` + ``changed`` + ``withdrawn`` and ``rejected`` still say how many there are)."""
    with session_scope(engine) as session:
        imports = session.scalars(
            select(CatalogImport).order_by(CatalogImport.id.desc()).limit(limit)
        ).all()
        out = []
        for imp in imports:
            changes = session.scalars(
                select(CatalogChange).where(CatalogChange.import_id == imp.id).order_by(CatalogChange.id)
                .limit(changes_limit)
            ).all()
            errors = session.scalars(
                select(CatalogImportError)
                .where(CatalogImportError.import_id == imp.id)
                .order_by(CatalogImportError.id)
                .limit(changes_limit)
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
