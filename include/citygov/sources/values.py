"""Reading text values as a source's data holds them: numbers, dates, times and the catalog type they fit.

Files have no declared types, so a file column's type is inferred from sample values; the patrol judges a
declared type against samples the same way.
"""

from __future__ import annotations

from datetime import date, datetime

from citygov.catalog.schema import ColumnType
from citygov.settings import CITY_TZ


def infer_letter(values: list[str]) -> ColumnType:
    """Infer a catalog type letter from sample text values of a file column."""
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        return ColumnType.STRING
    if all(is_number(v) for v in present):
        # Long digit strings are codes (ID numbers, phone numbers), not quantities.
        if any(len(v.lstrip("-").split(".")[0]) >= 11 or (v.startswith("0") and len(v) > 1) for v in present):
            return ColumnType.STRING
        return ColumnType.NUMBER
    if all(parse_date(v) for v in present):
        return ColumnType.DATE
    if all(parse_datetime(v) for v in present):
        return ColumnType.DATETIME
    return ColumnType.STRING


def is_number(value: str) -> bool:
    """Whether ``value`` reads as a number."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse_date(value: str) -> date | None:
    """``value`` as a date (``2026-01-02`` or ``2026/01/02``), or None."""
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None


def parse_datetime(value: str) -> datetime | None:
    """``value`` as a time, in the city's time zone when it names none; None when it is not one."""
    try:
        stamp = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CITY_TZ)


def as_datetime(value: object) -> datetime | None:
    """A database value (time, date or text) as a time in the city's time zone, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CITY_TZ)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=CITY_TZ)
    return parse_datetime(str(value))
