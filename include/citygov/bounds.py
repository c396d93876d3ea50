"""The bounds every door (the web API, the pages, ``govern``) puts on ids, dates, page numbers and the input
it quotes back, so that a value out of range is a clear refusal (404 or 422, exit 2) and never a database
error: an id that does not fit in a BIGINT, a date the calendar and the KPI history cannot hold, a page
number whose offset overflows, a 5 MB field echoed back whole.
"""

from __future__ import annotations

from datetime import date

ID_MIN = 1
ID_MAX = 2**63 - 1
"""Ids are BIGINT (PostgreSQL) / INTEGER (SQLite) primary keys; anything outside names no row."""

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The days a report (``?date=``, ``--date``) may be asked for."""

PAGE_MAX = 1_000_000
"""Highest page number a list accepts; a page past the last item is an empty page."""

EXCERPT_MAX = 100
"""Longest excerpt of someone's input quoted back in an error message (characters)."""


class OutOfBounds(ValueError):
    """A value outside the range this module sets; the message says the range."""


def id_in_range(value: int) -> bool:
    """Whether ``value`` can name a row (``ID_MIN..ID_MAX``): callers treat any other id as not found."""
    return ID_MIN <= value <= ID_MAX


def quoted(value: object, limit: int = EXCERPT_MAX) -> str:
    """``repr(value)`` for an error message, cut to its first ``limit`` characters (with the full length
    said) when longer: a message quotes a short excerpt of the input, never all of it."""
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else f"{text[:limit]}…"
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


def check_day(day: date, what: str = "date") -> date:
    """``day`` itself, or :class:`OutOfBounds` when it lies outside ``FIRST_DAY..LAST_DAY``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutOfBounds(f"{what} {day.isoformat()} is out of range: give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_day(text: str, what: str = "date") -> date:
    """A day written ``YYYY-MM-DD`` within ``FIRST_DAY..LAST_DAY``; :class:`OutOfBounds` otherwise, with a
    message that quotes at most an excerpt of ``text``."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise OutOfBounds(f"{what} {quoted(text)} is not a date (YYYY-MM-DD)") from None
    return check_day(day, what)
