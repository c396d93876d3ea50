"""Notifications (通知): a daily digest of dispute items per department, escalations of overdue items to
the stewards, notices to the departments that received a dataset with a problem, DAG failures to the
operators; by e-mail and by webhook (generic JSON, 钉钉 and 企业微信
robots, signed).

- **settings** (:mod:`citygov.notify.routes`): which unit goes to which Airflow connections, quiet
  hours, the digest hour, the base URL of item links;
- **channels** (:mod:`citygov.notify.channels`): a connection as a channel, the robots' bodies and
  signing, sending through ``smtplib`` and ``httpx``;
- **messages** (:mod:`citygov.notify.messages`): what each says, masked (only masked content is ever
  stored or sent) with a link to each item;
- **planning and delivery** (:mod:`citygov.notify.digest`, :mod:`citygov.notify.deliveries`): every
  notification is recorded before it is sent, once per (kind, key, recipient), so a retried task does not
  send twice; quiet hours hold it until they end;
- **notices to consumers** (:mod:`citygov.notify.consumers`): a high-severity item or a quarantined backflow
  batch told to every department the trace says received the data, once per (item, department).

:func:`run_digest` is what the ``dispute_digest`` DAG and ``govern notify digest`` run; the Airflow
notifiers in ``citygov_airflow.notify`` call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from citygov.notify.channels import (
    Channel,
    ChannelError,
    channel_from_connection,
    dingtalk_signature,
    webhook_signature,
)
from citygov.notify.consumers import plan_consumer_notices, told_about
from citygov.notify.deliveries import Delivery, Resolver, deliver_due, deliveries
from citygov.notify.digest import Planned, plan_digests, plan_escalations, plan_failure
from citygov.notify.messages import UnmaskedContent
from citygov.notify.routes import Routes, SettingsError
from citygov.settings import CITY_TZ


@dataclass
class NotifyReport:
    """What one run planned and sent."""

    now: datetime
    digests: Planned
    escalations: Planned
    sent: list[Delivery] = field(default_factory=list)
    """Every notification tried this run (planned now, or held from before), with its outcome."""
    dry_run: bool = False
    consumers: Planned = field(default_factory=Planned)
    """The notices to the departments that received a dataset with a problem."""

    def to_dict(self) -> dict[str, Any]:
        parts = (self.digests, self.escalations, self.consumers)
        return {
            "now": self.now.astimezone(CITY_TZ).isoformat(), "dry_run": self.dry_run,
            "digests": self.digests.to_dict(), "escalations": self.escalations.to_dict(),
            "consumers": self.consumers.to_dict(), "sent": [d.to_dict() for d in self.sent],
            "counts": {
                "planned": sum(len(p.planned) for p in parts),
                "sent": sum(d.status == "sent" for d in self.sent),
                "held": sum(1 for p in parts for n in p.planned if n["not_before"])
                + sum(d.status == "queued" for d in self.sent),
                "failed": sum(d.status == "failed" for d in self.sent),
                "unrouted": sum(len(p.unrouted) for p in parts),
            },
        }


def run_digest(engine: Engine, resolve: Resolver, routes: Routes, *, now: datetime, dry_run: bool = False,
               escalations: bool = True, consumers: bool = True) -> NotifyReport:
    """Plan today's digests (and the escalations to the stewards, and the notices to the departments that
    received a dataset with a problem), then send everything due at ``now``.

    ``resolve`` gives a connection by id (Airflow's in a task, a connections file on the command line).
    A dry run renders what would be planned and touches nothing.
    """
    digests = plan_digests(engine, resolve, routes, now=now, dry_run=dry_run)
    escalated = plan_escalations(engine, resolve, routes, now=now, dry_run=dry_run) if escalations else Planned()
    told = plan_consumer_notices(engine, resolve, routes, now=now, dry_run=dry_run) if consumers else Planned()
    sent = [] if dry_run else deliver_due(engine, resolve, routes, now=now)
    return NotifyReport(now, digests, escalated, sent, dry_run, told)


__all__ = [
    "Channel", "ChannelError", "Delivery", "NotifyReport", "Planned", "Routes", "SettingsError", "UnmaskedContent",
    "channel_from_connection", "deliver_due", "deliveries", "dingtalk_signature", "plan_consumer_notices", "plan_digests",
    "plan_escalations", "plan_failure", "run_digest", "told_about", "webhook_signature",
]
