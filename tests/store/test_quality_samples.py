"""Failing rows an officer can find: each stored sample has the record's masked key, its value masked by
its kind and the reason in words, whichever engine read the source (fused SQL on SQLite and PostgreSQL,
the file engine on a CSV, GX's own engine); the raw key is stored nowhere.

The key's masked form is the one the dispute queue shows for the same record (:func:`protect`), so an
officer can match a sample with an item and find the row with the record locator.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from citygov.catalog.importer import import_catalog
from citygov.disputes import list_disputes, route_findings
from citygov.disputes.recordkeys import protect
from citygov.findings import load_findings
from citygov.identifiers import make_ric
from citygov.quality.masking import NO_KEY, find_unmasked
from citygov.quality.rules import REASONS
from citygov.quality.runner import inspect_batch
from citygov.quality.suites import write_suite
from citygov.sources import ConnectionInfo
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import CheckResult
from tests.catalog_files import row, write_catalog
from tests.db_text import every_row
from tests.pg import scratch_database

DAY = date(2026, 11, 28)
CODE = "320700-GAJ-0001"
COLUMNS = ["sfzhm", "xm", "csrq", "sjhm", "xzqh", "gxsj"]
GOOD_ID = make_ric("320706", date(1986, 4, 6), 101)
BAD_CHECK = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")
MISMATCH_ID = make_ric("320706", date(1990, 1, 2), 203)
DIVISION_ID = make_ric("320706", date(1971, 7, 7), 305)
MOBILE_ID = make_ric("320706", date(1965, 5, 5), 407)
ROWS = [
    {"sfzhm": GOOD_ID, "xm": "张三", "csrq": "1986-04-06", "sjhm": "13800000001", "xzqh": "320706"},
    {"sfzhm": BAD_CHECK, "xm": "李四", "csrq": "1986-04-06", "sjhm": "13800000002", "xzqh": "320706"},
    {"sfzhm": MISMATCH_ID, "xm": "王五", "csrq": "1990-01-03", "sjhm": "13800000003", "xzqh": "320706"},
    {"sfzhm": DIVISION_ID, "xm": "赵六", "csrq": "1971-07-07", "sjhm": "13800000004", "xzqh": "320708"},
    {"sfzhm": MOBILE_ID, "xm": "钱七", "csrq": "1965-05-05", "sjhm": "12345", "xzqh": "320706"},
]
MASKS = {"sfzhm": "ric", "xm": "name", "csrq": "none", "sjhm": "mobile", "xzqh": "none"}


def _suite() -> Any:
    import great_expectations as gx

    from citygov.quality import expectations as ce

    return gx.ExpectationSuite(
        name=CODE,
        expectations=[
            ce.ExpectColumnValuesToBeValidRic(column="sfzhm"),
            ce.ExpectColumnPairValuesToMatchIdBirthDate(column_A="sfzhm", column_B="csrq"),
            ce.ExpectColumnValuesToBeValidDivisionCode(column="xzqh"),
            ce.ExpectColumnValuesToBeValidMobile(column="sjhm"),
        ],
        meta={"citygov": {"entry_code": CODE, "columns": {c: {"mask": m} for c, m in MASKS.items()}}},
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "csv"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ConnectionInfo, str]]:
    """The resident table in a SQLite database, a PostgreSQL database or a CSV file: (connection, location)."""
    rows = [{**r, "gxsj": DAY.isoformat()} for r in ROWS]
    if request.param == "csv":
        folder = tmp_path / "files"
        folder.mkdir()
        with (folder / "rkjbxx.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        yield ConnectionInfo("dept_gaj", "fs", extra={"path": str(folder)}), "rkjbxx.csv"
        return

    def fill(url: str) -> None:
        engine = sa.create_engine(url)
        table = sa.Table("rkjbxx", sa.MetaData(), *[sa.Column(c, sa.String) for c in COLUMNS])
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), rows)
        engine.dispose()

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gaj.db'}"
        fill(url)
        yield ConnectionInfo("dept_gaj", "sqlite", host=str(tmp_path / "gaj.db")), "rkjbxx"
        return
    with scratch_database("citygov_samples") as url:
        fill(url)
        yield ConnectionInfo("dept_gaj", "generic", host=url), "rkjbxx"


def _inspect(tmp_path: Path, conn: ConnectionInfo, location: str, engine: str, *, key: str = "sfzhm") -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    store = engine_for(url)
    import_catalog(store, write_catalog(tmp_path / "catalog.csv", [row(
        信息项="sfzhm:C;xm:C;csrq:D;sjhm:C;xzqh:C;gxsj:T", 资源位置=location, 主键=key,
    )]))
    write_suite(_suite(), tmp_path / "suites")
    inspect_batch(store, [CODE], {"dept_gaj": conn}.get, DAY, suites=tmp_path / "suites", engine=engine)
    return store


def _samples(store: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    with session_scope(store) as session:
        return {c.expectation: c.masked_samples for c in session.query(CheckResult).filter(CheckResult.success.is_(False))}


def _shown(raw_id: str) -> str:
    """How the dispute queue shows this record's key (its 主键 sfzhm, masked as an ID number)."""
    key = protect(raw_id, kinds=["ric"])
    assert key is not None
    return key.display


@pytest.mark.parametrize("engine", ["stream", "fused", "gx"])
def test_each_failing_row_has_its_masked_key_value_and_reason(
    tmp_path: Path, source: tuple[ConnectionInfo, str], engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYGOV_RECORD_KEY_SECRET", "citygov-test-secret-0123456789")
    conn, location = source
    if engine != "stream" and conn.is_folder:
        pytest.skip("files have one engine (stream)")
    store = _inspect(tmp_path, conn, location, engine)
    samples = _samples(store)
    assert samples["expect_column_values_to_be_valid_ric"] == [
        {"key": _shown(BAD_CHECK), "value": _shown(BAD_CHECK), "reason": REASONS["ric.check_char"]}
    ]
    (pair,) = samples["expect_column_pair_values_to_match_id_birth_date"]
    assert pair["key"] == _shown(MISMATCH_ID)
    assert pair["values"] == {"sfzhm": _shown(MISMATCH_ID), "csrq": "1990-01-03"}  # the birth date by its own kind
    assert pair["reason"].startswith("出生日期与身份证不符") and "1990-01-03" in pair["reason"]
    assert samples["expect_column_values_to_be_valid_division_code"] == [
        {"key": _shown(DIVISION_ID), "value": "320708", "reason": REASONS["division.unknown"]}
    ]
    assert samples["expect_column_values_to_be_valid_mobile"] == [
        {"key": _shown(MOBILE_ID), "value": "*****", "reason": REASONS["mobile.format"]}
    ]
    # the dispute evidence carries the same samples; nothing raw anywhere in the store
    evidence = {f["rule_id"]: f["evidence"] for f in load_findings(store, origin="quality", logical_date=DAY)}
    assert evidence["expect_column_values_to_be_valid_ric"]["samples"] == samples["expect_column_values_to_be_valid_ric"]
    assert all(s["key"] and s["reason"] for e in evidence.values() for s in e["samples"])
    # ... and so does each dispute item the findings open
    route_findings(store, origin="quality", logical_date=DAY)
    items = {d.rule_id: d.latest_evidence for d in list_disputes(store)}
    assert items["expect_column_pair_values_to_match_id_birth_date"]["samples"] == [pair]
    assert all(s["key"] != NO_KEY and s["reason"] for e in items.values() for s in e["samples"])
    text = every_row(store)
    for raw in (BAD_CHECK, MISMATCH_ID, DIVISION_ID, MOBILE_ID, "12345678"):
        assert raw not in text
    assert find_unmasked(text, organisations=False) == []
    store.dispose()


def test_a_source_without_the_key_column_says_so(source: tuple[ConnectionInfo, str]) -> None:
    """A key column the source lacks: the samples say — rather than name a row by a guess."""
    from citygov.quality import engine as qengine

    conn, location = source

    if conn.is_folder:
        result, _ = qengine.validate_file(conn.file(location), _suite(), key_columns=["nope"])
    else:
        from citygov.inventory import source_engine

        engine = source_engine(conn)
        result, _ = qengine.validate_table(engine, location, _suite(), key_columns=["nope"])
        engine.dispose()
    from citygov.quality.masking import mask_suite_result, result_columns, row_samples

    data = mask_suite_result(qengine.result_json(result), MASKS)
    ric = data["results"][0]
    (sample,) = row_samples(ric["result"], result_columns(ric["expectation_config"]["kwargs"]))
    assert sample["key"] == NO_KEY and sample["reason"] == REASONS["ric.check_char"]
    assert BAD_CHECK not in json.dumps(data, ensure_ascii=False)
