"""
### share_trace — trace every share with the dataset's quality then (共享过程可追溯)

Runs after the dispute queue was updated (asset `citygov://disputes`, so the day's scores, open items and
backflow batches are in the store). One task:

- **import_shares** — reads the exchange platform's share-request log (connection `exchange_platform`, the
  one 按需共享率 reads; table `share_requests` unless the connection's extra says `table`) and stores every
  request it **served** and not traced yet, **exactly once** (keyed on its request id), with the dataset's
  state when served: its latest score and grade on or before that day, its open high-severity dispute items
  at that moment, and the backflow batches its table held. Each run reads the week before the newest traced
  share onwards (late entries are caught, the key drops repeats), up to the end of the run's logical day
  (or up to when it was triggered, for an asset-triggered run).

A city without the connection gets the task **skipped** with that reason. An unreadable log fails the task
(Airflow retries it). See `govern trace dataset CODE`, `govern trace batch BATCH_ID`, and the 共享追溯 page of
each dataset.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from citygov_airflow import DEFAULT_ARGS, DISPUTES, TIMEZONE


@dag(
    dag_id="share_trace",
    schedule=DISPUTES,
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    # Each run takes every share not traced yet, whatever its date: no replay of missed days is needed.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "trace"],
    doc_md=__doc__,
    params={
        "share_log_conn": Param("exchange_platform", type="string",
                                description="connection of the exchange platform's share-request log"),
    },
)
def share_trace():
    @task
    def import_shares(params=None, logical_date=None, dag_run=None) -> dict:
        """Trace the served shares not traced yet; the result says how many and from where."""
        from airflow.sdk.exceptions import AirflowSkipException

        from citygov.trace import day_end, import_configured
        from citygov_airflow import city_date, governance_engine, source_resolver

        until = day_end(city_date(logical_date)) if logical_date is not None else dag_run.run_after
        from citygov.lineage import share_trace_lineage
        from citygov_airflow.lineage import emit

        resolve = source_resolver()
        with governance_engine() as engine:
            result = import_configured(engine, resolve, until, conn_id=params["share_log_conn"])
            if result is not None and result.error is None:
                log_conn = resolve(params["share_log_conn"])
                emit(lambda: share_trace_lineage(engine, log_conn, result.source.split("/", 1)[1], len(result.imported)))
        if result is None:
            raise AirflowSkipException(
                f"connection {params['share_log_conn']!r} (the exchange platform's share-request log) is not "
                "defined: no share to trace")
        if result.error:
            raise RuntimeError(result.error)
        summary = result.to_dict()
        summary["request_ids"] = summary["request_ids"][:50]  # the count says the rest; XCom stays small
        return summary

    import_shares()


share_trace()
