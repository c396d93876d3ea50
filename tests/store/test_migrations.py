"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from citygov.store import StoreOutOfDate, current_revisions, engine_for, ensure_store, head_revisions, upgrade
from citygov.store.models import Base
from tests.old_store import make_store_one_revision_behind


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
        "census_inventories",
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


def test_a_new_empty_store_gets_the_schema(tmp_path: Path) -> None:
    engine = ensure_store(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert current_revisions(engine) == head_revisions()
    finally:
        engine.dispose()


def test_a_store_behind_is_refused_with_the_command_to_run_and_left_as_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    before = make_store_one_revision_behind(url)

    with pytest.raises(StoreOutOfDate) as refused:
        ensure_store(url).dispose()

    message = str(refused.value)
    assert f"is at schema revision {before}, older than this code's" in message
    assert "run `govern store upgrade` (or `make init`) to migrate it" in message
    engine = engine_for(url)
    assert current_revisions(engine) == {before}, "not migrated"
    engine.dispose()


def test_a_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999z'"))
    engine.dispose()

    with pytest.raises(StoreOutOfDate, match="which this code does not know .* migrated by a newer citygov"):
        ensure_store(url).dispose()
