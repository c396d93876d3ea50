"""Suite files: the versioned ones load, carry dimensions and masks; drafting; clear errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

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
from citygov.findings import Dimension
from citygov.identifiers import make_ric
from citygov.quality import drafting as qd
from citygov.quality import suites as qs
from citygov.quality.masking import MASK_KINDS
from citygov.quality.profile import profile_table

SUITES = Path(__file__).resolve().parents[2] / "expectations"


def test_every_custom_expectation_carries_its_dimension() -> None:
    from citygov.quality.expectations import CUSTOM_EXPECTATIONS

    for cls in CUSTOM_EXPECTATIONS:
        assert isinstance(cls.dimension, Dimension), cls
        assert cls.library_metadata["gbt36344_dimension"] == cls.dimension.value


@pytest.mark.parametrize("path", sorted(SUITES.glob("*.json")), ids=lambda p: p.stem)
def test_versioned_suites_load_and_are_complete(path: Path) -> None:
    suite = qs.read_suite(path)
    meta = suite.meta["citygov"]
    assert suite.name == path.stem == meta["entry_code"]
    assert suite.expectations, "an empty suite checks nothing"
    for e in suite.expectations:
        assert Dimension(e.meta["dimension"]) == qs.dimension_of(e)
    assert set(qs.column_masks(suite).values()) <= set(MASK_KINDS)
    kinds = {c: info["kind"] for c, info in meta["columns"].items()}
    for column, kind in kinds.items():
        if kind in ("ric", "mobile", "name", "uscc"):
            assert qs.column_masks(suite)[column] == kind, f"{column} holds {kind} values: mask them"


def test_a_broken_suite_file_names_file_and_expectation(tmp_path: Path) -> None:
    path = tmp_path / "X.json"
    path.write_text(json.dumps({"name": "X", "expectations": [{"type": "expect_column_values_to_be_valid_rick", "kwargs": {"column": "a"}}]}))
    with pytest.raises(qs.SuiteFileError, match=r"X\.json: expectation 1 \(expect_column_values_to_be_valid_rick\)"):
        qs.read_suite(path)
    path.write_text("{not json")
    with pytest.raises(qs.SuiteFileError, match="line 1"):
        qs.read_suite(path)


def test_suite_files_round_trip(tmp_path: Path) -> None:
    original = qs.read_suite(SUITES / "320700-GAJ-0001.json")
    written = qs.write_suite(original, tmp_path)
    assert json.loads(written.read_text(encoding="utf-8")) == json.loads((SUITES / "320700-GAJ-0001.json").read_text(encoding="utf-8"))


def _entry() -> CatalogEntry:
    return CatalogEntry(
        code="E1",
        name="人口",
        provider="公安局",
        layer=Layer.DEPARTMENT,
        columns=tuple(DeclaredColumn(n, t) for n, t in [("sfzhm", ColumnType.STRING), ("xm", ColumnType.STRING), ("csrq", ColumnType.DATE), ("xb", ColumnType.STRING), ("xzqdm", ColumnType.STRING), ("dz", ColumnType.STRING)]),
        share_type=ShareType.CONDITIONAL,
        open_attr=OpenAttr.NOT_OPEN,
        update_cycle=UpdateCycle.DAILY,
        conn_id="c",
        location="people",
        sensitivity=Sensitivity.L3,
        primary_key=("sfzhm",),
    )


def test_draft_suggests_what_the_data_keeps(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    rows = []
    surnames = "王李张刘陈杨黄赵吴周"
    for i in range(40):
        born = date(1960 + i, 1 + i % 12, 1 + i % 28)
        rows.append({
            "sfzhm": make_ric("320706", born, 10 + i), "xm": surnames[i % 10] + "小明", "csrq": born.isoformat(),
            "xb": "1" if (10 + i) % 2 else "2", "xzqdm": "320706", "dz": f"海州区{i}号",
        })
    rows[0]["csrq"] = "1999-09-09"  # one disagreement: 97.5 % still agree, so the rule is suggested
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (sfzhm TEXT, xm TEXT, csrq DATE, xb TEXT, xzqdm TEXT, dz TEXT)"))
        conn.execute(sa.text("INSERT INTO people VALUES (:sfzhm, :xm, :csrq, :xb, :xzqdm, :dz)"), rows)
    suite = qd.draft_suite(_entry(), profile_table(engine, "people"))
    engine.dispose()
    types = {(e.expectation_type, getattr(e, "column", None) or getattr(e, "column_B", None)) for e in suite.expectations}
    assert ("expect_column_values_to_be_unique", "sfzhm") in types
    assert ("expect_column_values_to_be_valid_ric", "sfzhm") in types
    assert ("expect_column_values_to_be_valid_division_code", "xzqdm") in types
    assert ("expect_column_values_to_be_date_not_in_future", "csrq") in types
    assert ("expect_column_pair_values_to_match_id_birth_date", "csrq") in types
    assert ("expect_column_pair_values_to_match_id_gender", "xb") in types
    assert ("expect_column_values_to_be_in_set", "xb") in types
    masks = qs.column_masks(suite)
    assert masks["sfzhm"] == "ric" and masks["xm"] == "name" and masks["csrq"] == "birthdate" and masks["dz"] == "redact"
    assert all(e.meta.get("drafted") for e in suite.expectations)
    # nothing personal ends up in the suite itself
    from citygov.quality.masking import find_unmasked

    assert find_unmasked(json.dumps(qs.suite_to_dict(suite), ensure_ascii=False)) == []


def test_a_folder_location_leading_outside_its_folder_is_not_read(tmp_path: Path) -> None:
    import dataclasses

    import great_expectations as gx

    from citygov.quality.runner import validate_entry
    from citygov.sources import ConnectionInfo

    (tmp_path / "secret.csv").write_text("sfzhm\n32070619860101123X\n", encoding="utf-8")
    folder = tmp_path / "dept"
    folder.mkdir()
    conn = ConnectionInfo("c", "fs", extra={"path": str(folder)})
    with pytest.raises(ValueError, match="is not a file inside the folder of connection 'c'"):
        conn.file("../secret.csv")
    assert conn.file("sub/x.csv") == (folder / "sub" / "x.csv").resolve()
    suite = gx.ExpectationSuite(name="E1", expectations=[gx.expectations.ExpectColumnValuesToNotBeNull(column="sfzhm")])
    for location in ("../secret.csv", str(tmp_path / "secret.csv")):
        out = validate_entry(dataclasses.replace(_entry(), location=location), conn, suite, date(2026, 11, 28))
        assert out.status == "unreachable" and "not a file inside the folder" in (out.error or "")
        assert out.rows is None and out.result is None
