"""The census DAG's shape: a list of sources, in each source shard (its own pool) one mapped inventory task
per source, one reconcile after them all, and the run's outcome (failed when an inventory failed) last."""

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


SHARDS = range(4)


def test_the_inventory_is_mapped_over_the_listed_sources(census_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from citygov_airflow.pools import SOURCE_POOL_COUNT, source_pool, source_task_timeout

    assert len(SHARDS) == SOURCE_POOL_COUNT
    assert set(census_dag.task_ids) == {"list_sources", "reconcile", "outcome"} | {
        f"sources_{n}.{t}" for n in SHARDS for t in ("shard_sources", "inventory_source")
    }
    for n in SHARDS:
        inventory = census_dag.get_task(f"sources_{n}.inventory_source")
        assert isinstance(inventory, MappedOperator)
        assert inventory.upstream_task_ids == {f"sources_{n}.shard_sources"}
        assert census_dag.get_task(f"sources_{n}.shard_sources").upstream_task_ids == {"list_sources"}
        assert "conn_id" in inventory.map_index_template  # each mapped task is labelled with its source
        assert inventory.partial_kwargs["pool"] == source_pool(n)  # a silent source holds only its shard
        assert inventory.partial_kwargs["execution_timeout"] == source_task_timeout()


def test_the_reconcile_follows_every_inventory_and_runs_whatever_they_did(census_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import TriggerRule

    reconcile = census_dag.get_task("reconcile")
    assert reconcile.upstream_task_ids == {"list_sources"} | {f"sources_{n}.inventory_source" for n in SHARDS}
    assert reconcile.trigger_rule == TriggerRule.ALL_DONE
    assert [a.uri for a in reconcile.outlets] == ["citygov://census/"]


def test_the_outcome_is_the_runs_last_word(census_dag) -> None:  # type: ignore[no-untyped-def]
    """The run's only leaf: it fails the run when the reconcile reports a source whose inventory failed."""
    outcome = census_dag.get_task("outcome")
    assert outcome.upstream_task_ids == {"reconcile"} and not outcome.downstream_task_ids
    assert [t.task_id for t in census_dag.tasks if not t.downstream_task_ids] == ["outcome"]
