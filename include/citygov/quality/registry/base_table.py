"""Referential integrity: ``expect_column_values_to_exist_in_base_table`` (every value in a 基础库 table).

The engine checks it against the base table wherever the catalog finds it (kind ``ref``: the runner's
base lookup), or against ``base_values`` in the expectation. Its GX classes are written out in
:mod:`citygov.quality.expectations` (their SQL partial reads another table). Drafted by
``_references`` in :mod:`citygov.quality.suites` (it reads the base tables).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from citygov.findings import Dimension
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import CheckForms, ExpectationRule, GxForm

TYPE = "expect_column_values_to_exist_in_base_table"


def _compile(e: Any) -> CheckForms:
    def not_in_base(values: Any) -> str:
        return "not_in_base"

    if e.base_values is not None:
        values = list(e.base_values)
        return CheckForms(
            "map", (e.column,), lambda c, d: sa.or_(sqlcond.empty(sqlcond.as_text(c[0])), c[0].in_(values)),
            lambda c: c[0].isin(values) | (c[0].map(text) == ""), explain=not_in_base,
        )
    return CheckForms("ref", (e.column,), explain=not_in_base)


RULES = (
    ExpectationRule(
        TYPE, Dimension.CONSISTENCY, "基础库中不存在", "not found in the base table",
        "核对该值，或先在基础库中登记 check the value, or register it in the base table first",
        compile=_compile,
        reasons={"not_in_base": "基础库中不存在 not found in {base}"},
        gx=GxForm(
            "ExpectColumnValuesToExistInBaseTable", "column_values.citygov_in_base_table",
            "$column 应存在于基础库 $base_entry.$base_column exists in the base table", "", ("referential integrity",),
            written_out=True,
        ),
    ),
)
