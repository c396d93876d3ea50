"""The generated quality cases several engines and databases are held to: one table of good values and every
kind of defect (bad check characters, spaces, lower case, empty text, NULLs, duplicates, compound
duplicates, out-of-range numbers, non-ASCII lengths), a suite that uses every expectation type a rule
compiles, and digests of results that must be equal across engines (tests/unit/test_quality_stream.py on
SQLite and PostgreSQL, tests/store/test_mysql_sources.py on MariaDB).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from citygov.identifiers import make_ric, make_uscc

PARAMS = {"logical_date": "2026-11-28"}
ROWS = 400
TEXT_COLUMNS = ["pk", "k1", "k2", "ric", "born", "xb", "uscc", "mobile", "div", "day", "kind", "code", "ref", "card", "plate"]


def _luhn(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def _rows(seed: int = 18, blanks: bool = True) -> list[dict[str, Any]]:
    """Good rows with about one defect in 40 per column (so every failing row is a sample)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(ROWS):
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 60 * 365))
        seq = rng.randrange(1000)
        ric = make_ric(rng.choice(["320706", "320705", "110101"]), born, seq)
        rows.append({
            "pk": f"P{i:05d}", "k1": f"A{i}", "k2": str(i % 3), "ric": ric, "born": born.isoformat(),
            "xb": "1" if seq % 2 else "2", "uscc": make_uscc("320706", 1000 + i), "mobile": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
            "div": rng.choice(["320706", "320705", "320724"]), "day": (date(2026, 11, 28) - timedelta(days=rng.randrange(0, 900))).isoformat(),
            "kind": rng.choice(["甲", "乙"]), "n": rng.randrange(0, 120), "code": f"C{i:05d}", "ref": make_uscc("320706", 1000 + i % 10),
            "card": _luhn("62220" + f"{rng.randrange(10**10):010d}"), "plate": "苏G" + f"{rng.randrange(10**5):05d}",
        })

    def hit() -> bool:
        return rng.random() < 0.025

    for r in rows:
        if hit():
            r["ric"] = rng.choice([r["ric"][:17] + ("0" if r["ric"][17] != "0" else "1"), r["ric"].lower().replace("x", "x"),
                                   f" {r['ric']}", r["ric"][:10] + "0230" + r["ric"][14:], None, "3207061990010"])
        if hit():
            r["born"] = rng.choice(["1900-01-01", None, "1990/01/02", "not a date"])
        if hit():
            r["xb"] = rng.choice(["9", None, "男", "女", "2" if r["xb"] == "1" else "1"])
        if hit():
            r["uscc"] = rng.choice(["91320706ABCDEFGHJK", r["uscc"].lower(), r["uscc"][:17], None])
        if hit():
            r["mobile"] = rng.choice(["12345", "1380000000", None, " 13800000000", "+8613800000000"])
        if hit():
            r["div"] = rng.choice(["320708", "32070", "abcdef", None])
        if hit():
            r["day"] = rng.choice(["2026-12-01", "2027-01-01 10:00:00", "2026-02-30", None])
        if hit():
            r["kind"] = rng.choice(["丙", "甲 ", None])
        if hit():
            r["n"] = rng.choice([-1, 121, None])
        if hit():
            r["code"] = rng.choice(["C1", "编码一二三四", "C000001", None])
        if hit():
            r["ref"] = rng.choice([make_uscc("320706", 99999), None])
        if hit():
            r["card"] = rng.choice([r["card"][:-1] + str((int(r["card"][-1]) + 1) % 10), "6222", None])
        if hit():
            r["plate"] = rng.choice(["苏G", "ABC123", None])
        if blanks and hit():
            r["pk"] = rng.choice(["", "  "])
    for a, b in [(5, 6), (7, 8), (9, 10)]:
        rows[a]["pk"] = rows[b]["pk"]
    for a, b in [(20, 21), (22, 23)]:
        rows[a]["k1"], rows[a]["k2"] = rows[b]["k1"], rows[b]["k2"]
    return rows


def _suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    p = {"$PARAMETER": "logical_date"}
    return gx.ExpectationSuite(
        name="stream_test",
        expectations=[
            ce.ExpectColumnValuesToNotBeBlank(column="pk"),
            e.ExpectColumnValuesToNotBeNull(column="mobile"),
            e.ExpectColumnValuesToBeUnique(column="pk"),
            e.ExpectCompoundColumnsToBeUnique(column_list=["k1", "k2"]),
            ce.ExpectColumnValuesToBeValidRic(column="ric", as_of=p),
            ce.ExpectColumnValuesToBeValidUscc(column="uscc"),
            ce.ExpectColumnValuesToBeValidMobile(column="mobile"),
            ce.ExpectColumnValuesToBeValidDivisionCode(column="div"),
            ce.ExpectColumnValuesToBeDateNotInFuture(column="day", reference_date=p),
            ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A="ric", column_B="born"),
            ce.ExpectColumnPairValuesToMatchIdGender(column_A="ric", column_B="xb"),
            e.ExpectColumnValuesToBeInSet(column="kind", value_set=["甲", "乙"]),
            e.ExpectColumnValuesToBeInSet(column="n", value_set=list(range(0, 100))),
            e.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=120),
            e.ExpectColumnValuesToBeBetween(column="n", min_value=0, max_value=100, strict_max=True),
            e.ExpectColumnValueLengthsToBeBetween(column="code", min_value=6, max_value=6),
            ce.ExpectColumnValuesToExistInBaseTable(column="ref", base_entry="BASE", base_column="tyshxydm", base_table="base"),
            ce.ExpectColumnValuesToBeValidBankcard(column="card"),
            ce.ExpectColumnValuesToBeValidPlate(column="plate"),
            e.ExpectTableRowCountToBeBetween(min_value=1, max_value=10_000),
        ],
    )


def _fill(engine: sa.Engine, rows: list[dict[str, Any]], text_type: Any = sa.String) -> None:
    """Tables ``t`` (the rows) and ``base`` (ten USCCs); ``text_type`` for databases whose text needs a
    length (MySQL's ``VARCHAR(n)``)."""
    meta = sa.MetaData()
    table = sa.Table("t", meta, *[sa.Column(c, text_type) for c in TEXT_COLUMNS], sa.Column("n", sa.Integer))
    base = sa.Table("base", meta, sa.Column("tyshxydm", text_type))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        conn.execute(base.insert(), [{"tyshxydm": make_uscc("320706", 1000 + i)} for i in range(10)])


def _lookup(engine: sa.Engine):  # type: ignore[no-untyped-def]
    def lookup(entry: str, column: str, values: list) -> set:  # type: ignore[type-arg]
        with engine.connect() as conn:
            found = set(conn.execute(sa.text("SELECT tyshxydm FROM base")).scalars())
        return {v for v in values if v in found}

    return lookup


def _digest(result: Any) -> list[tuple[Any, ...]]:
    out = []
    for r in result.results:
        body = r.result or {}
        samples = body.get("partial_unexpected_list")
        out.append((
            r.expectation_config.type, r.success, body.get("element_count"), body.get("unexpected_count"),
            body.get("missing_count"), body.get("observed_value"),
            None if samples is None else Counter(map(repr, [tuple(s) if isinstance(s, list) else s for s in samples])),
        ))
    return out


def _rows_digest(result: Any) -> list[Any]:
    """The failing rows named in each result (key and values), as a multiset."""
    return [Counter(map(repr, (r.result or {}).get("partial_unexpected_index_list") or [])) for r in result.results]
