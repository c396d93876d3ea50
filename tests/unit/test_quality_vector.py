"""The vectorized conditions (:func:`citygov.quality.vector.vector_expected`) agree with the SQL conditions
value for value, on generated good and bad IDs, credit codes, mobile numbers, plates, division codes,
dates, value sets, blanks and lengths, and on ID numbers beside birth dates and genders (pair rules); the
numeric range agrees with its pandas form (SQLite compares text with numbers as text). Their fast accepts
only accept values the rules accept: at strict bounds, in lower case, with surrounding spaces, in
full-width digits, long, NULL, or empty but present (a database's ``''``, which is not NULL).

The backflow loader and the streaming engine validate rows with the vectorized path; the fused SQL
validation and GX count with :mod:`citygov.quality.sqlcond`. A disagreement would quarantine a row the
quality inspection passes.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from citygov.identifiers import USCC_ALPHABET, make_ric, make_uscc
from citygov.quality.checks import compile_check, substitute
from citygov.quality.sqlcond import prepare_connection
from citygov.quality.tables import SqlText
from citygov.quality.vector import TextColumn, kept_rows, vector_expected

AS_OF = "2026-11-28"


def _ids(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        born = date(1840, 1, 1) + timedelta(days=rng.randrange(0, 190 * 365))
        ric = make_ric(rng.choice(["320706", "320705", "110101", "320708", "999999", "320724"]), born, rng.randrange(1000))
        roll = rng.random()
        if roll < 0.15:
            ric = ric[:17] + rng.choice("0123456789Xx")
        elif roll < 0.2:
            ric = ric[:6] + ric[8:17]
        elif roll < 0.25:
            ric = ric.lower()
        elif roll < 0.3:
            ric = ric[:10] + rng.choice(["0229", "0230", "1301", "0000", "1231"]) + ric[14:]
        elif roll < 0.35:
            ric = rng.choice([f" {ric} ", f"{ric} ", "", " ", None, "x" * 80, "３２０７０６"])
        elif roll < 0.4:
            ric = ric[:-3] + "a" + ric[-2:]
        out.append(ric)
    return out


def _uscc(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        code = make_uscc(rng.choice(["320706", "110101"]), rng.randrange(10**8), rng.choice("159"), "1")
        roll = rng.random()
        if roll < 0.3:
            code = code[:17] + rng.choice(USCC_ALPHABET)
        elif roll < 0.35:
            code = code.lower()
        elif roll < 0.4:
            code = rng.choice(["", None, " ", code[:17]])
        out.append(code)
    return out


def _divisions(rng: random.Random, n: int) -> list[str | None]:
    pool = ["320706", "320705", "320708", "32070", "3207061", "abcdef", "110101", " 320706", "320706 ", "", None,
            "999999", "320700", "１１０１０１"]
    return [rng.choice(pool) for _ in range(n)]


def _dates(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        day = (date(2026, 10, 1) + timedelta(days=rng.randrange(120))).isoformat()
        out.append(rng.choice([day, day, day + " 12:00:00", day.replace("-", "/"), f" {day}", "not a date", "", None,
                               "2026-11-28T23:59:59", "2026-11-29", "99999-01-01", "2026-1-5"]))
    return out


def _sets(rng: random.Random, n: int) -> list[str | None]:
    return [rng.choice(["110", "210", "310", "410", "510", " 110", "110 ", "", None, "甲", "乙", "丙"]) for _ in range(n)]


_CODES = [f"{i:03d}" for i in range(300)] + [f"91320706MA{i:08d}" for i in range(200)] + [f"代码{i}" for i in range(100)]
"""A value set far larger than a handful: short codes, 18-byte codes, non-ASCII ones."""


def _codes(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        code = rng.choice(_CODES)
        out.append(rng.choice([code, code, code, f" {code}", code + "0", code[:-1], code.lower(), "999", "", None,
                               "代码1000", "91320706MA0000020X", "x" * 70]))
    return out


def _blanks(rng: random.Random, n: int) -> list[str | None]:
    return [rng.choice(["a", " a", "a ", " ", "  ", "", None, "\t", "张三", "\u3000", "x" * 90, " " * 90]) for _ in range(n)]


_ODD = ["", " ", None, "x" * 80, "张" * 30, "\u3000", "Ａ１"]
"""Values every generator mixes in: blank, NULL, long (past the 64 bytes of the old matrix), full-width."""


def _mobiles(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        good = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        out.append(rng.choice([
            good, good, good, good[:10], good + "0", " " + good, good + " ", "12" + good[2:], "10" + good[2:],
            "+86" + good, good[:5] + "-" + good[5:], good[:10] + "a", "１３８００１３８０００", *_ODD,
        ]))
    return out


def _plates(rng: random.Random, n: int) -> list[str | None]:
    from citygov.identifiers import PLATE_PROVINCES

    letters, digits = "ABCDEFGHJKLMNPQRSTUVWXYZ", "0123456789"
    out: list[str | None] = []
    for _ in range(n):
        body = [rng.choice(letters + digits) for _ in range(rng.choice([4, 5, 6]))]
        body[rng.randrange(len(body))] = rng.choice(digits)
        last = rng.choice(["", "", "", "挂", "学", "警", "港", "澳", "领", "使"]) if len(body) < 6 else ""
        sep = rng.choice(["", "", "", "·", "・", ".", "-", " ", "_", "··"])
        plate = rng.choice(PLATE_PROVINCES + "中") + rng.choice(letters + "IOa1") + sep + "".join(body) + last
        roll = rng.random()
        if roll < 0.05:
            plate = plate.lower()
        elif roll < 0.1:
            plate = rng.choice([f" {plate}", f"{plate} ", plate.replace(body[0], "I", 1)])
        elif roll < 0.15:
            plate = plate[:2] + "ABCDE" + last  # no digit
        elif roll < 0.2:
            plate = rng.choice(_ODD + [plate + "1", plate[:-1]])
        out.append(plate)
    return out


def _texts(rng: random.Random, n: int) -> list[str | None]:
    """Text of 0 to 10 characters (ASCII, CJK, a 4-byte emoji), and long text of 15 to 300 characters."""
    out: list[str | None] = []
    for _ in range(n):
        alphabet = rng.choice(["abcXYZ019", "张王李赵", "a张😀", " a", "é"])
        size = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 10, rng.randrange(15, 300)])
        out.append(rng.choice(["".join(rng.choice(alphabet) for _ in range(size)), None]))
    return out


def _expectations():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    return [
        (ce.ExpectColumnValuesToBeValidRic(column="v", as_of=AS_OF), _ids),
        (ce.ExpectColumnValuesToBeValidRic(column="v", as_of=AS_OF, allow_15_digit=False), _ids),
        (ce.ExpectColumnValuesToBeValidUscc(column="v"), _uscc),
        (ce.ExpectColumnValuesToBeValidDivisionCode(column="v"), _divisions),
        (ce.ExpectColumnValuesToBeValidDivisionCode(column="v", current_only=True), _divisions),
        (ce.ExpectColumnValuesToBeDateNotInFuture(column="v", reference_date=AS_OF), _dates),
        (e.ExpectColumnValuesToBeInSet(column="v", value_set=["110", "210", "310", "410", "甲", "乙"]), _sets),
        (e.ExpectColumnValuesToBeInSet(column="v", value_set=_CODES), _codes),
        (ce.ExpectColumnValuesToNotBeBlank(column="v"), _blanks),
        (e.ExpectColumnValuesToNotBeNull(column="v"), _blanks),
        (ce.ExpectColumnValuesToBeValidMobile(column="v"), _mobiles),
        (ce.ExpectColumnValuesToBeValidPlate(column="v"), _plates),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=2, max_value=6), _texts),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=4, max_value=4), _texts),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=20), _texts),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", max_value=100), _texts),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=1.5, max_value=150.5), _texts),
    ]


_CHECKS = range(len(_expectations()))


@pytest.fixture(scope="module")
def sqlite() -> sa.Engine:
    return sa.create_engine("sqlite://")


@pytest.mark.parametrize("index", _CHECKS)
def test_vectorized_checks_agree_with_sql(sqlite: sa.Engine, index: int) -> None:
    expectation, generate = _expectations()[index]
    check = compile_check(substitute(expectation, {"logical_date": AS_OF}))
    values = generate(random.Random(36344 + index), 3000)
    vector = vector_expected(check, [values])

    table = sa.table("vals", sa.column("line", sa.Integer), sa.column("v", sa.Text))
    with sqlite.begin() as conn:
        prepare_connection(conn)
        conn.exec_driver_sql("CREATE TEMP TABLE vals (line INTEGER, v TEXT)")
        # "" is NULL for the loader (an empty CSV field), as COPY reads it.
        conn.execute(sa.insert(table), [{"line": i, "v": v or None} for i, v in enumerate(values)])
        sql = SqlText(conn.dialect, table)
        rows = conn.exec_driver_sql(
            f"SELECT line, CASE WHEN {sql.unexpected(check)} THEN 0 ELSE 1 END FROM vals ORDER BY line"
        ).all()
        conn.exec_driver_sql("DROP TABLE vals")
    expected = np.array([bool(ok) for _line, ok in rows])
    wrong = [(values[i], bool(vector[i]), bool(expected[i])) for i in np.flatnonzero(vector != expected)]
    assert not wrong, f"{check.type}: vectorized ≠ SQL for {wrong[:10]}"
    assert 0 < int(expected.sum()) < len(values), "the generator makes good and bad values"
    if check.vector is not None:
        accepted = check.vector([TextColumn(values)])
        assert not (accepted & ~expected).any(), "the fast accept took a value the rule refuses"
        present = np.array([bool(v) for v in values])
        if check.type != "expect_column_values_to_be_valid_uscc":
            assert accepted.sum() > 0.2 * (expected & present).sum(), "plain good values are accepted without the rule"
        rule = [check.pandas([pd.Series([v or None], dtype=object)]).iloc[0] for v in values]
        assert not (accepted & ~np.array(rule, dtype=bool) & present).any(), \
            "the fast accept took a value the rule's own check refuses"


@pytest.mark.parametrize("index", _CHECKS)
def test_buffer_columns_get_the_verdicts_of_text_columns(index: int) -> None:
    """The backflow fast path builds its columns from the file's bytes (:meth:`TextColumn.from_buffer`),
    where the matrix runs on past a value into the next fields: those bytes never count."""
    expectation, generate = _expectations()[index]
    check = compile_check(substitute(expectation, {"logical_date": AS_OF}))
    values = generate(random.Random(2260 + index), 3000)
    raw = [(v or "").encode("utf-8") for v in values]
    # each value followed by digits and an X: what a longer ID or date would go on with
    buffer = np.frombuffer(b"".join(r + b"19X," for r in raw) + bytes(64), dtype=np.uint8)
    lengths = np.array([len(r) for r in raw])
    starts = np.concatenate([[0], np.cumsum(lengths + 4)[:-1]])
    column = TextColumn.from_buffer(buffer, starts, lengths)
    assert (vector_expected(check, [column]) == vector_expected(check, [values])).all()
    if check.vector is not None:
        assert (check.vector([column]) == check.vector([TextColumn(values)])).all()


@pytest.mark.parametrize(("text", "day"), [
    ("2026-11-28", 20261128), ("0001-01-01", 10101), ("9999-12-31", 99991231), ("2026-11-28 23:59:59", 20261128),
    ("2026/11/28", 20261128), ("2026-11/28x", 20261128), ("2026-11-2x", None), (":026-11-28", None),
    ("/026-11-28", None), ("2026-1:-28", None), ("2026-11-28"[::-1], None), ("２０２６-11-28", None), ("", None),
    ("2026-11-2", None), ("2026-11-2 ", None), (" 2026-11-28", "rule"), (" x", "rule"), ("   ", None),
])
def test_date_kernel_reads_digits_dashes_and_slashes_only(text: str, day: int | str | None) -> None:
    """A date-shaped start (ASCII digits, ``-`` or ``/``) is compared with the limit; a value that surely
    holds no date passes at any limit (the rule passes it); a leading space is left to the rule."""
    from citygov.quality.kernels import no_date_after
    from citygov.quality.vector import kernel_accept

    column = TextColumn.from_buffer(np.frombuffer(text.encode() + b"0" * 64, dtype=np.uint8), np.array([0]),
                                    np.array([len(text.encode())]), null=np.array([False]))
    taken = [bool(kernel_accept(column, no_date_after, limit, blank=True)[0]) for limit in (0, 99999999)]
    if day is None:
        assert taken == [True, True]
    elif day == "rule":
        assert taken == [False, False]
    else:
        assert kernel_accept(column, no_date_after, day)[0] and not kernel_accept(column, no_date_after, day - 1)[0]


def test_the_fast_accept_takes_plain_good_values() -> None:
    """Good values in their plain form pass without a closer look: were the fast accept to take none, the
    rule would judge every value, with the same verdicts but many times slower."""
    from citygov.quality import expectations as ce

    cases = [
        (ce.ExpectColumnValuesToBeValidRic(column="v", as_of=AS_OF),
         [make_ric("320706", date(1990, 1, 2) + timedelta(days=i), i) for i in range(50)] + [make_ric("110101", date(2000, 2, 29), 1)]),
        (ce.ExpectColumnValuesToBeValidDivisionCode(column="v"), ["320706", "110101", "320724"]),
        (ce.ExpectColumnValuesToBeValidRic(column="v", as_of=AS_OF),
         ["320706900102123", make_ric("110101", date(1985, 5, 5), 7).replace("X", "x"), "", "   "]),
        (ce.ExpectColumnValuesToBeDateNotInFuture(column="v", reference_date=AS_OF),
         ["2026-11-28", "2026-11-28 23:59:59", "1990-01-01", "0001-01-01", "1990/01/01", "not a date", "", "x "]),
        (ce.ExpectColumnValuesToBeValidMobile(column="v"), ["13800138000", "19912345678", "", "  "]),
        (ce.ExpectColumnValuesToBeValidUscc(column="v"), [make_uscc("320706", i) for i in range(20)]),
        (ce.ExpectColumnValuesToBeValidPlate(column="v"),
         ["苏A12345", "京AD12345", "粤B·1234学", "沪C-1A2B3", "浙A 12345", "鲁B1234警", "苏E・12345"]),
        (ce.ExpectColumnValuesToBeValidBankcard(column="v"), ["4111111111111111", "6222021234567890128", " "]),
    ]
    for expectation, values in cases:
        check = compile_check(substitute(expectation, {"logical_date": AS_OF}))
        assert check.vector is not None
        assert all(check.pandas([pd.Series(values, dtype=object)])), expectation.type
        # a database's '' and blanks are present text here, not NULL
        column = TextColumn.from_buffer(np.frombuffer("".join(values).encode() + bytes(64), dtype=np.uint8),
                                        np.cumsum([0] + [len(v.encode()) for v in values[:-1]]),
                                        np.array([len(v.encode()) for v in values]), null=np.zeros(len(values), bool))
        assert check.vector([column]).all(), expectation.type


# --- pair rules ------------------------------------------------------------------------------------------


def _id_pairs(rng: random.Random, n: int, other: str) -> list[tuple[str | None, str | None]]:
    """ID numbers beside birth dates (``other="birth"``) or genders, agreeing or not, in plain and odd
    forms: 15-digit IDs, lower-case ``x``, spaces, slashes, times after the date, NULL on either side."""
    out: list[tuple[str | None, str | None]] = []
    for _ in range(n):
        born = date(1900, 1, 1) + timedelta(days=rng.randrange(0, 120 * 365))
        seq = rng.randrange(1000)
        ric: str | None = make_ric(rng.choice(["320706", "110101", "999999"]), born, seq)
        roll = rng.random()
        if roll < 0.1 and born.year < 2000:
            ric = ric[:6] + ric[8:17]  # 15 digits
        elif roll < 0.15:
            ric = ric[:17] + "x"
        elif roll < 0.2:
            ric = rng.choice([f" {ric}", f"{ric} ", ric[:10] + "0230" + ric[14:], ric[:16], "", None, "x" * 70])
        if other == "birth":
            day = born + timedelta(days=rng.choice([0, 0, 0, 0, 1, -365]))
            value: str | None = rng.choice([
                day.isoformat(), day.isoformat(), day.isoformat().replace("-", "/"), f"{day} 08:00:00",
                f" {day}", day.strftime("%Y%m%d"), f"{day.year}-{day.month}-{day.day}", "", None, "not a date",
                "１９９０-01-01", f"{born.year}-02-30",
            ])
        else:
            male = seq % 2 == 1
            value = rng.choice([
                "1" if male else "2", "男" if male else "女", "男性" if male else "女性", "M" if male else "F",
                "2" if male else "1", "女" if male else "男", " 1", "9", "", None, "m", "男 ",
            ])
        out.append((ric, value))
    return out


def _pair_checks():  # type: ignore[no-untyped-def]
    from citygov.quality import expectations as ce

    birth, gender = ce.ExpectColumnPairValuesToMatchIdBirthDate, ce.ExpectColumnPairValuesToMatchIdGender
    return [
        (birth(column_A="a", column_B="b"), "birth"),
        (birth(column_A="a", column_B="b", ignore_row_if="either_value_is_missing"), "birth"),
        (gender(column_A="a", column_B="b"), "gender"),
        (gender(column_A="a", column_B="b", ignore_row_if="neither"), "gender"),
        # a word in both lists means the opposite sex too: never fast-accepted
        (gender(column_A="a", column_B="b", male_values=["1", "M", "男"], female_values=["2", "1", "女"]), "gender"),
        (gender(column_A="a", column_B="b", male_values=["M", "男"], female_values=["F", " 女"]), "gender"),
    ]


@pytest.mark.parametrize("index", range(len(_pair_checks())))
def test_pair_fast_accepts_agree_with_sql_and_the_rule(sqlite: sa.Engine, index: int) -> None:
    expectation, other = _pair_checks()[index]
    check = compile_check(expectation)
    assert check.kind == "pair" and check.vector is not None
    pairs = _id_pairs(random.Random(11643 + index), 3000, other)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    vector = vector_expected(check, [a, b])

    table = sa.table("pairs", sa.column("line", sa.Integer), sa.column("a", sa.Text), sa.column("b", sa.Text))
    with sqlite.begin() as conn:
        prepare_connection(conn)
        conn.exec_driver_sql("CREATE TEMP TABLE pairs (line INTEGER, a TEXT, b TEXT)")
        conn.execute(sa.insert(table), [{"line": i, "a": x or None, "b": y or None} for i, (x, y) in enumerate(pairs)])
        sql = SqlText(conn.dialect, table)
        rows = conn.exec_driver_sql(
            f"SELECT line, CASE WHEN {sql.unexpected(check)} THEN 0 ELSE 1 END FROM pairs ORDER BY line"
        ).all()
        conn.exec_driver_sql("DROP TABLE pairs")
    expected = np.array([bool(ok) for _line, ok in rows])
    wrong = [(pairs[i], bool(vector[i]), bool(expected[i])) for i in np.flatnonzero(vector != expected)]
    assert not wrong, f"{check.type}: vectorized ≠ SQL for {wrong[:10]}"
    assert 0 < int(expected.sum()) < len(pairs), "the generator makes agreeing and disagreeing rows"

    accepted = check.vector([TextColumn(a), TextColumn(b)])
    rule = np.array([check.pandas([pd.Series([x or None]), pd.Series([y or None])]).iloc[0] for x, y in pairs])
    assert not (accepted & ~rule).any(), f"the fast accept took rows the rule refuses: {np.flatnonzero(accepted & ~rule)[:5]}"
    if index < 4:  # the default words; the others leave words of neither list to the rule
        assert accepted.sum() > 0.5 * rule.sum(), "plain agreeing rows are accepted without the rule"


def _buffer_column(values: list[str | None], *, empty_is_null: bool) -> TextColumn:
    """A column as a database reader makes it: ``""`` is text unless ``empty_is_null``, NULL is None;
    the bytes after each value are more digits and an X (what a longer value would go on with)."""
    raw = [(v or "").encode("utf-8") for v in values]
    buffer = np.frombuffer(b"".join(r + b"19X" for r in raw) + bytes(64), dtype=np.uint8)
    lengths = np.array([len(r) for r in raw], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 3)[:-1]]).astype(np.int64)
    null = np.array([v is None or (empty_is_null and v == "") for v in values])
    return TextColumn.from_buffer(buffer, starts, lengths, null=null)


@pytest.mark.parametrize("index", range(len(_pair_checks())))
def test_pair_verdicts_from_buffers_keep_empty_text_apart_from_null(index: int) -> None:
    """In a buffer column a database's ``''`` is text, not NULL: ``ignore_row_if`` reads the NULL masks,
    and the rule judges ``''`` as ``''``; the verdicts are the rule's for every row."""
    expectation, other = _pair_checks()[index]
    check = compile_check(expectation)
    pairs = _id_pairs(random.Random(2261 + index), 2000, other)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    verdict = vector_expected(check, [_buffer_column(a, empty_is_null=False), _buffer_column(b, empty_is_null=False)])
    kept = kept_rows([np.array([x is None for x in a]), np.array([y is None for y in b])], check.ignore_row_if)
    rule = [check.pandas([pd.Series([x]), pd.Series([y])]).iloc[0] for x, y in pairs]
    assert list(verdict) == [bool(r) or not k for r, k in zip(rule, kept, strict=True)]
    as_files = vector_expected(check, [_buffer_column(a, empty_is_null=True), _buffer_column(b, empty_is_null=True)])
    assert (as_files == vector_expected(check, [a, b])).all()


# --- numbers and lengths ---------------------------------------------------------------------------------

_NUMBERS = [
    "0", "5", "-5", "+5", "-0", "5.5", "-0.5", "0.3", "0.1", "1000", "1000.0", "1000.5", "999.999", "00012", "-1000",
    "1e3", "1E3", " 5", "5 ", "５", "٣", "abc", "", "1,000", "0x10", "5.", ".5", "..5", "-", "+", "+-5", "1_000",
    "12345678901234567890", "123456789012345", "1234567890123456", "3.14159265358979", "nan", "NaN", "inf", "-inf",
    "1.0e-2", "0.30000000000000004", "999.9999999999999", "1000.000000000001", None,
]


def _numbers(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        out.append(rng.choice([
            str(rng.randrange(-100, 1100)), f"{rng.uniform(-100, 1100):.{rng.randrange(1, 6)}f}", rng.choice(_NUMBERS),
        ]))
    return out


@pytest.mark.parametrize("bounds", [
    {"min_value": 0, "max_value": 1000},
    {"min_value": 0, "max_value": 1000, "strict_min": True, "strict_max": True},
    {"min_value": 0.3, "strict_min": True},
    {"min_value": 0.1},
    {"max_value": -2.5},
    {"max_value": 999.999, "strict_max": True},
    {"min_value": 5, "max_value": 5},
    {"min_value": float("nan")},
    {"min_value": -(10**30), "max_value": 10**30},
])
def test_between_fast_accept_takes_plain_numbers_as_pandas_compares_them(bounds: dict[str, object]) -> None:
    """``expect_column_values_to_be_between`` judges values with pandas (``to_numeric``, float64
    comparisons): the fast accept takes only plain decimals and never one pandas puts out of range, at
    the bounds too (``0.3`` is not above ``0.3``)."""
    import great_expectations as gx

    check = compile_check(gx.expectations.ExpectColumnValuesToBeBetween(column="v", **bounds))
    values = _numbers(random.Random(7), 3000) + _NUMBERS
    rule = np.array([bool(check.pandas([pd.Series([v], dtype=object)]).iloc[0]) for v in values])
    present = np.array([bool(v) for v in values])
    assert check.vector is not None
    accepted = check.vector([TextColumn(values)])
    assert not (accepted & ~rule).any(), [values[i] for i in np.flatnonzero(accepted & ~rule)][:10]
    assert (vector_expected(check, [values]) == (rule | ~present)).all()
    plain = np.array([bool(v and re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", v) and sum(c.isdigit() for c in v) <= 15)
                      for v in values])
    assert (accepted == rule & plain).all(), "plain numbers in range are accepted without the rule"


def test_between_has_no_fast_accept_for_bounds_that_are_no_numbers() -> None:
    import great_expectations as gx

    e = gx.expectations.ExpectColumnValuesToBeBetween(column="v", min_value="2020-01-01")
    assert compile_check(e).vector is None


def test_lengths_count_characters_not_bytes() -> None:
    """``expect_column_value_lengths_to_be_between`` counts characters (``len(str(v))``): three CJK
    characters are nine UTF-8 bytes; long values are settled by their byte count where it is enough."""
    import great_expectations as gx

    values = ["张三丰", "abc", "ab", "张三", "😀😀😀", "a" * 300, "张" * 100, "é" * 3, "abcd", "  a", "😀" * 2]
    check = compile_check(gx.expectations.ExpectColumnValueLengthsToBeBetween(column="v", min_value=3, max_value=100))
    accepted = check.vector([TextColumn(values)])
    rule = [3 <= len(v) <= 100 for v in values]
    assert not (accepted & ~np.array(rule)).any()
    assert list(accepted) == [True, True, False, False, True, False, True, True, True, True, False]
    assert list(vector_expected(check, [values])) == rule


# --- empty text is not NULL --------------------------------------------------------------------------------


def test_empty_text_is_judged_as_text_by_every_fast_accept() -> None:
    """A database's ``''`` (length 0, not NULL) is evaluated and judged as ``''``: not blank-accepted
    (the byte after it is no value of it), of length 0, no number, and NULL only where NULL is meant."""
    import great_expectations as gx

    from citygov.quality import expectations as ce

    values: list[str | None] = ["", None, "a", "", "13800138000", "7"]
    column = _buffer_column(values, empty_is_null=False)
    e = gx.expectations
    cases = [
        (ce.ExpectColumnValuesToNotBeBlank(column="v"), [False, False, True, False, True, True]),
        (e.ExpectColumnValuesToNotBeNull(column="v"), [True, False, True, True, True, True]),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=0, max_value=1), [True, True, True, True, False, True]),
        (e.ExpectColumnValueLengthsToBeBetween(column="v", min_value=1), [False, True, True, False, True, True]),
        (e.ExpectColumnValuesToBeBetween(column="v", min_value=0), [False, True, False, False, True, True]),
        (ce.ExpectColumnValuesToBeValidMobile(column="v"), [True, True, False, True, True, False]),
    ]
    for expectation, want in cases:
        check = compile_check(expectation)
        assert list(vector_expected(check, [column])) == want, expectation.expectation_type
        if check.vector is not None:
            assert not (check.vector([column]) & ~np.array(want)).any(), expectation.expectation_type


def test_decimal_kernel_reads_numbers_as_python_float_does() -> None:
    """The kernel's value of a plain decimal of up to 15 digits is ``float(text)`` exactly (one rounding),
    so a bound equal to that float takes it, and the next float above or below does not."""
    from citygov.quality.kernels import decimal_between
    from citygov.quality.vector import kernel_accept

    rng = random.Random(15)
    texts = []
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 16)))
        point = rng.randrange(len(digits) + 1)
        whole, fraction = digits[:point] or "0", digits[point:]
        if len(whole) + len(fraction) <= 15:
            texts.append(rng.choice(["", "-", "+"]) + whole + (f".{fraction}" if fraction else ""))
    column = TextColumn(texts)
    for i, t in enumerate(texts):
        v = float(t)
        one = TextColumn([t])
        assert kernel_accept(one, decimal_between, v, v, False, False)[0], t
        assert not kernel_accept(one, decimal_between, np.nextafter(v, np.inf), np.inf, False, False)[0], t
        assert not kernel_accept(one, decimal_between, -np.inf, v, False, True)[0], t
        if i > 50:
            break
    values = np.array([float(t) for t in texts])
    low = np.median(values)
    assert (kernel_accept(column, decimal_between, low, np.inf, True, False) == (values > low)).all()


@pytest.mark.parametrize("index", _CHECKS)
def test_columns_from_a_byte_matrix_keep_long_values_for_the_rule(index: int) -> None:
    """A column made from a matrix of each value's first bytes (:meth:`TextColumn._init`, as the key
    hashes take rows of one) holds long values only in part: fast accepts that need a whole value leave
    them to the rule, and the verdicts are those of the whole text."""
    expectation, generate = _expectations()[index]
    check = compile_check(substitute(expectation, {"logical_date": AS_OF}))
    values = generate(random.Random(64 + index), 1000)
    whole = TextColumn(values)
    part = TextColumn.__new__(TextColumn)
    width = 12
    part._init(whole.lengths, whole.codes[:, :width], values)
    assert (vector_expected(check, [part]) == vector_expected(check, [whole])).all()


def test_each_distinct_value_is_judged_once_and_told_apart_by_type() -> None:
    """What the fast accept leaves is judged once per distinct value, but values that are equal in
    Python and not to the rule stay apart: ``1`` and ``"1"`` for a value set of texts, ``Decimal("1.0")``
    and ``Decimal("1.00")`` for a length."""
    from decimal import Decimal

    import great_expectations as gx

    objects: list[object] = [1, "1", Decimal("1.0"), Decimal("1.00"), True, 1.0, "无", "无", None, "无", 1, "1"] * 50
    texts = [None if v is None else str(v) for v in objects]
    raw = [(t or "").encode() for t in texts]
    column = TextColumn.from_buffer(
        np.frombuffer(b"".join(raw) + bytes(64), dtype=np.uint8), np.cumsum([0] + [len(r) for r in raw[:-1]]),
        np.array([len(r) for r in raw]), null=np.array([v is None for v in objects]), values=objects,
    )
    e = gx.expectations
    for expectation in (e.ExpectColumnValuesToBeInSet(column="v", value_set=["1", "无"]),
                        e.ExpectColumnValueLengthsToBeBetween(column="v", max_value=3),
                        e.ExpectColumnValuesToBeBetween(column="v", min_value=0, max_value=1)):
        check = compile_check(expectation)
        calls: list[int] = []
        judge = check.pandas
        object.__setattr__(check, "pandas", lambda cols, judge=judge, calls=calls: calls.append(len(cols[0])) or judge(cols))
        want = [v is None or bool(judge([pd.Series([v], dtype=object)]).iloc[0]) for v in objects]
        assert list(vector_expected(check, [column])) == want, expectation.expectation_type
        assert sum(calls) <= 8, "each distinct value once"


def test_value_sets_are_fast_accepted_only_over_text_values() -> None:
    """A value set's fast accept reads bytes as text: over a source's objects (``1``) it leaves every
    value to ``isin``; over text values (a text column's str, ``text_values``) it takes the plain ones."""
    import great_expectations as gx

    check = compile_check(gx.expectations.ExpectColumnValuesToBeInSet(column="v", value_set=["1", "2"]))
    raw = np.frombuffer(b"12" + bytes(64), dtype=np.uint8)
    starts, lengths = np.array([0, 1]), np.array([1, 1])
    objects = TextColumn.from_buffer(raw, starts, lengths, values=[1, 2])
    texts = TextColumn.from_buffer(raw, starts, lengths, values=["1", "2"], text_values=True)
    assert not check.vector([objects]).any() and check.vector([texts]).all()
    assert list(vector_expected(check, [objects])) == [False, False]
    assert list(vector_expected(check, [texts])) == [True, True]


def test_value_set_fast_accept_can_take_blanks_for_rules_that_pass_them() -> None:
    from citygov.quality.vector import in_set

    values: list[str | None] = ["a", "", "  ", None, " a", "b", "长的代码值超过八个字节", "长的代码值超过八个字节x"]
    column = _buffer_column(values, empty_is_null=False)
    assert list(in_set(["a", "长的代码值超过八个字节"], blank=True)([column])) == [True, True, True, False, False, False, True, False]
    assert list(in_set(["a", "长的代码值超过八个字节"])([column])) == [True, False, False, False, False, False, True, False]
    assert list(in_set(["a", "x" * 200])([TextColumn(["a", "b"])])) == [True, False]  # longer than the buffer


def test_missing_objects_of_a_source_are_left_to_the_presence_rules() -> None:
    """A source's NaN, NaT or pandas NA is no NULL in the column, and its text (``nan``) is no blank,
    yet pandas' ``notna`` and the not-blank rule count it missing: the fast accepts leave it to them."""
    from decimal import Decimal

    import great_expectations as gx

    from citygov.quality import expectations as ce

    objects: list[object] = [float("nan"), pd.NaT, pd.NA, Decimal("NaN"), "nan", "x", 1.5, None, ""]
    texts = [None if v is None else str(v) for v in objects]
    raw = [(t or "").encode() for t in texts]
    column = TextColumn.from_buffer(
        np.frombuffer(b"".join(raw) + bytes(64), dtype=np.uint8), np.cumsum([0] + [len(r) for r in raw[:-1]]),
        np.array([len(r) for r in raw]), null=np.array([v is None for v in objects]), values=objects,
    )
    for expectation in (gx.expectations.ExpectColumnValuesToNotBeNull(column="v"), ce.ExpectColumnValuesToNotBeBlank(column="v")):
        check = compile_check(expectation)
        want = [bool(check.pandas([pd.Series([v], dtype=object)]).iloc[0]) for v in objects]
        assert not (check.vector([column]) & ~np.array(want)).any(), expectation.expectation_type
        assert list(vector_expected(check, [column])) == want, expectation.expectation_type
    assert list(vector_expected(compile_check(gx.expectations.ExpectColumnValuesToNotBeNull(column="v")), [column])) == [
        False, False, False, False, True, True, True, False, True]
