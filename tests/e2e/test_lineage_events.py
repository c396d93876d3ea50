"""OpenLineage events of the nightly chain, sent over HTTP to a local receiver (what Marquez, DataHub or
OpenMetadata would be): the graph they form is the pipeline's lineage.

The demo city, its province served over HTTP (``tests.fake_province``) into an empty landing folder, and the
whole chain (``make demo``'s PIPELINE_DAGS) run by ``scripts/run_dags.py`` in its own process with Airflow's
OpenLineage provider configured for the HTTP transport (``AIRFLOW__OPENLINEAGE__TRANSPORT``) and the citygov
extractor. The events must say: each inspected source table (by its real namespace, with its 信息项 as
schema and the day's assertions) → the inspection; province API → landing folder → the backflow target
table (rows loaded, batch ids); the share log → the share trace; and no personal data in clear anywhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citygov.backflow import list_batches
from citygov.catalog.queries import load_entries
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.quality.masking import find_unmasked
from citygov.sources import connections_from_file
from citygov.store import engine_for, session_scope
from citygov.store.models import CheckResult, QualityRun, ShareTrace
from tests.e2e.conftest import airflow_conn_json
from tests.fake_province import FakeProvince

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "scripts" / "run_dags.py"
QUARANTINED = "JSDSJ-20261126-002"


def _pipeline_dags() -> list[str]:
    """The chain exactly as ``make demo`` runs it (the Makefile's PIPELINE_DAGS)."""
    line = next(x for x in (ROOT / "Makefile").read_text().splitlines() if x.startswith("PIPELINE_DAGS :="))
    return line.split(":=", 1)[1].split()


class _Receiver(BaseHTTPRequestHandler):
    events: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Receiver.events.append(json.loads(body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The receiver's port (a free one) and the events it got."""
    _Receiver.events = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], _Receiver.events
    finally:
        server.shutdown()
        server.server_close()


def test_the_nightly_chain_emits_the_lineage_graph(receiver: tuple[int, list[dict[str, Any]]], tmp_path: Path) -> None:
    port, events = receiver
    city = create_demo_city(tmp_path / "city")
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    conns = connections_from_file(city.connections_path)
    landing = city.root / "pulled"
    home = tmp_path / "home"
    home.mkdir()
    with FakeProvince() as province:
        province.add_landing(city.root / "landing")
        api = {"conn_type": "http", "host": "127.0.0.1", "schema": "http", "port": province.port,
               "extra": {"base_path": "api", "timeout": 5, "attempts": 2, "backoff": 0.01}}
        env = {
            **os.environ, "AIRFLOW_HOME": str(home),  # CITYGOV_HOME stays: the checkout's suites
            "AIRFLOW_CONN_GOVERNANCE_DB": airflow_conn_json(url),
            **{f"AIRFLOW_CONN_{c.conn_id.upper()}": json.dumps(c.to_airflow_json()) for c in conns.values()},
            "AIRFLOW_CONN_BACKFLOW_LANDING": json.dumps({"conn_type": "fs", "extra": {"path": str(landing)}}),
            "AIRFLOW_CONN_PROVINCE_BACKFLOW_API": json.dumps(api),
            "AIRFLOW_VAR_CITYGOV_CATALOG_FILE": str(city.catalog_path),
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "http", "url": f"http://127.0.0.1:{port}", "endpoint": "api/v1/lineage"}),
            "AIRFLOW__OPENLINEAGE__EXTRACTORS": "citygov_airflow.lineage.CitygovExtractor",
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "citygov",
        }
        done = subprocess.run([sys.executable, str(RUNNER), DEFAULT_AS_OF.isoformat(), *_pipeline_dags()],
                              env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    complete = [e for e in events if e.get("eventType") == "COMPLETE" and "." in e["job"]["name"]]
    by_job: dict[str, list[dict[str, Any]]] = {}
    for e in complete:  # DAG id and task id, without the task groups (sources_0. ...) between them
        parts = e["job"]["name"].split(".")
        by_job.setdefault(f"{parts[0]}.{parts[-1]}", []).append(e)
    assert {"quality_inspection.inspect_batch", "provincial_backflow.pull_from_province",
            "provincial_backflow.ingest_batches", "share_trace.import_shares", "catalog_sync.import_catalog_file",
            "public_data_census.inventory_source", "catalog_patrol.patrol_batch",
            "dispute_routing.route_findings"} <= set(by_job), sorted(by_job)
    # No personal data in clear in any event: assertions carry names and counts, never values.
    text = json.dumps(events, ensure_ascii=False)
    assert find_unmasked(text, organisations=False) == []

    store = engine_for(url)
    entries = {e.code: e for e in load_entries(store)}
    with session_scope(store) as session:
        runs = {r.entry_code: r for r in session.scalars(select(QualityRun).where(QualityRun.logical_date == DEFAULT_AS_OF))}
        checks = {r.entry_code: session.scalars(select(CheckResult).where(CheckResult.run_id == r.id)).all()
                  for r in runs.values()}
        shares = session.scalar(select(ShareTrace.request_id).limit(1))
    batches = {b["batch_id"]: b for b in list_batches(store)}
    store.dispose()

    # Source tables → inspection: every inspected dataset is an input, named in its source's namespace, with
    # its 信息项 as schema and one assertion per stored expectation result.
    inputs = {(d["namespace"], d["name"]): d for e in by_job["quality_inspection.inspect_batch"] for d in e["inputs"]}
    assert len(inputs) == len(runs)
    gaj = conns["dept_gaj"]
    person = entries["320700-GAJ-0001"]
    ds = inputs[(f"sqlite://{Path(gaj.host).resolve()}", person.location)]
    assert [f["name"] for f in ds["facets"]["schema"]["fields"]] == [c.name for c in person.columns]
    assertions = ds["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert len(assertions) == len(checks[person.code]) and any(not a["success"] for a in assertions)
    assert {a["assertion"] for a in assertions} == {c.expectation for c in checks[person.code]}
    folder_inputs = [k for k in inputs if k[0] == "file"]
    assert folder_inputs and all(Path(name).is_file() for _, name in folder_inputs)
    outputs = {d["name"] for e in by_job["quality_inspection.inspect_batch"] for d in e["outputs"]}
    assert "quality_runs" in outputs

    # Province API → landing → backflow target, with the rows loaded and the batch ids.
    (pull,) = by_job["provincial_backflow.pull_from_province"]
    base = f"http://127.0.0.1:{province.port}/api"
    assert {d["name"] for d in pull["inputs"] if d["namespace"] == base} == {f"batches/{b}" for b in province.batches}
    landed = {d["name"] for d in pull["outputs"]}
    assert landed == {str(landing.resolve() / p.name) for p in landing.iterdir()} and landed
    (ingest,) = by_job["provincial_backflow.ingest_batches"]
    assert {d["name"] for d in ingest["inputs"]} >= landed
    sdsj = f"sqlite://{Path(conns['dept_sdsj'].host).resolve()}"
    targets = {d["name"]: d for d in ingest["outputs"] if d["namespace"] == sdsj}
    insured = targets["hl_sbcbxx"]
    loaded = [b for b in batches.values() if b["status"] == "loaded" and b["resource_code"] == "320700-SDSJ-0002"]
    assert insured["outputFacets"]["outputStatistics"]["rowCount"] == sum(b["reconciliation"]["loaded"] for b in loaded) > 0
    fed = {b["batchId"]: b for b in insured["facets"]["citygov_backflowBatch"]["batches"]}
    assert set(fed) == {b["batch_id"] for b in loaded} and fed[QUARANTINED]["quarantinedRows"] == 2
    assert targets["backflow_quarantine"]["outputFacets"]["outputStatistics"]["rowCount"] >= 2

    # The share log → the share trace.
    (trace,) = by_job["share_trace.import_shares"]
    assert [d["name"] for d in trace["inputs"]] == ["share_requests"] and shares
    assert re.match(r"sqlite://.*exchange\.db$", trace["inputs"][0]["namespace"])
