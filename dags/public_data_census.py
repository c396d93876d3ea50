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

Weekly on Monday at 02:00 (Asia/Shanghai), and on demand (trigger it from the UI). Rerunning a date
replaces that date's snapshot and findings. A source that cannot be reached is a `census.source_unreachable`
finding; the other sources are still counted. See the results with `govern census show`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from citygov_airflow import CENSUS, DEFAULT_ARGS, TIMEZONE


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
    @task(outlets=[CENSUS])
    def run_census(logical_date=None, outlet_events=None) -> dict:
        """Inventory every source, reconcile with the catalog, store snapshot and findings."""
        from citygov import census
        from citygov_airflow import city_date, governance_engine, source_resolver

        with governance_engine() as engine:
            summary = census.run_census(engine, source_resolver(), city_date(logical_date)).summary()
        outlet_events[CENSUS].extra = {
            "coverage": summary["coverage"]["city"],
            "findings": summary["findings"],
        }
        return summary

    run_census()


public_data_census()
