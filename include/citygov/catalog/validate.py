"""Validate catalog rows against the contract in :mod:`citygov.catalog.schema`.

Every problem is a :class:`RowError` that says where (file, line, column header as the file wrote
it) and what is wrong; a row with any error is rejected whole and the rest of the file goes on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from citygov.catalog.reader import CatalogFileError, RawRow
from citygov.catalog.schema import (
    CATALOG_FIELDS,
    COLUMN_SPEC_RE,
    SENSITIVITY_LABELS,
    CatalogEntry,
    ColumnType,
    DeclaredColumn,
    Layer,
    Lifecycle,
    OpenAttr,
    ResourceFormat,
    Sensitivity,
    ShareType,
    SyncMode,
    UpdateCycle,
)

E = TypeVar("E", bound=StrEnum)

_TYPE_NAMES = "C string, N number, D date, T datetime, B binary"
_LIST_SPLIT = re.compile(r"[,，、;；\s]+")
_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._/-]*$")

UNSAFE_NAME_CHARACTERS = '"`;'
"""Characters refused in a 资源位置 and in 信息项 names, besides control characters (:func:`name_problem`)."""
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}
"""Unicode categories refused in names: control (NUL included), format, line and paragraph separators."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a table, file or column name of the catalog, or None when it can.

    Every name reaches SQL quoted by SQLAlchemy, on every engine and dialect; these are refused at
    import all the same, because no quoting represents them safely everywhere: NUL and other control or
    invisible characters (drivers cut strings at NUL; a reader cannot see them), the identifier quotes of
    the SQL dialects (``"`` and `````) and the statement separator ``;``, which GX's own column parsing
    and multi-statement drivers read as syntax."""
    for ch in name:
        if unicodedata.category(ch) in _INVISIBLE:
            return f"contains the control or invisible character U+{ord(ch):04X}"
        if ch in UNSAFE_NAME_CHARACTERS:
            return f"contains {ch!r}"
    return None


_NAME_RULE = "a table, file or column name may not hold control characters, '\"', '`' or ';'; rename it at the source"


@dataclass(frozen=True)
class RowError:
    """One reason a catalog row was rejected."""

    file: str
    line: int
    column: str
    """The header as written in the file (or the Chinese header when the column is absent)."""
    message: str
    code: str | None = None
    """The row's 信息资源代码, when it could be read."""
    provider: str | None = None
    """The row's 信息资源提供方 as written, when not empty (who should fix the row)."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.message}"


@dataclass(frozen=True)
class HeaderMap:
    """How the file's headers map onto catalog fields."""

    by_key: dict[str, str]
    """Field key → header as written in the file."""
    unknown: list[str]
    """Headers the contract does not know; their values are kept in ``CatalogEntry.extra``."""

    def label(self, key: str) -> str:
        field = next(f for f in CATALOG_FIELDS if f.key == key)
        return self.by_key.get(key, field.header)


def map_headers(file: str, headers: list[str]) -> HeaderMap:
    """Match the file's headers to catalog fields (Chinese headers or English aliases).

    Raises :class:`CatalogFileError` naming every required column that is missing.
    """
    lookup: dict[str, str] = {}
    for f in CATALOG_FIELDS:
        lookup[f.header] = f.key
        for alias in f.aliases:
            lookup[alias.lower()] = f.key
    by_key: dict[str, str] = {}
    unknown: list[str] = []
    for header in headers:
        key = lookup.get(header) or lookup.get(header.lower().replace(" ", "_"))
        if key is None:
            unknown.append(header)
        elif key in by_key:
            raise CatalogFileError(f"{file}:1: headers {by_key[key]!r} and {header!r} are the same column")
        else:
            by_key[key] = header
    missing = [f for f in CATALOG_FIELDS if f.required and f.key not in by_key]
    if missing:
        names = ", ".join(f"{f.header} ({f.aliases[0]})" for f in missing)
        raise CatalogFileError(f"{file}:1: missing required column(s): {names}")
    return HeaderMap(by_key=by_key, unknown=unknown)


def parse_columns(spec: str) -> tuple[tuple[DeclaredColumn, ...], list[str]]:
    """Parse a 信息项 spec ``xm:C;sfzhm:C;csrq:D``; returns the columns and the problems found."""
    columns: list[DeclaredColumn] = []
    problems: list[str] = []
    seen: set[str] = set()
    items = [s for s in re.split(r"[;；\n]", spec) if s.strip()]
    if not items:
        return (), ["no columns declared; write them as name:TYPE;name:TYPE (e.g. xm:C;csrq:D)"]
    for number, item in enumerate(items, start=1):
        match = COLUMN_SPEC_RE.match(item)
        if match is None:
            problems.append(f"item {number} {item.strip()!r} is not name:TYPE (e.g. xm:C)")
            continue
        name, letter = match["name"], match["type"].upper()
        try:
            dtype = ColumnType(letter)
        except ValueError:
            problems.append(f"item {number} {item.strip()!r} has type {letter}; allowed: {_TYPE_NAMES}")
            continue
        if name in seen:
            problems.append(f"column {name!r} is declared twice")
            continue
        unsafe = name_problem(name)
        if unsafe:
            problems.append(f"column {name!r} {unsafe}: {_NAME_RULE}")
            continue
        seen.add(name)
        columns.append(DeclaredColumn(name=name, dtype=dtype))
    return tuple(columns), problems


def _enum_value(enum: type[E], value: str) -> E | None:
    try:
        return enum(value)
    except ValueError:
        return None


def _sensitivity(value: str) -> Sensitivity | None:
    text = value.strip().upper().replace("级", "")
    for grade, label in SENSITIVITY_LABELS.items():
        if text in {grade.value, f"{grade.value} {label}", f"{grade.value}{label}", label, grade.value[1]}:
            return grade
    return None


def validate_row(file: str | Path, row: RawRow, headers: HeaderMap) -> CatalogEntry | list[RowError]:
    """Turn one raw row into a :class:`CatalogEntry`, or list everything wrong with it."""
    file = str(file)
    values = {key: row.cells.get(header, "") for key, header in headers.by_key.items()}
    code = values.get("code") or None
    provider = values.get("provider") or None
    errors: list[RowError] = []

    def err(key: str, message: str) -> None:
        errors.append(RowError(file, row.line, headers.label(key), message, code, provider))

    if row.width > len(headers.by_key) + len(headers.unknown):
        errors.append(
            RowError(
                file,
                row.line,
                "(row)",
                f"has {row.width} cells but the header has {len(headers.by_key) + len(headers.unknown)}; "
                "a value probably contains an unquoted comma",
                code,
                provider,
            )
        )
    for f in CATALOG_FIELDS:
        if f.required and not values.get(f.key):
            err(f.key, "required value is empty")
    if code and not _CODE_RE.match(code):
        err("code", f"{code!r} is not a resource code (letters, digits, '-', '.', '/' only)")
    unsafe = name_problem(values.get("location", ""))
    if unsafe:
        err("location", f"{values['location']!r} {unsafe}: {_NAME_RULE}")

    def enum_field(key: str, enum: type[E]) -> E | None:
        raw = values.get(key, "")
        if not raw:
            return None
        value = _enum_value(enum, raw)
        if value is None:
            err(key, f"{raw!r} is not one of {', '.join(m.value for m in enum)}")
        return value

    layer = enum_field("layer", Layer)
    fmt = enum_field("format", ResourceFormat)
    share_type = enum_field("share_type", ShareType)
    open_attr = enum_field("open_attr", OpenAttr)
    update_cycle = enum_field("update_cycle", UpdateCycle)
    sync_mode = enum_field("sync_mode", SyncMode)
    lifecycle = enum_field("lifecycle", Lifecycle) if values.get("lifecycle") else Lifecycle.PUBLISHED

    sensitivity = None
    if values.get("sensitivity"):
        sensitivity = _sensitivity(values["sensitivity"])
        if sensitivity is None:
            err("sensitivity", f"{values['sensitivity']!r} is not a grade L1, L2, L3 or L4")

    columns: tuple[DeclaredColumn, ...] = ()
    problems: list[str] = []
    if values.get("columns"):
        columns, problems = parse_columns(values["columns"])
        for problem in problems:
            err("columns", problem)
    declared = {c.name: c for c in columns}
    # Checks against the declared columns only make sense once they parsed cleanly.
    columns_ok = bool(columns) and not problems

    if share_type is ShareType.CONDITIONAL and not values.get("share_condition"):
        err("share_condition", "有条件共享 needs a 共享条件 (share condition)")
    if share_type is ShareType.NOT_SHARED and not values.get("share_basis"):
        err("share_basis", "不予共享 needs a legal basis (不予共享依据)")

    primary_key = tuple(p for p in _LIST_SPLIT.split(values.get("primary_key", "")) if p)
    if columns_ok:
        for name in primary_key:
            if name not in declared:
                err("primary_key", f"{name!r} is not a declared 信息项")
    update_col = values.get("update_time_column") or None
    if update_col and columns_ok:
        if update_col not in declared:
            err("update_time_column", f"{update_col!r} is not a declared 信息项")
        elif declared[update_col].dtype not in (ColumnType.DATE, ColumnType.DATETIME):
            err("update_time_column", f"{update_col!r} is declared {declared[update_col].dtype.value}; it must be D or T")

    publish_date = None
    if values.get("publish_date"):
        try:
            publish_date = date.fromisoformat(values["publish_date"].replace("/", "-"))
        except ValueError:
            err("publish_date", f"{values['publish_date']!r} is not a date (YYYY-MM-DD)")

    if errors:
        return errors
    assert layer and share_type and open_attr and update_cycle and sensitivity and lifecycle and code
    return CatalogEntry(
        code=code,
        name=values["name"],
        provider=values["provider"],
        layer=layer,
        columns=columns,
        share_type=share_type,
        open_attr=open_attr,
        update_cycle=update_cycle,
        conn_id=values["conn_id"],
        location=values["location"],
        sensitivity=sensitivity,
        provider_code=values.get("provider_code") or None,
        summary=values.get("summary") or None,
        format=fmt,
        share_condition=values.get("share_condition") or None,
        share_basis=values.get("share_basis") or None,
        share_method=values.get("share_method") or None,
        publish_date=publish_date,
        related_codes=tuple(p for p in _LIST_SPLIT.split(values.get("related_codes", "")) if p),
        primary_key=primary_key,
        update_time_column=update_col,
        sync_mode=sync_mode,
        lifecycle=lifecycle,
        extra={h: row.cells.get(h, "") for h in headers.unknown if row.cells.get(h, "")},
    )
