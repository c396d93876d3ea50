"""``govern notify``: the dispute notifications from the command line (the ``dispute_digest`` DAG's core).

``govern notify digest`` plans today's digest for every department, the escalations to the stewards and the
notices to the departments that received a dataset with a problem (``--no-consumers`` leaves those out),
then sends what is due (recorded in the store: a second run the same day sends nothing again);
``--dry-run`` shows what would be sent and records and sends nothing. ``govern notify sent`` lists what
was recorded. Settings: ``--routes FILE`` (else ``$CITYGOV_NOTIFY_ROUTES``), channels from
``--connections FILE`` or ``AIRFLOW_CONN_<ID>`` variables.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    group = sub.add_parser("notify", help="notifications: department digests, escalations, notices to receivers (see citygov.notify)")
    commands = group.add_subparsers(dest="command", required=True)

    p = commands.add_parser("digest", help="plan and send today's department digests and the stewards' escalations")
    p.add_argument("--dry-run", action="store_true", help="show what would be sent; record and send nothing")
    p.add_argument("--at", help="the moment to judge deadlines at (ISO 8601; default now)")
    p.add_argument("--routes", help="notification settings JSON (default $CITYGOV_NOTIFY_ROUTES)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--base-url", help="the api-server's address for item links (overrides the settings)")
    p.add_argument("--no-escalations", action="store_true", help="no escalations to the stewards")
    p.add_argument("--no-consumers", action="store_true",
                   help="no notices to the departments that received a dataset with a problem")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: _digest(args, common))

    p = commands.add_parser("sent", help="what the notifications recorded (planned, held, sent, failed)")
    p.add_argument("--kind", choices=["digest", "escalation", "consumer_notice", "failure"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: _sent(args, common))


def _digest(args: argparse.Namespace, common: ModuleType) -> int:
    import sys

    from citygov.commands.disputes import _moment  # --at as the queue's commands read it
    from citygov.disputes import InvalidInput
    from citygov.notify import Routes, SettingsError, run_digest

    try:
        routes = Routes.from_file(args.routes)
        now = _moment(args.at)
    except (OSError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return common.EXIT_ERROR
    if args.base_url:
        routes = replace(routes, base_url=args.base_url)
    report = run_digest(common.engine(args), common.resolver(args), routes, now=now,
                        dry_run=args.dry_run, escalations=not args.no_escalations,
                        consumers=not args.no_consumers).to_dict()
    if args.json:
        common.print_json(report)
    else:
        for part in ("digests", "escalations", "consumers"):
            for n in report[part]["planned"]:
                held = f" (held until {n['not_before']})" if n["not_before"] else ""
                verb = "would send" if args.dry_run else "planned"
                print(f"{verb} {n['kind']} to {n['recipient']} [{n['channel']}] {n['unit'] or ''}: "
                      f"{len(n['item_ids'])} item(s){held}")
            for n in report[part]["already"]:
                print(f"already planned {n['kind']} to {n['recipient']} {n['unit'] or ''} ({n['key']})")
            for n in report[part]["unrouted"]:
                print(f"not routed: {n['unit']} → {n['conn_id'] or '-'} ({n['reason']})")
        for d in report["sent"]:
            print(f"{d['status']}: {d['kind']} to {d['recipient']} [{d['channel']}]" + (f" — {d['error']}" if d["error"] else ""))
        c = report["counts"]
        print(f"{c['planned']} planned, {c['sent']} sent, {c['held']} held, {c['failed']} failed, {c['unrouted']} not routed")
    return common.EXIT_PROBLEMS if report["counts"]["failed"] else common.EXIT_OK


def _sent(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.notify import deliveries

    rows = deliveries(common.engine(args), kind=args.kind)
    if args.json:
        common.print_json([r.to_dict() for r in rows])
        return common.EXIT_OK
    for r in rows:
        print(f"{r.id}\t{r.kind}\t{r.key}\t{r.recipient}\t{r.channel}\t{r.status}\t{r.sent_at or r.not_before or ''}")
    return common.EXIT_OK
