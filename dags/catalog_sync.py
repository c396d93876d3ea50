"""
### catalog_sync — keep the governance store in step with the office's catalog export (动态更新)

The data office exports the city's resource catalog (目录) as a CSV/XLSX file. Every run re-imports that
file into the governance store: new entries are added, edited ones changed, entries the export no longer
lists are withdrawn, and every rejected row is recorded with its file, line, column and reason.

- **File**: the run param `catalog_file`, else the Airflow Variable `citygov_catalog_file`
  (`make demo` registers it for the demo city).
- **Store**: the `governance_db` connection (falls back to `GOVERNANCE_DB_URL` / the embedded SQLite store).
- **Schedule**: hourly. The office re-exports whenever a department registers or withdraws a resource, so
  the store should lag by an hour at most; an unchanged file costs one read and records no changes.
- **catchup=False**: each run reads the *current* export, not a dated partition, so replaying missed hours
  would import the same file again and add nothing.
- **Outlet**: `citygov://catalog` gets an asset event only when the import added, changed, restored or
  withdrew entries (the extra carries the counts and `import_id`), so DAGs scheduled on the catalog (the
  patrol) run when there is something new to look at, not every hour.
- **Fails** without retrying when the file is missing or unreadable; rejected rows do not fail the run.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import Param, dag, task

from citygov_airflow import CATALOG, DEFAULT_ARGS, TIMEZONE

CATALOG_FILE_VARIABLE = "citygov_catalog_file"

log = logging.getLogger(__name__)


@dag(
    dag_id="catalog_sync",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "catalog"],
    doc_md=__doc__,
    params={
        "catalog_file": Param(
            None,
            type=["null", "string"],
            description=f"Catalog file to import; empty means the Variable {CATALOG_FILE_VARIABLE}.",
        ),
    },
)
def catalog_sync():
    @task
    def import_catalog_file(params=None, dag_run=None, logical_date=None) -> dict:
        """Import the catalog file into the store; log each rejected row; return the import's counts."""
        from airflow.sdk.exceptions import AirflowFailException

        from citygov.catalog.importer import CatalogFileError, import_catalog
        from citygov_airflow import catalog_file_path, governance_engine, import_summary

        path = catalog_file_path(params["catalog_file"], CATALOG_FILE_VARIABLE)
        with governance_engine() as engine:
            try:
                # The run's time, not the wall clock, so the catalog history lines up with the runs.
                report = import_catalog(
                    engine,
                    path,
                    imported_at=logical_date or dag_run.run_after,
                    source_label=f"airflow:{dag_run.dag_id}/{dag_run.run_id}",
                )
            except CatalogFileError as exc:
                raise AirflowFailException(f"cannot import the catalog: {exc}") from exc
            from citygov.lineage import catalog_lineage
            from citygov_airflow.lineage import emit

            emit(lambda: catalog_lineage(engine, path, report.accepted))
        for error in report.rejected:
            log.warning("rejected: %s", error)
        return import_summary(report)

    @task(outlets=[CATALOG])
    def announce_catalog_change(summary: dict, outlet_events=None) -> None:
        """Emit a catalog asset event when the import changed the catalog; skip otherwise."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not (summary["added"] or summary["changed"] or summary["restored"] or summary["withdrawn"]):
            raise AirflowSkipException("the catalog did not change; no asset event")
        outlet_events[CATALOG].extra = summary

    announce_catalog_change(import_catalog_file())


catalog_sync()
