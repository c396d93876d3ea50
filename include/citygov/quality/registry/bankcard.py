"""Bank card numbers (银行卡号, GB/T 15694 / ISO/IEC 7812): ``expect_column_values_to_be_valid_bankcard``.

16 to 19 digits, spaces or hyphens between the groups allowed, and a right Luhn check digit
(:func:`citygov.identifiers.card_number_defect`, which the masker's card recognition uses too). This
module is the whole rule: words, dimension, the Python check and its reasons, the SQL condition, the
vectorized fast accept, the GX classes' form and the drafting heuristic (columns the masker recognises
as card numbers, :func:`citygov.identifiers.detect_kind`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from citygov.findings import Dimension
from citygov.identifiers import card_number_defect
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import ExpectationRule, GxForm, column_rule, draft_valid
from citygov.quality.sqlcond import DIGIT, digits_at, matches, never_null

TYPE = "expect_column_values_to_be_valid_bankcard"
LENGTHS = range(16, 20)
"""Card numbers have 16 to 19 digits."""


def bankcard_problem(value: object) -> str | None:
    """Why ``value`` is not a bank card number, or None: ``format`` (not 16–19 digits once the spaces
    and hyphens between groups are dropped) or ``check_digit`` (Luhn). Blank passes (not-blank's)."""
    t = text(value)
    if t == "":
        return None
    return card_number_defect(t.replace(" ", "").replace("-", ""))


def _doubled(d: ColumnElement[int]) -> ColumnElement[int]:
    return sa.case((d > 4, d * 2 - 9), else_=d * 2)


def bankcard_ok(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """SQL for :func:`bankcard_problem` is None: per length, the digits' shape and the Luhn sum (every
    second digit from the right doubled) inside a ``CASE`` branch only that shape reaches."""
    t = sqlcond.as_text(column)
    digits = sa.func.replace(sa.func.replace(t, " ", ""), "-", "")
    whens: list[Any] = [(sqlcond.empty(t), sa.true())]
    for n in LENGTHS:
        total = sum(
            (_doubled(digits_at(digits, i, 1)) if (n - i) % 2 == 1 else digits_at(digits, i, 1) for i in range(1, n + 1)),
            sa.literal(0),
        )
        whens.append((matches(digits, [DIGIT] * n, dialect), total % 10 == 0))
    return never_null(sa.case(*whens, else_=sa.false()))


def fast_accept(cols: Sequence[Any]) -> Any:
    """Values of 16–19 plain ASCII digits with a right Luhn digit, or blank (compiled kernel, one pass
    over the bytes); values with separators go to :func:`bankcard_problem`."""
    from citygov.quality import kernels, vector

    return vector.kernel_accept(cols[0], kernels.luhn, LENGTHS.start, LENGTHS.stop - 1, blank=True)


RULES = (
    ExpectationRule(
        TYPE, Dimension.ACCURACY, "银行卡号无效", "invalid bank card number",
        "核对并更正银行卡号（16–19 位，校验位） check and correct the card numbers (16 to 19 digits, Luhn check digit)",
        compile=column_rule("bankcard", bankcard_problem, bankcard_ok, fast_accept),
        problem=bankcard_problem,
        reasons={
            "bankcard.format": "银行卡号格式错误 not a card number (16 to 19 digits)",
            "bankcard.check_digit": "银行卡号校验位错误 card number check digit (Luhn) wrong",
        },
        gx=GxForm(
            "ExpectColumnValuesToBeValidBankcard", "column_values.citygov_valid_bankcard",
            "$column 应为有效的银行卡号 valid bank card number (GB/T 15694)",
            """Expect column values to be bank card numbers (银行卡号, GB/T 15694 / ISO/IEC 7812): 16 to 19
    digits, spaces or hyphens between the groups allowed, with a right Luhn check digit.""",
            tags=("identifier",),
        ),
        draft_kind="bankcard",
        draft=draft_valid(bankcard_problem, "银行卡号 card numbers"),
    ),
)
