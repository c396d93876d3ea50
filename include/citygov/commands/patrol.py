"""``govern patrol``: the catalog patrol (目录巡检) outside Airflow, and stored findings."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``patrol`` commands to ``govern``."""
    patrol = sub.add_parser("patrol", help="catalog patrol (目录巡检)").add_subparsers(dest="command", required=True)
    p = patrol.add_parser("run", help="patrol every published entry now, outside Airflow")
    common.source_args(p)
    p.add_argument("--batch-size", type=int, default=200)
    p.set_defaults(func=lambda a: cmd_patrol_run(a, common))
    p = patrol.add_parser("findings", help="stored findings (patrol by default)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="only this logical date (YYYY-MM-DD)")
    p.add_argument("--entry", help="only this catalog entry code")
    p.add_argument("--department", help="only this responsible department")
    p.add_argument("--origin", default="patrol", help="patrol (default), census, quality or backflow")
    p.set_defaults(func=lambda a: cmd_patrol_findings(a, common))


def cmd_patrol_run(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.catalog.policy import MetadataPolicy
    from citygov.patrol import patrol_batch, plan_batches

    try:
        policy = MetadataPolicy.from_env()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    engine = common.engine(args)
    resolve = common.resolver(args)
    day = common.parse_date(args.date)
    batches = plan_batches(engine, args.batch_size)
    total, gaps = 0, 0
    for number, batch in enumerate(batches, start=1):
        report = patrol_batch(engine, batch, resolve, day, policy)
        total += len(report.findings)
        gaps += len(report.recommended_gaps)
        print(f"batch {number}/{len(batches)}: {len(batch)} entries, {len(report.findings)} findings", file=sys.stderr)
    print(f"patrol {day.isoformat()}: {sum(map(len, batches))} entries, {total} findings")
    if gaps:
        print(f"{gaps} entries leave recommended catalog fields empty (shown on their scorecards, not disputed)")
    return common.EXIT_OK


def cmd_patrol_findings(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.findings import load_findings

    findings = load_findings(common.engine(args), origin=args.origin, logical_date=common.parse_date(args.date) if args.date else None)
    if args.entry:
        findings = [f for f in findings if f["entry_code"] == args.entry]
    if args.department:
        findings = [f for f in findings if f["department"] == args.department]
    if args.json:
        common.print_json(findings)
        return common.EXIT_OK
    print(f"{len(findings)} finding(s)")
    for f in findings:
        print(f"  {f['logical_date']} [{f['severity']:<6}] {f['dimension']} {f['rule_id']}: {f['message']}")
    return common.EXIT_OK
