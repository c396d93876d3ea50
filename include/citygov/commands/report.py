"""``govern report``: reports for leaders; ``monthly`` is one department's month (:mod:`citygov.monthly`),
as the web page ``/citygov/web/reports/monthly`` shows it."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``report`` commands to ``govern``."""
    report = sub.add_parser("report", help="reports for leaders (部门月报)").add_subparsers(dest="command", required=True)
    p = report.add_parser(
        "monthly",
        help="one department's month: score and rank, coverage, disputes raised, handled and on time",
        description="The monthly department report (部门月报), the numbers of the web page /reports/monthly.",
    )
    p.add_argument("--department", required=True, help="the department (as the league table names it)")
    p.add_argument("--month", help="YYYY-MM (default: the month of --date)")
    p.add_argument("--date", help="as of this day (YYYY-MM-DD; default today in Asia/Shanghai): nothing later counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _monthly(a, common))


def _monthly(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.bounds import OutOfBounds
    from citygov.monthly import department_month

    day = common.parse_date(args.date)
    try:
        report = department_month(common.engine(args), args.department, args.month or day.strftime("%Y-%m"), as_of=day)
    except (LookupError, OutOfBounds) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    if args.json:
        common.print_json(report.to_dict())
        return common.EXIT_OK
    r = report
    score = f"{r.score:.2f} {r.grade}, rank {r.rank}/{r.ranked}" if r.score is not None else "not scored"
    coverage = f"{r.coverage:.2%} ({r.catalogued}/{r.found})" if r.coverage is not None else "-"
    share = f"{r.share_on_time:.2%}" if r.share_on_time is not None else "-"
    print(f"{r.department} 月报 {r.month} ({r.first_day.isoformat()}..{r.last_day.isoformat()}"
          f"{'' if r.complete else ', month not over'})")
    print(f"  质量得分 score: {score} [scored on {r.scored_on or '-'}; {r.datasets} datasets]")
    print(f"  目录覆盖率 coverage: {coverage} [census of {r.census_on or '-'}]")
    print(f"  异议 disputes: raised {r.raised}, handled {r.resolved}, on time {r.resolved_on_time} ({share}); "
          f"open {r.open_at_end}, overdue {r.overdue_at_end} at the end of {r.last_day.isoformat()}")
    return common.EXIT_OK
