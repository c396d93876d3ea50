"""The census DAG's shape: a list of sources, one mapped inventory task per source, one reconcile."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def census_dag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER / "public_data_census.py", safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags["public_data_census"]


def test_the_inventory_is_mapped_over_the_listed_sources(census_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert set(census_dag.task_ids) == {"list_sources", "inventory_source", "reconcile"}
    inventory = census_dag.get_task("inventory_source")
    assert isinstance(inventory, MappedOperator)
    assert inventory.upstream_task_ids == {"list_sources"}
    assert "conn_id" in inventory.map_index_template  # each mapped task is labelled with its source


def test_the_reconcile_follows_every_inventory_and_runs_whatever_they_did(census_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import TriggerRule

    reconcile = census_dag.get_task("reconcile")
    assert reconcile.upstream_task_ids == {"list_sources", "inventory_source"}
    assert reconcile.trigger_rule == TriggerRule.ALL_DONE
    assert [a.uri for a in reconcile.outlets] == ["citygov://census/"]
    assert census_dag.get_task("list_sources").downstream_task_ids == {"inventory_source", "reconcile"}
