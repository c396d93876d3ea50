"""A backflow batch's rows: the suite's row-level checks, each record as a typed stage row, and the first
failing check of each row. Shared by the general load (:mod:`citygov.backflow.loader`) and PostgreSQL's fast
path (:mod:`citygov.backflow.pgfast`), so both treat a record the same way.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from citygov.catalog.schema import CatalogEntry, ColumnType
from citygov.settings import CITY_TZ

SuiteChecks = list[tuple[Any, str]]
"""The row-level expectations of a dataset's suite, compiled (:func:`row_checks`), with their column text."""

_ROW_KINDS = {"map", "pair"}


def row_checks(entry: CatalogEntry, logical_date: date, suites: Path | None = None) -> tuple[SuiteChecks, dict[str, str]]:
    """The row-level expectations of ``entry``'s suite (``expectations/<code>.json``), with suite parameters
    for ``logical_date``, compiled by the quality engine; and the suite's column mask kinds.

    Row-level means one verdict per row from the row's own values (not blank, ID numbers, credit codes,
    division codes, regexes and value sets, dates not in the future, ID ↔ birth date/gender). Table-level
    expectations (uniqueness of a non-key column, row counts) and base-table lookups are the quality
    inspection's business; the primary key's uniqueness within the batch is checked by the loader.
    A dataset without a suite has no row expectations. Raises SuiteFileError for a broken suite file.
    """
    from citygov.quality.checks import compile_check, substitute
    from citygov.quality.suites import column_masks, load_suite

    suite = load_suite(entry.code, suites)
    if suite is None:
        return [], {}
    declared = {c.name for c in entry.columns}
    checks: SuiteChecks = []
    for expectation in suite.expectations:
        check = compile_check(substitute(expectation, {"logical_date": logical_date.isoformat()}))
        if check.kind in _ROW_KINDS and check.sql is not None and set(check.columns) <= declared:
            checks.append((check, ", ".join(check.columns)))
    return checks, column_masks(suite)


def _canonical(value: str, dtype: ColumnType) -> str:
    """The text a typed value is staged as (ISO dates, plain numbers); ValueError when it is no such value."""
    text = value.strip()
    if dtype is ColumnType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(text) from None
        if not number.is_finite() or "_" in text:
            raise ValueError(text)
        return str(number)
    if dtype is ColumnType.DATE:
        return date.fromisoformat(text.replace("/", "-")).isoformat()
    stamp = datetime.fromisoformat(text.replace("/", "-"))
    if stamp.tzinfo:
        stamp = stamp.astimezone(CITY_TZ).replace(tzinfo=None)
    return stamp.isoformat(sep=" ")


_TYPE_WORDS = {
    ColumnType.NUMBER: "a number (N)",
    ColumnType.DATE: "a date (D, YYYY-MM-DD)",
    ColumnType.DATETIME: "a date-time (T, YYYY-MM-DD HH:MM:SS)",
}


class RowPreparer:
    """One record as a stage row ``[line, code, column, reason, record, *values]`` (values in ``names``
    order, typed values canonical, whitespace-only fields NULL): a refused record carries its reason
    code, column, reason and raw record instead. NULL is ``""`` for PostgreSQL's COPY, None otherwise."""

    def __init__(self, entry: CatalogEntry, header: list[str], names: list[str], *, postgres: bool) -> None:
        self.header = header
        position = {name: header.index(name) for name in names}
        self.pk = [position[k] for k in entry.primary_key]
        self.typed = [(position[c.name], c.dtype, c.name) for c in entry.columns if c.dtype in _TYPE_WORDS]
        self.order = [position[n] for n in names]
        self.in_order = self.order == list(range(len(self.order)))
        # Empty text is NULL; COPY's CSV format reads an unquoted empty field as NULL, executemany needs None.
        self.empty: str | None = "" if postgres else None

    def __call__(self, line: int, fields: list[str], fault: tuple[str, str] | None) -> list[Any]:
        header, order, empty = self.header, self.order, self.empty
        if fault is not None:
            record = fields if fields else None
            return [line, fault[0], None, fault[1], json.dumps(record, ensure_ascii=False), *[empty] * len(order)]
        if any(map(str.isspace, fields)):
            fields = ["" if f.isspace() else f for f in fields]
        empty_keys = [header[i] for i in self.pk if not fields[i]]
        if empty_keys:
            return _refused(line, "missing_key", empty_keys[0], f"line {line}: primary key {', '.join(empty_keys)} is empty",
                            header, fields, len(order), empty)
        for i, dtype, name in self.typed:
            if fields[i]:
                try:
                    fields[i] = _canonical(fields[i], dtype)
                except ValueError:
                    return _refused(line, "bad_value", name, f"line {line}: {name} is not {_TYPE_WORDS[dtype]}",
                                    header, fields, len(order), empty)
        values = fields if self.in_order else [fields[i] for i in order]
        if empty is None:
            values = [v or None for v in values]
        return [line, None, None, None, None, *values]


def _refused(
    line: int, code: str, column: str, reason: str, header: list[str], fields: list[str], width: int, empty: str | None
) -> list[Any]:
    record = json.dumps(dict(zip(header, fields, strict=True)), ensure_ascii=False)
    return [line, code, column, reason, record, *[empty] * width]


def expectation_failures(
    checks: SuiteChecks, columns: dict[str, Any], lines: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
    """The suite's row expectations over rows numbered ``lines`` (``columns``: each checked column as a
    :class:`~citygov.quality.vector.TextColumn` or list of text): which rows pass them all, and for every
    other row ``(index, reason code, column(s), reason)`` of the first one it fails, in suite order. The
    checks are the quality engine's compiled ones, evaluated vectorized
    (:func:`~citygov.quality.vector.vector_expected`: a fast accept, the rule itself for everything else)."""
    from citygov.quality.vector import vector_expected

    good = np.ones(len(lines), dtype=bool)
    failures: list[tuple[int, str, str, str]] = []
    for check, cols in checks:
        bad = np.flatnonzero(good & ~vector_expected(check, [columns[n] for n in check.columns]))
        good[bad] = False
        failures.extend((int(i), check.type, cols, f"line {int(lines[i])}: {cols} fails {check.type}") for i in bad)
    return good, failures


def has_key(conn: Connection, name: str, pk: list[str]) -> bool:
    inspector = sa.inspect(conn)
    if sorted(inspector.get_pk_constraint(name).get("constrained_columns") or []) == sorted(pk):
        return True
    return any(sorted(u["column_names"]) == sorted(pk) for u in inspector.get_unique_constraints(name))
