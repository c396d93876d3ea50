"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from citygov.store import current_revisions, ensure_store, head_revisions, upgrade
from citygov.store.models import Base


def test_migrations_match_models(store: Engine) -> None:
    assert current_revisions(store) == head_revisions()
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_store_has_the_planned_tables(store: Engine) -> None:
    tables = set(inspect(store).get_table_names())
    assert {
        "catalog_entries",
        "catalog_columns",
        "catalog_imports",
        "catalog_changes",
        "catalog_import_errors",
        "department_sources",
        "census_snapshots",
        "census_resources",
        "findings",
        "quality_runs",
        "check_results",
        "dataset_scores",
        "disputes",
        "dispute_events",
        "backflow_batches",
    } <= tables


def test_upgrade_is_idempotent(store_url: str) -> None:
    upgrade(store_url)
    engine = ensure_store(store_url)
    assert current_revisions(engine) == head_revisions()
    engine.dispose()
