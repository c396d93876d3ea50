"""Airflow's notifiers over :mod:`citygov.notify`: the departments' dispute digest and the operators'
notice of a failed task.

Both read the settings from the Airflow Variable ``citygov_notify_routes`` (else the file
``$CITYGOV_NOTIFY_ROUTES``; item links default to ``[api] base_url``) and the channels from Airflow
connections, and record every notification in the governance store before sending it, so a retried task
or callback does not send twice. Nothing here touches a database at import.

The SMTP provider's ``SmtpNotifier`` is not used: it renders its subject and body as Jinja templates (a
dispute's text is data, not a template), sends outside the record of what was sent, and exists only inside
Airflow, while ``govern notify`` must send the same digest without it. Mail goes through ``smtplib`` in
:mod:`citygov.notify.channels`, configured by the same kind of ``smtp`` connection.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


def notify_routes():  # type: ignore[no-untyped-def]
    """The notification settings (:class:`citygov.notify.Routes`); call inside a task or callback."""
    from dataclasses import replace

    from airflow.sdk import Variable

    from citygov.notify import Routes

    text = Variable.get("citygov_notify_routes", default=None)
    routes = Routes.from_text(text) if text else Routes.from_file()
    if routes.base_url is None:
        try:
            from airflow.configuration import conf

            base = conf.get("api", "base_url", fallback="") or ""
        except Exception:  # noqa: BLE001 (no config: the default link base stays)
            base = ""
        if base:
            routes = replace(routes, base_url=base)
    return routes


def _moment(context: Any) -> datetime:
    end = context.get("data_interval_end")
    if end is not None:
        return end
    return context["dag_run"].run_after


class DisputeDigestNotifier(BaseNotifier):
    """Plans each department's daily digest, the stewards' escalations and the notices to the departments
    that received a dataset with a problem, then sends everything due at the run's time (the end of its data
    interval). ``report`` holds what it did (a dict, for XCom)."""

    def __init__(self, *, escalations: bool = True, consumers: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.escalations = escalations
        self.consumers = consumers
        self.report: dict[str, Any] = {}

    def notify(self, context: Any) -> None:
        from citygov.notify import run_digest
        from citygov_airflow import governance_engine, source_resolver

        routes = notify_routes()
        with governance_engine() as engine:
            report = run_digest(engine, source_resolver(), routes, now=_moment(context), escalations=self.escalations,
                                consumers=self.consumers)
        self.report = report.to_dict()
        counts = self.report["counts"]
        log.info("dispute notifications: %s planned, %s sent, %s held (quiet hours or retry), %s failed, %s unrouted",
                 counts["planned"], counts["sent"], counts["held"], counts["failed"], counts["unrouted"])
        for item in (self.report["digests"]["unrouted"] + self.report["escalations"]["unrouted"]
                     + self.report["consumers"]["unrouted"]):
            log.info("not routed: %s → %s (%s)", item["unit"], item["conn_id"] or "-", item["reason"])


class FailureNotifier(BaseNotifier):
    """``on_failure_callback`` of every citygov task (``DEFAULT_ARGS``): tells the operators' connections
    (``operators`` in the settings, default ``citygov_notify_operators``) which task failed and why, with
    the log's link. With no operator connection defined it does nothing and opens no store; when the store
    cannot record it (it may be why the task failed) the notice is sent unrecorded."""

    def notify(self, context: Any) -> None:
        from datetime import UTC

        from citygov.notify import channel_from_connection, deliver_due, plan_failure
        from citygov.notify.messages import failure_payload
        from citygov_airflow import governance_engine, source_resolver

        routes = notify_routes()
        resolve = source_resolver()
        defined = [c for c in routes.operators if resolve(c) is not None]
        if not defined:
            return
        ti, dag_run = context.get("ti"), context.get("dag_run")
        exception = context.get("exception")
        fields = {
            "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "?"),
            "task_id": getattr(ti, "task_id", None),
            "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", "?"),
            "try_number": getattr(ti, "try_number", None),
            "logical_date": str(context.get("logical_date") or "") or None,
            "error": f"{type(exception).__name__}: {exception}" if exception else None,
            "log_url": getattr(ti, "log_url", None),
        }
        now = datetime.now(UTC)  # when it failed: the notice goes now, not at the run's logical time
        try:
            with governance_engine() as engine:
                plan_failure(engine, resolve, routes, now=now, map_index=getattr(ti, "map_index", None), **fields)
                deliver_due(engine, resolve, routes, now=now, kinds=("failure",))
        except Exception:  # noqa: BLE001 (the store may be what failed; the operators are told regardless)
            log.exception("the failure notice could not be recorded in the governance store; sending it unrecorded")
            from citygov.notify.channels import send

            payload = failure_payload(**fields)
            for conn_id in defined:
                send(channel_from_connection(resolve(conn_id)), payload)  # type: ignore[arg-type]
