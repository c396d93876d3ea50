"""
### provincial_backflow — ingest provincial and national backflow batches (数据回流)

Every batch in the landing folder (connection `backflow_landing`, an `fs` folder) is a data file plus a
`manifest.json` (batch id, resource code, logical date, full or incremental, declared rows, SHA-256,
schema version, sender, encoding). Each run:

- verifies every batch not loaded yet: manifest, checksum, declared row count, columns against the
  catalog's 信息项, encoding, truncation — a batch that fails is **rejected whole**;
- loads valid rows into the city's backflow store (connection `dept_sdsj`) with a `_batch_id` lineage
  column: incremental batches upsert on the primary key, full batches replace the table, in one
  transaction; invalid rows go to `backflow_quarantine` with their line and reason;
- loads each batch id **at most once** (a rerun skips it; the same id with other content is rejected) and
  asserts declared = loaded + quarantined;
- records findings (`backflow.batch.rejected`, `backflow.rows.quarantined`) addressed to the sender, which
  `dispute_routing` turns into dispute items.

Daily at 03:00 (Asia/Shanghai). By default a run takes in every batch that has landed (newly landed ones
are picked up by the next run; reruns are harmless); param `only_this_date` limits it to the batches of the
run's logical date, which is what a backfill of past days wants. See `govern backflow batches`.

Not built yet: pulling batches from the provincial HTTP API, JSON-lines files, GX-suite row validation.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from citygov_airflow import BACKFLOW, DEFAULT_ARGS, TIMEZONE


@dag(
    dag_id="provincial_backflow",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # Batches are loaded exactly once whatever the date, so missed days need no replay; a backfill with
    # only_this_date re-checks chosen days.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "backflow"],
    doc_md=__doc__,
    params={
        "landing_conn": Param("backflow_landing", type="string", description="fs connection of the landing folder"),
        "target_conn": Param("dept_sdsj", type="string", description="connection of the city's backflow store"),
        "only_this_date": Param(False, type="boolean", description="only batches of the run's logical date"),
    },
)
def provincial_backflow():
    @task(outlets=[BACKFLOW])
    def ingest_batches(params=None, logical_date=None, outlet_events=None) -> dict:
        """Verify, validate and load every landed batch; return each batch's reconciliation."""
        from airflow.sdk.exceptions import AirflowFailException
        from sqlalchemy import create_engine

        from citygov.backflow import ingest_landing
        from citygov.store import ensure_store
        from citygov_airflow import city_date, governance_url_from_airflow, source_resolver

        resolve = source_resolver()
        landing, target = resolve(params["landing_conn"]), resolve(params["target_conn"])
        for name, conn in ((params["landing_conn"], landing), (params["target_conn"], target)):
            if conn is None:
                raise AirflowFailException(f"connection {name!r} is not defined; register it (make connections)")
        day = city_date(logical_date)
        store = ensure_store(governance_url_from_airflow())
        target_engine = create_engine(target.sqlalchemy_url())
        try:
            results = ingest_landing(
                store, target_engine, landing.folder(), logical_date=day if params["only_this_date"] else None
            )
        finally:
            target_engine.dispose()
            store.dispose()
        summary = {
            "logical_date": day.isoformat(),
            "batches": {r.batch_id: r.status for r in results},
            "rows": {
                "declared": sum(r.declared_rows or 0 for r in results),
                "loaded": sum(r.loaded_rows for r in results),
                "quarantined": sum(r.quarantined_rows for r in results),
            },
        }
        outlet_events[BACKFLOW].extra = summary
        return summary

    ingest_batches()


provincial_backflow()
