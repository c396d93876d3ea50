"""The whole nightly chain through Airflow on the demo city: every planted defect ends up as exactly one
dispute item, addressed to the right department.

catalog_sync → public_data_census → catalog_patrol → quality_inspection → provincial_backflow →
dispute_routing, each run with ``dag.test`` for the demo's date, sources and store given as Airflow
connections.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.disputes import export_audit, list_disputes, raise_dispute, register_actor
from citygov.quality.docs import default_docs_dir
from citygov.quality.masking import NO_KEY, find_unmasked
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import engine_for
from tests.db_text import every_row
from tests.e2e.conftest import airflow_conn_json

pytestmark = pytest.mark.airflow

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
CHAIN = [
    "catalog_sync",
    "public_data_census",
    "catalog_patrol",
    "quality_inspection",
    "provincial_backflow",
    "dispute_routing",
]


def test_every_planted_defect_becomes_one_dispute_item(airflow_db, tmp_path: Path, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    city = create_demo_city(tmp_path / "city")
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
    for conn in connections_from_file(city.connections_path).values():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn.conn_id.upper()}", json.dumps(conn.to_airflow_json()))
    monkeypatch.setenv("AIRFLOW_VAR_CITYGOV_CATALOG_FILE", str(city.catalog_path))

    bag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    night = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), CITY_TZ) + timedelta(hours=1, minutes=30)
    for offset, dag_id in enumerate(CHAIN):
        dag = bag.dags[dag_id]
        for task in dag.tasks:
            task.retries = 0
        state = dag.test(logical_date=night + timedelta(minutes=offset)).state
        assert str(state) == "success", dag_id

    rows = list(csv.DictReader(io.StringIO(city.catalog_path.read_bytes().decode("gbk"))))
    provider = {r["信息资源代码"]: r["信息资源提供方"] for r in rows}
    department = {c.conn_id: c.department for c in connections_from_file(city.connections_path).values()}
    defects = json.loads(city.defects_path.read_text(encoding="utf-8"))["defects"]
    expected = Counter(
        (d["entry_code"] if d["kind"] != "uncatalogued_resource" else None,
         d["resource"] if d["kind"] in ("uncatalogued_resource",) else None,
         provider[d["entry_code"]] if d["entry_code"] else department[d["conn_id"]])
        for d in defects
    )

    engine = engine_for(url)
    items = list_disputes(engine)
    found = Counter(
        (i.entry_code, i.location if i.rule_id == "census.uncatalogued" else None, i.responsible_unit)
        for i in items
    )
    engine.dispose()
    assert len(items) == len(defects), sorted((i.origin, i.rule_id or "", i.entry_code or "") for i in items)
    assert found == expected
    assert {i.origin for i in items} == {"catalog", "census", "patrol", "quality", "backflow"}
    assert all(i.status == "待受理" and i.due_at for i in items)

    # 可用不可见: a consumer disputes one resident's record by their ID number (the record key of 人口基本信息);
    # afterwards no raw ID number, mobile number or plate is in the store, the audit exports, Data Docs or
    # the task logs.
    engine = engine_for(url)
    person = next(c for c, n in ((r["信息资源代码"], r["信息资源名称"]) for r in rows) if n == "人口基本信息")
    register_actor(engine, "citizen", "consumer")
    resident = _first_id_number(city.root, person, engine)
    raise_dispute(engine, dataset=person, by="citizen", claim="出生日期有误", record_key=resident)
    printed = capfd.readouterr()
    seen = {
        "store": every_row(engine),
        "export.csv": export_audit(engine, "csv"),
        "export.json": export_audit(engine, "json"),
        "task logs": printed.out + printed.err + _files_text(Path(os.environ["AIRFLOW_HOME"]) / "logs"),
        "data docs": _files_text(default_docs_dir(), skip="/static/vendor/"),  # not data: npm's scripts and fonts
    }
    engine.dispose()
    assert len(seen["data docs"]) > 10_000 and len(seen["task logs"]) > 1_000, {k: len(v) for k, v in seen.items()}
    for where, text in seen.items():
        assert resident not in text, where
        personal = find_unmasked(text, organisations=False)  # the departments' own credit codes are public
        assert personal == [], (where, personal[:5])

    # Failing rows an officer can find: every stored sample and every quality item's evidence names its
    # record by a masked key (— only where the dataset declares no key) and says why in words.
    engine = engine_for(url)
    stored, keyed = _stored_samples(engine)
    quality_items = [i for i in list_disputes(engine) if i.origin == "quality"]
    engine.dispose()
    assert stored and quality_items
    for code, sample in stored:
        assert sample["reason"] and (sample["key"] != NO_KEY) == keyed[code], (code, sample)
    evidenced = [(i, s) for i in quality_items for s in i.latest_evidence.get("samples") or []]
    assert evidenced  # (table-level rules, e.g. a row count, have no rows to show)
    for item, sample in evidenced:
        assert sample["reason"] and (sample["key"] != NO_KEY) == keyed[item.entry_code], (item.id, sample)


def _stored_samples(engine) -> tuple[list[tuple[str, dict]], dict[str, bool]]:  # type: ignore[no-untyped-def]
    """(entry code, sample) of every failing check result, and whether each entry declares a 主键."""
    import sqlalchemy as sa

    from citygov.store.models import CatalogEntryRow, CheckResult, QualityRun

    with engine.connect() as conn:
        keyed = {code: bool(pk) for code, pk in conn.execute(sa.select(CatalogEntryRow.code, CatalogEntryRow.primary_key))}
        rows = conn.execute(
            sa.select(QualityRun.entry_code, CheckResult.masked_samples)
            .join(QualityRun, CheckResult.run_id == QualityRun.id).where(CheckResult.success.is_(False))
        ).all()
    return [(code, s) for code, samples in rows for s in samples or []], keyed


def _first_id_number(root: Path, code: str, engine) -> str:  # type: ignore[no-untyped-def]
    """A real resident's ID number from the population source (the first row of the entry's table)."""
    import sqlalchemy as sa

    from citygov.store.models import CatalogEntryRow

    with engine.connect() as conn:
        entry = conn.execute(sa.select(CatalogEntryRow.conn_id, CatalogEntryRow.location, CatalogEntryRow.primary_key)
                             .where(CatalogEntryRow.code == code)).one()
    conn_info = connections_from_file(root / "connections.json")[entry.conn_id]
    source = sa.create_engine(conn_info.sqlalchemy_url())
    with source.connect() as conn:
        value = conn.execute(sa.text(f'SELECT "{entry.primary_key[0]}" FROM "{entry.location}" LIMIT 1')).scalar_one()
    source.dispose()
    return str(value)


def _files_text(folder: Path, skip: str | None = None) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*"))
                     if p.is_file() and not (skip and skip in p.as_posix()))
