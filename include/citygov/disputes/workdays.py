"""Deadlines in working days of the official Chinese calendar (法定节假日 and 调休 make-up workdays).

The calendar comes from ``chinese-calendar`` (the State Council's yearly holiday notice, as packaged).
That data covers only the years published when the package was released (2004–2026 in 1.11). For a day
beyond it this module does not guess holidays: by default it counts Monday–Friday and marks the
deadline **provisional**, so the SLA run recomputes it once an upgraded package knows the year;
``strict=True`` raises :class:`CalendarRangeError` instead.

A deadline of N working days counts the N working days *after* the day the stage started (that day
never counts) and ends at midnight after the Nth, Asia/Shanghai: an item raised on Friday 2025-09-26
with 2 working days to be accepted is due by the end of Monday 2025-09-29, because Sunday 2025-09-28
was a make-up workday.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar

from citygov.disputes.errors import InvalidInput
from citygov.settings import CITY_TZ


class CalendarRangeError(ValueError):
    """The holiday calendar does not cover a day a deadline needs (``strict=True`` only)."""


@dataclass(frozen=True)
class Deadline:
    """When a stage must be finished."""

    due_date: date
    """The last working day of the stage."""
    due_at: datetime
    """Midnight after ``due_date`` in Asia/Shanghai: the stage is overdue from this instant."""
    provisional: bool
    """Some day counted lies beyond the holiday calendar and was counted Monday–Friday."""


@dataclass(frozen=True)
class DeadlinePolicy:
    """Working days allowed per stage (configurable; defaults after Qingdao's practice)."""

    accept_days: int = 2
    """The platform accepts (or rejects) a new item within this many working days."""
    resolve_days: int = 5
    """The responsible unit handles an accepted item within this many working days of acceptance."""
    extended_resolve_days: int = 10
    """The resolve deadline after its one extension (with a reason), counted from acceptance."""

    def __post_init__(self) -> None:
        for name in ("accept_days", "resolve_days", "extended_resolve_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInput(f"deadline policy: {name} must be a positive number of working days, got {value!r}")
        if self.extended_resolve_days <= self.resolve_days:
            raise InvalidInput(
                f"deadline policy: extended_resolve_days ({self.extended_resolve_days}) must exceed "
                f"resolve_days ({self.resolve_days})"
            )

    @classmethod
    def from_env(cls) -> DeadlinePolicy:
        """The policy from ``CITYGOV_DISPUTE_ACCEPT_DAYS``, ``..._RESOLVE_DAYS``, ``..._EXTENDED_DAYS``."""
        values = {}
        for field_name, var in (
            ("accept_days", "CITYGOV_DISPUTE_ACCEPT_DAYS"),
            ("resolve_days", "CITYGOV_DISPUTE_RESOLVE_DAYS"),
            ("extended_resolve_days", "CITYGOV_DISPUTE_EXTENDED_DAYS"),
        ):
            raw = os.environ.get(var)
            if raw:
                try:
                    values[field_name] = int(raw)
                except ValueError:
                    raise InvalidInput(f"{var}={raw!r} is not a whole number of working days") from None
        return cls(**values)

    def days_for(self, stage: str, *, extended: bool = False) -> int:
        if stage == "accept":
            return self.accept_days
        return self.extended_resolve_days if extended else self.resolve_days


def calendar_years() -> tuple[int, int]:
    """The first and last year the installed holiday calendar covers."""
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


def is_workday(day: date, *, strict: bool = False) -> tuple[bool, bool]:
    """(whether ``day`` is a working day, whether the official calendar knew it).

    Beyond the calendar's years the answer is Monday–Friday and ``known`` is False, or, with
    ``strict``, :class:`CalendarRangeError`.
    """
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        if strict:
            first, last = calendar_years()
            raise CalendarRangeError(
                f"the official holiday calendar (chinese-calendar) covers {first}–{last}; {day.isoformat()} is "
                f"outside it. Upgrade chinese-calendar once the State Council has published {day.year}'s holidays."
            ) from None
        return day.weekday() < 5, False


def city_day(moment: datetime | date) -> date:
    """The calendar day of ``moment`` in Asia/Shanghai (naive datetimes are taken as UTC)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(CITY_TZ).date()
    return moment


def add_workdays(start: datetime | date, days: int, *, strict: bool = False) -> Deadline:
    """The deadline ``days`` working days after ``start`` (see the module docstring for the rule)."""
    if days < 1:
        raise InvalidInput(f"a deadline needs at least 1 working day, got {days}")
    day = city_day(start)
    provisional = False
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        workday, known = is_workday(day, strict=strict)
        provisional |= not known
        counted += workday
    due_at = datetime.combine(day + timedelta(days=1), time(0), tzinfo=CITY_TZ)
    return Deadline(due_date=day, due_at=due_at, provisional=provisional)


def workdays_between(start: datetime | date, end: datetime | date) -> int:
    """Working days after ``start``'s day up to and including ``end``'s day (0 if ``end`` is not later)."""
    first, last = city_day(start), city_day(end)
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        count += is_workday(day)[0]
    return count
