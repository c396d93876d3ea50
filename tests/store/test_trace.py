"""The sharing trace on the demo city: every served share of the exchange platform's log imported exactly
once with the dataset's grade when served; ``govern trace dataset`` and ``govern trace batch`` answer from it;
the departments to tell about a problem are the ones served since the last good state."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from citygov import disputes as dq
from citygov.backflow import ingest_landing
from citygov.cli import main as govern
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.quality.scores import rescore_stale
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo, connections_from_file
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models import DatasetScore, ShareTrace
from citygov.trace import day_end, import_share_log, receivers_to_notify
from tests.web.pipeline import run_demo_pipeline

DAY = DEFAULT_AS_OF
QUARANTINED = f"JSDSJ-{DAY - timedelta(days=2):%Y%m%d}-002"
"""The demo's batch with two quarantined rows (社会保险参保信息, incremental)."""
CORRUPT = f"JSDSJ-{DAY:%Y%m%d}-002"
"""The demo's batch rejected for a sha256 mismatch: it fed nothing."""


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo city after two nights (census, patrol, quality, backflow, routing) with its log imported."""
    tmp = tmp_path_factory.mktemp("trace")
    city = create_demo_city(tmp / "city").root
    url = f"sqlite:///{tmp / 'governance.db'}"
    upgrade(url)
    engine = engine_for(url)
    conns = connections_from_file(city / "connections.json")
    run_demo_pipeline(engine, city, [DAY - timedelta(days=1), DAY])
    target = create_engine(conns["dept_sdsj"].sqlalchemy_url())  # writable, as the DAG opens it
    try:
        ingest_landing(engine, target, Path(conns["backflow_landing"].extra["path"]))
    finally:
        target.dispose()
    dq.route_findings(engine, now=datetime.combine(DAY + timedelta(days=1), time(3), tzinfo=CITY_TZ))
    rescore_stale(engine)
    first = import_share_log(engine, conns["exchange_platform"], day_end(DAY))
    yield {"engine": engine, "url": url, "city": city, "conns": conns, "first": first}
    engine.dispose()


def _log(city: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(city / "exchange.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM share_requests")]


def _served(city: Path) -> list[dict[str, Any]]:
    return [r for r in _log(city) if r["status"] == "已满足" and r["satisfied_at"]]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = govern(list(args))
    out = capsys.readouterr().out
    return code, (json.loads(out) if "--json" in args and code == 0 else out)


def test_every_served_share_is_imported_once_with_the_grade_it_was_served_at(traced: dict[str, Any]) -> None:
    engine, city = traced["engine"], traced["city"]
    served = _served(city)
    assert traced["first"].error is None
    assert sorted(traced["first"].imported) == sorted(r["request_id"] for r in served)
    with session_scope(engine) as session:
        rows = {s.request_id: s for s in session.scalars(select(ShareTrace))}
        scores = {(s.entry_code, s.logical_date): s for s in session.scalars(select(DatasetScore))}
    assert set(rows) == {r["request_id"] for r in served}  # refused, pending, timed out: nothing was served
    for r in served:
        share = rows[r["request_id"]]
        assert (share.entry_code, share.requester, share.purpose) == (r["resource_code"], r["requesting_dept"], r["purpose"])
        day = datetime.fromisoformat(r["satisfied_at"]).date()
        assert share.served_on == day
        known = sorted(d for (code, d) in scores if code == share.entry_code and d <= day)
        if not known:  # served before the pipeline first scored it
            assert (share.score_status, share.score, share.grade) == ("none", None, None)
        else:
            then = scores[share.entry_code, known[-1]]
            assert (share.scored_on, share.score, share.grade) == (known[-1], then.score, then.grade)
    recent = [s for s in rows.values() if s.served_on >= DAY - timedelta(days=1)]
    assert len(recent) == 8 and all(s.grade for s in recent)
    # the catalog's 共享方式 where the log has none
    assert all(s.share_method for s in recent)


def test_import_is_incremental_and_exactly_once(traced: dict[str, Any], tmp_path: Path) -> None:
    engine, conns = traced["engine"], traced["conns"]
    again = import_share_log(engine, conns["exchange_platform"], day_end(DAY))
    assert again.imported == [] and again.since is not None and again.already == again.read > 0
    assert again.read < len(_served(traced["city"]))  # only the window after the newest traced share
    whole = import_share_log(engine, conns["exchange_platform"], day_end(DAY), full=True)
    assert whole.imported == [] and whole.already == len(_served(traced["city"]))
    # A request served the next day is taken by the next import, once; an import up to a day takes nothing later.
    log = tmp_path / "exchange.db"
    log.write_bytes((traced["city"] / "exchange.db").read_bytes())
    with sqlite3.connect(log) as db:
        db.execute("INSERT INTO share_requests VALUES ('GX-NEXT-1', '连云港市民政局', '320700-GAJ-0001', "
                   "'2026-11-29 09:00:00', '2026-12-06 17:30:00', '已满足', '2026-11-29 10:00:00', NULL, '核验')")
    copy = ConnectionInfo("exchange_platform", "sqlite", host=str(log))
    assert import_share_log(engine, copy, day_end(DAY)).imported == []
    assert import_share_log(engine, copy, day_end(DAY + timedelta(days=1))).imported == ["GX-NEXT-1"]
    assert import_share_log(engine, copy, day_end(DAY + timedelta(days=1))).imported == []
    with session_scope(engine) as session:
        share = session.get(ShareTrace, "GX-NEXT-1")
        session.delete(share)  # leave the module's trace as the demo's log made it
    assert share.scored_on == DAY and share.grade


def test_an_unreadable_log_is_reported_not_raised(traced: dict[str, Any], tmp_path: Path) -> None:
    missing = ConnectionInfo("exchange_platform", "sqlite", host=str(tmp_path / "nothing.db"),
                             extra={"table": "no_such_table"})
    result = import_share_log(traced["engine"], missing, day_end(DAY))
    assert result.error and "no_such_table" in result.error and result.imported == []


def test_trace_dataset_lists_every_share_of_the_log_with_its_grade(traced: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code = "320700-GAJ-0001"
    code_rc, data = _cli(capsys, "--db", traced["url"], "trace", "dataset", code, "--json")
    assert code_rc == 0
    in_log = sorted(r["request_id"] for r in _served(traced["city"]) if r["resource_code"] == code)
    assert sorted(s["request_id"] for s in data["shares"]) == in_log and len(in_log) >= 2
    assert data["origin"]["kind"] == "department" and data["origin"]["conn_id"] == "dept_gaj"
    with session_scope(traced["engine"]) as session:
        today = session.scalars(select(DatasetScore).where(DatasetScore.entry_code == code,
                                                           DatasetScore.logical_date == DAY)).one()
    (last,) = [s for s in data["shares"] if s["served_on"] == DAY.isoformat()]
    assert (last["grade"], last["score"]) == (today.grade, today.score)
    assert {r["requester"] for r in data["receivers"]} == {s["requester"] for s in data["shares"]}
    # a window of served days
    code_rc, window = _cli(capsys, "--db", traced["url"], "trace", "dataset", code, "--from", DAY.isoformat(),
                           "--to", DAY.isoformat(), "--json")
    assert [s["request_id"] for s in window["shares"]] == [last["request_id"]]
    assert govern(["--db", traced["url"], "trace", "dataset", "320700-NONE-9999"]) == 2
    assert govern(["--db", traced["url"], "trace", "dataset", code, "--from", "2026-12-01", "--to", "2026-11-01"]) == 2
    capsys.readouterr()


def test_trace_batch_lists_the_table_it_fed_and_its_later_readers(traced: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = _cli(capsys, "--db", traced["url"], "trace", "batch", QUARANTINED, "--json")
    assert rc == 0
    code = data["batch"]["resource_code"]
    (fed,) = data["fed"]
    assert (fed["conn_id"], fed["table"], fed["rows_quarantined"]) == ("dept_sdsj", "hl_sbcbxx", 2)
    assert fed["rows_loaded"] == data["batch"]["reconciliation"]["loaded"] > 0
    assert {q["column"] for q in data["quarantine"]} == {"sfzhm", "cbdq"}
    assert all(q["dispute_id"] for q in data["quarantine"])
    later = sorted(r["request_id"] for r in _served(traced["city"])
                   if r["resource_code"] == code and r["satisfied_at"] >= f"{DAY - timedelta(days=2)}")
    assert sorted(s["request_id"] for s in data["readers"]) == later and len(later) == 2
    assert all(QUARANTINED in s["batches"] for s in data["readers"])
    rc, rejected = _cli(capsys, "--db", traced["url"], "trace", "batch", CORRUPT, "--json")
    assert rejected["batch"]["status"] == "rejected" and rejected["fed"] == [] and rejected["readers"] == []
    rc, text = _cli(capsys, "--db", traced["url"], "trace", "batch", QUARANTINED)
    assert "fed dept_sdsj/hl_sbcbxx" in text and "quarantined" in text
    assert govern(["--db", traced["url"], "trace", "batch", "JSDSJ-NOPE"]) == 2
    capsys.readouterr()


def test_receivers_to_notify(traced: dict[str, Any]) -> None:
    engine = traced["engine"]
    code = "320700-SDSJ-0002"
    notice = receivers_to_notify(engine, code, first_seen=DAY - timedelta(days=2), batch_id=QUARANTINED)
    served = [r for r in _served(traced["city"]) if r["resource_code"] == code and r["satisfied_at"] >= f"{DAY - timedelta(days=2)}"]
    assert {r["requester"] for r in notice["receivers"]} == {r["requesting_dept"] for r in served}
    # a problem first seen today, with no earlier good state: everyone served since the first share
    everyone = receivers_to_notify(engine, "320700-GAJ-0001", first_seen=DAY)
    log = {r["requesting_dept"] for r in _served(traced["city"]) if r["resource_code"] == "320700-GAJ-0001"}
    assert {r["requester"] for r in everyone["receivers"]} <= log and everyone["receivers"]


def _client(traced: dict[str, Any], tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from citygov_web.app import create_app
    from citygov_web.auth import PageUser

    app = create_app(lambda: traced["engine"], lambda _conn_id: None, lambda: tmp_path)
    app.dependency_overrides[app.state.page_user] = lambda: PageUser("admin", True)
    return TestClient(app)


def test_trace_page_draws_the_graph_and_every_share_with_its_grade(traced: dict[str, Any], tmp_path: Path) -> None:
    import re

    client = _client(traced, tmp_path)
    code = "320700-SDSJ-0002"
    page = client.get(f"/datasets/{code}/trace")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and 'data-node="province"' in html and 'data-node="landing"' in html
    assert html.count('data-node="receiver"') == len({r["requesting_dept"] for r in _served(traced["city"])
                                                      if r["resource_code"] == code})
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from elsewhere
    rows = re.findall(r'<tr data-request="([^"]+)">', html)
    assert sorted(rows) == sorted(r["request_id"] for r in _served(traced["city"]) if r["resource_code"] == code)
    assert QUARANTINED in html
    assert client.get(f"/datasets/{code}/trace.json").json()["code"] == code
    assert client.get("/datasets/320700-NONE-9999/trace").status_code == 404
    assert client.get(f"/datasets/{code}/trace?from=2026-13-01").status_code == 422
    assert client.get(f"/batches/{QUARANTINED}/trace.json").json()["fed"][0]["table"] == "hl_sbcbxx"
    assert 'id="trace-link"' in client.get(f"/datasets/{code}").text


def test_dispute_items_list_the_departments_that_received_the_data(traced: dict[str, Any], tmp_path: Path) -> None:
    client = _client(traced, tmp_path)
    items = dq.list_disputes(traced["engine"])
    quarantined = next(i for i in items if i.origin == "backflow" and i.location == QUARANTINED)
    html = client.get(f"/disputes/{quarantined.id}").text
    readers = {r["requesting_dept"] for r in _served(traced["city"]) if r["resource_code"] == quarantined.entry_code
               and r["satisfied_at"] >= f"{DAY - timedelta(days=2)}"}
    assert 'id="share-notice"' in html and readers and all(f'data-requester="{r}"' in html for r in readers)
    quiet = next(i for i in items if i.severity != "high" and i.origin != "backflow")
    assert 'id="share-notice"' not in client.get(f"/disputes/{quiet.id}").text
    data = client.get(f"/disputes/{quarantined.id}/receivers.json").json()
    assert {r["requester"] for r in data["receivers"]} == readers and QUARANTINED in data["basis"]
    assert client.get(f"/disputes/{quiet.id}/receivers.json").json() is None
    assert client.get("/disputes/999999/receivers.json").status_code == 404
    assert client.get(f"/disputes/{2**70}/receivers.json").status_code in (404, 422)
