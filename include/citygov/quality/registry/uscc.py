"""Unified social credit codes (统一社会信用代码, GB 32100-2015): ``expect_column_values_to_be_valid_uscc``."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.identifiers import USCC_ALPHABET, uscc_check_char
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import ExpectationRule, GxForm, column_rule, draft_valid
from citygov.quality.sqlcond import DIGIT, char_index, matches, never_null

TYPE = "expect_column_values_to_be_valid_uscc"
_SHAPE = re.compile(rf"[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}")
_CLASS = "[0-9ABCDEFGHJKLMNPQRTUWXY]"
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_problem(value: object) -> str | None:
    """Why ``value`` is not a unified social credit code (GB 32100-2015), or None.

    18 characters of ``0-9 A-H J-N P-R T U W X Y``, a 6-digit division part (positions 3–8) and the MOD 31
    check character. Letters are allowed in positions 1–2 (e.g. registering authority ``Y``), unlike
    ``stdnum.cn.uscc``, which wants digits in positions 1–8. Reasons: ``format``, ``check_char``.
    """
    t = text(value).upper()
    if t == "":
        return None
    if not _SHAPE.fullmatch(t):
        return "format"
    return None if uscc_check_char(t[:17]) == t[17] else "check_char"


def uscc_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`uscc_problem` is None."""
    t = sa.func.upper(sqlcond.as_text(column))
    shape = matches(t, [_CLASS] * 2 + [DIGIT] * 6 + [_CLASS] * 10, dialect)
    total = sum(
        ((char_index(USCC_ALPHABET, sa.func.substr(t, i + 1, 1), dialect) - 1) * w for i, w in enumerate(_WEIGHTS)),
        sa.literal(0),
    )
    check = sa.func.substr(sa.literal(USCC_ALPHABET), ((31 - total % 31) % 31) + 1, 1)
    return never_null(sa.case((sqlcond.empty(t), sa.true()), (shape, check == sa.func.substr(t, 18, 1)), else_=sa.false()))


@functools.cache
def _tables() -> tuple[Any, Any]:
    """Each byte's place in the alphabet (-1 for bytes outside it, lower case too) and the weights."""
    import numpy as np

    index = np.full(256, -1, dtype=np.int64)
    index[np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(len(USCC_ALPHABET))
    return index, np.array(_WEIGHTS, dtype=np.int64)


def fast_accept(cols: Sequence[Any]) -> Any:
    """18 upper-case characters of the alphabet with digits at the 3rd to 8th and the right check
    character, or blank (compiled kernel); lower case, spaces and the rest go to :func:`uscc_problem`."""
    from citygov.quality import kernels, vector

    return vector.kernel_accept(cols[0], kernels.uscc, *_tables(), blank=True)


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "统一社会信用代码无效", "invalid unified social credit code",
        "按营业执照更正统一社会信用代码 correct the credit codes from the business licences",
        compile=column_rule("uscc", uscc_problem, uscc_ok, fast_accept),
        problem=uscc_problem,
        reasons={
            "uscc.format": "统一社会信用代码格式错误 not a credit code (18 characters of 0-9 A-Y)",
            "uscc.check_char": "校验位错误 check character wrong",
        },
        gx=GxForm(
            "ExpectColumnValuesToBeValidUscc", "column_values.citygov_valid_uscc",
            "$column 应为有效的统一社会信用代码 valid credit code (GB 32100)",
            """Expect column values to be unified social credit codes (统一社会信用代码, GB 32100-2015): 18
    characters of ``0-9 A-H J-N P-R T U W X Y``, a 6-digit division part and the MOD 31 check character.""",
            tags=("identifier",),
        ),
        draft_kind="uscc",
        draft=draft_valid(uscc_problem, "统一社会信用代码 credit codes"),
    ),
)
