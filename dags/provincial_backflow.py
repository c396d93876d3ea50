"""
### provincial_backflow — ingest provincial and national backflow batches (数据回流)

Every batch in the landing folder (connection `backflow_landing`, an `fs` folder) is a data file
(`data.csv` or `data.jsonl`) plus a `manifest.json` (batch id, resource code, logical date, full or
incremental, declared rows, SHA-256, schema version, sender, encoding). Each run:

1. **pull_from_province** — lands the batches the provincial platform's HTTP API offers (HTTP
   connection `province_backflow_api`, param `province_conn`; contract: `GET {base}/batches?date=D` → a
   JSON list of `{batch_id, manifest_url, data_url}`). Each batch is streamed into a staging folder,
   checked against its manifest's sha256 and renamed into the landing folder whole; one already landed
   with the same sha256 is not downloaded again; one whose download fails or whose data does not match
   is **not landed** and is listed under `failed` in the task's result and log (the next run tries it
   again); when the content is the sender's fault (data not matching its manifest's sha256, a manifest
   for another batch) the batch is also recorded as **rejected**, so the sender gets a dispute item.
   5xx, timeouts and dropped connections are retried with backoff. When the connection is not
   defined the task is **skipped** (pulling is off; the landing folder is filled by other means) and
   ingestion still runs. If the listing itself cannot be fetched the task fails and Airflow retries it.
   It runs in the pool `citygov_province`, never taking a department source's slot, and is failed (then
   retried) past `execution_timeout` (`CITYGOV_SOURCE_TASK_TIMEOUT_S`) should the API stop answering.
2. **ingest_batches** — verifies every batch not loaded yet: manifest, checksum, declared row count,
   columns against the catalog's 信息项, encoding, truncation — a batch that fails is **rejected whole**;
   loads valid rows into the city's backflow store (connection `dept_sdsj`) with a `_batch_id` lineage
   column: incremental batches upsert on the primary key, full batches replace the table, in one
   transaction; invalid rows go to `backflow_quarantine` with their line and reason; loads each batch id
   **at most once** (a rerun skips it; the same id with other content is rejected) and asserts
   declared = loaded + quarantined; records findings (`backflow.batch.rejected`,
   `backflow.rows.quarantined`) addressed to the sender, which `dispute_routing` turns into dispute items.

Daily at 03:00 (Asia/Shanghai). A scheduled or manual run pulls and takes in every batch on offer or
landed (newly landed ones are picked up by the next run; reruns are harmless). A **backfill** run
(`airflow backfill create --dag-id provincial_backflow --from-date A --to-date B`), or any run with param
`only_this_date`, pulls and ingests only the batches of its own logical date, so re-ingesting past days
touches nothing else; run it again with `--reprocess-behavior completed` and every batch is skipped.
See `govern backflow batches` and `govern backflow pull`.

A city **without backflow** (neither the landing connection nor the API connection is defined) gets both
tasks **skipped** with that one-line reason: the run ends skipped, not failed, and the other DAGs are
untouched. Defining only one half (the API but no landing folder, or a landing folder but no backflow
store) is a mistake, and the run fails naming the missing connection.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from citygov_airflow import BACKFLOW, DEFAULT_ARGS, TIMEZONE
from citygov_airflow.pools import PROVINCE_POOL, source_task_timeout


@dag(
    dag_id="provincial_backflow",
    schedule="0 3 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # Batches are loaded exactly once whatever the date, so missed days need no replay; a backfill
    # re-checks chosen days (its runs take only their own date's batches).
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "backflow"],
    doc_md=__doc__,
    params={
        "landing_conn": Param("backflow_landing", type="string", description="fs connection of the landing folder"),
        "target_conn": Param("dept_sdsj", type="string", description="connection of the city's backflow store"),
        "province_conn": Param(
            "province_backflow_api",
            type="string",
            description="HTTP connection of the provincial backflow API; pulling is off when it is not defined",
        ),
        # The UI's backfill form shows this box with its default (unchecked), and no param default can
        # depend on the run type: the label and help say a backfill ignores it.
        "only_this_date": Param(
            False,
            type="boolean",
            title="only_this_date (backfills: always on)",
            description="Checked: a scheduled or manual run takes only the batches of its logical date; unchecked: "
            "every batch on offer. A backfill run always takes only its own date, whatever this box shows.",
        ),
    },
)
def provincial_backflow():
    @task(pool=PROVINCE_POOL, execution_timeout=source_task_timeout())
    def pull_from_province(params=None, logical_date=None, dag_run=None) -> dict:
        """Land the batches the provincial API offers; skipped when its HTTP connection is not defined."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from citygov.backflow.http_pull import (
            REFUSED_PROBLEMS,
            ProvinceAPI,
            pull_batches,
            record_refusals,
            summarize,
        )
        from citygov_airflow import city_date, database_engine, governance_engine, source_resolver

        resolve = source_resolver()
        api, landing = resolve(params["province_conn"]), resolve(params["landing_conn"])
        if api is None and landing is None:
            raise AirflowSkipException(_no_backflow(params))
        if api is None:
            raise AirflowSkipException(
                f"connection {params['province_conn']!r} is not defined: pulling from the provincial API is off; "
                "ingesting what is already in the landing folder"
            )
        if landing is None:
            raise AirflowFailException(_not_defined(params["landing_conn"]))
        day = city_date(logical_date) if _only_this_date(params, dag_run) else None
        try:
            province = ProvinceAPI.from_connection(api)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        results = pull_batches(province, landing.folder(), logical_date=day)
        from citygov.lineage import pull_lineage
        from citygov_airflow.lineage import emit

        emit(lambda: pull_lineage(province.base_url, landing.folder(), results))
        refused = [r for r in results if r.status == "failed" and r.problem in REFUSED_PROBLEMS]
        if refused:  # the sender's to fix: recorded as rejected deliveries, so they reach the dispute queue
            target = resolve(params["target_conn"])
            if target is None:
                raise AirflowFailException(_not_defined(params["target_conn"]))
            with governance_engine() as store, database_engine(target) as target_engine:
                record_refusals(store, target_engine, refused)
        return {"date": day.isoformat() if day else None, **summarize(results)}

    # Runs when the pull succeeded or was skipped (no API connection); not when it failed for good.
    @task(outlets=[BACKFLOW], trigger_rule="none_failed")
    def ingest_batches(params=None, logical_date=None, dag_run=None, outlet_events=None) -> dict:
        """Verify, validate and load every landed batch; return each batch's reconciliation."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from citygov.backflow import ingest_landing
        from citygov_airflow import city_date, database_engine, governance_engine, source_resolver

        resolve = source_resolver()
        landing, target = resolve(params["landing_conn"]), resolve(params["target_conn"])
        if landing is None and resolve(params["province_conn"]) is None:
            raise AirflowSkipException(_no_backflow(params))
        for name, conn in ((params["landing_conn"], landing), (params["target_conn"], target)):
            if conn is None:
                raise AirflowFailException(_not_defined(name))
        day = city_date(logical_date)
        with governance_engine() as store, database_engine(target) as target_engine:
            results = ingest_landing(
                store, target_engine, landing.folder(), logical_date=day if _only_this_date(params, dag_run) else None
            )
            from citygov.lineage import ingest_lineage
            from citygov_airflow.lineage import emit

            emit(lambda: ingest_lineage(store, target, landing.folder(), results))
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

    pull_from_province() >> ingest_batches()


def _no_backflow(params) -> str:  # type: ignore[no-untyped-def]
    """The one-line reason a city without backflow skips this DAG."""
    return (
        f"no backflow in this city: neither {params['landing_conn']!r} (landing folder) nor "
        f"{params['province_conn']!r} (provincial API) is defined; define them to take in backflow"
    )


def _not_defined(conn_id: str) -> str:
    return f"connection {conn_id!r} is not defined; register it (airflow connections add or import)"


def _only_this_date(params, dag_run) -> bool:  # type: ignore[no-untyped-def]
    """Whether a run takes only the batches of its own logical date: asked for, or a backfill run."""
    run_type = getattr(dag_run, "run_type", None)
    return bool(params["only_this_date"]) or getattr(run_type, "value", run_type) == "backfill"


provincial_backflow()
