"""The vectorized conditions (:func:`citygov.quality.vector.vector_expected`) agree with the SQL conditions
value for value, on generated good and bad IDs, credit codes, division codes, dates, value sets and
blanks, and their NumPy fast accept only accepts values the rules accept.

The backflow loader validates rows with the vectorized path; the fused SQL validation and GX count with
:mod:`citygov.quality.sqlcond`. A disagreement would quarantine a row the quality inspection passes.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from citygov.identifiers import USCC_ALPHABET, make_ric, make_uscc
from citygov.quality.checks import compile_check, substitute
from citygov.quality.sqlcond import prepare_connection
from citygov.quality.tables import SqlText
from citygov.quality.vector import TextColumn, vector_expected

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


def _blanks(rng: random.Random, n: int) -> list[str | None]:
    return [rng.choice(["a", " a", "a ", " ", "  ", "", None, "\t", "张三", "\u3000", "x" * 90, " " * 90]) for _ in range(n)]


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
        (ce.ExpectColumnValuesToNotBeBlank(column="v"), _blanks),
        (e.ExpectColumnValuesToNotBeNull(column="v"), _blanks),
    ]


@pytest.fixture(scope="module")
def sqlite() -> sa.Engine:
    return sa.create_engine("sqlite://")


@pytest.mark.parametrize("index", range(9))
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
        if check.type != "expect_column_values_to_be_valid_uscc":
            assert accepted.sum() > 0.2 * expected.sum(), "plain good values are accepted without the rule"


@pytest.mark.parametrize("index", range(9))
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
    ("2026/11/28", None), ("2026-11-2x", None), (":026-11-28", None), ("/026-11-28", None), ("2026-1:-28", None),
    ("2026-11-28"[::-1], None), ("２０２６-11-28", None),
])
def test_iso_day_reads_digits_and_dashes_only(text: str, day: int | None) -> None:
    from citygov.quality.kernels import iso_day_not_after

    m = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)[None, :10].copy()
    if day is None:
        assert not iso_day_not_after(m, 99999999)[0]
    else:
        assert iso_day_not_after(m, day)[0] and not iso_day_not_after(m, day - 1)[0]


def test_the_fast_accept_takes_plain_good_values() -> None:
    """Good values in their plain form pass without a closer look: were the fast accept to take none, the
    rule would judge every value, with the same verdicts but many times slower."""
    from citygov.quality import expectations as ce

    cases = [
        (ce.ExpectColumnValuesToBeValidRic(column="v", as_of=AS_OF),
         [make_ric("320706", date(1990, 1, 2) + timedelta(days=i), i) for i in range(50)] + [make_ric("110101", date(2000, 2, 29), 1)]),
        (ce.ExpectColumnValuesToBeValidDivisionCode(column="v"), ["320706", "110101", "320724"]),
        (ce.ExpectColumnValuesToBeDateNotInFuture(column="v", reference_date=AS_OF),
         ["2026-11-28", "2026-11-28 23:59:59", "1990-01-01", "0001-01-01"]),
    ]
    for expectation, values in cases:
        check = compile_check(substitute(expectation, {"logical_date": AS_OF}))
        assert check.vector is not None
        assert check.vector([TextColumn(values)]).all(), expectation.type
