"""Reference data the domain expectations check against: the national GB/T 2260 division-code table.

``data/gbt2260.csv`` is shipped with the package (source and regeneration in ``data/README.md``): every
division code that has been in use since 1980 with the years it was in use, retired codes included,
because old resident ID numbers keep the code of the place and year they were issued.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

REFERENCE_FILE = "gbt2260.csv"
"""File name of the national table in the ``citygov.quality`` package's ``data`` folder."""


@dataclass(frozen=True)
class DivisionPeriod:
    """One name a division code had, and the years it had it."""

    code: str
    """Six digits, e.g. ``320705``."""
    name: str
    """Name in that period, e.g. 新浦区."""
    valid_from: int | None
    """First year in use; None when it predates the table's history."""
    valid_to: int | None
    """Last year in use; None while current."""

    def valid_in(self, year: int) -> bool:
        return (self.valid_from is None or year >= self.valid_from) and (
            self.valid_to is None or year <= self.valid_to
        )


@cache
def division_periods() -> dict[str, tuple[DivisionPeriod, ...]]:
    """The shipped national table: code → its periods (a reused code has several)."""
    text = resources.files("citygov.quality").joinpath("data", REFERENCE_FILE).read_text(encoding="utf-8")
    out: dict[str, list[DivisionPeriod]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        period = DivisionPeriod(
            code=row["code"],
            name=row["name"],
            valid_from=int(row["valid_from"]) if row["valid_from"] else None,
            valid_to=int(row["valid_to"]) if row["valid_to"] else None,
        )
        out.setdefault(period.code, []).append(period)
    return {code: tuple(periods) for code, periods in out.items()}


@cache
def known_division_codes() -> frozenset[str]:
    """Every code in the table, current or retired: what "known in GB/T 2260" means here."""
    return frozenset(division_periods())


@cache
def current_division_codes() -> frozenset[str]:
    """Codes still in use (no end year in any of their periods)."""
    return frozenset(c for c, ps in division_periods().items() if any(p.valid_to is None for p in ps))


def division_known(code: str, *, year: int | None = None) -> bool:
    """Whether ``code`` is a GB/T 2260 code (in use in ``year`` when given)."""
    periods = division_periods().get(code)
    if not periods:
        return False
    return year is None or any(p.valid_in(year) for p in periods)


_COUNTY_RE = re.compile(r"^\[(?P<start>\d*)-(?P<end>\d*)\](?P<name>.*)$")


def rebuild_reference(out: Path) -> int:
    """Regenerate ``data/gbt2260.csv`` from python-stdnum's ``cn/loc.dat`` (a development tool; the file
    in git is what runs). Returns the number of rows written."""
    from stdnum import numdb

    db = numdb.get("cn/loc")
    rows: list[tuple[str, str, str, str]] = []
    # numdb entries are (length, low, high, properties, children); a county range has low == high.
    for _, prov_low, prov_high, _, counties in db.prefixes:
        for _, low, high, props, _ in counties:
            if "county" not in props:
                continue
            for number in range(int(low), int(high) + 1):
                code = f"{prov_low}{number:04d}"
                if prov_low != prov_high or len(code) != 6:
                    continue
                for part in props["county"].split(","):
                    match = _COUNTY_RE.match(part)
                    if match:
                        rows.append((code, match["name"], match["start"], match["end"]))
                    else:
                        rows.append((code, part, "", ""))
    rows.sort()
    with Path(out).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "valid_from", "valid_to"])
        writer.writerows(rows)
    return len(rows)
