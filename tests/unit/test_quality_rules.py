"""The domain rules against official check-character examples and python-stdnum as an independent oracle."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from citygov.identifiers import USCC_ALPHABET, make_ric, make_uscc
from citygov.quality import rules
from citygov.quality.reference import division_known, division_periods, known_division_codes

AS_OF = date(2026, 11, 28)


# --- official examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",  # GB 11643-1999, the standard's example
        "11010519491231002x",  # the check character in lower case
        "440524188001010014",  # GB 11643-1999, second example (born 1880)
        "360426199101010071",  # python-stdnum's documented example
    ],
)
def test_official_ric_examples_are_valid(value: str) -> None:
    assert rules.ric_problem(value, as_of=AS_OF) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "check_char"),
        ("11010519491231002", "format"),
        ("1101051949123100X2", "format"),
        ("110105194913310024", "birth_date"),  # month 13 (check char recomputed below)
        ("", None),  # a blank is the not-blank rule's finding, not also this one's
        ("   ", None),
        (" 11010519491231002X ", None),  # surrounding spaces are ignored
    ],
)
def test_ric_reasons(value: str, reason: str | None) -> None:
    if reason == "birth_date":
        from citygov.identifiers import ric_check_char

        value = value[:17] + ric_check_char(value[:17])
    assert rules.ric_problem(value, as_of=AS_OF) == reason


def test_official_uscc_example_is_valid() -> None:
    # GB 32100-2015's example code, also accepted by stdnum.
    assert rules.uscc_problem("91350100M000100Y43") is None
    assert stdnum_uscc.is_valid("91350100M000100Y43")
    assert rules.uscc_problem("91350100M000100Y44") == "check_char"
    assert rules.uscc_problem("91350100M000100Y4") == "format"
    assert rules.uscc_problem("91350100M000100I43") == "format"  # I is not in the alphabet


# --- python-stdnum as an oracle on generated codes ------------------------------------------------------------


def _random_ric(rng: random.Random, codes: list[str]) -> str:
    """An 18-digit ID whose division was in use in its birth year (what stdnum demands), sometimes spoiled."""
    while True:
        born = date(1900, 1, 1) + timedelta(days=rng.randrange(0, 125 * 365))
        code = rng.choice(codes)
        if division_known(code, year=born.year):
            break
    value = make_ric(code, born, rng.randrange(1000))
    roll = rng.random()
    if roll < 0.25:
        value = value[:17] + rng.choice("0123456789X")  # maybe wrong check char
    elif roll < 0.35:
        i = rng.randrange(17)
        value = value[:i] + str(rng.randrange(10)) + value[i + 1 :]  # one digit typo
    elif roll < 0.40:
        i = rng.randrange(16)
        value = value[:i] + value[i + 1] + value[i] + value[i + 2 :]  # transposition
    elif roll < 0.45:
        value = value[:12] + f"{rng.randrange(0, 100):02d}" + value[14:]  # maybe an impossible day
    return value


def test_ric_agrees_with_stdnum_on_thousands_of_codes() -> None:
    rng = random.Random(36344)
    codes = sorted(known_division_codes())
    valid = invalid = 0
    for _ in range(4000):
        value = _random_ric(rng, codes)
        try:
            expected = stdnum_ric.is_valid(value)
        except KeyError:  # stdnum's known limit: an unknown county raises instead of returning False
            expected = False
        ours = rules.ric_problem(value, division_in_birth_year=True) is None
        assert ours == expected, value
        valid += ours
        invalid += not ours
    assert valid > 1000 and invalid > 1000


def test_uscc_agrees_with_stdnum_on_thousands_of_codes() -> None:
    rng = random.Random(32100)
    valid = invalid = 0
    for _ in range(4000):
        value = make_uscc(rng.choice(["320706", "110101", "440305"]), rng.randrange(10**8), rng.choice("159"), rng.choice("123"))
        roll = rng.random()
        if roll < 0.3:
            value = value[:17] + rng.choice(USCC_ALPHABET)
        elif roll < 0.45:
            i = rng.randrange(8, 17)
            value = value[:i] + rng.choice(USCC_ALPHABET) + value[i + 1 :]
        elif roll < 0.5:
            value = value[:10] + "O" + value[11:]  # a letter credit codes never use
        ours = rules.uscc_problem(value) is None
        assert ours == stdnum_uscc.is_valid(value), value
        valid += ours
        invalid += not ours
    assert valid > 1000 and invalid > 1000


# --- where citygov deliberately differs from stdnum (DOMAIN.md's known limits) ----------------------------------


def test_retired_division_codes_pass_even_outside_their_years() -> None:
    # 320705 新浦区 existed 1986–2014; an ID re-issued later still carries it. stdnum rejects it.
    value = make_ric("320705", date(1980, 5, 1), 123)
    assert not stdnum_ric.is_valid(value)
    assert rules.ric_problem(value, as_of=AS_OF) is None
    assert rules.ric_problem(value, division_in_birth_year=True) == "division"
    assert {p.name for p in division_periods()["320721"]} == {"赣榆县"}


def test_unknown_county_is_invalid_where_stdnum_raises() -> None:
    value = make_ric("320799", date(1990, 1, 1), 11)
    with pytest.raises(KeyError):
        stdnum_ric.is_valid(value)
    assert rules.ric_problem(value) == "division"


def test_fifteen_digit_ids_are_handled_explicitly() -> None:
    old = "320706" + "850321" + "123"  # 1985-03-21, sequence 123 (male)
    assert not stdnum_ric.is_valid(old)
    assert rules.ric_problem(old, as_of=AS_OF) is None
    assert rules.ric_problem(old, allow_15_digit=False) == "fifteen_digit"
    assert rules.ric_problem("320706" + "850231" + "123") == "birth_date"
    assert rules.ric_problem("999999" + "850321" + "123") == "division"
    assert rules.ric_birth(old) == "1985-03-21" and rules.ric_male(old) is True


def test_uscc_with_letters_in_the_first_two_positions() -> None:
    # Registering authority Y (其他) is legal in GB 32100; stdnum wants digits in positions 1–8.
    from citygov.identifiers import uscc_check_char

    first17 = "Y1320706" + "MA1X2Y3W4"
    value = first17 + uscc_check_char(first17)
    assert rules.uscc_problem(value) is None
    assert not stdnum_uscc.is_valid(value)


def test_birth_date_not_after_the_logical_date() -> None:
    tomorrow = make_ric("320706", AS_OF + timedelta(days=1), 2)
    assert rules.ric_problem(tomorrow, as_of=AS_OF) == "future_birth"
    assert rules.ric_problem(tomorrow) is None


# --- the other rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [("13800138000", True), ("19912345678", True), ("12800138000", False), ("1380013800", False), ("138 0013 8000", False), ("１３８００１３８０００", False)],
)
def test_mobile(value: str, ok: bool) -> None:
    assert (rules.mobile_problem(value) is None) is ok


@pytest.mark.parametrize(
    ("value", "problem"),
    [("320706", None), ("320705", None), ("320708", "unknown"), ("320725", "unknown"), ("32070", "format"), ("32070X", "format")],
)
def test_division(value: str, problem: str | None) -> None:
    assert rules.division_problem(value) == problem


def test_division_current_only() -> None:
    assert rules.division_problem("320705", current_only=True) == "retired"
    assert rules.division_problem("320706", current_only=True) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-11-28", None),
        ("2026-11-28 23:59:59", None),
        ("2026-11-29", "future"),
        ("2026/12/01", "future"),
        ("not a date", None),
        ("2026-11", None),
    ],
)
def test_future_dates(value: str, problem: str | None) -> None:
    assert rules.future_date_problem(value, reference_date=AS_OF) == problem


def test_consistency_rules() -> None:
    ric = make_ric("320706", date(1990, 2, 3), 11)  # male
    assert rules.id_birth_problem(ric, "1990-02-03") is None
    assert rules.id_birth_problem(ric, "1990/02/03") is None
    assert rules.id_birth_problem(ric, "1990-02-04") == "mismatch"
    assert rules.id_birth_problem("garbage", "1990-02-04") is None  # judged by the ID expectation
    assert rules.id_gender_problem(ric, "1") is None
    assert rules.id_gender_problem(ric, "女") == "mismatch"
    assert rules.id_gender_problem(ric, "未知") is None
    assert rules.id_gender_problem(ric, "F", male_values=("M",), female_values=("F",)) == "mismatch"


@pytest.mark.parametrize(("value", "blank"), [(None, True), ("", True), ("   ", True), (float("nan"), True), ("x", False), (0, False)])
def test_not_blank(value: object, blank: bool) -> None:
    assert (rules.not_blank_problem(value) == "missing") is blank
