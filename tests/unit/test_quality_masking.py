"""Masking of samples and results: by column kind, then a scrub for anything that still looks personal."""

from __future__ import annotations

from datetime import date

import pytest

from citygov.identifiers import make_ric, make_uscc
from citygov.quality.masking import find_unmasked, mask_result, mask_sample, mask_value, scrub

RIC = make_ric("320706", date(1986, 4, 5), 123)
USCC = make_uscc("320706", 12345678)
MOBILE = "13800138000"


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("ric", RIC, RIC[:6] + "********" + RIC[-4:]),
        ("mobile", MOBILE, "138****8000"),
        ("name", "张三丰", "张**"),
        ("uscc", USCC, USCC[:6] + "********" + USCC[-4:]),
        ("birthdate", "1986-04-05", "1986-**-**"),
        ("redact", "江苏省连云港市海州区通灌南路1号", "***"),
        ("none", 42, 42),
        ("ric", None, None),
    ],
)
def test_mask_value_by_kind(kind: str, value: object, masked: object) -> None:
    assert mask_value(value, kind) == masked


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_value("x", "secret")


def test_pairs_and_compound_samples_are_masked_per_column() -> None:
    assert mask_sample((RIC, "1986-04-06"), ["ric", "birthdate"]) == (mask_value(RIC, "ric"), "1986-**-**")
    assert mask_sample({"sfzhm": RIC, "xzlx": "110"}, ["ric", "none"], ["sfzhm", "xzlx"]) == {
        "sfzhm": mask_value(RIC, "ric"),
        "xzlx": "110",
    }


def test_scrub_masks_identifiers_in_any_text() -> None:
    text = f"bad {RIC} and {USCC}, call {MOBILE}; order 2026112800001234 stays"
    out = scrub({"a": [text], "b": (RIC,)})
    assert find_unmasked(str(out)) == []
    assert "2026112800001234" in out["a"][0]


def test_find_unmasked_finds_wrong_ids_too() -> None:
    wrong = RIC[:17] + ("0" if RIC[17] != "0" else "1")
    assert find_unmasked(f"x {wrong} x") == [wrong]
    assert find_unmasked(f"sfzhm{wrong}") == [wrong]  # glued to a column name: still found
    assert find_unmasked("13800138000") == ["13800138000"]
    assert find_unmasked("138****8000 320706********1234 913207********123X") == []


def test_mask_result_masks_gx_result_fields() -> None:
    result = {
        "success": False,
        "expectation_config": {"type": "expect_column_pair_values_to_match_id_birth_date", "kwargs": {"column_A": "sfzhm", "column_B": "csrq"}},
        "result": {
            "partial_unexpected_list": [[RIC, "1986-04-06"]],
            "partial_unexpected_counts": [{"value": [RIC, "1986-04-06"], "count": 1}],
            "unexpected_list": [[RIC, "1986-04-06"]],
            "unexpected_rows": [{"sfzhm": RIC, "lxdh": MOBILE}],
            "unexpected_index_query": f"SELECT * FROM t WHERE sfzhm = '{RIC}'",
        },
    }
    out = mask_result(result, {"sfzhm": "ric", "csrq": "birthdate"})
    assert out["result"]["partial_unexpected_list"] == [[mask_value(RIC, "ric"), "1986-**-**"]]
    assert "unexpected_rows" not in out["result"] and "unexpected_index_query" not in out["result"]
    assert find_unmasked(str(out)) == []


def _failing_pair() -> dict:  # type: ignore[type-arg]
    """A GX result of the ID ↔ birth-date rule with one failing row, as the engines report it (raw)."""
    return {
        "expectation_config": {"type": "expect_column_pair_values_to_match_id_birth_date",
                               "kwargs": {"column_A": "sfzhm", "column_B": "csrq"}},
        "result": {
            "unexpected_count": 1,
            "partial_unexpected_list": [[RIC, "1986-04-06"]],
            "partial_unexpected_counts": [{"value": [RIC, "1986-04-06"], "count": 1}],
            "unexpected_index_column_names": ["sfzhm"],
            "partial_unexpected_index_list": [{"sfzhm": RIC, "csrq": "1986-04-06"}],
            "partial_unexpected_reasons": [{"problem": "id_birth.mismatch"}],
        },
    }


def test_a_failing_row_is_masked_into_key_value_and_reason() -> None:
    from citygov.identifiers import mask_key
    from citygov.quality.masking import row_samples

    # the birth-date column is masked by its kind: birthdate (a sensitive dataset), then none
    for kind, born in (("birthdate", "1986-**-**"), ("none", "1986-04-06")):
        out = mask_result(_failing_pair(), {"sfzhm": "ric", "csrq": kind})
        (sample,) = row_samples(out["result"], ["sfzhm", "csrq"])
        assert sample == {
            "key": mask_key([RIC], ["ric"]),
            "value": f"{mask_value(RIC, 'ric')} / {born}",
            "reason": f"出生日期与身份证不符 birth date {born} does not match the ID number",
            "values": {"sfzhm": mask_value(RIC, "ric"), "csrq": born},
        }
        assert RIC not in str(out)


def test_samples_stored_before_keys_still_read() -> None:
    from citygov.quality.masking import NO_KEY, shown_samples

    assert shown_samples([mask_value(RIC, "ric"), [mask_value(RIC, "ric"), "1986-04-06"], RIC]) == [
        {"key": NO_KEY, "value": mask_value(RIC, "ric"), "reason": None},
        {"key": NO_KEY, "value": f"{mask_value(RIC, 'ric')} / 1986-04-06", "reason": None},
        {"key": NO_KEY, "value": mask_value(RIC, "ric"), "reason": None},  # scrubbed once more
    ]
    kept = {"key": "P***1", "value": "x", "reason": "值为空 value is NULL"}
    assert shown_samples([kept]) == [kept] and shown_samples(None) == []


def test_data_docs_get_key_and_reason_as_index_columns() -> None:
    from citygov.quality.masking import KEY_HEADER, REASON_HEADER, docs_samples

    result = {"results": [mask_result(_failing_pair(), {"sfzhm": "ric", "csrq": "none"})]}
    body = docs_samples(result)["results"][0]["result"]
    assert body["unexpected_index_column_names"] == [KEY_HEADER, REASON_HEADER]
    (row,) = body["unexpected_index_list"]
    assert row[KEY_HEADER] == mask_value(RIC, "ric") and row[REASON_HEADER].startswith("出生日期与身份证不符")
    assert row["sfzhm / csrq"] == f"{mask_value(RIC, 'ric')} / 1986-04-06"


def test_the_hyphenated_groups_of_a_uuid_are_not_a_card_number() -> None:
    """Task logs and run ids hold UUIDs; 2054-7751-8789-0387 happens to pass the Luhn check (seen in the nightly
    e2e's scan of task logs). A card number in the same shape beside Chinese text or punctuation is still found."""
    from citygov.identifiers import mask_text
    from citygov.quality.masking import find_unmasked

    log = "run_id manual__0198ab12-2054-7751-8789-0387c0ffee12 finished"
    assert find_unmasked(log) == [] and mask_text(log) == log
    for text in ("卡号2054-7751-8789-0387已冻结", "card (2054 7751 8789 0387).", "卡号：2054775187890387"):
        assert find_unmasked(text) and "7751" not in mask_text(text), text


def test_digits_of_hex_identifiers_and_decimals_are_not_personal_numbers() -> None:
    """Task logs carry UUIDs, fingerprints and durations; 18334850409 inside them is not a mobile number (it
    failed the nightly e2e's scan of task logs). The same digits as a value in text still are."""
    from citygov.identifiers import mask_text
    from citygov.quality.masking import find_unmasked

    noise = ["run 0198ab12-2054-7751-8789-18334850409f done", "fingerprint 3f18334850409aa1b2c3d4e5",
             "took 0.18334850409 s", "sha 320706199001011234abcdef0123"]
    for text in noise:
        assert find_unmasked(text, organisations=False) == [] and mask_text(text) == text, text
    for text, raw in (("联系电话18334850409。", "18334850409"), ("lxdh18334850409", "18334850409"),
                      ("sfzhm320706199001011234", "320706199001011234")):
        assert find_unmasked(text) == [raw] and raw not in mask_text(text), text
