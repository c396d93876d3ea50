"""
### dispute_digest — tell the departments what is due (异议处置通知)

Every hour (at :20, after `dispute_sla` has escalated):

- **Digest**: from the digest hour on (default 08:00 city time), each department with dispute items gets
  one digest a day: overdue, due within one working day, and new since its last digest, each item with
  its link (`<base_url>/citygov/web/disputes/<id>`). Masked content only.
- **Escalation**: the stewards are told of every item the SLA run escalated, once per missed deadline.
- **Notice to consumers**: each department that received a dataset with a high-severity item or a
  quarantined backflow batch (the departments the item's page lists) is told, once per item.
- **Held sends**: notifications held back by quiet hours (or a channel that was down) go out as soon as
  a run finds them due.

Channels are Airflow connections (SMTP; a generic JSON webhook; 钉钉 and 企业微信 robots, signed), one or
more per department: `citygov_notify_<unit code>` by convention, or the Variable `citygov_notify_routes`
(units, stewards, operators, quiet hours, digest hour, base URL; see the README). Every notification is
recorded in the governance store before it is sent, so a retried task sends nothing twice.
Failed tasks of every citygov DAG are told to the operators by `on_failure_callback`.

**catchup=False**: a missed hour is covered by the next one.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from citygov_airflow import DEFAULT_ARGS, TIMEZONE


@dag(
    dag_id="dispute_digest",
    schedule="20 * * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citygov", "disputes", "notify"],
    doc_md=__doc__,
)
def dispute_digest():
    @task
    def notify_departments() -> dict:
        """Plan today's digests and the escalations, then send everything due now."""
        from citygov_airflow.notify import DisputeDigestNotifier

        notifier = DisputeDigestNotifier()
        notifier(get_current_context())
        return notifier.report

    notify_departments()


dispute_digest()
