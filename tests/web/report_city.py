"""The demo city's store as a leader's pages see it after a month: two nights of the pipeline, the
province's backflow batches ingested, a second catalog import (one entry changed, one withdrawn) and
dispute items handled in November (one late, one on time)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from citygov import disputes as dq
from citygov.backflow import ingest_landing
from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import engine_for, upgrade
from tests.web.pipeline import run_demo_pipeline

DAY = DEFAULT_AS_OF
MONTH = DAY.strftime("%Y-%m")
UNIT = "连云港市公安局"
DATASET = "320700-GAJ-0001"
CHANGED = "320700-GAJ-0001"
"""The entry the second import changes (更新周期 每日 → 每周)."""


def _at(day: int, hour: int) -> datetime:
    return datetime(DAY.year, DAY.month, day, hour, tzinfo=CITY_TZ)


def build_report_city(tmp: Path) -> dict[str, Any]:
    """Build it under ``tmp``; the keys of ``tests.web.test_pages_browser``'s ``city_store`` plus
    ``withdrawn`` (the entry the second import withdrew) and ``handled`` (ids resolved in the month)."""
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    run_demo_pipeline(engine, city, [DAY - timedelta(days=1), DAY])  # no Data Docs: these pages do not link them
    conns = connections_from_file(city / "connections.json")
    target = create_engine(conns["dept_sdsj"].sqlalchemy_url())
    try:
        ingest_landing(engine, target, conns["backflow_landing"].folder())
    finally:
        target.dispose()

    rows = list(csv.reader(io.StringIO((city / "catalog.csv").read_bytes().decode("gbk"))))
    cycle, code = rows[0].index("更新周期"), rows[0].index("信息资源代码")
    changed = next(r for r in rows[1:] if r[code] == CHANGED)
    changed[cycle] = "每周" if changed[cycle] != "每周" else "每月"
    withdrawn = rows[-1][code]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows[:-1])
    (tmp / "catalog_v2.csv").write_text(buffer.getvalue(), encoding="utf-8-sig")
    import_catalog(engine, tmp / "catalog_v2.csv", source_label="steward")

    dq.register_actor(engine, "admin", "steward", display_name="Airflow admin (steward)")
    dq.register_actor(engine, "officer", "officer", department=UNIT)
    dq.register_actor(engine, "citizen", "consumer")
    # Raised on 2 November, accepted the next day, corrected weeks later: handled late.
    late = dq.raise_dispute(engine, dataset=DATASET, by="citizen", claim="户籍地址与实际不符", now=_at(2, 10)).dispute.id
    dq.transition(engine, late, "已受理", by="admin", note="受理", now=_at(3, 9))
    dq.transition(engine, late, "核实中", by="officer", note="核实", now=_at(20, 9))
    dq.transition(engine, late, "已更正", by="officer", note="已更正地址", now=_at(25, 16))
    # One of the pipeline's items of the unit, accepted and corrected on the day: on time.
    routed = next(d.id for d in dq.list_disputes(engine, department=UNIT, status="待受理"))
    dq.transition(engine, routed, "已受理", by="admin", note="受理", now=_at(DAY.day, 9))
    dq.transition(engine, routed, "核实中", by="officer", note="核实", now=_at(DAY.day, 10))
    dq.transition(engine, routed, "已更正", by="officer", note="已更正", now=_at(DAY.day, 11))
    engine.dispose()
    return {"url": url, "city": city, "data": tmp / "data", "connections": city / "connections.json",
            "suites": Path(__file__).resolve().parents[2] / "expectations", "withdrawn": withdrawn,
            "handled": {late, routed}, "conns": json.loads((city / "connections.json").read_text(encoding="utf-8"))}
