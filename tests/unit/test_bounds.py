"""The shared bounds on ids, dates and quoted input (:mod:`citygov.bounds`)."""

from __future__ import annotations

from datetime import date

import pytest

from citygov.bounds import ID_MAX, OutOfBounds, id_in_range, parse_day, quoted


@pytest.mark.parametrize(("value", "inside"), [(1, True), (ID_MAX, True), (0, False), (-5, False), (ID_MAX + 1, False)])
def test_ids_run_from_one_to_the_largest_bigint(value: int, inside: bool) -> None:
    assert id_in_range(value) is inside


@pytest.mark.parametrize(("text", "day"), [("1900-01-01", date(1900, 1, 1)), (" 2025-10-01 ", date(2025, 10, 1)),
                                          ("2999-12-31", date(2999, 12, 31))])
def test_days_within_the_bounds_are_read(text: str, day: date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize(("text", "message"), [
    ("9999-12-31", "date 9999-12-31 is out of range: give a day from 1900-01-01 to 2999-12-31"),
    ("0001-01-01", "date 0001-01-01 is out of range"),
    ("1899-12-31", "date 1899-12-31 is out of range"),
    ("2025-02-30", "date '2025-02-30' is not a date (YYYY-MM-DD)"),
    ("x" * 1_000_000, "(1000000 characters) is not a date"),
])
def test_days_outside_the_bounds_or_malformed_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(OutOfBounds) as exc:
        parse_day(text)
    assert message in str(exc.value) and len(str(exc.value)) < 200


def test_quoted_input_is_an_excerpt() -> None:
    assert quoted("done") == "'done'"
    assert quoted(42) == "42" and len(quoted([1] * 1000)) == 101
    long = quoted("长" * 5_000_000)
    assert long == repr("长" * 100) + "… (5000000 characters)"
