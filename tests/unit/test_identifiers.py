"""Resident IDs, credit codes, masking, column-kind detection and the division table."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from citygov.identifiers import (
    MOBILE_RE,
    bankcard_is_valid,
    detect_kind,
    make_ric,
    make_uscc,
    mask_mobile,
    mask_name,
    mask_plate,
    mask_ric,
    mask_text,
    mask_value,
    org_code_check_char,
    ric_birth_date,
    ric_check_char,
    ric_is_valid,
    uscc_check_char,
    uscc_is_valid,
)
from citygov.quality.masking import find_unmasked
from citygov.quality.reference import load_divisions

GOOD_RIC = "32070619900101123" + "0"  # check character computed by hand with the MOD 11-2 weights


def test_known_good_id_and_its_check_char() -> None:
    assert ric_check_char(GOOD_RIC[:17]) == "0"
    assert ric_is_valid(GOOD_RIC)
    assert stdnum_ric.is_valid(GOOD_RIC)
    assert ric_birth_date(GOOD_RIC) == date(1990, 1, 1)
    assert make_ric("320706", date(1990, 1, 1), 123) == GOOD_RIC


@pytest.mark.parametrize(
    "value",
    [
        GOOD_RIC[:17] + "1",  # wrong check character
        GOOD_RIC[:17],  # too short
        "320706199002301231",  # 30 February
        "32070619900101123A",
        "",
        None,
    ],
)
def test_bad_ids_are_rejected(value: str | None) -> None:
    assert not ric_is_valid(value)


def test_x_check_char_and_future_birth() -> None:
    ric = next(
        make_ric("320722", date(1985, 6, 1), s)
        for s in range(999)
        if make_ric("320722", date(1985, 6, 1), s)[-1] == "X"
    )
    assert ric_is_valid(ric) and ric_is_valid(ric.lower())
    future = make_ric("320706", date(2030, 1, 1), 1)
    assert ric_is_valid(future)
    assert not ric_is_valid(future, as_of=date(2026, 11, 28))


def test_sequence_parity_is_gender() -> None:
    assert int(make_ric("320706", date(2000, 5, 5), 7)[16]) % 2 == 1
    with pytest.raises(ValueError):
        make_ric("320706", date(2000, 5, 5), 1000)


def test_make_uscc_validates_with_stdnum() -> None:
    for seq, reg, kind in ((12345678, "9", "1"), (1, "9", "2"), (99999999, "1", "1"), (4660117, "5", "3")):
        code = make_uscc("320706", seq, reg, kind)
        assert stdnum_uscc.is_valid(code), code
        assert uscc_is_valid(code)
        assert code[16] == org_code_check_char(code[8:16])
    assert org_code_check_char("D2143569") == "X"  # the textbook GB 11714 example D2143569-X
    code = make_uscc("320706", 12345678)
    spoiled = code[:17] + ("0" if code[17] != "0" else "1")
    assert not uscc_is_valid(spoiled) and not stdnum_uscc.is_valid(spoiled)
    assert uscc_check_char(code[:17]) == code[17]
    assert not uscc_is_valid("91320706MA1XXXXXXI")  # I is not in the alphabet


def test_masking() -> None:
    assert mask_ric("320706199001011234") == "320706********1234"
    assert mask_mobile("13812348000") == "138****8000"
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_value("320706199001011234", "ric") == "320706********1234"
    assert mask_value(13812348000, "mobile") == "138****8000"
    assert mask_value("张三丰", "name") == "张**"
    # one rule everywhere: quality results, backflow quarantine and dispute evidence mask credit codes alike
    assert mask_value("91320706123456788X", "uscc") == "913207********788X"
    assert mask_value("1986-05-04", "birthdate") == "1986-**-**"
    assert mask_value("anything", "none") == "anything"
    assert mask_value(42, None) == 42
    assert mask_value(None, "ric") is None
    assert mask_value(float("nan"), "ric") is None
    with pytest.raises(ValueError):
        mask_value("x", "passport")


def test_mask_text_masks_every_identifier_in_free_text() -> None:
    text = "申请人sfzhm320706199001011234，单位91320706123456788X，电话13812348000，编号12345"
    assert mask_text(text) == "申请人sfzhm320706********1234，单位913207********788X，电话138****8000，编号12345"


@pytest.mark.parametrize(
    ("plate", "masked"),
    [("苏G12345", "苏G****5"), ("苏G·A2345", "苏G·****5"), ("苏GD12345", "苏G*****5"), ("苏G1234学", "苏G****学"),
     ("京A 8888D", "京A ****D")],
)
def test_number_plates_are_masked_everywhere(plate: str, masked: str) -> None:
    assert mask_plate(plate) == masked == mask_value(plate, "plate")
    assert mask_text(f"车辆{plate}于昨日登记") == f"车辆{masked}于昨日登记"
    assert find_unmasked(f"车辆{plate}") == [plate] and find_unmasked(f"车辆{masked}") == []


def test_bank_cards_are_masked_when_their_luhn_digit_is_right() -> None:
    card = "6222021234567890128"  # Luhn-valid, 19 digits
    assert bankcard_is_valid(card) and bankcard_is_valid("6222 0212 3456 7890 128")
    assert not bankcard_is_valid("6222021234567890123")
    assert mask_value(card, "bankcard") == "622202*********0128"
    assert mask_text(f"卡号{card}，另 6222 0212 3456 7890 128") == "卡号622202*********0128，另 622202*********0128"
    assert mask_text("流水号 6222021234567890123") == "流水号 6222021234567890123"  # not a card: Luhn fails
    assert find_unmasked(f"卡号{card}") == [card]


def test_mobile_pattern() -> None:
    assert MOBILE_RE.match("13812348000")
    assert not MOBILE_RE.match("12812348000")
    assert not MOBILE_RE.match("0518-85821234")


def test_detect_kind() -> None:
    ids = [make_ric("320706", date(1980 + i, 1, 1 + i), i) for i in range(10)]
    assert detect_kind(ids) == "ric"
    assert detect_kind(ids[:8] + ["bad", "worse"]) == "ric"  # 80 % is enough
    assert detect_kind(ids[:7] + ["bad", "worse", "worst"]) is None
    assert detect_kind([make_uscc("320706", 1000 + i * 37) for i in range(10)]) == "uscc"
    assert detect_kind(["13812348000", "15951234567", 18912345678.0, None, ""]) == "mobile"
    assert detect_kind(["张三丰", "李娜", "王伟", "欧阳娜娜", "陈静"]) == "name"
    assert detect_kind(["海州区", "连云港市民政局", "通灌南路", "结婚", "离婚"]) is None
    assert detect_kind(["苏G12345", "苏GA2345", "苏GD12345", "苏G·88888"]) == "plate"
    assert detect_kind(["6222021234567890128", "4111111111111111"]) == "bankcard"
    assert detect_kind([]) is None


def test_division_table() -> None:
    divisions = load_divisions()
    assert divisions["320706"].name == "海州区"
    assert divisions["320707"].valid_from == 2014 and divisions["320707"].is_current
    assert not divisions["320705"].is_current and divisions["320705"].valid_in(2000)
    assert not divisions["320721"].valid_in(2015)
    assert {"320000", "320700", "320100", "320300", "320500", "320800", "320900", "321300"} <= set(divisions)
    assert (
        divisions["320000"].level == "省"
        and divisions["320700"].level == "市"
        and divisions["320722"].level == "县"
    )
    assert "320725" not in divisions
