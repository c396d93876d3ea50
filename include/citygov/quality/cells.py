"""How a rule reads one cell: as text without surrounding spaces, dates as ``YYYY-MM-DD``.

Every rule of :mod:`citygov.quality.registry` reads values through these, and the SQL builder
(:mod:`citygov.quality.sqlcond`) reads them the same way, so a value means the same to every form.
"""

from __future__ import annotations

import re
from datetime import date

from citygov.identifiers import RIC_MIN_YEAR

__all__ = ["FEMALE_VALUES", "MALE_VALUES", "RIC_MIN_YEAR", "date_text", "iso", "text"]

MALE_VALUES: tuple[str, ...] = ("1", "男", "男性", "M")
"""Gender-column values that mean male (GB/T 2261.1 code 1)."""
FEMALE_VALUES: tuple[str, ...] = ("2", "女", "女性", "F")
"""Gender-column values that mean female (GB/T 2261.1 code 2)."""

_ISO_DATE = re.compile(r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}")


def text(value: object) -> str:
    """A cell as text without surrounding spaces (SQL ``TRIM`` strips spaces only, so this does too)."""
    return "" if value is None else str(value).strip(" ")


def date_text(value: object) -> str | None:
    """The ``YYYY-MM-DD`` a date-like cell starts with (``YYYY/MM/DD`` too), or None."""
    t = text(value)
    if not _ISO_DATE.match(t):
        return None
    return t[:10].replace("/", "-")


def iso(day: date | str) -> str:
    """``YYYY-MM-DD`` of a date or of the start of a date-like string."""
    return day.isoformat() if isinstance(day, date) else str(day)[:10]
