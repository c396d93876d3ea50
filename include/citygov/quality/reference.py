"""The GB/T 2260 administrative division table (行政区划代码): the one table and its one loader.

``data/gbt2260.csv`` is shipped with the package (source and regeneration in ``data/README.md``): every
division code that has been in use since 1980 with the years it was in use, retired codes included,
because old resident ID numbers keep the code of the place and year they were issued. The domain
expectations check codes against it (:func:`known_division_codes`, :func:`current_division_codes`,
:func:`division_known`); the demo city takes Lianyungang's counties and names from it
(:func:`load_divisions`, filtered by the codes the demo lists).
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
    """One name a division code had, and the years it had it (a row of the table)."""

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


@dataclass(frozen=True)
class Division:
    """One division code with every period it was in use (a reused or renamed code has several)."""

    code: str
    """Six digits, e.g. ``320706``."""
    periods: tuple[DivisionPeriod, ...]
    """Its periods, earliest first."""

    @property
    def latest(self) -> DivisionPeriod:
        """The current period, or the last one of a retired code."""
        current = [p for p in self.periods if p.valid_to is None]
        return current[-1] if current else max(self.periods, key=lambda p: p.valid_to or 0)

    @property
    def name(self) -> str:
        """Its name today, or its last name when retired, e.g. 海州区."""
        return self.latest.name

    @property
    def valid_from(self) -> int | None:
        """First year the code is in use; None when it predates the table's history."""
        starts = [p.valid_from for p in self.periods]
        return None if None in starts else min(s for s in starts if s is not None)

    @property
    def valid_to(self) -> int | None:
        """Last year the code was in use; None while it is current."""
        return self.latest.valid_to

    @property
    def is_current(self) -> bool:
        """Whether the code is still in use."""
        return self.valid_to is None

    @property
    def level(self) -> str:
        """省 (province), 市 (prefecture) or 县 (county level)."""
        if self.code.endswith("0000"):
            return "省"
        return "市" if self.code.endswith("00") else "县"

    def valid_in(self, year: int) -> bool:
        """Whether the code was in use in ``year`` (in any of its periods)."""
        return any(p.valid_in(year) for p in self.periods)


@cache
def _divisions() -> dict[str, Division]:
    text = resources.files("citygov.quality").joinpath("data", REFERENCE_FILE).read_text(encoding="utf-8")
    periods: dict[str, list[DivisionPeriod]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        period = DivisionPeriod(
            code=row["code"],
            name=row["name"],
            valid_from=int(row["valid_from"]) if row["valid_from"] else None,
            valid_to=int(row["valid_to"]) if row["valid_to"] else None,
        )
        periods.setdefault(period.code, []).append(period)
    return {
        code: Division(code, tuple(sorted(ps, key=lambda p: (p.valid_from or 0, p.valid_to or 9999))))
        for code, ps in periods.items()
    }


def load_divisions() -> dict[str, Division]:
    """The shipped national table, code → :class:`Division` (a fresh dict; the table is read once)."""
    return dict(_divisions())


@cache
def division_periods() -> dict[str, tuple[DivisionPeriod, ...]]:
    """The table as code → its periods."""
    return {code: d.periods for code, d in _divisions().items()}


@cache
def known_division_codes() -> frozenset[str]:
    """Every code in the table, current or retired: what "known in GB/T 2260" means here."""
    return frozenset(_divisions())


@cache
def current_division_codes() -> frozenset[str]:
    """Codes still in use (no end year in any of their periods)."""
    return frozenset(c for c, d in _divisions().items() if d.is_current)


def division_known(code: str, *, year: int | None = None) -> bool:
    """Whether ``code`` is a GB/T 2260 code (in use in ``year`` when given)."""
    division = _divisions().get(code)
    if division is None:
        return False
    return year is None or division.valid_in(year)


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
