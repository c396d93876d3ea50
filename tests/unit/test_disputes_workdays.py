"""Dispute deadlines in working days of the official calendar, across National Day 2025.

2025: 10/1–10/8 are holidays; Sunday 9/28 and Saturday 10/11 are make-up workdays (调休).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from citygov.disputes import CalendarRangeError, DeadlinePolicy, InvalidInput, add_workdays
from citygov.disputes import workdays as wd
from citygov.settings import CITY_TZ


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CITY_TZ)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Friday before the holiday: Saturday 9/27 is off, Sunday 9/28 is a make-up workday.
        pytest.param(cst(2025, 9, 26, 10), 2, date(2025, 9, 29), id="accept-over-makeup-sunday"),
        # Tuesday 9/30: the holiday week does not count; Thursday 10/9 and Friday 10/10 do.
        pytest.param(cst(2025, 9, 30, 16), 2, date(2025, 10, 10), id="accept-over-national-day"),
        # Raised during the holiday: counting starts after it.
        pytest.param(cst(2025, 10, 3, 9), 2, date(2025, 10, 10), id="raised-on-a-holiday"),
        # Accepted Friday 10/10: Saturday 10/11 is a make-up workday, then Monday–Thursday.
        pytest.param(cst(2025, 10, 10, 11), 5, date(2025, 10, 16), id="resolve-over-makeup-saturday"),
        # The extension: 10 working days from the same acceptance.
        pytest.param(cst(2025, 10, 10, 11), 10, date(2025, 10, 23), id="extended-to-ten"),
        # An ordinary week for comparison (Monday + 5 = next Monday).
        pytest.param(cst(2025, 11, 3, 9), 5, date(2025, 11, 10), id="ordinary-week"),
    ],
)
def test_deadlines_count_official_working_days(start: datetime, days: int, due: date) -> None:
    deadline = add_workdays(start, days)
    assert deadline.due_date == due
    # Due by the end of that day: overdue from midnight, Beijing time.
    assert deadline.due_at == cst(due.year, due.month, due.day) + timedelta(days=1)
    assert deadline.provisional is False


def test_the_start_day_is_the_day_in_asia_shanghai_not_utc() -> None:
    # 2025-09-28 23:59 in Lianyungang is still the make-up Sunday: the count starts on Monday 9/29.
    assert add_workdays(datetime(2025, 9, 28, 15, 59, tzinfo=UTC), 2).due_date == date(2025, 9, 30)
    # A minute later it is Monday 9/29: Tuesday 9/30, then the holiday, then Thursday 10/9.
    assert add_workdays(datetime(2025, 9, 28, 16, 0, tzinfo=UTC), 2).due_date == date(2025, 10, 9)
    # A naive timestamp is taken as UTC (what SQLite hands back).
    assert add_workdays(datetime(2025, 9, 28, 16, 0), 2).due_date == date(2025, 10, 9)


def test_is_workday_follows_the_holiday_notice() -> None:
    assert wd.is_workday(date(2025, 9, 28)) == (True, True)  # Sunday, make-up
    assert wd.is_workday(date(2025, 10, 1)) == (False, True)  # National Day
    assert wd.is_workday(date(2025, 10, 8)) == (False, True)  # last day of the holiday
    assert wd.is_workday(date(2025, 10, 11)) == (True, True)  # Saturday, make-up
    assert wd.is_workday(date(2025, 10, 12)) == (False, True)  # plain Sunday
    assert wd.workdays_between(cst(2025, 9, 30, 12), cst(2025, 10, 13, 12)) == 4  # 10/9, 10/10, 10/11, 10/13


def test_beyond_the_calendar_counts_monday_to_friday_and_says_so() -> None:
    first, last = wd.calendar_years()
    assert first <= 2025 <= last
    # 2100-01-01 is a Friday: Monday 1/4 and Tuesday 1/5 are the two working days counted.
    deadline = add_workdays(date(2100, 1, 1), 2)
    assert deadline.due_date == date(2100, 1, 5)
    assert deadline.provisional is True
    # A deadline that starts inside the calendar and runs past its last year is provisional too.
    assert add_workdays(date(last, 12, 30), 5).provisional is True
    assert add_workdays(date(last, 11, 2), 5).provisional is False


def test_beyond_the_calendar_strict_mode_refuses_with_a_clear_message() -> None:
    _, last = wd.calendar_years()
    with pytest.raises(CalendarRangeError) as exc:
        add_workdays(date(2100, 1, 1), 2, strict=True)
    message = str(exc.value)
    assert f"–{last}" in message and "2100-01-02 is outside it" in message and "Upgrade chinese-calendar" in message


def test_deadline_policy_defaults_env_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = DeadlinePolicy()
    assert (policy.accept_days, policy.resolve_days, policy.extended_resolve_days) == (2, 5, 10)
    assert policy.days_for("accept") == 2 and policy.days_for("resolve", extended=True) == 10

    monkeypatch.setenv("CITYGOV_DISPUTE_ACCEPT_DAYS", "3")
    monkeypatch.setenv("CITYGOV_DISPUTE_RESOLVE_DAYS", "7")
    monkeypatch.setenv("CITYGOV_DISPUTE_EXTENDED_DAYS", "15")
    assert DeadlinePolicy.from_env() == DeadlinePolicy(3, 7, 15)

    monkeypatch.setenv("CITYGOV_DISPUTE_RESOLVE_DAYS", "five")
    with pytest.raises(InvalidInput, match="CITYGOV_DISPUTE_RESOLVE_DAYS='five' is not a whole number"):
        DeadlinePolicy.from_env()
    with pytest.raises(InvalidInput, match="extended_resolve_days .5. must exceed resolve_days .5."):
        DeadlinePolicy(2, 5, 5)
    with pytest.raises(InvalidInput, match="accept_days must be a positive number"):
        DeadlinePolicy(0, 5, 10)
