"""The fused validation gives GX's own results; files in chunks give the same counts as the database.

One small table holds good and bad values for every natively supported expectation type. The same
suite runs three ways: the fused SQL path, GX's SqlAlchemyExecutionEngine (the reference), and the
chunked pandas path over the same rows written to a CSV file.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from citygov.identifiers import make_ric, make_uscc
from citygov.quality import engine as qengine

PARAMS = {"logical_date": "2026-11-28"}
COLUMNS = ["pk", "k1", "k2", "ric", "born", "xb", "uscc", "mobile", "div", "day", "kind", "n", "code", "ref"]


def _rows() -> list[dict[str, object]]:
    rows = []
    for i in range(60):
        born = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
        ric = make_ric("320706", born, 100 + i)
        rows.append(
            {
                "pk": f"P{i:04d}",
                "k1": f"A{i % 30}",
                "k2": str(i // 30),
                "ric": ric,
                "born": born.isoformat(),
                "xb": "1" if (100 + i) % 2 else "2",
                "uscc": make_uscc("320706", 1000 + i),
                "mobile": f"138{i:08d}",
                "div": "320706",
                "day": "2026-11-27",
                "kind": "甲" if i % 2 else "乙",
                "n": i,
                "code": f"C{i:05d}",
                "ref": make_uscc("320706", 1000 + (i % 10)),
            }
        )
    bad = rows
    bad[1]["ric"] = str(bad[1]["ric"])[:17] + ("0" if str(bad[1]["ric"])[17] != "0" else "1")
    bad[2]["ric"] = None
    bad[3]["born"] = "1900-01-01"
    bad[4]["xb"] = "2" if bad[4]["xb"] == "1" else "1"
    bad[5]["uscc"] = "91320706ABCDEFGHJK"
    bad[6]["mobile"] = "12345"
    bad[7]["div"] = "320708"
    bad[8]["day"] = "2026-12-01"
    bad[9]["kind"] = "丙"
    bad[10]["n"] = -1
    bad[11]["code"] = "C1"
    bad[12]["pk"] = ""
    bad[13]["pk"] = bad[14]["pk"]
    bad[15]["k1"], bad[15]["k2"] = bad[16]["k1"], bad[16]["k2"]
    bad[17]["ref"] = make_uscc("320706", 99999)
    bad[18]["mobile"] = None
    return rows


def _suite():  # type: ignore[no-untyped-def]
    import great_expectations as gx

    from citygov.quality import expectations as ce

    e = gx.expectations
    p = {"$PARAMETER": "logical_date"}
    return gx.ExpectationSuite(
        name="engine_test",
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
            e.ExpectColumnValuesToBeBetween(column="n", min_value=0),
            e.ExpectColumnValueLengthsToBeBetween(column="code", min_value=6, max_value=6),
            ce.ExpectColumnValuesToExistInBaseTable(column="ref", base_entry="BASE", base_column="tyshxydm", base_table="base"),
            e.ExpectTableRowCountToBeBetween(min_value=1, max_value=1000),
            e.ExpectColumnMaxToBeBetween(column="n", min_value=0, max_value=100),  # not native: runs in GX
        ],
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    path = tmp_path_factory.mktemp("engine") / "source.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    meta = sa.MetaData()
    table = sa.Table("t", meta, *[sa.Column(c, sa.Integer if c == "n" else sa.String) for c in COLUMNS])
    base = sa.Table("base", meta, sa.Column("tyshxydm", sa.String))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), _rows())
        conn.execute(base.insert(), [{"tyshxydm": make_uscc("320706", 1000 + i)} for i in range(10)])
    yield engine
    engine.dispose()


def _base_lookup(source: sa.Engine):  # type: ignore[no-untyped-def]
    def lookup(entry: str, column: str, values: list) -> set:  # type: ignore[type-arg]
        with source.connect() as conn:
            found = conn.execute(sa.text("SELECT tyshxydm FROM base")).scalars().all()
        return set(values) & set(found)

    return lookup


def _digest(result) -> list[tuple]:  # type: ignore[no-untyped-def]
    out = []
    for r in result.results:
        body = r.result or {}
        samples = body.get("partial_unexpected_list")
        out.append(
            (
                r.expectation_config.type,
                r.success,
                body.get("element_count"),
                body.get("unexpected_count"),
                body.get("missing_count"),
                None if body.get("unexpected_percent") is None else round(body["unexpected_percent"], 9),
                body.get("observed_value"),
                None if samples is None else Counter(map(repr, [tuple(s) if isinstance(s, list) else s for s in samples])),
            )
        )
    return out


def test_fused_sql_equals_gx_sql(source: sa.Engine) -> None:
    suite = _suite()
    fused, rows = qengine.validate_table(source, "t", suite, parameters=PARAMS, base_lookup=_base_lookup(source))
    reference, _ = qengine.validate_table(source, "t", suite, parameters=PARAMS, engine="gx")
    assert rows == 60
    assert _digest(fused) == _digest(reference)
    failed = {r.expectation_config.type: r.result["unexpected_count"] for r in fused.results if not r.success and "unexpected_count" in r.result}
    assert failed == {
        "expect_column_values_to_not_be_blank": 1,
        "expect_column_values_to_not_be_null": 1,
        "expect_column_values_to_be_unique": 2,
        "expect_compound_columns_to_be_unique": 2,
        "expect_column_values_to_be_valid_ric": 1,
        "expect_column_values_to_be_valid_uscc": 1,
        "expect_column_values_to_be_valid_mobile": 1,
        "expect_column_values_to_be_valid_division_code": 1,
        "expect_column_values_to_be_date_not_in_future": 1,
        "expect_column_pair_values_to_match_id_birth_date": 1,
        "expect_column_pair_values_to_match_id_gender": 1,
        "expect_column_values_to_be_in_set": 1,
        "expect_column_values_to_be_between": 1,
        "expect_column_value_lengths_to_be_between": 1,
        "expect_column_values_to_exist_in_base_table": 1,
    }


def _write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in _rows():
            writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])


@pytest.mark.parametrize("chunk_rows", [7, 100_000])
def test_files_in_chunks_count_like_the_database(source: sa.Engine, tmp_path: Path, chunk_rows: int) -> None:
    suite = _suite()
    suite.expectations = suite.expectations[:-1]  # the non-native one is not supported on files
    path = tmp_path / "t.csv"
    _write_csv(path)
    from_file, rows = qengine.validate_file(path, suite, parameters=PARAMS, base_lookup=_base_lookup(source), chunk_rows=chunk_rows)
    from_sql, _ = qengine.validate_table(source, "t", suite, parameters=PARAMS, base_lookup=_base_lookup(source))
    assert rows == 60
    counts = lambda res: [(r.success, (r.result or {}).get("unexpected_count"), (r.result or {}).get("element_count")) for r in res.results]  # noqa: E731
    # An empty CSV cell is NULL in the file but "" in the database: only not_blank and the pk uniqueness
    # see that difference, and they must agree anyway.
    assert counts(from_file) == counts(from_sql)


def test_unsupported_expectation_on_a_file_is_reported_not_guessed(tmp_path: Path) -> None:
    import great_expectations as gx

    path = tmp_path / "t.csv"
    _write_csv(path)
    suite = gx.ExpectationSuite(name="x", expectations=[gx.expectations.ExpectColumnMaxToBeBetween(column="n", max_value=5)])
    result, _ = qengine.validate_file(path, suite, parameters=PARAMS)
    assert not result.success
    assert "not supported on files" in result.results[0].exception_info["exception_message"]


def test_missing_column_fails_that_expectation_only(source: sa.Engine) -> None:
    import great_expectations as gx

    suite = gx.ExpectationSuite(
        name="x",
        expectations=[gx.expectations.ExpectColumnValuesToNotBeNull(column="nope"), gx.expectations.ExpectColumnValuesToNotBeNull(column="pk")],
    )
    result, _ = qengine.validate_table(source, "t", suite, parameters=PARAMS)
    assert [r.success for r in result.results] == [False, True]
    assert "nope" in result.results[0].exception_info["exception_message"]


def test_missing_table_is_a_validation_error(source: sa.Engine) -> None:
    import great_expectations as gx

    with pytest.raises(qengine.ValidationError, match="cannot be read"):
        qengine.validate_table(source, "no_such_table", gx.ExpectationSuite(name="x"), parameters=PARAMS)


def test_result_json_is_gx_json(source: sa.Engine) -> None:
    suite = _suite()
    suite.expectations = suite.expectations[:-1]
    result, _ = qengine.validate_table(source, "t", suite, parameters=PARAMS, base_lookup=_base_lookup(source))
    assert qengine.result_json(result) == result.to_json_dict()
