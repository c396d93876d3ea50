"""GX's built-in expectation types: their words, and the forms the engine computes itself.

Types with a ``compile`` form run in the streaming engine and the fused scan; the others (regex, types,
column sets…) run through GX's own engine. Three carry a drafting heuristic for a column of no identifier
kind, asked after the domain rules' (:func:`citygov.quality.drafting.draft_suite`): non-negative numbers,
value sets of code columns, fixed-length codes — the first that most of the column's values keep. The key's
completeness and uniqueness and references to 基础库 entries are drafted from the catalog, not from values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from citygov.catalog.schema import ColumnType
from citygov.findings import Dimension
from citygov.identifiers import scrub
from citygov.quality import sqlcond
from citygov.quality.cells import text
from citygov.quality.registry import CheckForms, ExpectationRule, PlainColumn, Proposal

_C, _P, _A, _S = Dimension.CONFORMITY, Dimension.COMPLETENESS, Dimension.ACCURACY, Dimension.CONSISTENCY
_AT_SOURCE = "在源系统中更正这些记录 correct these records in the source system"


def _code(code: str) -> Any:
    return lambda values: code


def _not_null(e: Any) -> CheckForms:
    from citygov.quality import vector

    return CheckForms(
        "map", (e.column,), lambda c, d: c[0].is_not(None), lambda c: c[0].notna(),
        vector.not_null, _code("null"), filter_nulls=False,
    )


def _unique(e: Any) -> CheckForms:
    return CheckForms("unique", (e.column,), explain=_code("duplicate"))


def _compound_unique(e: Any) -> CheckForms:
    return CheckForms("compound_unique", tuple(e.column_list), explain=_code("duplicate_key"), ignore_row_if=e.ignore_row_if)


def _in_set(e: Any) -> CheckForms:
    if isinstance(e.value_set, dict):  # an unsubstituted parameter: GX resolves it
        return CheckForms("gx", (e.column,))
    from citygov.quality import vector

    values = list(e.value_set)
    return CheckForms(
        "map", (e.column,), lambda c, d: sqlcond.exact(c[0], d).in_(list(values)), lambda c: c[0].isin(values), vector.in_set(values),
        _code("not_in_set"),
    )


def _bounds(e: Any, value: Any, *, strict: bool = True) -> list[Any]:
    parts = []
    if e.min_value is not None:
        parts.append(value > e.min_value if strict and e.strict_min else value >= e.min_value)
    if e.max_value is not None:
        parts.append(value < e.max_value if strict and e.strict_max else value <= e.max_value)
    return parts


def _between(e: Any) -> CheckForms:
    def sql(cols: Sequence[Any], d: str) -> Any:
        parts = _bounds(e, cols[0])
        return sa.func.coalesce(sa.and_(*parts), sa.false()) if parts else sa.true()

    def pandas(cols: Sequence[Any]) -> Any:
        import pandas as pd

        values = pd.to_numeric(cols[0], errors="coerce")
        ok = values.notna()
        for part in _bounds(e, values):
            ok &= part
        return ok.fillna(False).astype(bool)

    return CheckForms("map", (e.column,), sql, pandas, _between_accept(e), explain=_code("out_of_range"))


def _numeric_bound(bound: Any) -> bool:
    return bound is None or (isinstance(bound, (int, float)) and not isinstance(bound, bool))


def _between_accept(e: Any) -> Any:
    """Fast accept of ``expect_column_values_to_be_between``: plain decimal numbers (an optional sign,
    digits, an optional fraction; at most 15 digits) compared as float64, as pandas compares them
    (:func:`citygov.quality.kernels.decimal_between`). None (the rule judges every value) when a bound
    is no number (a date, a string, a parameter left unsubstituted) or too large for a float."""
    if not (_numeric_bound(e.min_value) and _numeric_bound(e.max_value)):
        return None
    try:
        low = -math.inf if e.min_value is None else float(e.min_value)
        high = math.inf if e.max_value is None else float(e.max_value)
    except OverflowError:
        return None
    strict_low, strict_high = bool(e.strict_min), bool(e.strict_max)

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels, vector

        return vector.kernel_accept(cols[0], kernels.decimal_between, low, high, strict_low, strict_high)

    return cond


def _lengths(e: Any) -> CheckForms:
    def sql(cols: Sequence[Any], d: str) -> Any:
        parts = _bounds(e, sqlcond.char_length(cols[0]), strict=False)
        return sa.func.coalesce(sa.and_(*parts), sa.false()) if parts else sa.true()

    def pandas(cols: Sequence[Any]) -> Any:
        import pandas as pd

        n = cols[0].map(lambda v: len(str(v)))
        ok = pd.Series(True, index=cols[0].index)
        for part in _bounds(e, n, strict=False):
            ok &= part
        return ok.astype(bool)

    return CheckForms("map", (e.column,), sql, pandas, _lengths_accept(e), explain=_code("length"))


_LENGTH_LIMIT = 2**62


def _lengths_accept(e: Any) -> Any:
    """Fast accept of ``expect_column_value_lengths_to_be_between``: values with ``min_value`` to
    ``max_value`` characters (code points, as ``len(str(v))``; the kernel counts them in the UTF-8
    bytes, :func:`citygov.quality.kernels.chars_between`). None when a bound is no finite number."""
    bounds = (e.min_value, e.max_value)
    if not all(_numeric_bound(b) and (b is None or math.isfinite(b)) for b in bounds):
        return None
    low = -1 if e.min_value is None else max(min(math.ceil(e.min_value), _LENGTH_LIMIT), -1)
    high = _LENGTH_LIMIT if e.max_value is None else max(min(math.floor(e.max_value), _LENGTH_LIMIT), -1)

    def cond(cols: Sequence[Any]) -> Any:
        from citygov.quality import kernels, vector

        return vector.kernel_accept(cols[0], kernels.chars_between, low, high)

    return cond


def _row_count(e: Any) -> CheckForms:
    return CheckForms("table")


# --- drafting ---------------------------------------------------------------------------------------------

_PERIOD = re.compile(r"^[0-9]{4}([-/年][0-9]{1,2}月?)?$")
"""Years and months (统计期 2026-10): an enumeration of those only holds until next month."""


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _draft_non_negative(c: PlainColumn) -> Proposal | None:
    """A number column most of whose sampled values are numbers ≥ 0."""
    numbers = [n for n in (_number(v) for v in c.present) if n is not None]
    if c.declared is not ColumnType.NUMBER or not c.present or len(numbers) / len(c.present) < c.kind_min:
        return None
    support = (sum(1 for n in numbers if n >= 0), len(c.present))
    if support[0] / support[1] < c.kind_min:
        return None
    return Proposal({"min_value": 0}, f"非负数 {support[0]} of {support[1]} sampled non-negative numbers", support)


def _draft_value_set(c: PlainColumn) -> Proposal | None:
    """A text column of a few distinct values (not years or months), each common enough, is a code column:
    its values are the set; values rarer than ``value_set_rare`` are left out (their rows become findings)."""
    counts = dict(c.enum_counts)
    if (
        not c.present or c.declared is not ColumnType.STRING or not 2 <= len(counts) <= c.value_set_max_distinct
        or c.rows < 5 * len(counts) or any(_PERIOD.match(v) for v in counts)
    ):
        return None
    total = sum(counts.values())
    # a blank is the not-blank rule's to judge, not the value set's
    kept = sorted(v for v, n in counts.items() if not total or not v.strip() or n >= c.value_set_rare * total)
    support = (sum(counts[v] for v in kept), total) if total else (0, 0)
    left = len(counts) - len(kept)
    why = f"枚举 {len(kept)} values hold {support[0]} of {support[1]} rows" + (f"; {left} rare value(s) left out" if left else "")
    return Proposal({"value_set": scrub(kept)}, why, support if total else None)


def _draft_fixed_length(c: PlainColumn) -> Proposal | None:
    """An ASCII text column most of whose sampled values have one length of 2 or more characters."""
    # A blank (spaces) value would break the length rule as well as not-blank: one defect counted twice.
    if not c.present or c.declared is not ColumnType.STRING or c.blanks != 0 or c.distinct <= 1:
        return None
    if not all(text(v).isascii() for v in c.present):
        return None
    length, n = Counter(len(text(v)) for v in c.present).most_common(1)[0]
    if length < 2 or n / len(c.present) < c.kind_min:
        return None
    return Proposal({"min_value": length, "max_value": length}, f"定长编码 {n} of {len(c.present)} sampled values have {length} characters",
                    (n, len(c.present)))


RULES = (
    ExpectationRule("expect_column_values_to_not_be_null", _P, "值为空", "value is null", "补录缺失的值 fill in the missing values",
                    compile=_not_null, reasons={"null": "值为空 value is NULL"}),
    ExpectationRule("expect_column_proportion_of_non_null_values_to_be_between", _P, "非空比例不符", "share of non-null values out of range",
                    "补录缺失的值 fill in the missing values"),
    ExpectationRule("expect_table_row_count_to_be_between", _P, "记录数不符", "row count out of range",
                    "核实数据是否缺失或重复加载 check for missing or twice-loaded records", compile=_row_count),
    ExpectationRule("expect_column_to_exist", _C, "字段缺失", "column missing", "在资源中恢复该字段 restore the column in the resource"),
    ExpectationRule("expect_table_columns_to_match_set", _C, "字段集合不符", "columns differ from the declared set",
                    "使资源的字段与信息项一致 make the resource's columns match the 信息项"),
    ExpectationRule("expect_column_values_to_be_in_set", _C, "取值不在值域内", "value outside the allowed set",
                    "改用值域（代码表）中的取值 use a value of the code list", compile=_in_set,
                    reasons={"not_in_set": "不在取值范围内 not one of {allowed}"}, draft_plain=_draft_value_set, draft_rank=110),
    ExpectationRule("expect_column_values_to_match_regex", _C, "格式不符", "value does not match the format", _AT_SOURCE),
    ExpectationRule("expect_column_value_lengths_to_be_between", _C, "长度不符", "value length out of range", _AT_SOURCE,
                    compile=_lengths, reasons={"length": "长度不符 length {length}, expected {range}"},
                    draft_plain=_draft_fixed_length, draft_rank=120),
    ExpectationRule("expect_column_values_to_be_of_type", _C, "类型不符", "value of the wrong type",
                    "使字段类型与信息项一致 make the column's type match its 信息项"),
    ExpectationRule("expect_column_values_to_be_unique", _A, "值重复", "duplicate values", "删除或合并重复的记录 remove or merge the duplicate records",
                    compile=_unique, reasons={"duplicate": "重复 value occurs more than once"}),
    ExpectationRule("expect_compound_columns_to_be_unique", _A, "组合键重复", "duplicate compound keys",
                    "删除或合并重复的记录 remove or merge the duplicate records", compile=_compound_unique,
                    reasons={"duplicate_key": "组合重复 combination of values occurs more than once"}),
    ExpectationRule("expect_column_values_to_be_between", _A, "取值超出范围", "value out of range", _AT_SOURCE, compile=_between,
                    reasons={"out_of_range": "超出范围 out of range, expected {range}"},
                    draft_plain=_draft_non_negative, draft_rank=100),
    ExpectationRule("expect_column_pair_values_to_be_equal", _S, "两字段不一致", "the two columns differ", _AT_SOURCE),
    ExpectationRule("expect_column_pair_values_a_to_be_greater_than_b", _S, "两字段大小关系不符", "column A not greater than column B", _AT_SOURCE),
)
