"""The monthly department report (部门月报): one department's month, for a leader and for print.

What it holds, each figure from the same functions as the dashboard and the league table:

- **score and rank**: the department's mean GB/T 36344 score on the latest scoring day up to the report's
  last day, its grade and its place in the league (:func:`citygov.kpis.department_league`), with its
  datasets worst first (:func:`citygov.scorecards.dataset_table`) and its score per scoring day;
- **catalog coverage**: the department's 目录覆盖率 in the latest census up to that day (same league row);
- **disputes**: items open and overdue at the end of the report's last day (the league row, rebuilt from
  the event log), items raised in the month (items of the unit then that did not exist at the month's
  start), and the items handled in the month (:func:`citygov.disputes.figures.resolutions` made in the
  month under the unit): how many, how many within their deadline, and each one; the share within
  deadline per month for the last twelve months.

The report's last day is the month's last day, or ``as_of`` when the month is not over yet (never a
figure from after ``as_of``). ``govern report monthly --json`` and the web page both call
:func:`department_month`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from citygov.bounds import OutOfBounds, check_day, quoted
from citygov.disputes.figures import end_of_day, resolutions, states_at
from citygov.disputes.queue import UNASSIGNED, jsonable
from citygov.identifiers import scrub
from citygov.kpis import TrendPoint, department_league
from citygov.scorecards import DatasetRow, dataset_table
from citygov.settings import CITY_TZ
from citygov.store import session_scope
from citygov.store.models import DatasetScore
from citygov.store.models_disputes import Dispute

TREND_MONTHS = 12
DATASETS_MAX = 500
"""Most datasets listed in one report (worst first)."""


@dataclass(frozen=True)
class HandledItem:
    """One resolution the department made in the month."""

    dispute_id: int
    title: str
    """The item's title, masked."""
    entry_code: str | None
    resolved_at: datetime
    """When (city time)."""
    on_time: bool
    """Within the deadline running then."""


@dataclass(frozen=True)
class DepartmentMonth:
    """Everything the monthly department report shows (see the module docstring)."""

    department: str
    month: str
    """``YYYY-MM``."""
    first_day: date
    last_day: date
    """The month's last day, or the as-of day when the month is not over."""
    complete: bool
    """The whole month lies up to the as-of day."""
    rank: int | None
    """1 = best score among the departments with one; None without a score."""
    ranked: int
    """Departments with a score (the league's length)."""
    score: float | None
    grade: str | None
    datasets: int
    """Datasets scored on :attr:`scored_on`."""
    scored_on: date | None
    coverage: float | None
    found: int | None
    catalogued: int | None
    census_on: date | None
    open_at_end: int
    """Items of the unit not 已核验 or 已归档 at the end of :attr:`last_day`."""
    overdue_at_end: int
    raised: int
    """Items of the unit (at the month's end) raised in the month."""
    resolved: int
    """Resolutions the unit made in the month."""
    resolved_on_time: int
    share_on_time: float | None
    handled: list[HandledItem] = field(default_factory=list)
    on_time_trend: list[TrendPoint] = field(default_factory=list)
    """Per month of resolution (the last twelve up to the report's month): the share within deadline."""
    score_trend: list[TrendPoint] = field(default_factory=list)
    """The department's mean score per scoring day, over the year up to :attr:`last_day`."""
    dataset_rows: list[DatasetRow] = field(default_factory=list)
    """The department's datasets as scored on :attr:`scored_on`, worst first."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def parse_month(text: str) -> tuple[date, date]:
    """``YYYY-MM`` → the month's first and last day; :class:`OutOfBounds` when it is not one."""
    value = text.strip()
    try:
        year, month = (int(p) for p in value.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise OutOfBounds(f"month {quoted(text)} is not a month (YYYY-MM)") from None
    check_day(first, "month")
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return first, check_day(last, "month")


def report_departments(engine: Engine, as_of: date) -> list[str]:
    """The departments a report can be made for as of ``as_of``: those of the league table (a score, a
    census coverage or dispute items), by name."""
    return sorted(r.department for r in department_league(engine, as_of))


def department_month(engine: Engine, department: str, month: str, *, as_of: date) -> DepartmentMonth:
    """The monthly report of ``department`` for ``month`` (``YYYY-MM``) as known at the end of ``as_of``.

    Raises :class:`LookupError` for a department the league table does not know as of the report's last
    day, :class:`~citygov.bounds.OutOfBounds` for a month that is not one or begins after ``as_of``.
    """
    first, month_last = parse_month(month)
    if first > as_of:
        raise OutOfBounds(f"month {quoted(month)} begins after {as_of.isoformat()}: nothing is known of it yet")
    last = min(month_last, as_of)
    league = department_league(engine, last)
    row = next((r for r in league if r.department == department), None)
    if row is None:
        known = ", ".join(r.department for r in sorted(league, key=lambda r: r.department)) or "none"
        raise LookupError(f"department {quoted(department)} has no score, census coverage or dispute item up to "
                          f"{last.isoformat()} (known: {known})")
    end = end_of_day(last)
    done = [r for r in resolutions(engine, end) if r.unit == department]
    label = first.strftime("%Y-%m")
    in_month = [r for r in done if r.at.astimezone(CITY_TZ).strftime("%Y-%m") == label]
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in done:
        counts = by_month[r.at.astimezone(CITY_TZ).strftime("%Y-%m")]
        counts[0] += 1
        counts[1] += r.on_time
    months = _last_months(first, TREND_MONTHS)
    on_time_trend = [TrendPoint(m, _month_last(m, last), round(by_month[m][1] / by_month[m][0], 4),
                                by_month[m][1], by_month[m][0]) for m in months if m in by_month]
    within = sum(r.on_time for r in in_month)
    _, datasets = dataset_table(engine, last, department=department, limit=DATASETS_MAX)
    return DepartmentMonth(
        department=department, month=label, first_day=first, last_day=last, complete=month_last <= as_of,
        rank=row.rank, ranked=sum(1 for r in league if r.rank is not None), score=row.score, grade=row.grade,
        datasets=row.datasets, scored_on=row.scored_on, coverage=row.coverage, found=row.found,
        catalogued=row.catalogued, census_on=row.census_on, open_at_end=row.open_disputes,
        overdue_at_end=row.overdue_disputes, raised=_raised(engine, department, end_of_day(first - timedelta(days=1)), end),
        resolved=len(in_month), resolved_on_time=within,
        share_on_time=round(within / len(in_month), 4) if in_month else None,
        handled=_handled(engine, in_month), on_time_trend=on_time_trend,
        score_trend=_score_trend(engine, department, last), dataset_rows=datasets,
    )


def _last_months(first: date, n: int) -> list[str]:
    out, day = [], first
    for _ in range(n):
        out.append(day.strftime("%Y-%m"))
        day = (day - timedelta(days=1)).replace(day=1)
    return sorted(out)


def _month_last(label: str, cap: date) -> date:
    first, last = parse_month(label)
    return min(last, cap)


def _raised(engine: Engine, department: str, start: datetime, end: datetime) -> int:
    """Items of ``department`` at ``end`` that did not exist at ``start`` (raised in between)."""
    now, before = states_at(end), states_at(start)
    unit = func.coalesce(now.c.unit, UNASSIGNED)
    with session_scope(engine) as session:
        return int(session.scalar(
            select(func.count()).select_from(now)
            .where(unit == department, now.c.id.not_in(select(before.c.id)))
        ) or 0)


def _handled(engine: Engine, made: list[Any]) -> list[HandledItem]:
    ids = sorted({r.dispute_id for r in made})
    with session_scope(engine) as session:
        items = {d.id: (d.title, d.entry_code) for d in session.scalars(select(Dispute).where(Dispute.id.in_(ids)))} if ids else {}
    return [HandledItem(r.dispute_id, scrub(items.get(r.dispute_id, ("", None))[0]), items.get(r.dispute_id, ("", None))[1],
                        r.at.astimezone(CITY_TZ), r.on_time) for r in made]


def _score_trend(engine: Engine, department: str, last: date) -> list[TrendPoint]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(DatasetScore.logical_date, func.sum(DatasetScore.score), func.count(DatasetScore.score))
            .where(DatasetScore.department == department, DatasetScore.logical_date <= last,
                   DatasetScore.logical_date > last - timedelta(days=366))
            .group_by(DatasetScore.logical_date).having(func.count(DatasetScore.score) > 0)
            .order_by(DatasetScore.logical_date)
        ).all()
    return [TrendPoint(d.isoformat(), d, round(s / n, 2), None, n) for d, s, n in rows]


__all__ = ["DepartmentMonth", "HandledItem", "department_month", "parse_month", "report_departments"]
