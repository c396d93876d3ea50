"""The pipeline's own objects in a department source are not the department's resources (issue 16, item 2).

A backflow store registered as a census source holds the loader's bookkeeping tables and an uncatalogued
table carrying the lineage column: the census lists neither bookkeeping table (no 应编未编, not in the
coverage), and its draft row for the uncatalogued table has no ``_batch_id`` 信息项.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from citygov.census import draft_rows, register_sources, run_census
from citygov.findings import load_findings
from citygov.sources import ConnectionInfo
from citygov.system_objects import (
    BACKFLOW_LOADS,
    BACKFLOW_QUARANTINE,
    LINEAGE_COLUMN,
    is_system_column,
    is_system_table,
)

DAY = date(2026, 11, 28)


def test_system_names_are_declared_once_and_match_what_the_loader_uses() -> None:
    from citygov.backflow import target

    assert (target.LOADS_TABLE, target.QUARANTINE_TABLE, target.LINEAGE_COLUMN) == (BACKFLOW_LOADS, BACKFLOW_QUARANTINE, LINEAGE_COLUMN)
    assert {target.loads_table.name, target.quarantine_table.name} <= {BACKFLOW_LOADS, BACKFLOW_QUARANTINE}
    assert is_system_table("BACKFLOW_LOADS") and is_system_column("_batch_id") and not is_system_table("hl_qydjxx")


def test_the_census_skips_the_pipelines_tables_and_drafts_without_the_lineage_column(store: Engine, tmp_path: Path) -> None:
    source = tmp_path / "sdsj.db"
    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        for ddl in (
            f"CREATE TABLE {BACKFLOW_LOADS} (batch_id TEXT PRIMARY KEY)",
            f"CREATE TABLE {BACKFLOW_QUARANTINE} (id INTEGER PRIMARY KEY, record TEXT)",
            f'CREATE TABLE hl_new (qymc TEXT, "{LINEAGE_COLUMN}" TEXT)',
        ):
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("INSERT INTO hl_new VALUES ('连云港某某公司', 'JSDSJ-20261128-003')")
    engine.dispose()
    conn_info = ConnectionInfo("dept_sdsj", "sqlite", host=str(source), extra={"citygov_department": "江苏省大数据管理中心"})
    register_sources(store, [("dept_sdsj", "江苏省大数据管理中心", "database")])
    report = run_census(store, {"dept_sdsj": conn_info}.get, DAY)
    assert [r.location for _, r in report.resources] == ["hl_new"]
    assert [f["location"] for f in load_findings(store, origin="census")] == ["hl_new"]  # 应编未编: only the real table
    (row,) = draft_rows(store)
    assert row["资源位置"] == "hl_new" and row["信息项"] == "qymc:C"
