"""Import a catalog export into the governance store (``govern catalog import``, ``catalog_sync``).

Good rows are upserted by 信息资源代码, bad rows are reported and skipped, and the whole import is one
transaction: a crash leaves the catalog as it was. Each import records what it added, changed and
withdrew, so the catalog has a history.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from citygov.catalog.reader import CatalogFileError, read_catalog_file
from citygov.catalog.schema import CatalogEntry
from citygov.catalog.validate import RowError, map_headers, validate_row
from citygov.store import session_scope
from citygov.store.models import (
    CatalogChange,
    CatalogColumnRow,
    CatalogEntryRow,
    CatalogImport,
    CatalogImportError,
)

__all__ = ["CatalogFileError", "ImportReport", "import_catalog", "parse_catalog"]


@dataclass
class ImportReport:
    """What one catalog import did."""

    import_id: int | None
    file: str
    encoding: str
    rows_total: int
    accepted: int
    rejected: list[RowError] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.rejected

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (rejections as ``file:line: column: message`` strings)."""
        data = asdict(self)
        data["rejected"] = [str(e) for e in self.rejected]
        data["ok"] = self.ok
        return data


@dataclass
class ParsedCatalog:
    """A catalog file checked row by row, before anything touches the store."""

    file: str
    encoding: str
    rows_total: int
    entries: list[CatalogEntry]
    errors: list[RowError]
    rejected_codes: set[str]


def parse_catalog(path: Path) -> ParsedCatalog:
    """Read and validate a catalog file without storing it (also used by ``--dry-run``)."""
    table = read_catalog_file(path)
    file = str(path)
    headers = map_headers(file, table.headers)
    if not table.rows:
        raise CatalogFileError(f"{file}: the file has a header but no rows; nothing to import")
    entries: list[CatalogEntry] = []
    errors: list[RowError] = []
    rejected_codes: set[str] = set()
    first_line: dict[str, int] = {}
    for row in table.rows:
        result = validate_row(file, row, headers)
        if isinstance(result, list):
            errors.extend(result)
            rejected_codes.update(e.code for e in result if e.code)
            continue
        if result.code in first_line:
            errors.append(
                RowError(
                    file,
                    row.line,
                    headers.label("code"),
                    f"{result.code!r} already appears on line {first_line[result.code]}; only that row is imported",
                    result.code,
                    result.provider,
                )
            )
            continue
        first_line[result.code] = row.line
        entries.append(result)
    return ParsedCatalog(file, table.encoding, len(table.rows), entries, errors, rejected_codes)


def import_catalog(
    engine: Engine,
    path: Path,
    *,
    imported_at: datetime | None = None,
    source_label: str | None = None,
) -> ImportReport:
    """Import a catalog file (CSV or XLSX, encoding detected) into the governance store.

    - Each row is validated; a bad row is reported as ``file:line: column: what is wrong`` and skipped.
    - Good rows are upserted by 信息资源代码 (code); unchanged rows are left alone.
    - Entries in the store that the file no longer lists are withdrawn (kept, with ``withdrawn_at``);
      an entry whose row was rejected this time keeps its last good version instead.
    - The import, its changes and its rejected rows are recorded in one transaction.

    Raises :class:`CatalogFileError` when the file cannot be read as a catalog at all (missing file,
    unknown encoding, missing required column, no rows); then nothing is imported.
    """
    path = Path(path)
    parsed = parse_catalog(path)
    now = imported_at or datetime.now(UTC)
    file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ImportReport(
        import_id=None,
        file=parsed.file,
        encoding=parsed.encoding,
        rows_total=parsed.rows_total,
        accepted=len(parsed.entries),
        rejected=parsed.errors,
    )
    with session_scope(engine) as session:
        record = CatalogImport(
            file=str(path.resolve()),
            file_sha256=file_sha,
            encoding=parsed.encoding,
            source_label=source_label,
            imported_at=now,
            rows_total=parsed.rows_total,
            accepted=len(parsed.entries),
            rejected=len({e.line for e in parsed.errors}),
            added=0,
            changed=0,
            withdrawn=0,
            unchanged=0,
        )
        session.add(record)
        session.flush()
        existing = {row.code: row for row in session.scalars(select(CatalogEntryRow))}
        for entry in parsed.entries:
            content = entry_content(entry)
            digest = _digest(content)
            row = existing.get(entry.code)
            if row is None:
                row = CatalogEntryRow(code=entry.code, first_imported_at=now)
                _apply(row, entry, content, digest, now, record.id)
                session.add(row)
                report.added.append(entry.code)
                session.add(CatalogChange(import_id=record.id, entry_code=entry.code, kind="added", diff={}))
            elif row.withdrawn_at is not None or row.content_hash != digest:
                diff = _diff(stored_content(row), content)
                kind = "restored" if row.withdrawn_at is not None else "changed"
                _apply(row, entry, content, digest, now, record.id)
                (report.restored if kind == "restored" else report.changed).append(entry.code)
                session.add(CatalogChange(import_id=record.id, entry_code=entry.code, kind=kind, diff=diff))
            else:
                report.unchanged += 1
        listed = {e.code for e in parsed.entries} | parsed.rejected_codes
        for code, row in sorted(existing.items()):
            if code not in listed and row.withdrawn_at is None:
                row.withdrawn_at = now
                row.last_import_id = record.id
                report.withdrawn.append(code)
                session.add(CatalogChange(import_id=record.id, entry_code=code, kind="withdrawn", diff={}))
        for error in parsed.errors:
            session.add(
                CatalogImportError(
                    import_id=record.id,
                    line=error.line,
                    column=error.column,
                    code=error.code,
                    provider=error.provider,
                    message=error.message,
                )
            )
        record.added = len(report.added) + len(report.restored)
        record.changed = len(report.changed)
        record.withdrawn = len(report.withdrawn)
        record.unchanged = report.unchanged
        report.import_id = record.id
    return report


def entry_content(entry: CatalogEntry) -> dict[str, Any]:
    """An entry's content as plain JSON values, the form stored, hashed and diffed."""
    return {
        "name": entry.name,
        "provider": entry.provider,
        "provider_code": entry.provider_code,
        "layer": entry.layer.value,
        "summary": entry.summary,
        "format": entry.format.value if entry.format else None,
        "columns": entry.columns_spec(),
        "share_type": entry.share_type.value,
        "share_condition": entry.share_condition,
        "share_basis": entry.share_basis,
        "share_method": entry.share_method,
        "open_attr": entry.open_attr.value,
        "update_cycle": entry.update_cycle.value,
        "publish_date": entry.publish_date.isoformat() if entry.publish_date else None,
        "related_codes": list(entry.related_codes),
        "conn_id": entry.conn_id,
        "location": entry.location,
        "primary_key": list(entry.primary_key),
        "update_time_column": entry.update_time_column,
        "sensitivity": entry.sensitivity.value,
        "sync_mode": entry.sync_mode.value if entry.sync_mode else None,
        "lifecycle": entry.lifecycle.value,
        "extra": dict(sorted(entry.extra.items())),
    }


def stored_content(row: CatalogEntryRow) -> dict[str, Any]:
    """The same content read back from a stored row."""
    return {
        "name": row.name,
        "provider": row.provider,
        "provider_code": row.provider_code,
        "layer": row.layer,
        "summary": row.summary,
        "format": row.format,
        "columns": ";".join(f"{c.name}:{c.dtype}" for c in row.columns),
        "share_type": row.share_type,
        "share_condition": row.share_condition,
        "share_basis": row.share_basis,
        "share_method": row.share_method,
        "open_attr": row.open_attr,
        "update_cycle": row.update_cycle,
        "publish_date": row.publish_date.isoformat() if row.publish_date else None,
        "related_codes": list(row.related_codes or []),
        "conn_id": row.conn_id,
        "location": row.location,
        "primary_key": list(row.primary_key or []),
        "update_time_column": row.update_time_column,
        "sensitivity": row.sensitivity,
        "sync_mode": row.sync_mode,
        "lifecycle": row.lifecycle,
        "extra": dict(sorted((row.extra or {}).items())),
    }


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def _apply(
    row: CatalogEntryRow,
    entry: CatalogEntry,
    content: dict[str, Any],
    digest: str,
    now: datetime,
    import_id: int,
) -> None:
    for key, value in content.items():
        if key not in {"columns", "publish_date"}:
            setattr(row, key, value)
    row.publish_date = entry.publish_date
    # Update declared columns in place: replacing the list would insert a (code, position) key
    # before the old one is deleted.
    current = list(row.columns)
    for i, column in enumerate(entry.columns):
        if i < len(current):
            current[i].name, current[i].dtype = column.name, column.dtype.value
        else:
            row.columns.append(CatalogColumnRow(position=i, name=column.name, dtype=column.dtype.value))
    for stale in current[len(entry.columns) :]:
        row.columns.remove(stale)
    row.content_hash = digest
    row.updated_at = now
    row.withdrawn_at = None
    row.last_import_id = import_id
