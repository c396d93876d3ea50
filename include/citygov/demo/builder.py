"""What a department module declares (:class:`DatasetSpec`, :class:`DefectSpec`, :class:`DepartmentSpec`)
and the :class:`CityBuilder` that turns the declarations into datasets, with the helpers row generators
share (the population, dates, update times, picking rows to spoil).

Every row is clean unless a :class:`~citygov.demo.model.Defect` says otherwise: IDs and credit codes
pass their check characters, dates are real and before the as-of date, declared primary keys are
unique and filled, declared columns exist with their types, and the latest update time of every dataset
with an update-time column is on the day before the as-of date (so fresh for any 更新周期).

The city is reproducible from its seed: every random draw comes from one ``random.Random`` in a fixed
order (departments in turn; per dataset its rows, then its publish date, then its spoiling), so changing
the order of declarations changes the city; ``tests/unit/test_demo_city.py`` pins its fingerprint.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from citygov.catalog.schema import (
    Layer,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    SyncMode,
    UpdateCycle,
)
from citygov.demo.fake import CityFaker, Enterprise, Person
from citygov.demo.model import DEPARTMENTS, PROVINCE, Batch, Column, Dataset, Defect, Department

CORE_ROWS_PER_SCALE = 200
"""Rows of a core table at scale 1; core tables grow linearly with the scale …"""
CORE_ROWS_CAP = 5000
"""… up to this many rows (scale 25 and above)."""
TEMPLATE_ROWS_CAP = 200
"""Rows of a templated dataset: 200, shrinking as 2000 // scale from scale 11, at least 20."""
ENTRIES_PER_SCALE = 30
"""The catalog has about 30 × scale rows; the core datasets are topped up with templated ones."""

CONDITION_PERSONAL = "仅限政府部门依法履职使用，需经提供方审核授权并签订数据安全保密协议"
"""共享条件 of a conditionally shared dataset graded L3 or above that declares none."""
CONDITION_REGISTER = "限用于政务服务和监管执法，使用方不得向第三方提供"
"""共享条件 of a conditionally shared dataset graded below L3 that declares none."""

Rows = list[dict[str, object]]
Text = str | Callable[["CityBuilder"], str]
"""A text, or how to write it for a city (when it names a date relative to the as-of date)."""


@dataclass(frozen=True)
class DefectSpec:
    """A deliberate defect a dataset carries, as ``defects.json`` lists it."""

    kind: str
    detected_by: str
    """census, patrol, quality or catalog_import."""
    detail: Text
    column: str | None = None
    count: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One table or file of a department: its catalog entry as data, and how its rows are made."""

    location: Text
    """Table name, or file name in the department's folder."""
    title: str
    columns: tuple[Column, ...]
    """Columns as they exist in the source."""
    rows: Callable[[CityBuilder], Rows]
    """Makes the rows, clean (the latest update on the day before the as-of date)."""
    layer: Layer
    summary: str
    share: ShareType
    open_attr: OpenAttr
    cycle: UpdateCycle
    grade: Sensitivity
    primary_key: tuple[str, ...]
    update_col: str | None = "gxsj"
    sync: SyncMode = SyncMode.INCREMENTAL
    condition: str = ""
    """共享条件; a conditionally shared dataset without one gets :data:`CONDITION_PERSONAL` or
    :data:`CONDITION_REGISTER` by its grade."""
    basis: str = ""
    """不予共享依据."""
    conn_id: str | None = None
    """Where it lives when not in the department's database (``dept_<key>``)."""
    fmt: ResourceFormat = ResourceFormat.DATABASE
    catalogued: bool = True
    """Whether the catalog file has a row for it."""
    exists: bool = True
    """Whether the source holds it (False: a catalog entry without resource)."""
    declared: tuple[Column, ...] | None = None
    """Columns the catalog declares, when they differ from the source (schema defects)."""
    related: tuple[str, ...] = ()
    """``<department key>.<location>`` of earlier datasets it is related to."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Catalog cells written differently from the entry (the deliberately rejected row)."""
    spoil: Callable[[CityBuilder, Rows], None] | None = None
    """Plants the defects in the rows, after the entry is made."""
    defects: tuple[DefectSpec, ...] = ()


@dataclass(frozen=True)
class DepartmentSpec:
    """A department's datasets, made in this order."""

    key: str
    """The :class:`~citygov.demo.model.Department` key (``sdsj`` for the province)."""
    datasets: tuple[DatasetSpec, ...]
    finish: Callable[[CityBuilder], None] | None = None
    """Runs after the datasets (the province's backflow batches)."""


class CityBuilder:
    """Builds every dataset of the demo city in memory; :mod:`citygov.demo.city` writes them out."""

    def __init__(self, *, seed: int, scale: int, as_of: date) -> None:
        if scale < 1:
            raise ValueError(f"scale must be 1 or more, got {scale}")
        self.rng = random.Random(seed)
        self.scale = scale
        self.as_of = as_of
        self.yesterday = as_of - timedelta(days=1)
        self.fake = CityFaker(self.rng, as_of)
        self.n = min(CORE_ROWS_PER_SCALE * scale, CORE_ROWS_CAP)
        """Rows of a core table."""
        self.template_rows = max(20, min(TEMPLATE_ROWS_CAP, 2000 // scale))
        self.datasets: list[Dataset] = []
        self.defects: list[Defect] = []
        self.batches: list[Batch] = []
        self.depts = {d.key: d for d in (*DEPARTMENTS, PROVINCE)}
        self.made: dict[str, Dataset] = {}
        """Datasets made so far by ``<department key>.<location>``."""
        self.shared: dict[str, Any] = {}
        """Draws that several row generators of one department share, by ``<department key>.<name>``."""
        self._codes: dict[str, int] = {}
        self._population()

    def make(self, spec: DepartmentSpec) -> None:
        """Make a department's datasets and their defects."""
        dept = self.depts[spec.key]
        for dataset in spec.datasets:
            self.make_dataset(dept, dataset)
        if spec.finish is not None:
            spec.finish(self)

    def make_dataset(self, dept: Department, spec: DatasetSpec) -> Dataset:
        """Make a dataset's rows, its entry, then spoil the rows and list the defects."""
        rows = spec.rows(self)
        ds = self.add(dept, spec, rows)
        if spec.spoil is not None:
            spec.spoil(self, rows)
        for d in spec.defects:
            self.defect(d.kind, d.detected_by, ds, self.text(d.detail), column=d.column, count=d.count)
        return ds

    def add(self, dept: Department, spec: DatasetSpec, rows: Rows) -> Dataset:
        """A dataset from its declaration; a catalogued one gets its code and publish date."""
        condition = spec.condition
        if spec.share is ShareType.CONDITIONAL and not condition:
            condition = CONDITION_PERSONAL if spec.grade >= Sensitivity.L3 else CONDITION_REGISTER
        ds = Dataset(
            dept=dept,
            conn_id=spec.conn_id or dept.conn_id,
            location=self.text(spec.location),
            title=spec.title,
            columns=list(spec.columns),
            rows=rows,
            layer=spec.layer,
            summary=spec.summary,
            share_type=spec.share,
            open_attr=spec.open_attr,
            cycle=spec.cycle,
            grade=spec.grade,
            primary_key=spec.primary_key,
            update_col=spec.update_col,
            sync_mode=spec.sync,
            share_condition=condition,
            share_basis=spec.basis,
            fmt=spec.fmt,
            catalogued=spec.catalogued,
            exists=spec.exists,
            declared=None if spec.declared is None else list(spec.declared),
            related=tuple(self.made[ref] for ref in spec.related),
            overrides=dict(spec.overrides),
        )
        if spec.catalogued:
            self._codes[dept.abbr] = self._codes.get(dept.abbr, 0) + 1
            ds.code = f"320700-{dept.abbr}-{self._codes[dept.abbr]:04d}"
            ds.publish_date = self.fake.date_between(self.ago(3), self.as_of - timedelta(days=30))
        self.datasets.append(ds)
        self.made[f"{dept.key}.{ds.location}"] = ds
        return ds

    def defect(
        self,
        kind: str,
        detected_by: str,
        ds: Dataset,
        detail: str,
        *,
        column: str | None = None,
        count: int | None = None,
    ) -> Defect:
        d = Defect(
            kind=kind,
            detected_by=detected_by,
            conn_id=ds.conn_id,
            detail=detail,
            entry_code=ds.code if ds.imported or kind == "catalog_row_rejected" else None,
            resource=ds.location,
            dataset=ds,
            column=column,
            count=count,
        )
        self.defects.append(d)
        return d

    def text(self, text: Text) -> str:
        return text if isinstance(text, str) else text(self)

    # --- helpers for row generators ----------------------------------------------------------------

    def updated(self, record: date, latest: date | None = None) -> str:
        """An update time after ``record`` and no later than the end of ``latest`` (yesterday)."""
        latest = latest or self.yesterday
        if record > latest:
            raise ValueError(f"record dated {record} cannot be updated by {latest}")
        start = max(record, latest - timedelta(days=720))
        return self.fake.stamp_between(
            datetime.combine(start, time(8)), datetime.combine(latest, time(23, 59, 59))
        )

    def freshen(self, rows: Rows, column: str = "gxsj", day: date | None = None) -> None:
        """Make the last row the most recent update: on ``day`` (yesterday), in the evening."""
        if rows:
            rows[-1][column] = self.fake.at(day or self.yesterday, 20, 23)

    def age(self, p: Person) -> int:
        years = self.as_of.year - p.birth.year
        return years - ((self.as_of.month, self.as_of.day) < (p.birth.month, p.birth.day))

    def adults(self, low: int = 19, high: int = 200, gender: str | None = None) -> list[Person]:
        """Clean residents aged ``low``..``high``, who turned ``low`` at least two days before as-of
        (so a record dated from that birthday can still fall before yesterday)."""
        cutoff = self.yesterday - timedelta(days=1)
        return [
            p
            for p in self.clean
            if self.since(p.birth, low) <= cutoff
            and self.age(p) <= high
            and (gender is None or p.gender == gender)
        ]

    def sample(self, people: list[Person], k: int) -> list[Person]:
        return self.rng.sample(people, min(k, len(people)))

    def pick_rows(self, rows: Rows, k: int) -> list[int]:
        """Indices of ``k`` rows to spoil, never the last (freshest) one, in ascending order."""
        return sorted(self.rng.sample(range(len(rows) - 1), k))

    def ago(self, years: int) -> date:
        """The first of January ``years`` years before the as-of year (floors for record dates)."""
        return date(self.as_of.year - years, 1, 1)

    def since(self, birth: date, years: int) -> date:
        """The day someone born on ``birth`` turns ``years`` (28 Feb for 29 Feb birthdays)."""
        try:
            return birth.replace(year=birth.year + years)
        except ValueError:
            return birth.replace(year=birth.year + years, day=28)

    # --- the population ----------------------------------------------------------------------------

    def _population(self) -> None:
        bands = ((0, 6, 0.08), (7, 17, 0.10), (18, 59, 0.58), (60, 79, 0.16), (80, 98, 0.08))
        self.people: list[Person] = []
        for low, high, share in bands:
            self.people += [self.fake.person(low, high) for _ in range(max(3, round(self.n * share)))]
        self.rng.shuffle(self.people)
        # Three adults carry the invalid ID numbers of 人口基本信息 (its first rows); no other table uses them.
        spoiled = [p for p in self.people if self.age(p) >= 19][:3]
        self.clean = [p for p in self.people if p not in spoiled]
        self.people = spoiled + self.clean
        self.enterprises: list[Enterprise] = [self.fake.enterprise() for _ in range(self.n)]
