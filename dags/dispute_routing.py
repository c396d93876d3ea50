"""
### dispute_routing — take check findings into the dispute queue (异议处置)

Runs whenever the census, the catalog patrol, the quality inspection, the backflow ingestion or the catalog import
has produced something
(assets `citygov://census`, `citygov://patrol`, `citygov://quality`, `citygov://backflow`,
`citygov://catalog`), and routes every check run not
taken in yet (or rerun since) into the queue:

- a failing finding opens an item for its problem (dataset, rule, column, record key) with the catalog
  provider as responsible unit and a 2-working-day accept deadline, or updates the open item
  (occurrences, first/last seen, latest masked evidence);
- an item whose check passes on a later run is **verified** automatically and its flag lifted;
- a failure found again after 已更正 (or 已核验) **reopens** the item;
- rejected catalog rows of the latest import become items too (origin `catalog`);
- the dates whose findings changed after they were scored (backflow and catalog findings come after the
  quality inspection) are rescored, so every finding reaches its dataset's score (`rescored` in the result).

Rerunning is harmless (occurrences count distinct logical dates). Deadlines start at the run's time.
See the queue with `govern disputes list`, or `GET /citygov/api/disputes` on the api-server.
Outlet: `citygov://disputes` with the counts.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from citygov_airflow import BACKFLOW, CATALOG, CENSUS, DEFAULT_ARGS, DISPUTES, PATROL, QUALITY, TIMEZONE


@dag(
    dag_id="dispute_routing",
    schedule=(CENSUS | PATROL | CATALOG | QUALITY | BACKFLOW),
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    catchup=False,
    # Two routing passes at once would race to open the same item; one at a time.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "disputes"],
    doc_md=__doc__,
)
def dispute_routing():
    @task(outlets=[DISPUTES])
    def route_findings(dag_run=None, outlet_events=None) -> dict:
        """Route every pending check run into the queue, then rescore the dates whose findings changed after
        they were scored; the asset event carries the counts."""
        from citygov import disputes
        from citygov.quality.scores import rescore_stale
        from citygov_airflow import governance_engine

        with governance_engine() as engine:
            report = disputes.route_findings(engine, now=dag_run.run_after).to_dict()
            # Findings stored after a date was scored (backflow, the catalog import routed just now) reach
            # that date's scores.
            report["rescored"] = [day.isoformat() for day in rescore_stale(engine)]
            from citygov.lineage import store_step_lineage
            from citygov_airflow.lineage import emit

            emit(lambda: store_step_lineage(engine, ["findings", "dataset_scores"],
                                            ["disputes", "dispute_events", "dataset_scores"]))
        outlet_events[DISPUTES].extra = {k: len(v) for k, v in report.items() if isinstance(v, list)}
        return report

    route_findings()


dispute_routing()
