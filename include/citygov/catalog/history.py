"""One catalog entry's history: every import that added, changed, withdrew or restored it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from citygov.catalog.queries import city_time
from citygov.store import session_scope
from citygov.store.models import CatalogChange, CatalogImport


def entry_history(engine: Engine, code: str) -> list[dict[str, Any]]:
    """The changes recorded for the entry ``code``, newest first: ``import_id``, ``imported_at`` (city
    time), ``file``, ``source_label``, ``kind`` (added, changed, withdrawn, restored) and ``diff`` (the
    fields changed), as :func:`~citygov.catalog.queries.import_history` lists them per import."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(CatalogChange, CatalogImport).join(CatalogImport, CatalogImport.id == CatalogChange.import_id)
            .where(CatalogChange.entry_code == code).order_by(CatalogChange.import_id.desc(), CatalogChange.id.desc())
        ).all()
        return [
            {"import_id": imp.id, "imported_at": city_time(imp.imported_at).isoformat(), "file": imp.file,
             "source_label": imp.source_label, "kind": change.kind, "diff": change.diff}
            for change, imp in rows
        ]


__all__ = ["entry_history"]
