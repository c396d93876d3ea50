"""Bank card numbers, the rule added as one module (citygov/quality/registry/bankcard.py): its Python
check against python-stdnum's Luhn, its SQL form on SQLite and PostgreSQL, its fast accept, and the
whole rule on every engine (fused SQL on both databases, GX's engine, a file in chunks), its words and
its drafting."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from stdnum import luhn

from citygov.quality import engine as qengine
from citygov.quality import registry
from citygov.quality.checks import compile_check
from citygov.quality.registry.bankcard import TYPE, bankcard_ok, bankcard_problem, fast_accept
from citygov.quality.vector import TextColumn, vector_expected
from citygov.rulebook import describe
from tests.pg import scratch_database

GOOD = "6222021234567890128"  # 19 digits
"""A card number with a right Luhn digit (stdnum agrees, below)."""


def _card(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def _wrong(card: str) -> str:
    return card[:-1] + str((int(card[-1]) + 1) % 10)


def _values() -> list[str | None]:
    rnd = random.Random(15694)
    out: list[str | None] = [None, "", "  ", GOOD, _wrong(GOOD), "6222 0212 3456 7890 128", "6222-0212-3456-7890-128",
                             " 4111111111111111 ", "4111111111111112", "411111111111111", "41111111111111111111",
                             "4111x11111111111", "４１１１１１１１１１１１１１１１", "6222\t021234567890128", "abc", "0000000000000000"]
    for n in range(14, 21):
        for _ in range(30):
            card = _card("".join(rnd.choice("0123456789") for _ in range(n - 1)))
            out.append(card)
            out.append(_wrong(card))
            out.append(" ".join(card[i : i + 4] for i in range(0, n, 4)))
    return out


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (GOOD, None), ("4111111111111111", None), ("6222 0212 3456 7890 128", None), ("6222-0212-3456-7890-128", None),
        ("", None), ("   ", None), (_wrong(GOOD), "check_digit"), ("411111111111111", "format"),
        ("41111111111111111111", "format"), ("4111x11111111111", "format"), ("４１１１１１１１１１１１１１１１", "format"),
    ],
)
def test_the_python_check_says_why(value: str, problem: str | None) -> None:
    assert bankcard_problem(value) == problem


def test_the_python_check_agrees_with_stdnum() -> None:
    for value in _values():
        if value is None or not value.strip(" "):
            continue
        digits = value.strip(" ").replace(" ", "").replace("-", "")
        expected = 16 <= len(digits) <= 19 and digits.isascii() and digits.isdigit() and luhn.is_valid(digits)
        assert (bankcard_problem(value) is None) is expected, value


def _sql_verdicts(engine: sa.Engine, values: list[str | None]) -> list[bool]:
    meta = sa.MetaData()
    table = sa.Table("cards", meta, sa.Column("i", sa.Integer, primary_key=True), sa.Column("v", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"i": i, "v": v} for i, v in enumerate(values)])
        rows = conn.execute(sa.select(table.c.i, bankcard_ok(table.c.v, engine.dialect.name)).order_by(table.c.i)).all()
    return [bool(ok) for _, ok in rows]


def _expected(values: list[str | None]) -> list[bool]:
    return [bankcard_problem(v) is None for v in values]


def test_the_sql_form_agrees_with_the_python_check_on_sqlite(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    values = [v for v in _values() if v is not None]  # NULLs are left out before a condition runs
    assert _sql_verdicts(engine, values) == _expected(values)
    engine.dispose()


def test_the_sql_form_agrees_with_the_python_check_on_postgresql() -> None:
    with scratch_database("citygov_bankcard") as url:
        engine = sa.create_engine(url)
        values = [v for v in _values() if v is not None]
        assert _sql_verdicts(engine, values) == _expected(values)
        engine.dispose()


def test_the_fast_accept_accepts_only_good_cards_and_the_verdict_is_the_rules() -> None:
    import great_expectations as gx  # noqa: F401

    from citygov.quality import expectations as ce

    values = [v for v in _values() if v is not None]
    accepted = fast_accept([TextColumn(values)])
    assert all(bankcard_problem(v) is None for v, ok in zip(values, accepted, strict=True) if ok)
    assert sum(accepted) > 100  # the plain-digit good cards do not reach the rule
    check = compile_check(ce.ExpectColumnValuesToBeValidBankcard(column="card"))
    assert list(vector_expected(check, [values])) == [bankcard_problem(v) is None for v in values]


# --- the whole rule on every engine ---------------------------------------------------------------------

ROWS = [
    {"pk": f"K{i:03d}", "card": c}
    for i, c in enumerate(
        [GOOD, "4111111111111111", "6222 0212 3456 7890 128", _wrong(GOOD), "411111111111111", None, "", "5500000000000004"]
    )
]
"""Two bad cards (a wrong check digit, 15 digits); NULL and blank are the not-blank rule's."""


def _suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    return gx.ExpectationSuite(name="cards", expectations=[ce.ExpectColumnValuesToBeValidBankcard(column="card")])


def _load(engine: sa.Engine) -> None:
    meta = sa.MetaData()
    table = sa.Table("cards", meta, sa.Column("pk", sa.String), sa.Column("card", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), ROWS)


def _outcome(result) -> tuple:  # type: ignore[no-untyped-def]
    (r,) = result.results
    body = r.result
    return r.success, body["element_count"], body["unexpected_count"], sorted(body["partial_unexpected_list"])


EXPECTED = (False, 8, 2, sorted([_wrong(GOOD), "411111111111111"]))


def _check_engines(engine: sa.Engine) -> None:
    _load(engine)
    fused, rows = qengine.validate_table(engine, "cards", _suite(), key_columns=["pk"])
    reference, _ = qengine.validate_table(engine, "cards", _suite(), engine="gx")
    assert rows == 8
    assert _outcome(fused) == _outcome(reference) == EXPECTED
    reasons = fused.results[0].result["partial_unexpected_reasons"]
    assert sorted(r["problem"] for r in reasons) == ["bankcard.check_digit", "bankcard.format"]
    keys = {row["pk"] for row in fused.results[0].result["partial_unexpected_index_list"]}
    assert keys == {"K003", "K004"}


def test_every_engine_finds_the_same_bad_cards_on_sqlite(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cards.db'}")
    _check_engines(engine)
    engine.dispose()


def test_every_engine_finds_the_same_bad_cards_on_postgresql() -> None:
    with scratch_database("citygov_bankcard") as url:
        engine = sa.create_engine(url)
        _check_engines(engine)
        engine.dispose()


def test_a_file_in_chunks_finds_the_same_bad_cards(tmp_path: Path) -> None:
    path = tmp_path / "cards.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pk", "card"])
        writer.writerows([r["pk"], r["card"] or ""] for r in ROWS)
    result, rows = qengine.validate_file(path, _suite(), chunk_rows=3, key_columns=["pk"])
    (r,) = result.results
    # an empty CSV cell is NULL in a file: two rows are not evaluated (the not-blank rule's)
    assert (rows, r.success, r.result["unexpected_count"], sorted(r.result["partial_unexpected_list"])) == (
        8, False, 2, EXPECTED[3]
    )


def test_the_rule_has_words_a_dimension_and_reasons() -> None:
    from citygov.findings import Dimension
    from citygov.quality import rules

    words = describe(TYPE)
    assert words.known and words.dimension is Dimension.ACCURACY
    assert words.label == "银行卡号无效 invalid bank card number" and "Luhn" in words.fix
    assert TYPE in registry.native_types()
    assert rules.reason_words("bankcard.check_digit").startswith("银行卡号校验位错误")


def test_a_card_column_is_drafted_with_the_rule(tmp_path: Path) -> None:
    from citygov.catalog.schema import (
        CatalogEntry,
        ColumnType,
        DeclaredColumn,
        Layer,
        OpenAttr,
        Sensitivity,
        ShareType,
        UpdateCycle,
    )
    from citygov.quality.drafting import DraftPolicy, draft_suite
    from citygov.quality.profile import profile_table

    cards = [_card(f"622202{i:012d}") for i in range(40)] + [_wrong(GOOD)]
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'holders.db'}")
    meta = sa.MetaData()
    table = sa.Table("holders", meta, sa.Column("pk", sa.String), sa.Column("yhkh", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"pk": f"K{i:03d}", "yhkh": c} for i, c in enumerate(cards)])
    entry = CatalogEntry(
        code="CARDS", name="持卡人", provider="人社局", layer=Layer.DEPARTMENT,
        columns=(DeclaredColumn("pk", ColumnType.STRING), DeclaredColumn("yhkh", ColumnType.STRING)),
        share_type=ShareType.CONDITIONAL, open_attr=OpenAttr.NOT_OPEN, update_cycle=UpdateCycle.DAILY,
        conn_id="c", location="holders", sensitivity=Sensitivity.L3, primary_key=("pk",),
    )
    suite = draft_suite(entry, profile_table(engine, "holders"), policy=DraftPolicy())
    engine.dispose()
    drafted = [e for e in suite.expectations if e.expectation_type == TYPE]
    assert [e.column for e in drafted] == ["yhkh"]
    assert drafted[0].meta["support"] == {"satisfied": 40, "of": 41, "share": round(40 / 41, 4)}
    assert suite.meta["citygov"]["columns"]["yhkh"] == {"kind": "bankcard", "mask": "bankcard"}
