"""Records the demo city generator works with: departments, datasets (a table or file plus its catalog
entry) and the deliberate defects it plants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from citygov.catalog.schema import (
    ColumnType,
    DeclaredColumn,
    Layer,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    SyncMode,
    UpdateCycle,
)
from citygov.identifiers import make_uscc

PROVINCIAL_SENDER = "江苏省大数据管理中心"
"""Who sends the provincial backflow batches (and provides the backflow catalog entries)."""


@dataclass(frozen=True)
class Department:
    """A data-providing unit of the demo city."""

    key: str
    """Short pinyin key: source file ``sources/<key>.db`` and connection ``dept_<key>``."""
    name: str
    """Full Chinese name, the accountable provider in the catalog."""
    abbr: str
    """Middle part of its resource codes, ``320700-<ABBR>-0001``."""
    provider_code: str
    """提供方代码: the unit's unified social credit code (11… for a government organ)."""
    business: str
    """What its templated business datasets are called (only used at scale > 1)."""

    @property
    def conn_id(self) -> str:
        return f"dept_{self.key}"


def _organ(seq: int, division: str = "320700", entity: str = "1") -> str:
    return make_uscc(division, seq, "1", entity)


DEPARTMENTS: tuple[Department, ...] = (
    Department("gaj", "连云港市公安局", "GAJ", _organ(1401_0011), "户政业务"),
    Department("scjgj", "连云港市市场监督管理局", "SCJGJ", _organ(1401_0237), "登记注册业务"),
    Department("rsj", "连云港市人力资源和社会保障局", "RSJ", _organ(1401_0342), "社保经办业务"),
    Department("mzj", "连云港市民政局", "MZJ", _organ(1401_0158), "社会救助业务"),
    Department("wjw", "连云港市卫生健康委员会", "WJW", _organ(1401_0465), "卫生监督业务"),
    Department("zrzyj", "连云港市自然资源和规划局", "ZRZYJ", _organ(1401_0573), "规划许可业务"),
)
"""The city's departments, each with a SQLite source."""

PROVINCE = Department("sdsj", PROVINCIAL_SENDER, "SDSJ", _organ(4660_0117, "320000", "2"), "")
"""The provincial sender; its backflow data sits in the city's staging database ``sources/sdsj.db``."""

FILES_DEPARTMENT = "mzj"
"""The department that also keeps spreadsheets in ``files/<key>/``."""


@dataclass(frozen=True)
class Column:
    """A column as it exists in the source, with the type letter a catalog would declare for it."""

    name: str
    letter: str
    """C, N, D, T or B."""
    sql: str
    """Declared SQLite type."""

    def declared(self) -> DeclaredColumn:
        return DeclaredColumn(self.name, ColumnType(self.letter))


def col_c(name: str, size: int | None = None) -> Column:
    return Column(name, "C", f"VARCHAR({size})" if size else "TEXT")


def col_n(name: str, sql: str = "INTEGER") -> Column:
    return Column(name, "N", sql)


def col_d(name: str) -> Column:
    return Column(name, "D", "DATE")


def col_t(name: str) -> Column:
    return Column(name, "T", "DATETIME")


@dataclass
class Dataset:
    """One resource of a department (a table or a file) and, when catalogued, its catalog entry."""

    dept: Department
    conn_id: str
    location: str
    """Table name, or file name relative to the department's folder."""
    title: str
    columns: list[Column]
    """Columns as they exist in the source."""
    rows: list[dict[str, object]]
    layer: Layer
    summary: str
    share_type: ShareType
    open_attr: OpenAttr
    cycle: UpdateCycle
    grade: Sensitivity
    primary_key: tuple[str, ...]
    update_col: str | None
    sync_mode: SyncMode
    share_condition: str = ""
    share_basis: str = ""
    fmt: ResourceFormat = ResourceFormat.DATABASE
    declared: list[Column] | None = None
    """Columns the catalog declares, when they differ from the source (schema defects)."""
    related: tuple[Dataset, ...] = ()
    catalogued: bool = True
    """Whether the catalog file has a row for it."""
    exists: bool = True
    """Whether the source holds it (False: catalog entry without resource)."""
    overrides: dict[str, str] = field(default_factory=dict)
    """Catalog cells written differently from the entry (the deliberately rejected row)."""
    code: str = ""
    publish_date: date | None = None

    @property
    def imported(self) -> bool:
        """Whether the catalog import accepts its row (catalogued and not deliberately broken)."""
        return self.catalogued and not self.overrides

    def declared_columns(self) -> list[Column]:
        return self.declared if self.declared is not None else self.columns

    def matrix(self) -> list[tuple[object, ...]]:
        """Rows as tuples in column order (a missing value raises: every cell is written on purpose)."""
        names = [c.name for c in self.columns]
        return [tuple(row[n] for n in names) for row in self.rows]


@dataclass
class Defect:
    """A deliberate defect, as listed in ``defects.json``."""

    kind: str
    detected_by: str
    """census, patrol, quality, backflow or catalog_import."""
    conn_id: str
    detail: str
    entry_code: str | None = None
    resource: str | None = None
    column: str | None = None
    count: int | None = None
    line: int | None = None
    """1-based line in catalog.csv (header is line 1), for catalog_import defects."""
    dataset: Dataset | None = None

    def to_json(self, ident: str) -> dict[str, object]:
        return {
            "id": ident,
            "kind": self.kind,
            "detected_by": self.detected_by,
            "entry_code": self.entry_code,
            "conn_id": self.conn_id,
            "resource": self.resource,
            "column": self.column,
            "count": self.count,
            "line": self.line,
            "detail": self.detail,
        }


@dataclass
class Batch:
    """A provincial backflow batch, written to ``landing/<batch_id>/`` as ``data.csv`` + ``manifest.json``."""

    logical_date: date
    seq: int
    """Sequence of the batch on its logical date."""
    dataset: Dataset
    """The backflow resource (its staging table) the batch belongs to."""
    mode: str
    """``full`` (a snapshot) or ``incremental`` (new rows)."""
    encoding: str
    rows: list[dict[str, object]]
    flaw: str | None = None
    """None, ``corrupt_batch`` (sha256 mismatch) or ``row_count_mismatch``."""
    invalid_rows: list[tuple[dict[str, object], str, str]] = field(default_factory=list)
    """Rows appended to ``rows`` that fail the dataset's suite: ``(row, expectation type, column)``; the
    loader quarantines each, so each is one planted defect."""

    @property
    def batch_id(self) -> str:
        return f"JSDSJ-{self.logical_date:%Y%m%d}-{self.seq:03d}"
