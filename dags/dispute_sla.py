"""
### dispute_sla — escalate overdue dispute items (异议处置时限)

Every hour, every dispute item whose running deadline has passed is escalated once per missed deadline:
its escalation level goes up and an `escalate` event (actor `system:dispute_sla`) records which deadline
was missed and by which responsible unit. The result lists the escalated items per department.

- **Deadlines** count working days of the official Chinese calendar, 调休 make-up workdays included:
  accept within 2, resolve within 5 (extendable once to 10 with a reason); configurable with
  `CITYGOV_DISPUTE_ACCEPT_DAYS`, `CITYGOV_DISPUTE_RESOLVE_DAYS`, `CITYGOV_DISPUTE_EXTENDED_DAYS`.
- **Provisional deadlines** (reaching a year the installed holiday calendar does not cover, counted
  Monday–Friday) are recomputed here as soon as an upgraded calendar knows the year.
- **Time**: deadlines are judged at the end of the run's data interval, not the wall clock, so a rerun
  of an hour gives the same answer; escalating is idempotent.
- **catchup=False**: a missed hour is covered by the next one (everything overdue by then is escalated).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from citygov_airflow import DEFAULT_ARGS, TIMEZONE


@dag(
    dag_id="dispute_sla",
    schedule="5 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "disputes", "sla"],
    doc_md=__doc__,
)
def dispute_sla():
    @task
    def escalate_overdue(data_interval_end=None, dag_run=None) -> dict:
        """Escalate items past their deadline at the end of this run's interval."""
        from citygov import disputes
        from citygov_airflow import governance_engine

        with governance_engine() as engine:
            report = disputes.escalate_overdue(engine, now=data_interval_end or dag_run.run_after)
        return report.to_dict()

    escalate_overdue()


dispute_sla()
