"""A failing row's reason in words: every code the rules give has Chinese and English words, and the
words say what the row has (its masked birth date, the allowed values) without any raw value."""

from __future__ import annotations

import re
from datetime import date

import pytest

from citygov.identifiers import make_ric, ric_check_char
from citygov.quality import rules

GOOD = make_ric("320706", date(1986, 4, 6), 101)


@pytest.mark.parametrize(
    ("rule", "problem", "value", "code", "zh"),
    [
        ("ric", rules.ric_problem, GOOD[:17] + ("0" if GOOD[17] != "0" else "1"), "check_char", "校验位错误"),
        ("ric", rules.ric_problem, "32070619860406101", "format", "身份证号码格式错误"),
        ("ric", rules.ric_problem, make_ric("999999", date(1986, 4, 6), 101), "division", "行政区划代码不存在"),
        ("ric", rules.ric_problem, "32070619860230001" + ric_check_char("32070619860230001"), "birth_date", "出生日期无效"),
        ("uscc", rules.uscc_problem, "91320706ABCDEFGHJK", "check_char", "校验位错误"),
        ("mobile", rules.mobile_problem, "12345", "format", "手机号码格式错误"),
        ("plate", rules.plate_problem, "ABC", "format", "号牌格式错误"),
        ("division", rules.division_problem, "320708", "unknown", "行政区划代码不存在"),
        ("division", rules.division_problem, "32070", "format", "行政区划代码格式错误"),
    ],
)
def test_each_rule_code_has_words(rule: str, problem, value: str, code: str, zh: str) -> None:  # type: ignore[no-untyped-def]
    found = problem(value)
    assert found == code
    words = rules.reason_words(rules.problem_code(rule, found))
    assert words.startswith(zh) and re.search(r"[A-Za-z]{3}", words)  # Chinese, then English


def test_every_reason_is_in_both_languages() -> None:
    for code, words in rules.REASONS.items():
        assert re.match(r"^[\u4e00-\u9fff0-9]", words) and re.search(r" [a-z]", words), code


def test_pair_reasons_name_the_rows_other_value() -> None:
    born = rules.id_birth_problem(GOOD, "1986-04-07")
    words = rules.reason_words(rules.problem_code("id_birth", born), {"other": "1986-04-07"})
    assert words == "出生日期与身份证不符 birth date 1986-04-07 does not match the ID number"
    gender = rules.id_gender_problem(GOOD, "2")  # sequence 101: odd, male
    assert rules.reason_words(rules.problem_code("id_gender", gender), {"other": "2"}).startswith("性别与身份证不符 gender 2")


def test_counts_and_unknown_codes() -> None:
    assert rules.reason_words("duplicate", {"count": 3}) == "重复 value occurs more than once（3 行 rows）"
    assert rules.reason_words("duplicate") == "重复 value occurs more than once"
    assert rules.reason_words("nonsense", {"rule": "列最大值超出范围 column max out of range"}) == (
        "不符合规则 fails 列最大值超出范围 column max out of range"
    )
    assert rules.reason_words("out_of_range") == "超出范围 out of range, expected ?"  # a detail left out reads ?
    assert rules.problem_code("ric", None) is None
