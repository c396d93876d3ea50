"""Required values: ``expect_column_values_to_not_be_blank`` (not NULL, not empty, not only spaces).

A blank value is this rule's finding alone (完整性): every identifier rule passes it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import CheckForms, ExpectationRule, GxForm

TYPE = "expect_column_values_to_not_be_blank"


def not_blank_problem(value: object) -> str | None:
    """``missing`` for NULL, an empty string or only whitespace."""
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    return "missing" if text(value) == "" else None


def not_blank_ok(column: ColumnElement[Any], dialect: str | None = None) -> ColumnElement[bool]:
    """SQL for :func:`not_blank_problem` is None (NULL counts as blank)."""
    return sqlcond.never_null(sa.and_(column.is_not(None), sa.not_(sqlcond.empty(sqlcond.as_text(column)))))


def _fast_accept(cols: Any) -> Any:
    from citygov.quality import vector

    return vector.not_blank(cols)


def _compile(e: Any) -> CheckForms:
    return CheckForms(
        "map", (e.column,), lambda c, d: not_blank_ok(c[0]),
        lambda c: c[0].map(lambda v: not_blank_problem(v) is None).astype(bool),
        _fast_accept, lambda v: not_blank_problem(v[0]), filter_nulls=False,
    )


RULES = (
    ExpectationRule(
        TYPE, Dimension.COMPLETENESS, "必填项为空", "required value missing", "补录缺失的必填值 fill in the missing required values",
        compile=_compile,
        problem=not_blank_problem,
        reasons={"missing": "值为空 value missing (NULL or blank)"},
        gx=GxForm(
            "ExpectColumnValuesToNotBeBlank", "column_values.citygov_not_blank", "$column 不应为空 value required",
            """Expect every value present: not NULL, not an empty string, not only spaces (what a steward means
    by 必填; GX's ``expect_column_values_to_not_be_null`` lets empty strings through).""",
            tags=("completeness",),
            every_row=True,
        ),
    ),
)
