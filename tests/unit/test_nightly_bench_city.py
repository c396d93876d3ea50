"""The nightly bench's city (bench/nightly_city.py) at a small size: its catalog imports whole, its suites fit
its clean tables, and the patrol and the quality inspection find exactly the defects it planted, so the
10,000-entry run measures real work (bench/nightly_bench.py; its Celery part runs in ``make bench`` only)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from citygov.catalog.importer import import_catalog
from citygov.demo import DEFAULT_AS_OF
from citygov.findings import load_findings
from citygov.patrol import patrol_batch
from citygov.patrol import plan_batches as patrol_batches
from citygov.quality.runner import inspect_batch
from citygov.quality.runner import plan_batches as quality_batches
from citygov.sources import connections_from_file
from citygov.store import ensure_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nightly_city():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("nightly_city", ROOT / "bench" / "nightly_city.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["nightly_city"] = module
    spec.loader.exec_module(module)
    return module


def test_sixty_departments_with_codes_of_their_own(nightly_city) -> None:  # type: ignore[no-untyped-def]
    depts = nightly_city.bench_departments(60)
    assert len({d.key for d in depts}) == len({d.abbr for d in depts}) == len({d.name for d in depts}) == 60
    with pytest.raises(ValueError, match="1..60"):
        nightly_city.bench_departments(61)


def test_the_chain_finds_exactly_the_planted_defects(nightly_city, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    city = nightly_city.create_bench_city(tmp_path / "city", entries=300, departments=6, engines="sqlite", rows=20)
    # every 50th entry spoiled, the 200th declares a missing column, the 250th has no table, the 300th no entry
    assert (city.entries, city.tables, city.expected) == (299, 299, {"quality": 3, "patrol": 2, "census": 2})
    assert len(list(city.suites_dir.glob("*.json"))) == city.entries
    store = ensure_store(f"sqlite:///{tmp_path}/store.db")
    report = import_catalog(store, city.catalog_path)
    assert not report.rejected and len(report.added) == city.entries
    conns = connections_from_file(city.connections_path)

    for batch in patrol_batches(store, 500):
        patrol_batch(store, batch, conns.get, DEFAULT_AS_OF)
    patrolled = load_findings(store, origin="patrol", logical_date=DEFAULT_AS_OF)
    assert {f["location"] for f in patrolled} == {"tjzb_00200", "xkxx_00250"}

    # The spoiled tables and a clean one of each template: findings on the spoiled ones only, 2 rows each.
    codes = {e for batch in quality_batches(store, 500) for e in batch}
    with store.connect() as conn:
        by_location = dict(conn.execute(text("SELECT location, code FROM catalog_entries")).all())
    spoiled = {"bjjl_00050", "tjzb_00100", "xkxx_00150"}
    clean = {"bjjl_00001", "tjzb_00002", "xkxx_00003"}
    inspect_batch(store, [by_location[loc] for loc in sorted(spoiled | clean)], conns.get, DEFAULT_AS_OF,
                  suites=city.suites_dir)
    found = load_findings(store, origin="quality", logical_date=DEFAULT_AS_OF)
    assert {by_location[loc] for loc in spoiled | clean} <= codes
    assert Counter(f["location"] for f in found) == Counter(spoiled)
    assert {f["evidence"]["unexpected_count"] for f in found} == {2}
