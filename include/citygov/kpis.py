"""The plan's KPIs against its targets (连政办发〔2023〕26号), with trends, per city and per department.

Working definitions (DOMAIN.md; no official formula was found):

- **目录覆盖率 catalog coverage** = resources the census found that are catalogued / all found (the
  stored census snapshot of the as-of date or the latest before it; trend: every stored census).
- **公共数据按需共享率 on-demand sharing rate** (target 97 %) = share requests satisfied by their
  deadline / valid requests, where refusals with a legal basis (``refusal_basis``) are not valid
  requests; pending, timed-out and unfounded refusals count against the rate. Read from the exchange
  platform's share-request log, a source like any other (connection ``exchange_platform``, table
  ``share_requests``): requests made up to the as-of day, a satisfaction counted only once it happened
  by then. Trend: the same rate per calendar month of request.
- **应开放公共数据开放率 open rate** (target 92 %) = catalog entries (not withdrawn by the as-of day) whose 开放属性
  is 无条件开放 or 有条件开放 that the open-data portal lists as published by the as-of day / all such
  entries. Read from the portal's listing (connection ``open_data_portal``, file ``open_listing.csv``
  with ``resource_code`` and ``published_at``). Trend: the same as of each month's end, counting entries
  whose 发布日期 had come.
- **城市质量得分 city quality score** = the mean GB/T 36344 score of all datasets scored on the latest date
  up to the as-of day (:mod:`citygov.quality.scores`); trend: every scored date.
- **异议处置 disputes**: open and overdue items as they stood at the end of the as-of day, rebuilt from the
  dispute event log (an item's status then is its last event's ``to_status`` before that moment, its
  deadline the last ``new_due_date`` set before it, its unit the one responsible then; items raised later
  do not count), and the share of resolutions made within their deadline, all resolutions up to that
  day; trend: resolutions and the share within deadline per calendar month.

Each figure says what period it covers: the state on the as-of day (a census, a scoring day, the queue
at the day's end) or cumulative up to it (the sharing rate, resolutions), with the monthly split beside.

Every figure is aggregated in SQL where it lives, so the dashboard stays fast with thousands of datasets
and disputes. ``govern kpis --json`` and the web dashboard both call :func:`city_kpis`.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text

from citygov.catalog.schema import OpenAttr
from citygov.disputes.figures import dispute_counts, end_of_day, resolutions
from citygov.disputes.queue import jsonable
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow, CensusSnapshot, DatasetScore

SHARE_LOG_CONN_ID = "exchange_platform"
"""Connection of the exchange platform's database holding the share-request log."""
SHARE_LOG_TABLE = "share_requests"
"""Default table of the share-request log (a connection's extra ``table`` overrides it)."""
PORTAL_CONN_ID = "open_data_portal"
"""Folder connection of the open-data portal's listing."""
PORTAL_LISTING = "open_listing.csv"
"""Default listing file in that folder (a connection's extra ``listing`` overrides it)."""

SHARING_TARGET = 0.97
"""按需共享率 target of the 2023 plan."""
OPEN_TARGET = 0.92
"""应开放公共数据开放率 target of the 2023 plan."""
TREND_MONTHS = 12
"""Months shown in the monthly trends."""

OPEN_ELIGIBLE = (OpenAttr.UNCONDITIONAL.value, OpenAttr.CONDITIONAL.value)
SATISFIED, REFUSED = "已满足", "已拒绝"

ConnectionResolver = Callable[[str], ConnectionInfo | None]


# --- typed results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """One point of a KPI's trend."""

    label: str
    """``YYYY-MM`` for monthly points, ``YYYY-MM-DD`` for dated ones."""
    day: date
    """The day the point stands for (a month's last day, or the snapshot's date)."""
    value: float | None
    numerator: int | None = None
    denominator: int | None = None


@dataclass(frozen=True)
class Kpi:
    """One KPI of the plan as of a day, with its target and trend."""

    key: str
    """Stable id: ``catalog_coverage``, ``on_demand_sharing_rate``, ``open_rate``, ``quality_score``."""
    name: str
    """Chinese name, as the plan says it."""
    name_en: str
    value: float | None
    """A ratio 0–1 (a score 0–100 for ``quality_score``); None when it could not be computed."""
    numerator: int | None
    denominator: int | None
    target: float | None
    unit: str
    """``ratio`` or ``score``."""
    source: str
    """Where the figure comes from."""
    as_of: date | None = None
    """The date of the data used (census or scoring date; the as-of day for live sources)."""
    error: str | None = None
    """Why there is no value (source missing or unreadable), and what to do."""
    trend: list[TrendPoint] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    period: str = "as_of"
    """What the value covers: ``as_of`` (the state on ``as_of``: a census, a scoring day, the catalog and
    listing then) or ``cumulative`` (every event up to the as-of day, all time; the trend splits it by
    month)."""

    @property
    def met(self) -> bool | None:
        """Whether the target is reached (None without a target or a value)."""
        if self.target is None or self.value is None:
            return None
        return self.value >= self.target


@dataclass(frozen=True)
class DisputeFigures:
    """Dispute handling for the city as it stood at a moment (see :func:`dispute_figures`)."""

    total: int
    """Items raised by then."""
    open: int
    """Not 已核验 or 已归档 then."""
    overdue: int
    """A deadline running then had passed by then."""
    resolved: int
    """Resolutions up to then, all time (every cycle of a reopened item counts)."""
    resolved_within_deadline: int
    share_resolved_within_deadline: float | None
    trend: list[TrendPoint] = field(default_factory=list)
    """Per month: the share of that month's resolutions made within their deadline."""
    at: datetime | None = None
    """The moment the figures stand at (city time): the end of the as-of day, or ``now`` when earlier."""


@dataclass(frozen=True)
class CityKpis:
    """Everything the city dashboard and ``govern kpis`` show."""

    as_of: date
    kpis: list[Kpi]
    disputes: DisputeFigures

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"as_of": self.as_of.isoformat(), "kpis": {}}
        for k in self.kpis:
            data = jsonable(asdict(k))
            data["met"] = k.met
            del data["key"]
            out["kpis"][k.key] = data
        out["disputes"] = jsonable(asdict(self.disputes))
        return out


@dataclass(frozen=True)
class DepartmentRow:
    """One line of the department league table."""

    department: str
    datasets: int
    """Datasets scored on the latest date."""
    score: float | None
    grade: str | None
    coverage: float | None
    """目录覆盖率 of the department in the latest census."""
    found: int | None
    catalogued: int | None
    open_disputes: int
    overdue_disputes: int
    rank: int | None = None
    """1 = best score; None when the department has no score."""
    scored_on: date | None = None
    """The scoring day the score comes from (the latest up to the as-of day)."""
    census_on: date | None = None
    """The census the coverage comes from (the latest up to the as-of day)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- helpers -------------------------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _day_end(day: date) -> datetime:
    """The first moment after ``day`` in the city (naive: sources keep naive Beijing times)."""
    return datetime.combine(day + timedelta(days=1), time())


def _month_ends(as_of: date, months: int = TREND_MONTHS) -> list[date]:
    """The last day of each of the ``months`` months up to ``as_of`` (the last one is ``as_of`` itself)."""
    out = [as_of]
    first = as_of.replace(day=1)
    for _ in range(months - 1):
        end = first - timedelta(days=1)
        out.append(end)
        first = end.replace(day=1)
    return sorted(out)


def _months(as_of: date, months: int = TREND_MONTHS) -> list[str]:
    return [d.strftime("%Y-%m") for d in _month_ends(as_of, months)]


def _month_end(label: str) -> date:
    year, month = map(int, label.split("-"))
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- catalog coverage ------------------------------------------------------------------------------------


def catalog_coverage(engine: Engine, as_of: date) -> Kpi:
    """目录覆盖率 from the census snapshot of ``as_of`` or the latest before it; trend: every census."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(CensusSnapshot.logical_date, CensusSnapshot.summary)
            .where(CensusSnapshot.logical_date <= as_of)
            .order_by(CensusSnapshot.logical_date)
        ).all()
    trend = []
    for day, summary in rows:
        city = (summary or {}).get("coverage", {}).get("city", {})
        trend.append(TrendPoint(day.isoformat(), day, city.get("coverage"), city.get("catalogued"), city.get("found")))
    base = {"key": "catalog_coverage", "name": "目录覆盖率", "name_en": "catalog coverage", "target": None,
            "unit": "ratio", "source": "公共数据普查 census snapshot (governance store)"}
    if not trend:
        return Kpi(**base, value=None, numerator=None, denominator=None,
                   error="no census stored up to this day: run the public_data_census DAG (or govern census run)")
    last = trend[-1]
    return Kpi(**base, value=last.value, numerator=last.numerator, denominator=last.denominator, as_of=last.day,
               trend=trend)


def coverage_by_department(engine: Engine, as_of: date) -> dict[str, dict[str, Any]]:
    """Per department: ``found``, ``catalogued``, ``coverage`` in the latest census up to ``as_of``."""
    with session_scope(engine) as session:
        summary = session.scalar(
            select(CensusSnapshot.summary)
            .where(CensusSnapshot.logical_date <= as_of)
            .order_by(CensusSnapshot.logical_date.desc())
            .limit(1)
        )
    coverage = dict((summary or {}).get("coverage", {}))
    coverage.pop("city", None)
    return coverage


# --- on-demand sharing rate ------------------------------------------------------------------------------


def sharing_rate(conn: ConnectionInfo | None, as_of: date) -> Kpi:
    """公共数据按需共享率 from the share-request log (see the module docstring), with a monthly trend."""
    from citygov.inventory import ident, source_engine

    base = {"key": "on_demand_sharing_rate", "name": "公共数据按需共享率", "name_en": "on-demand sharing rate",
            "target": SHARING_TARGET, "unit": "ratio", "as_of": as_of}
    if conn is None:
        return Kpi(**base, value=None, numerator=None, denominator=None, source=SHARE_LOG_CONN_ID,
                   error=f"connection {SHARE_LOG_CONN_ID!r} (the exchange platform's share-request log) is not "
                         "defined; register it with Airflow or pass --connections")
    table = str(conn.extra.get("table") or SHARE_LOG_TABLE)
    source = f"{conn.conn_id}/{table}"
    end = _day_end(as_of).strftime("%Y-%m-%d %H:%M:%S")
    # Timestamps are compared as text 'YYYY-MM-DD HH:MM:SS' (how SQLite keeps them, how PostgreSQL casts them).
    at = "CAST({} AS VARCHAR(19))"
    satisfied = (f"CASE WHEN status = :satisfied AND satisfied_at IS NOT NULL AND {at.format('satisfied_at')} "
                 f"<= {at.format('deadline')} AND {at.format('satisfied_at')} < :end THEN 1 ELSE 0 END")
    excused = "CASE WHEN status = :refused AND COALESCE(refusal_basis, '') <> '' THEN 1 ELSE 0 END"
    month = f"SUBSTR({at.format('requested_at')}, 1, 7)"
    try:
        engine = source_engine(conn)
        # The table name comes from the connection's extra: quoted by the dialect, never pasted.
        sql = text(
            f"SELECT {month} AS month, COUNT(*) AS n, SUM({satisfied}) AS ok, SUM({excused}) AS excused "
            f"FROM {engine.dialect.identifier_preparer.quote(ident(table))} "
            f"WHERE {at.format('requested_at')} < :end GROUP BY {month}"
        )
        try:
            with engine.connect() as c:
                rows = c.execute(sql, {"satisfied": SATISFIED, "refused": REFUSED, "end": end}).all()
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error: the KPI is shown as unavailable, with why
        return Kpi(**base, value=None, numerator=None, denominator=None, source=source,
                   error=f"cannot read {source}: {str(exc).splitlines()[0]}")
    by_month = {m: (int(ok or 0), int(n) - int(excused or 0), int(excused or 0)) for m, n, ok, excused in rows}
    numerator = sum(v[0] for v in by_month.values())
    denominator = sum(v[1] for v in by_month.values())
    trend = [
        TrendPoint(m, _month_end(m) if m != as_of.strftime("%Y-%m") else as_of,
                   _ratio(*by_month[m][:2]), *by_month[m][:2])
        for m in _months(as_of) if m in by_month
    ]
    month = as_of.strftime("%Y-%m")
    ok, valid, _ = by_month.get(month, (0, 0, 0))
    # The headline is cumulative (every request up to the day); the trend and ``this_month`` are per month
    # of request, so a bad month shows there while the headline moves slowly: the page says which is which.
    return Kpi(**base, value=_ratio(numerator, denominator), numerator=numerator, denominator=denominator,
               source=source, trend=trend, period="cumulative",
               details={"excluded_refusals_with_basis": sum(v[2] for v in by_month.values()),
                        "requests": sum(v[1] + v[2] for v in by_month.values()),
                        "first_month": min(by_month) if by_month else None,
                        "this_month": {"month": month, "value": _ratio(ok, valid), "numerator": ok,
                                       "denominator": valid}})


# --- open rate -------------------------------------------------------------------------------------------


def read_portal_listing(conn: ConnectionInfo) -> dict[str, date | None]:
    """The open-data portal's listing: resource code → publication date (None when not given)."""
    path = conn.file(str(conn.extra.get("listing") or PORTAL_LISTING))
    listing: dict[str, date | None] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "resource_code" not in reader.fieldnames:
            raise ValueError(f"{path}: no resource_code column (found: {', '.join(reader.fieldnames or [])})")
        for line, row in enumerate(reader, start=2):
            code = (row.get("resource_code") or "").strip()
            if not code:
                continue
            try:
                published = _as_date((row.get("published_at") or "").strip())
            except ValueError:
                raise ValueError(f"{path}, line {line}: published_at {row.get('published_at')!r} is not a date") from None
            previous = listing.get(code)
            listing[code] = published if previous is None or (published and published < previous) else previous
    return listing


def open_rate(engine: Engine, conn: ConnectionInfo | None, as_of: date) -> Kpi:
    """应开放公共数据开放率 from the catalog and the portal listing (see the module docstring)."""
    base = {"key": "open_rate", "name": "应开放公共数据开放率", "name_en": "open rate of open-eligible data",
            "target": OPEN_TARGET, "unit": "ratio", "as_of": as_of}
    if conn is None:
        return Kpi(**base, value=None, numerator=None, denominator=None, source=PORTAL_CONN_ID,
                   error=f"connection {PORTAL_CONN_ID!r} (the open-data portal's listing) is not defined; "
                         "register it with Airflow or pass --connections")
    source = f"{conn.conn_id}/{conn.extra.get('listing') or PORTAL_LISTING}"
    try:
        listing = read_portal_listing(conn)
    except (OSError, ValueError) as exc:
        return Kpi(**base, value=None, numerator=None, denominator=None, source=source,
                   error=f"cannot read the portal listing {source}: {exc}")
    with session_scope(engine) as session:
        eligible = session.execute(
            select(CatalogEntryRow.code, CatalogEntryRow.publish_date, CatalogEntryRow.withdrawn_at).where(
                CatalogEntryRow.open_attr.in_(OPEN_ELIGIBLE)
            )
        ).all()

    def current(withdrawn: datetime | None, day: date) -> bool:
        """Not withdrawn by the end of ``day`` (an entry withdrawn since still counted then)."""
        return withdrawn is None or end_of_day(day) <= (
            withdrawn.replace(tzinfo=UTC) if withdrawn.tzinfo is None else withdrawn)

    def at(day: date) -> tuple[int, int, list[str]]:
        due = [code for code, published, withdrawn in eligible
               if (published is None or published <= day) and current(withdrawn, day)]
        listed = [c for c in due if c in listing and (listing[c] is None or listing[c] <= day)]  # type: ignore[operator]
        return len(listed), len(due), sorted(set(due) - set(listed))

    numerator, denominator, unlisted = at(as_of)
    trend = [TrendPoint(d.strftime("%Y-%m"), d, _ratio(n, m), n, m) for d in _month_ends(as_of) for n, m, _ in [at(d)]]
    return Kpi(**base, value=_ratio(numerator, denominator), numerator=numerator, denominator=denominator,
               source=f"{source} + catalog", trend=trend, details={"unlisted_codes": unlisted})


# --- quality score ---------------------------------------------------------------------------------------


def quality_score(engine: Engine, as_of: date) -> Kpi:
    """The city's quality score (mean score of the scored datasets) of the latest scored date up to
    ``as_of``; trend: every scored date. Not-scored datasets are left out (``details["not_scored"]``)."""
    from citygov.quality.scores import load_policy

    policy = load_policy()
    with session_scope(engine) as session:
        # count(score) counts scored rows only: a not-scored dataset (score NULL) is no 0 and no 100.
        rows = session.execute(
            select(DatasetScore.logical_date, func.sum(DatasetScore.score), func.count(DatasetScore.score))
            .where(DatasetScore.logical_date <= as_of)
            .group_by(DatasetScore.logical_date)
            .having(func.count(DatasetScore.score) > 0)
            .order_by(DatasetScore.logical_date)
        ).all()
        not_scored = {d: int(n) for d, n in session.execute(
            select(DatasetScore.logical_date, func.count())
            .where(DatasetScore.logical_date <= as_of, DatasetScore.score.is_(None))
            .group_by(DatasetScore.logical_date)
        )}
    trend = [TrendPoint(d.isoformat(), d, round(s / n, 2), None, n) for d, s, n in rows]
    base = {"key": "quality_score", "name": "城市数据质量得分", "name_en": "city data quality score",
            "target": None, "unit": "score", "source": "GB/T 36344 dataset scores (governance store)"}
    if not trend:
        return Kpi(**base, value=None, numerator=None, denominator=None,
                   error="no scores stored up to this day: run the quality_inspection DAG (or govern quality run)")
    last = trend[-1]
    return Kpi(**base, value=last.value, numerator=None, denominator=last.denominator, as_of=last.day,
               trend=trend, details={"grade": policy.grade(last.value or 0.0), "datasets": last.denominator,
                                     "not_scored": not_scored.get(last.day, 0)})


# --- disputes --------------------------------------------------------------------------------------------


def dispute_figures(engine: Engine, as_of: date, *, now: datetime | None = None) -> DisputeFigures:
    """Open, overdue and resolved-within-deadline for the city as they stood at the end of ``as_of`` (or at
    ``now`` when that comes first), from :mod:`citygov.disputes.figures` (the event log replayed to that
    moment, as the queue's own :func:`~citygov.disputes.dispute_kpis` is): items raised later do not count,
    and an item counts in the status and under the deadline it had then. Resolutions are all those made up
    to then; the trend gives the share within deadline per month of resolution."""
    moment = end_of_day(as_of, now)
    counts = dispute_counts(engine, moment)
    done = resolutions(engine, moment)
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in done:
        month = r.at.astimezone(CITY_TZ).strftime("%Y-%m")
        by_month[month][0] += 1
        by_month[month][1] += r.on_time
    resolved, within = len(done), sum(1 for r in done if r.on_time)
    trend = [TrendPoint(m, _month_end(m) if m != as_of.strftime("%Y-%m") else as_of,
                        _ratio(by_month[m][1], by_month[m][0]), by_month[m][1], by_month[m][0])
             for m in _months(as_of) if m in by_month]
    return DisputeFigures(
        total=sum(c["total"] for c in counts.values()),
        open=sum(c["open"] for c in counts.values()),
        overdue=sum(c["overdue"] for c in counts.values()),
        resolved=resolved,
        resolved_within_deadline=within,
        share_resolved_within_deadline=round(within / resolved, 4) if resolved else None,
        trend=trend,
        at=moment.astimezone(CITY_TZ),
    )


# --- entry points ----------------------------------------------------------------------------------------


def city_kpis(
    engine: Engine,
    resolve: ConnectionResolver,
    as_of: date,
    *,
    share_conn_id: str = SHARE_LOG_CONN_ID,
    portal_conn_id: str = PORTAL_CONN_ID,
    now: datetime | None = None,
) -> CityKpis:
    """The plan's KPIs as of ``as_of``: catalog coverage, on-demand sharing rate, open rate and city quality
    score against their targets, with trends, and the dispute figures.

    ``resolve`` turns a connection id into a :class:`ConnectionInfo` (Airflow's connections in the DAGs
    and the web, a connections file in the CLI); the share log and portal listing are read through it.
    A KPI whose source is missing or unreadable has no value and says why; the others are unaffected.
    Every figure is as of the end of ``as_of`` (Asia/Shanghai); ``now``, when given and earlier, is the
    moment the dispute figures stand at instead (nothing after it is known).
    """
    return CityKpis(
        as_of=as_of,
        kpis=[
            catalog_coverage(engine, as_of),
            sharing_rate(resolve(share_conn_id), as_of),
            open_rate(engine, resolve(portal_conn_id), as_of),
            quality_score(engine, as_of),
        ],
        disputes=dispute_figures(engine, as_of, now=now),
    )


def department_league(engine: Engine, as_of: date, *, now: datetime | None = None) -> list[DepartmentRow]:
    """The department league table as of ``as_of``: per department its mean dataset score and grade (latest
    scored date up to ``as_of``), catalog coverage (latest census up to it) and the disputes open and
    overdue at its end (or at ``now`` when earlier), rebuilt from the event log as :func:`dispute_figures`
    does, under the unit responsible then; ranked by score, best first."""
    from citygov.quality.scores import load_policy

    policy = load_policy()
    moment = end_of_day(as_of, now)
    with session_scope(engine) as session:
        day = session.scalar(select(func.max(DatasetScore.logical_date)).where(DatasetScore.logical_date <= as_of))
        census_on = session.scalar(
            select(func.max(CensusSnapshot.logical_date)).where(CensusSnapshot.logical_date <= as_of)
        )
        scores = {} if day is None else {
            d or "-": (int(n), s / n if n else None)
            for d, s, n in session.execute(
                select(DatasetScore.department, func.sum(DatasetScore.score), func.count(DatasetScore.score))
                .where(DatasetScore.logical_date == day)
                .group_by(DatasetScore.department)
            )
        }
    coverage = coverage_by_department(engine, as_of)
    disputes = dispute_counts(engine, moment)
    rows = []
    for name in sorted(set(scores) | set(coverage) | set(disputes)):
        n, mean = scores.get(name, (0, None))
        cov = coverage.get(name) or {}
        dis = disputes.get(name) or {}
        score = round(mean, 2) if mean is not None else None
        rows.append(DepartmentRow(
            department=name, datasets=n, score=score, grade=policy.grade(score) if score is not None else None,
            coverage=cov.get("coverage"), found=cov.get("found"), catalogued=cov.get("catalogued"),
            open_disputes=dis.get("open", 0), overdue_disputes=dis.get("overdue", 0),
            scored_on=day if n else None, census_on=census_on if cov else None,
        ))
    ranked = sorted((r for r in rows if r.score is not None), key=lambda r: (-r.score, r.department))  # type: ignore[operator]
    rank = {r.department: i for i, r in enumerate(ranked, start=1)}
    rows = [DepartmentRow(**{**asdict(r), "rank": rank.get(r.department)}) for r in rows]
    return sorted(rows, key=lambda r: (r.rank is None, r.rank or 0, r.department))


def latest_kpi_date(engine: Engine) -> date | None:
    """The latest logical date with a census or scores in the store (a sensible default as-of day)."""
    with session_scope(engine) as session:
        days = [session.scalar(select(func.max(CensusSnapshot.logical_date))),
                session.scalar(select(func.max(DatasetScore.logical_date)))]
    known = [d for d in days if d is not None]
    return max(known) if known else None


__all__ = [
    "OPEN_TARGET", "PORTAL_CONN_ID", "SHARE_LOG_CONN_ID", "SHARING_TARGET", "CityKpis", "DepartmentRow",
    "DisputeFigures", "Kpi", "TrendPoint", "catalog_coverage", "city_kpis", "coverage_by_department",
    "department_league", "dispute_counts", "dispute_figures", "latest_kpi_date", "open_rate", "quality_score",
    "read_portal_listing", "sharing_rate",
]
