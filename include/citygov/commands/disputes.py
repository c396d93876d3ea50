"""``govern disputes ...``: the dispute queue (异议处置) on the command line.

Every command calls :mod:`citygov.disputes`, as the DAGs and the web API do. A refused request (unknown
id, illegal transition, empty note, unknown user, ...) prints ``error: <why>`` (or ``{"ok": false,
"code": ..., "detail": ...}`` with ``--json``) and exits 2, having changed nothing. ``bulk`` exits 1 when
some items of the selection were refused (each listed with why; the others were done), ``recheck`` exits 1
unless the check passed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from citygov.settings import CITY_TZ


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    """Plug the ``disputes`` group into ``govern``."""
    group = sub.add_parser("disputes", help="the dispute queue (异议处置)").add_subparsers(
        dest="command", required=True
    )

    def command(name: str, help_text: str, func, *, json_flag: bool = True) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        p = group.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=lambda args: _run(func, args, common))
        return p

    p = command("list", "list dispute items", _list)
    p.add_argument("--status", help="state, Chinese or English (待受理 / pending, 已受理 / accepted, ...)")
    p.add_argument("--department", help="responsible unit (未定责 for items without one)")
    p.add_argument("--dataset", help="catalog 信息资源代码")
    p.add_argument("--origin", help="census, patrol, quality, backflow, catalog or consumer")
    p.add_argument("--overdue", action="store_true", help="only items whose running deadline has passed")
    p.add_argument("--flagged", action="store_true", help="only items whose data is flagged (标注)")
    p.add_argument("--rule", help="only items of this rule id (govern rules lists them)")
    p.add_argument("--severity", choices=["high", "medium", "low"])
    p.add_argument("--assignee", help="only items assigned to this person")
    p.add_argument("--sort", default="id", help="id, status, severity, dimension, rule, age, assignee, unit, dataset or due")
    p.add_argument("--order", choices=["asc", "desc"], default="asc")

    p = command("show", "one item with its full history", _show)
    p.add_argument("id", type=common.row_id)

    p = command("raise", "raise a dispute against a dataset or one of its records", _raise)
    p.add_argument("--dataset", required=True, help="catalog 信息资源代码 of the disputed dataset")
    p.add_argument("--by", required=True, help="registered user raising it")
    p.add_argument("--claim", required=True, help="what is wrong (masked before it is stored)")
    p.add_argument("--record-key", help="primary key of the disputed record")
    p.add_argument("--column", help="the disputed 信息项")
    p.add_argument("--evidence", help="supporting evidence text (masked before it is stored)")

    p = command("transition", "move an item to another state", _transition)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--to", required=True, help="target state, Chinese or English")
    p.add_argument("--by", required=True, help="registered user making the move")
    p.add_argument("--note", required=True, help="why (explanation for 维持原数据, reason for 驳回)")
    p.add_argument("--expected-version", type=int, help="refuse if the item changed since this version")

    p = command("reassign", "make another unit responsible (steward)", _reassign)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--unit", required=True, help="the new responsible unit")
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--expected-version", type=int)

    p = command("assign", "make a person within the responsible unit the item's handler (empty: the unit)", _assign)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--assignee", required=True, help="an officer of the item's unit or a steward; '' for the unit")
    p.add_argument("--by", required=True)
    p.add_argument("--note")
    p.add_argument("--expected-version", type=int)

    p = command("comment", "add a note to an item's timeline", _comment)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--by", required=True)
    p.add_argument("--note", required=True)
    p.add_argument("--expected-version", type=int)

    p = command("bulk", "one action on many items, each acted on (and refused) on its own; exit 1 if any failed",
                _bulk)
    p.add_argument("ids", nargs="+", type=common.row_id, metavar="ID")
    p.add_argument("--action", required=True, choices=["accept", "transition", "assign", "reassign", "comment"])
    p.add_argument("--by", required=True)
    p.add_argument("--note", help="each item's note (required except for assign)")
    p.add_argument("--to", help="target state for --action transition")
    p.add_argument("--unit", help="the new unit for --action reassign")
    p.add_argument("--assignee", help="the person for --action assign ('' for the unit)")

    p = command("recheck", "run an item's check (its quality rule, or its entry's patrol) on the source now: verify, keep or reopen it", _recheck)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--by", required=True, help="a steward or an officer of the item's unit")
    p.add_argument("--connections", help="connections JSON (airflow connections import format) holding the source")
    p.add_argument("--suites", help="folder of suite files (default: $CITYGOV_SUITES_DIR or expectations/)")
    p.add_argument("--expected-version", type=int)

    p = command("extend", "extend the resolve deadline once (to 10 working days by default)", _extend)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--by", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--expected-version", type=int)

    p = command("flag", "flag (标注) an item's data as disputed, or lift the flag with --lift (steward)", _flag)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--by", required=True)
    p.add_argument("--note", required=True)
    p.add_argument("--lift", action="store_true", help="lift the flag instead of setting it")
    p.add_argument("--expected-version", type=int)

    p = command("locate", "find an item's record in the responsible unit's own source (that unit's officer)", _locate)
    p.add_argument("id", type=common.row_id)
    p.add_argument("--by", required=True, help="an officer of the item's responsible unit")
    p.add_argument("--connections", help="connections JSON (airflow connections import format) holding the source")

    p = command("flags", "datasets and records currently flagged as under dispute", _flags)
    p.add_argument("--dataset", help="only this catalog 信息资源代码")

    p = command("export", "the audit trail: every event of every item", _export, json_flag=False)
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--id", type=common.row_id, dest="dispute_id", help="only this item")

    command("kpis", "open and overdue by department, share resolved in time, mean times", _kpis)

    p = command("route", "take stored findings (census, patrol, ...) into the queue", _route)
    p.add_argument("--origin", help="only runs of this origin")
    p.add_argument("--date", help="only runs of this logical date (YYYY-MM-DD)")

    p = command("escalate", "escalate items whose deadline has passed (what the dispute_sla DAG does)", _escalate)
    p.add_argument("--at", help="the moment to judge deadlines at (ISO 8601; default now)")

    users = group.add_parser("users", help="people who may act on the queue").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", help="register or update a steward, department officer or consumer")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["steward", "officer", "consumer"])
    p.add_argument("--department", help="the officer's (or consumer's) department")
    p.add_argument("--display-name")
    p.add_argument("--inactive", action="store_true", help="deactivate the user")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: _run(_users_add, args, common))
    p = users.add_parser("list", help="registered users")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: _run(_users_list, args, common))


# --- plumbing ------------------------------------------------------------------------------------------


def _run(func, args: argparse.Namespace, common: ModuleType) -> int:  # type: ignore[no-untyped-def]
    from citygov.disputes import DisputeError

    try:
        return int(func(args, common))
    except DisputeError as exc:
        if getattr(args, "json", False):
            common.print_json({"ok": False, **exc.to_dict()})
        else:
            print(f"error: {exc.message}", file=sys.stderr)
        return common.EXIT_ERROR


def _moment(value: str | None) -> datetime:
    from citygov.disputes import InvalidInput

    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--at {value!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CITY_TZ)


def _day(value: str | None) -> date | None:
    from citygov.disputes import InvalidInput

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--date {value!r} is not a date (YYYY-MM-DD)") from None


def _line(d: Any) -> str:
    due = f" due {d.due_date}{'(provisional)' if d.due_provisional else ''}" if d.due_date else ""
    marks = "".join([" OVERDUE" if d.overdue else "", " 标注" if d.flagged else ""])
    who = f" → {d.assignee}" if d.assignee else ""
    return (
        f"#{d.id:<5} {d.status:<6} {d.severity or '-':<6} {d.responsible_unit or '未定责'}{who}  {d.title}  "
        f"(×{d.occurrences}, v{d.version}, {d.age_days} d){due}{marks}"
    )


# --- commands ------------------------------------------------------------------------------------------


def _list(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import list_disputes

    items = list_disputes(
        common.engine(args), status=args.status, department=args.department, dataset=args.dataset,
        origin=args.origin, overdue=args.overdue, flagged=True if args.flagged else None, rule=args.rule,
        severity=args.severity, assignee=args.assignee, sort=args.sort, order=args.order,
    )
    if args.json:
        common.print_json([d.to_dict() for d in items])
        return common.EXIT_OK
    print(f"{len(items)} dispute item(s)")
    for d in items:
        print("  " + _line(d))
    return common.EXIT_OK


def _show(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import get_dispute

    d = get_dispute(common.engine(args), args.id)
    if args.json:
        common.print_json(d.to_dict())
        return common.EXIT_OK
    print(_line(d))
    print(f"  dataset {d.entry_code or '-'}  resource {d.conn_id or '-'}/{d.location or '-'}  "
          f"column {d.column or '-'}  record {d.record_key or '-'}")
    print(f"  seen {d.first_seen} … {d.last_seen}; latest: {d.latest_message or '-'}")
    print(f"  next: {', '.join(d.allowed_transitions) or '(closed)'}")
    for e in d.events or []:
        move = f"{e.from_status or '∅'} → {e.to_status}" if e.from_status != e.to_status else (e.to_status or "")
        print(f"  {e.at:%Y-%m-%d %H:%M} {e.actor:<20} {e.action:<12} {move}  {e.note or ''}")
    return common.EXIT_OK


def _raise(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import raise_dispute

    result = raise_dispute(
        common.engine(args), dataset=args.dataset, by=args.by, claim=args.claim,
        record_key=args.record_key, column=args.column, evidence=args.evidence,
    )
    if args.json:
        common.print_json(result.to_dict())
    else:
        verb = "joined open item" if result.deduplicated else "opened"
        print(f"{verb} {_line(result.dispute)}")
    return common.EXIT_OK


def _print_item(args: argparse.Namespace, common: ModuleType, d: Any, verb: str) -> int:
    if args.json:
        common.print_json(d.to_dict())
    else:
        print(f"{verb} {_line(d)}")
    return common.EXIT_OK


def _transition(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import transition

    d = transition(common.engine(args), args.id, args.to, by=args.by, note=args.note,
                   expected_version=args.expected_version)
    return _print_item(args, common, d, "moved")


def _reassign(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import reassign

    d = reassign(common.engine(args), args.id, to_unit=args.unit, by=args.by, reason=args.reason,
                 expected_version=args.expected_version)
    return _print_item(args, common, d, "reassigned")


def _assign(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import set_assignee

    d = set_assignee(common.engine(args), args.id, assignee=args.assignee or None, by=args.by, note=args.note,
                     expected_version=args.expected_version)
    return _print_item(args, common, d, "assigned")


def _comment(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import comment

    d = comment(common.engine(args), args.id, by=args.by, note=args.note, expected_version=args.expected_version)
    return _print_item(args, common, d, "commented on")


def _bulk(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import bulk_act

    result = bulk_act(common.engine(args), args.ids, args.action, by=args.by, note=args.note, to=args.to,
                      unit=args.unit, assignee=args.assignee or None)
    if args.json:
        common.print_json(result.to_dict())
    else:
        print(f"{args.action}: {len(result.done)} done, {len(result.failed)} failed")
        for f in result.failed:
            print(f"  #{f.id} {f.code}: {f.detail}")
    return common.EXIT_PROBLEMS if result.failed else common.EXIT_OK


def _recheck(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes.recheck import recheck

    result = recheck(common.engine(args), args.id, by=args.by, connections=common.resolver(args), suites=args.suites,
                     expected_version=args.expected_version)
    if args.json:
        common.print_json(result.to_dict())
    else:
        print(f"{result.message}\n  {_line(result.dispute)}")
    return common.EXIT_OK if result.outcome == "passed" else common.EXIT_PROBLEMS


def _extend(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import extend_deadline

    d = extend_deadline(common.engine(args), args.id, by=args.by, reason=args.reason,
                        expected_version=args.expected_version)
    return _print_item(args, common, d, "extended")


def _flag(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import set_flag

    d = set_flag(common.engine(args), args.id, flagged=not args.lift, by=args.by, note=args.note,
                 expected_version=args.expected_version)
    return _print_item(args, common, d, "flag lifted on" if args.lift else "flagged")


def _locate(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes.locate import locate_record

    found = locate_record(common.engine(args), args.id, by=args.by, connections=common.resolver(args))
    if args.json:
        common.print_json(found.to_dict())
        return common.EXIT_OK if found.matches else common.EXIT_PROBLEMS
    where = f"{found.conn_id}/{found.location}"
    if not found.matches:
        print(f"no row of {where} ({found.scanned} read) has this key: the record was deleted or its key changed")
        return common.EXIT_PROBLEMS
    for match in found.matches:
        row = f" row {match['row']}" if "row" in match else ""
        key = ", ".join(f"{c}={v}" for c, v in match["key"].items())
        print(f"{where}{row}: {key}")
    return common.EXIT_OK


def _flags(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import list_flags

    flags = list_flags(common.engine(args), dataset=args.dataset)
    if args.json:
        common.print_json([f.to_dict() for f in flags])
        return common.EXIT_OK
    print(f"{len(flags)} flagged item(s)")
    for f in flags:
        where = " ".join(x for x in [f.entry_code, f.column and f"column {f.column}",
                                      f.record_key and f"record {f.record_key}"] if x)
        print(f"  {where or '-'}: #{f.dispute_id} {f.status} {f.title}")
    return common.EXIT_OK


def _export(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import export_audit

    text = export_audit(common.engine(args), args.format, dispute_id=args.dispute_id)
    if args.out:
        # CSV with a BOM so Excel opens the Chinese correctly.
        Path(args.out).write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8", newline="")
        print(f"wrote the audit trail to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return common.EXIT_OK


def _kpis(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import dispute_kpis

    kpis = dispute_kpis(common.engine(args))
    if args.json:
        common.print_json(kpis)
        return common.EXIT_OK
    city = kpis["city"]
    share = city["share_resolved_within_deadline"]
    print(f"disputes as of {kpis['as_of']}: {city['total']} items, {city['open']} open, {city['overdue']} overdue")
    print(f"  resolved within deadline: {'n/a' if share is None else f'{share:.1%}'} "
          f"({city['resolved_within_deadline']}/{city['resolved']})")
    print(f"  mean hours to accept: {city['mean_hours_to_accept']}, to resolve: {city['mean_hours_to_resolve']}")
    for unit, b in kpis["by_department"].items():
        print(f"  {unit:<24} open {b['open']:<4} overdue {b['overdue']}")
    return common.EXIT_OK


def _route(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import route_findings

    report = route_findings(common.engine(args), origin=args.origin, logical_date=_day(args.date))
    if args.json:
        common.print_json(report.to_dict())
        return common.EXIT_OK
    data = report.to_dict()
    runs = ", ".join(f"{r['origin']} {r['logical_date']}" for r in data["runs"]) or "nothing new"
    print(f"routed {data['findings']} finding(s) from {runs}: opened {len(data['opened'])}, "
          f"updated {len(data['updated'])}, reopened {len(data['reopened'])}, verified {len(data['verified'])}")
    return common.EXIT_OK


def _escalate(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import escalate_overdue

    report = escalate_overdue(common.engine(args), now=_moment(args.at))
    if args.json:
        common.print_json(report.to_dict())
        return common.EXIT_OK
    print(f"escalated {len(report.escalated)} overdue item(s)")
    for unit, count in report.by_department.items():
        print(f"  {unit}: {count}")
    return common.EXIT_OK


def _users_add(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import register_actor

    actor = register_actor(common.engine(args), args.username, args.role, department=args.department,
                           display_name=args.display_name, active=not args.inactive)
    if args.json:
        common.print_json(actor.to_dict())
    else:
        print(f"registered {actor.username} as {actor.role}" + (f" of {actor.department}" if actor.department else ""))
    return common.EXIT_OK


def _users_list(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.disputes import list_actors

    actors = list_actors(common.engine(args))
    if args.json:
        common.print_json([a.to_dict() for a in actors])
        return common.EXIT_OK
    for a in actors:
        print(f"  {a.username:<16} {a.role:<9} {a.department or '-'}{'' if a.active else ' (inactive)'}")
    return common.EXIT_OK
