"""Mainland mobile numbers: ``expect_column_values_to_be_valid_mobile``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import ExpectationRule, GxForm, column_rule, draft_valid
from citygov.quality.sqlcond import DIGIT, matches, never_null

TYPE = "expect_column_values_to_be_valid_mobile"
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def mobile_problem(value: object) -> str | None:
    """Why ``value`` is not a mainland mobile number (11 digits, ``1[3-9]…``), or None."""
    t = text(value)
    return None if t == "" or _MOBILE.fullmatch(t) else "format"


def mobile_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`mobile_problem` is None."""
    t = sqlcond.as_text(column)
    return never_null(sa.or_(sqlcond.empty(t), matches(t, ["1", "[3-9]"] + [DIGIT] * 9, dialect)))


def fast_accept(cols: Sequence[Any]) -> Any:
    """Exactly ``1[3-9]`` and nine ASCII digits, or blank (compiled kernel); anything else goes to
    :func:`mobile_problem`."""
    from citygov.quality import kernels, vector

    return vector.kernel_accept(cols[0], kernels.mobile, blank=True)


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "手机号码无效", "invalid mobile number",
        "核对并更正手机号码（11 位，1 开头） check and correct the mobile numbers (11 digits starting with 1)",
        compile=column_rule("mobile", mobile_problem, mobile_ok, fast_accept),
        problem=mobile_problem,
        reasons={"mobile.format": "手机号码格式错误 not a mobile number (11 digits, 1[3-9]…)"},
        gx=GxForm(
            "ExpectColumnValuesToBeValidMobile", "column_values.citygov_valid_mobile",
            "$column 应为有效的手机号码 valid mobile number",
            """Expect column values to be mainland mobile numbers: 11 digits, ``1[3-9]`` then nine digits.""",
            tags=("identifier",),
        ),
        draft_kind="mobile",
        draft=draft_valid(mobile_problem, "手机号码 mobile numbers"),
    ),
)
