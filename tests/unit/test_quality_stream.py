"""The streaming engine counts exactly what the fused SQL engine and GX's engine count, on every rule.

One generated table holds good values and every kind of defect (bad check characters, spaces, lower case,
empty text, NULLs, duplicates, compound duplicates, out-of-range numbers, non-ASCII lengths) for a suite
that uses every expectation type a rule compiles. It is validated with ``engine="stream"``, ``"fused"``
and ``"gx"`` on SQLite and on PostgreSQL (binary COPY), and as a CSV file; the results (success, counts,
samples) must be the same. Then the parts a small table never reaches: hashes spilled to disk past the
budget, and hash collisions (counted by exact value, never as duplicates).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from citygov.identifiers import make_ric, make_uscc
from citygov.quality import engine as qengine
from citygov.quality import stream
from citygov.quality.registry import native_types
from citygov.sources.base import MissingColumns
from citygov.sources.database import table_blocks
from tests.pg import scratch_database

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


def _fill(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    meta = sa.MetaData()
    table = sa.Table("t", meta, *[sa.Column(c, sa.String) for c in TEXT_COLUMNS], sa.Column("n", sa.Integer))
    base = sa.Table("base", meta, sa.Column("tyshxydm", sa.String))
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


def test_the_suite_uses_every_compiled_rule() -> None:
    used = {e.expectation_type for e in _suite().expectations}
    assert set(native_types()) <= used


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> Any:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('stream') / 'source.db'}")
    _fill(engine, _rows())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_source() -> Any:
    with scratch_database("citygov_stream") as url:
        engine = sa.create_engine(url)
        _fill(engine, _rows())
        yield engine
        engine.dispose()


def _three(source: sa.Engine, keys: tuple[str, ...] = ("pk",)) -> dict[str, Any]:
    suite = _suite()
    return {
        engine: qengine.validate_table(source, "t", suite, parameters=PARAMS, base_lookup=_lookup(source), engine=engine,
                                       key_columns=keys)[0]
        for engine in ("stream", "fused", "gx")
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_stream_fused_and_gx_agree_on_every_rule(backend: str, request: pytest.FixtureRequest) -> None:
    source = request.getfixturevalue("sqlite_source" if backend == "sqlite" else "pg_source")
    results = _three(source)
    assert results["stream"].meta["engine"] == "stream"
    assert _digest(results["stream"]) == _digest(results["fused"])
    assert _digest(results["stream"]) == _digest(results["gx"])
    assert _rows_digest(results["stream"]) == _rows_digest(results["fused"])
    failing = {r.expectation_config.type for r in results["stream"].results if not r.success}
    # every rule found its planted defects
    assert failing >= set(native_types()) - {"expect_table_row_count_to_be_between"}


def test_a_file_streams_to_the_same_counts(sqlite_source: sa.Engine, tmp_path: Path) -> None:
    rows = _rows(blanks=False)  # a file cannot tell "" from NULL: leave those out of the comparison
    path = tmp_path / "t.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*TEXT_COLUMNS, "n"])
        for row in rows:
            writer.writerow(["" if row[c] is None else row[c] for c in [*TEXT_COLUMNS, "n"]])
    database = sa.create_engine(f"sqlite:///{tmp_path / 'same.db'}")
    _fill(database, rows)
    suite = _suite()
    # a file holds text: a value set of numbers is a database column's rule (a file's suite lists texts)
    suite.expectations = [e for e in suite.expectations if not (e.expectation_type.endswith("in_set") and e.column == "n")]
    from_file, n = qengine.validate_file(path, suite, parameters=PARAMS, base_lookup=_lookup(database), key_columns=("pk",))
    from_sql, _ = qengine.validate_table(database, "t", suite, parameters=PARAMS, base_lookup=_lookup(database),
                                         engine="fused", key_columns=("pk",))
    assert n == ROWS
    counts = lambda res: [(r.success, (r.result or {}).get("unexpected_count"), (r.result or {}).get("element_count")) for r in res.results]  # noqa: E731
    assert counts(from_file) == counts(from_sql)
    database.dispose()


def test_hashes_spilled_past_the_budget_find_the_same_duplicates(sqlite_source: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _digest(_three(sqlite_source)["fused"])
    monkeypatch.setenv("CITYGOV_QUALITY_HASH_BUDGET_MIB", "1")
    monkeypatch.setattr(stream, "hash_budget", lambda: 64)  # a block's hashes exceed it: every block spills
    spilled = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source),
                                     engine="stream", key_columns=("pk",))[0]
    assert _digest(spilled) == expected


def test_hash_collisions_are_not_duplicates(sqlite_source: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _digest(_three(sqlite_source)["fused"])
    # every value hashes alike: all rows are candidates, and only equal values may be counted
    monkeypatch.setattr(stream, "_hashes", lambda block, names: np.zeros(block.rows, dtype=np.uint64))
    collided = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source),
                                      engine="stream", key_columns=("pk",))[0]
    assert _digest(collided) == expected


def test_hash_spool_counts_repeats_in_memory_and_on_disk() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**63, 10_000, dtype=np.uint64)
    values[::1000] = values[1]  # ten rows repeat one value
    for budget in (1 << 30, 4096):
        spool = stream.HashSpool(budget)
        for part in np.array_split(values, 17):
            spool.add(part)
        assert spool.spilled is (budget == 4096)
        assert list(spool.repeated()) == [values[1]]


def test_auto_picks_per_dialect_and_refuses_an_unknown_engine(sqlite_source: sa.Engine) -> None:
    result, _ = qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, base_lookup=_lookup(sqlite_source))
    assert result.meta["engine"] == qengine.choose_engine("sqlite")
    assert qengine.choose_engine("postgresql") == "stream"
    with pytest.raises(ValueError, match="engine must be one of"):
        qengine.validate_table(sqlite_source, "t", _suite(), parameters=PARAMS, engine="fast")


def test_binary_copy_keeps_null_apart_from_empty_text_and_decodes_types(pg_source: sa.Engine) -> None:
    with pg_source.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "we""ird tab" ("a b" text, "n" int, "d" date, "x" numeric, "ts" timestamp)')
        conn.exec_driver_sql(
            """INSERT INTO "we""ird tab" VALUES ('', 1, '2026-01-02', 1.50, '2026-01-02 03:04:05'), (NULL, NULL, NULL, NULL, NULL),"""
            """ ('名字 ', -7, '1999-12-31', -0.25, '2026-01-02 03:04:05.5')"""
        )
    blocks = list(table_blocks(pg_source, 'we"ird tab', ["a b", "n", "d", "x", "ts"], 2))
    assert [b.rows for b in blocks] == [2, 1]
    values = [[b.value(i, j) for j in range(5)] for b in blocks for i in range(b.rows)]
    from datetime import datetime
    from decimal import Decimal

    assert values == [
        ["", 1, date(2026, 1, 2), Decimal("1.50"), datetime(2026, 1, 2, 3, 4, 5)],
        [None, None, None, None, None],
        ["名字 ", -7, date(1999, 12, 31), Decimal("-0.25"), datetime(2026, 1, 2, 3, 4, 5, 500000)],
    ]
    assert [b.null[i, 0] for b in blocks for i in range(b.rows)] == [False, True, False]
    with pytest.raises(MissingColumns):
        table_blocks(pg_source, 'we"ird tab', ["nope"])
    # leaving early closes the COPY and gives the connection back in a usable state
    for _ in table_blocks(pg_source, "t", ["pk"], 10):
        break
    with pg_source.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == ROWS
