"""The demo city's nightly pipeline run through the core functions (what the DAGs call), for page tests."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import Engine

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.census import register_sources, run_census
from citygov.patrol import patrol_batch
from citygov.patrol import plan_batches as patrol_batches
from citygov.quality.docs import build_data_docs
from citygov.quality.runner import inspect_batch
from citygov.quality.runner import plan_batches as quality_batches
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file

ROOT = Path(__file__).resolve().parents[2]


def run_demo_pipeline(engine: Engine, city: Path, days: list[date], *, docs: Path | None = None) -> None:
    """Import the catalog, then per day: census, patrol, quality (with scores), dispute routing at 03:00;
    finally Data Docs of the last day into ``docs``."""
    conns = connections_from_file(city / "connections.json")
    import_catalog(engine, city / "catalog.csv")
    dq.record_catalog_rejections(engine)
    register_sources(engine, [(c.conn_id, c.department, "folder" if c.is_folder else "database")
                              for c in conns.values() if c.department])
    for day in days:
        run_census(engine, conns.get, day)
        for batch in patrol_batches(engine, 50):
            patrol_batch(engine, batch, conns.get, day)
        for batch in quality_batches(engine, 50):
            inspect_batch(engine, batch, conns.get, day, suites=ROOT / "expectations")
        dq.route_findings(engine, now=datetime.combine(day, time(3), tzinfo=CITY_TZ))
    if docs is not None:
        build_data_docs(engine, docs, logical_date=days[-1], suites=ROOT / "expectations")
