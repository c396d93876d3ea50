"""GB/T 2260 division codes (行政区划代码): ``expect_column_values_to_be_valid_division_code``.

Drafted for a column of no identifier kind whose values are mostly known codes, or whose name says it
holds division codes (:data:`DIVISION_NAMES`) and whose values are mostly six digits (or that has no data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.reference import current_division_codes, known_division_codes
from citygov.quality.registry import (
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
from citygov.quality.sqlcond import DIGIT, in_divisions, matches, never_null

TYPE = "expect_column_values_to_be_valid_division_code"
DIVISION_NAMES = frozenset({"xzqdm", "ssxq", "qxdm", "hjdqdm", "qcddm", "qrddm", "cbdq", "djjg", "所属区县", "行政区划代码"})
"""Column names that say a column holds division codes."""
_DIVISION = re.compile(r"[0-9]{6}")


def division_problem(value: object, *, current_only: bool = False) -> str | None:
    """Why ``value`` is not a GB/T 2260 division code, or None. Retired codes pass unless ``current_only``."""
    t = text(value)
    if t == "":
        return None
    if not _DIVISION.fullmatch(t):
        return "format"
    if t not in known_division_codes():
        return "unknown"
    if current_only and t not in current_division_codes():
        return "retired"
    return None


def division_ok(column: ColumnElement[Any], dialect: str, *, current_only: bool = False) -> ColumnElement[bool]:
    """SQL for :func:`division_problem` is None."""
    t = sqlcond.as_text(column)
    return never_null(sa.or_(sqlcond.empty(t), sa.and_(matches(t, [DIGIT] * 6, dialect), in_divisions(t, dialect, current_only))))


def fast_accept(current_only: bool) -> Any:
    """Six digits that are a flagged code (compiled kernel over a million flags), or blank."""

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels, vector

        return vector.kernel_accept(cols[0], kernels.known_division, vector.division_table(current_only), blank=True)

    return cond


def _compile(e: Any) -> CheckForms:
    cur = e.current_only
    return map_forms(e, "division", division_problem, division_ok, vector=fast_accept(cur), current_only=cur)


def _draft(column: PlainColumn) -> Proposal | None:
    if not column.present:
        return Proposal({}, "行政区划代码 by column name (no data profiled)") if column.name in DIVISION_NAMES else None
    known = support(column.present, division_problem)
    shaped = support(column.present, lambda v: None if len(text(v)) == 6 and text(v).isdigit() else "shape")
    if (column.name in DIVISION_NAMES and share(shaped) >= column.kind_min) or share(known) >= column.kind_min:
        return Proposal({}, f"行政区划代码 division codes: {known[0]} of {known[1]} sampled known", known)
    return None


RULES = (
    ExpectationRule(
        TYPE, Dimension.CONFORMITY, "行政区划代码无效", "invalid division code",
        "改用 GB/T 2260 现行行政区划代码 use current GB/T 2260 division codes",
        compile=_compile,
        problem=division_problem,
        reasons={
            "division.format": "行政区划代码格式错误 not a 6-digit division code",
            "division.unknown": "行政区划代码不存在 division code unknown",
            "division.retired": "行政区划代码已撤销 division code retired",
        },
        gx=GxForm(
            "ExpectColumnValuesToBeValidDivisionCode", "column_values.citygov_valid_division",
            "$column 应为 GB/T 2260 行政区划代码 division code",
            """Expect column values to be GB/T 2260 administrative division codes (行政区划代码) from the shipped
    national table; retired codes pass unless ``current_only``.""",
            tags=("reference data",),
            params=(Param("current_only", False),),
        ),
        draft_plain=_draft,
        draft_rank=10,
    ),
)
