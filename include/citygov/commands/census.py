"""``govern census``: the public data census (公共数据普查) outside Airflow, and its stored results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``census`` commands to ``govern``."""
    census = sub.add_parser("census", help="public data census (公共数据普查)").add_subparsers(
        dest="command", required=True
    )
    p = census.add_parser("run", help="run the census now, outside Airflow")
    common.source_args(p)
    p.set_defaults(func=lambda a: cmd_census_run(a, common))
    p = census.add_parser("show", help="the latest census: coverage, uncatalogued and missing resources")
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="the census of this logical date (YYYY-MM-DD)")
    p.set_defaults(func=lambda a: cmd_census_show(a, common))
    p = census.add_parser("inventories", help="each source's stored inventory of a census: reachable, resources, why not")
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="the census of this logical date (YYYY-MM-DD; default the latest)")
    p.set_defaults(func=lambda a: cmd_census_inventories(a, common))
    p = census.add_parser("drafts", help="draft catalog rows for uncatalogued resources")
    p.add_argument("--out", required=True, help="CSV file to write (UTF-8 with BOM, import format)")
    p.add_argument("--date", help="the census of this logical date (YYYY-MM-DD)")
    p.set_defaults(func=lambda a: cmd_census_drafts(a, common))


def cmd_census_run(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.census import census_outcome, run_census

    report = run_census(common.engine(args), common.resolver(args), common.parse_date(args.date))
    summary = report.summary()
    common.print_json(summary) if args.json else _print_census(summary)
    failure = census_outcome(summary)
    if failure:
        print(failure, file=sys.stderr)
        return common.EXIT_PROBLEMS
    return common.EXIT_OK


def _print_census(summary: dict[str, Any]) -> None:
    city = summary["coverage"]["city"]
    ratio = f"{city['coverage']:.1%}" if city["coverage"] is not None else "n/a"
    print(
        f"census {summary['logical_date']}: {summary['resources_found']} resources in {summary['sources']} sources; "
        f"目录覆盖率 {ratio} ({city['catalogued']}/{city['found']})"
    )
    for dept, cov in summary["coverage"].items():
        if dept != "city":
            print(f"  {dept:<20} {cov['catalogued']}/{cov['found']}")
    for place in summary["uncatalogued"]:
        print(f"  应编未编 {place}")
    for code in summary["missing"]:
        print(f"  有目无数 {code}")
    for conn_id, error in summary["unreachable"].items():
        print(f"  不可达   {conn_id}: {error}")
    for conn_id, error in (summary.get("failed") or {}).items():  # snapshots before 'failed' lack it
        print(f"  普查失败 {conn_id}: {error}")


def cmd_census_show(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.census import latest_census

    census = latest_census(common.engine(args), common.parse_date(args.date) if args.date else None)
    if census is None:
        print("no census has been stored yet (run the public_data_census DAG or govern census run)", file=sys.stderr)
        return common.EXIT_PROBLEMS
    common.print_json(census) if args.json else _print_census(census)
    return common.EXIT_OK


def cmd_census_inventories(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.census_inventory import FAILED, UNREACHABLE, inventory_status

    rows = inventory_status(common.engine(args), common.parse_date(args.date) if args.date else None)
    if not rows:
        print("no census inventory is stored for that date (run the public_data_census DAG or govern census run)",
              file=sys.stderr)
        return common.EXIT_PROBLEMS
    if args.json:
        common.print_json(rows)
    else:
        print(f"census inventories {rows[0]['logical_date']}: {len(rows)} sources")
        for r in rows:
            what = {UNREACHABLE: f"不可达 {r['error']}", FAILED: f"普查失败 {r['error']}"}.get(
                r["status"], f"{r['resources']} resources")
            print(f"  {r['conn_id']:<20} {r['source_kind']:<8} {what}")
    return common.EXIT_PROBLEMS if any(r["status"] in (UNREACHABLE, FAILED) for r in rows) else common.EXIT_OK


def cmd_census_drafts(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.census import draft_rows, write_drafts

    rows = draft_rows(common.engine(args), common.parse_date(args.date) if args.date else None)
    write_drafts(rows, Path(args.out))
    print(f"wrote {len(rows)} draft catalog row(s) to {args.out}; complete them and run govern catalog import")
    return common.EXIT_OK
