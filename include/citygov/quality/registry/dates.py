"""Dates not in the future: ``expect_column_values_to_be_date_not_in_future``.

Drafted for a column of no identifier kind declared D/T or whose values are mostly dates. Also the SQL reading of a
date-like cell (:func:`date_text_sql`), which the ID ↔ birth date rule (:mod:`.pairs`) compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.catalog.schema import ColumnType
from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import date_text, iso
from citygov.quality.registry import (
    LOGICAL_DATE,
    CheckForms,
    ExpectationRule,
    GxForm,
    Param,
    PlainColumn,
    Proposal,
    map_forms,
    share,
    support,
)
from citygov.quality.sqlcond import DIGIT, matches, never_null

TYPE = "expect_column_values_to_be_date_not_in_future"


def future_date_problem(value: object, *, reference_date: date | str) -> str | None:
    """``future`` when a date-like value lies after ``reference_date``; values that are no date pass
    (a format expectation judges those)."""
    day = date_text(value)
    return "future" if day is not None and day > iso(reference_date) else None


def _temporal(column: ColumnElement[Any], dialect: str) -> str | None:
    """``date`` or ``datetime`` for a PostgreSQL column typed so (its text is always ISO there, with
    ``DateStyle`` ISO); None for text, and for SQLite, whose DATE columns hold whatever was written."""
    if dialect != "postgresql":
        return None
    kind = getattr(column, "type", None)
    if isinstance(kind, sa.DateTime):
        return "datetime"
    if isinstance(kind, sa.Date):
        return "date"
    return None


def date_text_sql(column: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """SQL for :func:`citygov.quality.cells.date_text` (``YYYY-MM-DD`` or NULL)."""
    temporal = _temporal(column, dialect)
    if temporal == "date":
        return sa.cast(column, sa.String)
    if temporal == "datetime":
        return sa.func.substr(sa.cast(column, sa.String), 1, 10)
    t = sqlcond.as_text(column)
    shape = matches(t, [DIGIT] * 4 + ["[/-]"] + [DIGIT] * 2 + ["[/-]"] + [DIGIT] * 2, dialect, prefix=True)
    return sa.case((shape, sa.func.replace(sa.func.substr(t, 1, 10), "/", "-")), else_=sa.null())


def not_future_ok(column: ColumnElement[Any], dialect: str, *, reference_date: date | str) -> ColumnElement[bool]:
    """SQL for :func:`future_date_problem` is None."""
    temporal = _temporal(column, dialect)
    if temporal == "date":
        return never_null(column <= sa.cast(sa.literal(iso(reference_date)), sa.Date))
    if temporal == "datetime":
        return never_null(sa.cast(column, sa.Date) <= sa.cast(sa.literal(iso(reference_date)), sa.Date))
    day = date_text_sql(column, dialect)
    return never_null(sa.or_(day.is_(None), day <= iso(reference_date)))


def fast_accept(reference_date: Any) -> Any:
    """Values that hold no date, or start with ``YYYY-MM-DD`` / ``YYYY/MM/DD`` not after the reference
    date (compiled kernel); values with leading spaces go to :func:`future_date_problem`."""

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels, vector

        return vector.kernel_accept(cols[0], kernels.no_date_after, vector.iso_number(reference_date), blank=True)

    return cond


def _compile(e: Any) -> CheckForms:
    ref = e.reference_date
    return map_forms(e, "date", future_date_problem, not_future_ok, vector=fast_accept(ref), reference_date=ref)


_DECLARED_DATES = (ColumnType.DATE, ColumnType.DATETIME)


def _draft(column: PlainColumn) -> Proposal | None:
    if not column.present:
        declared = column.declared in _DECLARED_DATES
        return Proposal({"reference_date": LOGICAL_DATE}, "日期 declared D/T (no data profiled)") if declared else None
    dates = support(column.present, lambda v: None if date_text(v) is not None else "no date")
    if column.declared in _DECLARED_DATES or share(dates) >= column.kind_min:
        why = f"日期 dates cannot lie in the future ({dates[0]} of {dates[1]} sampled are dates)"
        return Proposal({"reference_date": LOGICAL_DATE}, why, dates)
    return None


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "日期晚于当日", "date in the future", "更正录入错误的日期 correct the mistyped dates",
        compile=_compile,
        problem=future_date_problem,
        reasons={"date.future": "日期晚于 {reference} date after {reference}"},
        gx=GxForm(
            "ExpectColumnValuesToBeDateNotInFuture", "column_values.citygov_date_not_in_future",
            "$column 不应晚于 $reference_date date not in the future",
            """Expect date or datetime values (``YYYY-MM-DD…`` or ``YYYY/MM/DD…``) not to lie after
    ``reference_date``, normally ``{"$PARAMETER": "logical_date"}``: a record cannot describe a day that has
    not happened yet. Values that are no date pass here (a format expectation judges them).""",
            tags=("date",),
            params=(Param("reference_date", None, "required_date"),),
            args=("column", "reference_date"),
        ),
        draft_plain=_draft,
        draft_rank=20,
    ),
)
