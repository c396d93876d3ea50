"""``govern kpis``: the plan's KPIs against their targets, with trends (:mod:`citygov.kpis`)."""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``kpis`` command to ``govern``."""
    p = sub.add_parser(
        "kpis",
        help="KPIs of the plan: catalog coverage, 按需共享率, 应开放公共数据开放率, quality score, disputes",
        description="Computes the KPIs from the census, the scores, the dispute queue, the exchange platform's "
        "share-request log (connection exchange_platform) and the open-data portal listing (open_data_portal).",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--date", help="as of this day (YYYY-MM-DD; default today in Asia/Shanghai)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--departments", action="store_true", help="also the department league table")
    p.set_defaults(func=lambda a: _kpis(a, common))


def _kpis(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.kpis import city_kpis, department_league

    engine = common.engine(args)
    day = common.parse_date(args.date)
    result = city_kpis(engine, common.resolver(args), day)
    league = department_league(engine, day) if args.departments else None
    if args.json:
        data = result.to_dict()
        if league is not None:
            data["departments"] = [r.to_dict() for r in league]
        common.print_json(data)
        return common.EXIT_OK
    print(f"KPIs as of {day.isoformat()}")
    for k in result.kpis:
        if k.value is None:
            shown = f"n/a ({k.error})"
        elif k.unit == "score":
            unscored = k.details.get("not_scored")
            shown = f"{k.value:.2f} {k.details.get('grade', '')} over {k.denominator} scored datasets" + (
                f" ({unscored} not scored)" if unscored else "")
        else:
            shown = f"{k.value:.2%} ({k.numerator}/{k.denominator})"
        target = f"  target {k.target:.0%} {'met' if k.met else 'NOT met'}" if k.target is not None and k.value is not None else ""
        period = f"  [{_period(k, day)}]" if k.value is not None else ""
        print(f"  {k.name} {k.name_en}: {shown}{target}{period}")
    d = result.disputes
    share = f"{d.share_resolved_within_deadline:.2%}" if d.share_resolved_within_deadline is not None else "n/a"
    print(f"  异议 disputes: {d.open} open, {d.overdue} overdue [截至 {day.isoformat()} 日终 at the end of the day]; "
          f"resolved within deadline {share} ({d.resolved_within_deadline}/{d.resolved}) [累计 all time up to the day]")
    for r in league or []:
        score = f"{r.score:6.2f} {r.grade}" if r.score is not None else "     -"
        cov = f"{r.coverage:.0%}" if r.coverage is not None else "-"
        print(f"  {r.rank or '-':>3} {r.department:<28} {score}  coverage {cov}  open {r.open_disputes} "
              f"overdue {r.overdue_disputes}")
    return common.EXIT_OK


def _period(k: Any, day: Any) -> str:
    """What a figure covers, as the dashboard says it: cumulative up to the day, or the state on a day
    (the census's or the scoring day's when the figure comes from one)."""
    if k.period == "cumulative":
        return f"累计 all time up to {day.isoformat()}"
    on = k.as_of or day
    return f"截至 {on.isoformat()} as of" + ("" if on == day else f" (the latest data on or before {day.isoformat()})")
