"""The record of notifications on a real store with the local receivers: a refused webhook is retried on
later runs and then given up, a row another run claimed is not sent twice, a dry run records nothing, and
an unrouted unit is reported."""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from citygov.notify import Routes, deliver_due, deliveries, plan_failure, run_digest
from citygov.notify.deliveries import MAX_ATTEMPTS
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo, connections_from_data
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models_notify import NotificationDelivery
from tests.notify_receivers import connections, receivers
from tests.pg import scratch_database

AT = datetime(2026, 11, 30, 10, 0, tzinfo=CITY_TZ)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    with scratch_database("e_notify") if request.param == "postgresql" else nullcontext(
            f"sqlite:///{tmp_path / 'governance.db'}") as url:
        upgrade(url)
        engine = engine_for(url)
        yield engine
        engine.dispose()


def test_refused_webhook_retried_then_failed(engine) -> None:  # type: ignore[no-untyped-def]
    with receivers() as got:
        conns = connections_from_data(connections(got, "X"))
        wrong = conns["citygov_notify_stewards"]
        conns["citygov_notify_operators"] = ConnectionInfo("citygov_notify_operators", "http", host=wrong.host,
                                                           password="not-the-secret")
        routes = Routes()
        plan_failure(engine, conns.get, routes, now=AT, dag_id="d", task_id="t", run_id="r", try_number=1,
                     error="boom", log_url=None)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            (tried,) = deliver_due(engine, conns.get, routes, now=AT + timedelta(minutes=attempt))
            assert tried.attempts == attempt and "HTTP 401" in (tried.error or "")
            assert tried.status == ("failed" if attempt == MAX_ATTEMPTS else "queued")
        assert deliver_due(engine, conns.get, routes, now=AT + timedelta(hours=1)) == []
        assert [p.verdict for p in got.posts] == ["signature mismatch"] * MAX_ATTEMPTS

        # The same failure planned again (a callback run twice) is not planned, nor sent, again.
        again = plan_failure(engine, conns.get, routes, now=AT, dag_id="d", task_id="t", run_id="r", try_number=1,
                             error="boom", log_url=None)
        assert again.planned == [] and len(again.already) == 1


def test_claimed_row_not_sent_twice(engine) -> None:  # type: ignore[no-untyped-def]
    with receivers() as got:
        conns = connections_from_data(connections(got, "X"))
        routes = Routes()
        plan_failure(engine, conns.get, routes, now=AT, dag_id="d", task_id="t", run_id="r", error="boom", log_url=None)
        with session_scope(engine) as session:  # another run took it and died while sending
            session.execute(update(NotificationDelivery).values(status="sending", attempts=1))
        assert deliver_due(engine, conns.get, routes, now=AT) == []
        assert got.mails == []
        assert [d.status for d in deliveries(engine)] == ["sending"]


def test_dry_run_and_unrouted(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from citygov import disputes as dq
    from citygov.catalog.importer import import_catalog
    from citygov.demo import create_demo_city

    city = create_demo_city(tmp_path / "city").root
    import_catalog(engine, city / "catalog.csv")
    dq.register_actor(engine, "citizen", "consumer", now=AT)
    dq.raise_dispute(engine, dataset="320700-MZJ-0002", by="citizen", claim="wrong address", now=AT)
    conns = {"citygov_notify_mz": ConnectionInfo("citygov_notify_mz", "smtp", host="127.0.0.1", port=8325,
                                                 extra={"to": "mz@city.example"})}
    routes = Routes.from_data({"units": {"连云港市民政局": ["citygov_notify_mz"]}, "base_url": "http://gov.test"})
    report = run_digest(engine, conns.get, routes, now=AT + timedelta(hours=1), dry_run=True).to_dict()
    (planned,) = report["digests"]["planned"]
    assert planned["recipient"] == "citygov_notify_mz" and "http://gov.test/citygov/web/disputes/1" in planned["payload"]["text"]
    assert deliveries(engine) == [] and report["sent"] == []

    report = run_digest(engine, conns.get, Routes(), now=AT + timedelta(hours=1), dry_run=True).to_dict()
    assert report["digests"]["planned"] == []
    assert [(u["unit"], u["conn_id"], u["reason"]) for u in report["digests"]["unrouted"]] == [
        ("连云港市民政局", "citygov_notify_11320700140101583P", "connection not defined")]
    assert json.dumps(report, ensure_ascii=False)  # the command's --json output


def test_govern_notify_digest(engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """``govern notify digest`` sends through the connections file, once a day; ``sent`` lists it."""
    from citygov import disputes as dq
    from citygov.catalog.importer import import_catalog
    from citygov.commands import main
    from citygov.demo import create_demo_city

    city = create_demo_city(tmp_path / "city").root
    import_catalog(engine, city / "catalog.csv")
    dq.register_actor(engine, "citizen", "consumer", now=AT)
    raised = dq.raise_dispute(engine, dataset="320700-MZJ-0002", by="citizen", claim="wrong address", now=AT)
    url = engine.url.render_as_string(hide_password=False)
    with receivers() as got:
        conns = tmp_path / "connections.json"
        conns.write_text(json.dumps(connections(got, "11320700140101583P")), encoding="utf-8")
        digest = ["--db", url, "notify", "digest", "--connections", str(conns), "--base-url", "http://gov.test",
                  "--at", "2026-11-30T11:00", "--json"]
        assert main(digest) == 0
        first = json.loads(capsys.readouterr().out)
        assert [(d["kind"], d["status"], d["unit"]) for d in first["sent"]] == [("digest", "sent", "连云港市民政局")]
        (mail,) = got.mails
        assert f"http://gov.test/citygov/web/disputes/{raised.dispute.id}" in mail.message.get_body(("plain",)).get_content()
        assert main(digest) == 0
        assert json.loads(capsys.readouterr().out)["sent"] == [] and len(got.mails) == 1
    assert main(["--db", url, "notify", "sent", "--json"]) == 0
    assert [(d["kind"], d["recipient"], d["status"]) for d in json.loads(capsys.readouterr().out)] == [
        ("digest", "citygov_notify_11320700140101583P", "sent")]
