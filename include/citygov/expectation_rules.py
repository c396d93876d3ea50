"""The expectation types citygov uses, as rules: GB/T 36344 dimension, titles and how to fix.

A failed expectation is stored as a finding whose rule id is its expectation type
(``expect_column_values_to_be_valid_ric``). This module is that rule's one definition for people and
for scoring: the custom expectations (:mod:`citygov.quality.expectations`) take their dimension and their
Data Docs sentence from here, the built-in GX ones are described here because GX does not describe them in
Chinese. Light on purpose (no GX import): pages and the dispute queue read it.

A quality finding's severity depends on how many rows fail (:data:`HIGH_SHARE`), so these rules have none.
"""

from __future__ import annotations

from citygov.findings import Dimension, Rule

HIGH_SHARE = 0.10
"""A failed expectation is of high severity when at least this share of the evaluated rows fails, else medium."""

_C, _P, _A, _S = Dimension.CONFORMITY, Dimension.COMPLETENESS, Dimension.ACCURACY, Dimension.CONSISTENCY


def _rule(rule_id: str, dimension: Dimension, title_zh: str, title_en: str, fix: str) -> Rule:
    return Rule(rule_id, dimension, None, title_zh, title_en, fix)


_AT_SOURCE = "在源系统中更正这些记录 correct these records in the source system"

EXPECTATION_RULES: dict[str, Rule] = {
    r.rule_id: r
    for r in (
        # the domain expectations (citygov.quality.expectations)
        _rule("expect_column_values_to_be_valid_ric", _A, "身份证号码无效", "invalid resident ID number",
              "核对并更正身份证号码（校验位、出生日期、行政区划） check and correct the ID numbers (check character, birth date, division)"),
        _rule("expect_column_values_to_be_valid_uscc", _A, "统一社会信用代码无效", "invalid unified social credit code",
              "按营业执照更正统一社会信用代码 correct the credit codes from the business licences"),
        _rule("expect_column_values_to_be_valid_division_code", _C, "行政区划代码无效", "invalid division code",
              "改用 GB/T 2260 现行行政区划代码 use current GB/T 2260 division codes"),
        _rule("expect_column_values_to_be_valid_mobile", _A, "手机号码无效", "invalid mobile number",
              "核对并更正手机号码（11 位，1 开头） check and correct the mobile numbers (11 digits starting with 1)"),
        _rule("expect_column_values_to_be_valid_plate", _A, "机动车号牌无效", "invalid number plate",
              "按 GA 36 核对并更正号牌 check and correct the plates per GA 36"),
        _rule("expect_column_values_to_be_date_not_in_future", _A, "日期晚于当日", "date in the future",
              "更正录入错误的日期 correct the mistyped dates"),
        _rule("expect_column_values_to_not_be_blank", _P, "必填项为空", "required value missing",
              "补录缺失的必填值 fill in the missing required values"),
        _rule("expect_column_pair_values_to_match_id_birth_date", _S, "出生日期与身份证不符", "birth date disagrees with the ID",
              "以证件为准更正出生日期或身份证号码 correct the birth date or the ID number, as the document says"),
        _rule("expect_column_pair_values_to_match_id_gender", _S, "性别与身份证不符", "gender disagrees with the ID",
              "以证件为准更正性别或身份证号码 correct the gender or the ID number, as the document says"),
        _rule("expect_column_values_to_exist_in_base_table", _S, "基础库中不存在", "not found in the base table",
              "核对该值，或先在基础库中登记 check the value, or register it in the base table first"),
        # built-in GX expectations
        _rule("expect_column_values_to_not_be_null", _P, "值为空", "value is null", "补录缺失的值 fill in the missing values"),
        _rule("expect_column_proportion_of_non_null_values_to_be_between", _P, "非空比例不符", "share of non-null values out of range",
              "补录缺失的值 fill in the missing values"),
        _rule("expect_table_row_count_to_be_between", _P, "记录数不符", "row count out of range",
              "核实数据是否缺失或重复加载 check for missing or twice-loaded records"),
        _rule("expect_column_to_exist", _C, "字段缺失", "column missing",
              "在资源中恢复该字段 restore the column in the resource"),
        _rule("expect_table_columns_to_match_set", _C, "字段集合不符", "columns differ from the declared set",
              "使资源的字段与信息项一致 make the resource's columns match the 信息项"),
        _rule("expect_column_values_to_be_in_set", _C, "取值不在值域内", "value outside the allowed set",
              "改用值域（代码表）中的取值 use a value of the code list"),
        _rule("expect_column_values_to_match_regex", _C, "格式不符", "value does not match the format", _AT_SOURCE),
        _rule("expect_column_value_lengths_to_be_between", _C, "长度不符", "value length out of range", _AT_SOURCE),
        _rule("expect_column_values_to_be_of_type", _C, "类型不符", "value of the wrong type",
              "使字段类型与信息项一致 make the column's type match its 信息项"),
        _rule("expect_column_values_to_be_unique", _A, "值重复", "duplicate values",
              "删除或合并重复的记录 remove or merge the duplicate records"),
        _rule("expect_compound_columns_to_be_unique", _A, "组合键重复", "duplicate compound keys",
              "删除或合并重复的记录 remove or merge the duplicate records"),
        _rule("expect_column_values_to_be_between", _A, "取值超出范围", "value out of range", _AT_SOURCE),
        _rule("expect_column_pair_values_to_be_equal", _S, "两字段不一致", "the two columns differ", _AT_SOURCE),
        _rule("expect_column_pair_values_a_to_be_greater_than_b", _S, "两字段大小关系不符", "column A not greater than column B",
              _AT_SOURCE),
    )
}
"""Every expectation type a suite may use, with its words. An unknown type still validates (GX knows it);
its findings are then titled by the type and counted under 规范性."""
