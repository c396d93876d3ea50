"""
### public_data_census — public data census (公共数据普查)

Lists every table, view and file in every department source (the sources registered with
`govern sources register`, plus every source the catalog names), stores the snapshot for the logical
date, and reconciles it with the catalog:

- **应编未编** (`census.uncatalogued`): resources no catalog entry covers;
- **有目无数** (`census.resource_missing`): catalog entries whose resource was not found;
- **目录覆盖率**: catalogued / found, per department and for the city;
- **drafts**: `govern census drafts --out drafts.csv` writes a catalog row per uncatalogued resource
  (inferred 信息项, a grade suggested from the identifiers it holds) for a steward to complete and import.

**Tasks**: `list_sources` names the department sources; in each source shard (`sources_0` … `sources_3`,
each in its pool `citygov_sources_<n>`, as the patrol's), `inventory_source` runs once per source (dynamic
task mapping, stopped after `CITYGOV_SOURCE_TASK_TIMEOUT_S`) and stores that source's inventory in the governance store (`census_inventories`, keyed on
the logical date and the connection id); `reconcile` reads the date's inventories back from the store and
writes the snapshot, the findings and the coverage; `outcome` fails the run when a source's inventory
failed. XCom carries only connection ids, counts and the failed sources' errors.

Weekly on Monday at 02:00 (Asia/Shanghai), and on demand (trigger it from the UI). Rerunning a date
replaces that date's inventories, snapshot and findings. A source that cannot be reached is stored as
unreachable and is a `census.source_unreachable` finding (可访问性); its mapped task still succeeds and the
other sources are still counted. A mapped task that is stopped (by its timeout, or its worker lost) leaves no
inventory: the reconcile still runs and reports that source unreachable. A source whose inventory raises
is stored as failed with what it raised (a `census.inventory_failed` finding, the summary's `failed`);
the reconcile still counts the others, and `outcome` then fails the run naming that source and why. See
the results with `govern census show`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import TaskGroup, TriggerRule, dag, task

from citygov_airflow import CENSUS, DEFAULT_ARGS, TIMEZONE
from citygov_airflow.pools import SOURCE_POOL_COUNT, source_pool, source_task_timeout


@dag(
    dag_id="public_data_census",
    schedule="0 2 * * 1",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # A census observes the sources as they are now; replaying missed weeks would only repeat today.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "census", "catalog"],
    doc_md=__doc__,
)
def public_data_census():
    @task
    def list_sources(logical_date=None) -> list[str]:
        """The department sources to inventory; the date's earlier inventories are dropped."""
        from citygov import census
        from citygov_airflow import city_date, governance_engine

        with governance_engine() as engine:
            return census.plan_census(engine, city_date(logical_date))

    @task
    def shard_sources(conn_ids: list[str], shard: int) -> list[str]:
        """The sources dealt to this shard (its pool holds them, as the patrol's and the inspection's)."""
        from citygov_airflow.pools import sources_in_shard

        return sources_in_shard(conn_ids, shard)

    # One source's inventory, in its shard's pool, stopped by the source task timeout.
    @task(map_index_template="{{ task.op_kwargs['conn_id'] }}", execution_timeout=source_task_timeout())
    def inventory_source(conn_id: str, logical_date=None) -> dict:
        """Inventory one source and store it for the run's logical date (unreachable: stored as such)."""
        from citygov import census
        from citygov.lineage import census_lineage
        from citygov_airflow import city_date, governance_engine, source_resolver
        from citygov_airflow.lineage import emit

        with governance_engine() as engine:
            inventory = census.inventory_source(engine, source_resolver(), conn_id, city_date(logical_date))
            emit(lambda: census_lineage(engine, source_resolver(), [conn_id]))
        return {"conn_id": conn_id, "status": inventory.status, "resources": len(inventory.resources)}

    # all_done: a source whose task failed outright is reported unreachable, not a census that never ends.
    @task(outlets=[CENSUS], trigger_rule=TriggerRule.ALL_DONE)
    def reconcile(conn_ids: list[str], logical_date=None, outlet_events=None) -> dict:
        """Reconcile the date's stored inventories with the catalog; store snapshot and findings."""
        from citygov import census
        from citygov.findings import load_findings
        from citygov_airflow import city_date, governance_engine
        from citygov_airflow.run_report import report_failures

        day = city_date(logical_date)
        with governance_engine() as engine:
            report = census.reconcile_census(engine, day, conn_ids)
            summary = report.summary()
            found = load_findings(engine, origin="census", logical_date=day)
            report_failures(engine, f"census {day}", found, note_counts={"sources": summary["sources"], "findings": len(found)})
        outlet_events[CENSUS].extra = {
            "coverage": summary["coverage"]["city"],
            "findings": summary["findings"],
        }
        return {
            "logical_date": summary["logical_date"],
            "sources": summary["sources"],
            "resources_found": summary["resources_found"],
            "uncatalogued": len(report.uncatalogued),
            "missing": len(report.missing),
            "unreachable": len(report.unreachable),
            "failed": report.failed,
            "findings": summary["findings"],
        }

    @task
    def outcome(summary: dict) -> None:
        """Fail the run, naming each source and what its inventory raised, when one was not counted."""
        from airflow.sdk.exceptions import AirflowFailException

        from citygov.census import census_outcome

        failure = census_outcome(summary)
        if failure:
            raise AirflowFailException(failure)  # no retry: the same summary fails again; tell the operators now

    conn_ids = list_sources()
    inventories = []
    for shard in range(SOURCE_POOL_COUNT):
        with TaskGroup(f"sources_{shard}", tooltip=f"sources of shard {shard}, pool {source_pool(shard)}"):
            mine = shard_sources(conn_ids, shard)
            inventories.append(inventory_source.override(pool=source_pool(shard)).expand(conn_id=mine))
    summary = reconcile(conn_ids)
    inventories >> summary
    outcome(summary)


public_data_census()
