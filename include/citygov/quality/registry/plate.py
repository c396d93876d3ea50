"""Mainland number plates (号牌, GA 36): ``expect_column_values_to_be_valid_plate``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.identifiers import PLATE_PROVINCES, PLATE_RE
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import ExpectationRule, GxForm, column_rule, draft_valid
from citygov.quality.sqlcond import contains, matches, never_null

TYPE = "expect_column_values_to_be_valid_plate"
_LETTER = "[A-HJ-NP-Z]"
_BODY = "[A-HJ-NP-Z0-9]"
_LAST_WORDS = "挂学警港澳领"
"""Characters a plate may end with besides letters and digits (trailer, learner, police, HK, Macao, consular)."""
_LAST = f"[A-HJ-NP-Z0-9{_LAST_WORDS}]"
_SEPARATORS = (None, "[·]", "[・]", "[.]", "[-]", "[ ]")


def plate_problem(value: object) -> str | None:
    """Why ``value`` is not a mainland number plate (号牌, GA 36: province, issuing letter, an optional
    dot, 5 characters or 6 on new-energy plates with a digit among them, the last may be 挂 学 警 港 澳 领;
    :data:`citygov.identifiers.PLATE_RE`), or None."""
    t = text(value)
    return None if t == "" or PLATE_RE.fullmatch(t) else "format"


def plate_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`plate_problem` is None: one of the shapes (with or without a separator, 5 or 6
    characters after it) and a digit somewhere (only the part after the letter can hold one)."""
    t = sqlcond.as_text(column)
    shapes = [
        matches(t, [f"[{PLATE_PROVINCES}]", _LETTER, *([sep] if sep else []), *[_BODY] * n, _LAST], dialect)
        for sep in _SEPARATORS
        for n in (4, 5)
    ]
    return never_null(sa.or_(sqlcond.empty(t), sa.and_(sa.or_(*shapes), contains(t, "[0-9]", dialect))))


@functools.cache
def _flags() -> tuple[Any, Any]:
    """The province characters and the last characters a plate may end with, as flags by code point."""
    import numpy as np

    provinces = np.zeros(0x10000, dtype=np.bool_)
    provinces[[ord(c) for c in PLATE_PROVINCES]] = True
    last = np.zeros(0x10000, dtype=np.bool_)
    last[[ord(c) for c in _LAST_WORDS]] = True
    return provinces, last


def fast_accept(cols: Sequence[Any]) -> Any:
    """Plates exactly in one of the shapes of :data:`citygov.identifiers.PLATE_RE` (compiled kernel over
    the UTF-8 bytes), or blank; surrounding spaces, lower case and the rest go to :func:`plate_problem`."""
    from citygov.quality import kernels, vector

    return vector.kernel_accept(cols[0], kernels.plate, *_flags(), blank=True)


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "机动车号牌无效", "invalid number plate",
        "按 GA 36 核对并更正号牌 check and correct the plates per GA 36",
        compile=column_rule("plate", plate_problem, plate_ok, fast_accept),
        problem=plate_problem,
        reasons={"plate.format": "号牌格式错误 not a number plate (GA 36)"},
        gx=GxForm(
            "ExpectColumnValuesToBeValidPlate", "column_values.citygov_valid_plate",
            "$column 应为有效的机动车号牌 valid number plate (GA 36)",
            """Expect column values to be mainland number plates (号牌, GA 36): province, issuing letter, an
    optional dot, then 5 characters (6 on new-energy plates) with a digit among them, the last may be
    挂 学 警 港 澳 领 (:func:`citygov.quality.registry.plate.plate_problem`).""",
            tags=("identifier",),
        ),
        draft_kind="plate",
        draft=draft_valid(plate_problem, "号牌 number plates"),
    ),
)
