"""The dispute notifications end to end: the ``dispute_digest`` DAG (``dag.test``) against the demo city's
queue delivers mail to a real local SMTP server (aiosmtpd) and signed webhooks to a local HTTP
receiver that checks the 钉钉 and generic signatures itself; what arrived is scanned for personal
data (``find_unmasked`` and the demo data's own ID and mobile numbers). Also: once per day per recipient,
quiet hours, escalation to the stewards, and a failed task told to the operators."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, time
from pathlib import Path

import pytest

from citygov import disputes as dq
from citygov.catalog.importer import import_catalog
from citygov.census import register_sources, run_census
from citygov.demo import DEFAULT_AS_OF, create_demo_city
from citygov.notify import deliveries
from citygov.patrol import patrol_batch, plan_batches
from citygov.quality.masking import find_unmasked
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_file
from citygov.store import engine_for, session_scope, upgrade
from citygov.store.models_disputes import Dispute
from tests.e2e.conftest import airflow_conn_json, load_dag
from tests.notify_receivers import connections, receivers

pytestmark = pytest.mark.airflow

BASE_URL = "http://gov.test:8091"
MZJ, GAJ, SCJ, RSJ = "连云港市民政局", "连云港市公安局", "连云港市市场监督管理局", "连云港市人力资源和社会保障局"
RIC = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def demo_personal_numbers(city: Path) -> set[str]:
    """Every raw ID number and mobile number in the demo city's department databases."""
    found: set[str] = set()
    for db in (city / "sources").glob("*.db"):
        con = sqlite3.connect(db)
        try:
            for (table,) in con.execute("select name from sqlite_master where type='table'"):
                for row in con.execute(f'select * from "{table}"'):
                    for value in row:
                        if isinstance(value, str):
                            found.update(m.group(1) for m in RIC.finditer(value) if not value.startswith("91"))
                            found.update(m.group(1) for m in MOBILE.finditer(value))
        finally:
            con.close()
    return found


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The demo city's queue routed on its date, a consumer's dispute on a record (an ID number as key, a
    mobile number in the claim), and an item whose title an upstream left unmasked."""
    root = create_demo_city(tmp_path / "city").root
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(url))
    upgrade(url)
    engine = engine_for(url)
    conns = connections_from_file(root / "connections.json")
    import_catalog(engine, root / "catalog.csv")
    register_sources(engine, [(c.conn_id, c.department, "folder" if c.is_folder else "database")
                              for c in conns.values() if c.department])
    run_census(engine, conns.get, DEFAULT_AS_OF)
    for batch in plan_batches(engine, 50):
        patrol_batch(engine, batch, conns.get, DEFAULT_AS_OF)
    dq.route_findings(engine, now=datetime.combine(DEFAULT_AS_OF, time(3), tzinfo=CITY_TZ))

    personal = demo_personal_numbers(root)
    con = sqlite3.connect(root / "sources" / "mzj.db")
    (person,) = con.execute('select sfzhm from "dbdxxx" limit 1').fetchone()
    con.close()
    mobile = sorted(p for p in personal if len(p) == 11)[0]
    monday = datetime(2026, 11, 30, 7, 0, tzinfo=CITY_TZ)
    dq.register_actor(engine, "citizen", "consumer", now=monday)
    raised = dq.raise_dispute(engine, dataset="320700-MZJ-0001", by="citizen", record_key=person,
                              claim=f"my record is wrong, call me on {mobile}", now=monday)
    with session_scope(engine) as session:
        leaked = session.get(Dispute, raised.dispute.id)
        leaked_title = Dispute(**{c: getattr(leaked, c) for c in ("origin", "entry_code", "status", "raised_by",
                                                                 "first_seen", "last_seen", "created_at",
                                                                 "status_changed_at", "stage", "stage_started_at",
                                                                 "due_at", "due_date", "responsible_unit")},
                               fingerprint="f" * 64, title=f"upstream title naming {person} / {mobile}")
        session.add(leaked_title)
    code = {u: c for u, c in engine.connect().exec_driver_sql(
        "select provider, provider_code from catalog_entries").all()}[MZJ]
    yield {"engine": engine, "root": root, "personal": personal, "person": person, "mobile": mobile, "code": code,
           "consumer_id": raised.dispute.id}
    engine.dispose()


def run(dag, when: datetime) -> dict:  # type: ignore[no-untyped-def]
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run = dag.test(run_after=when, logical_date=when)
    with create_session() as session:
        (ti,) = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        assert str(ti.state) == "success", f"{dag.dag_id}.{ti.task_id} ended {ti.state}"
        value = session.query(XComModel.value).filter_by(
            dag_id=dag.dag_id, run_id=dag_run.run_id, task_id=ti.task_id, key="return_value").scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_digest_mail_and_signed_webhooks_masked_once_quiet(city, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    engine = city["engine"]
    with receivers() as got:
        for conn_id, fields in connections(got, city["code"]).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        monkeypatch.setenv("AIRFLOW_VAR_CITYGOV_NOTIFY_ROUTES", json.dumps({
            "units": {GAJ: ["citygov_notify_gaj_ding"], SCJ: ["citygov_notify_scj_wecom"]},
            "quiet_hours": "22:00-07:00", "digest_hour": 8, "base_url": BASE_URL,
        }))
        dag = load_dag("dispute_digest")
        items = {i.id: i for i in dq.list_disputes(engine)}
        by_unit = {u: sorted(i for i, d in items.items() if d.responsible_unit == u) for u in (MZJ, GAJ, SCJ, RSJ)}

        # Monday 08:20: every unit with items and a connection gets its digest; 市场监管局's robot is in its
        # own quiet hours (08:00-09:00), 人社局 has no connection.
        report = run(dag, datetime(2026, 11, 30, 8, 20, tzinfo=CITY_TZ))
        assert {(d["recipient"], d["status"]) for d in report["sent"]} == {
            (f"citygov_notify_{city['code']}", "sent"), ("citygov_notify_gaj_ding", "sent")}
        assert [u["unit"] for u in report["digests"]["unrouted"]] == [RSJ]
        wecom_row = next(d for d in report["digests"]["planned"] if d["recipient"] == "citygov_notify_scj_wecom")
        assert wecom_row["not_before"] == datetime(2026, 11, 30, 9, 0, tzinfo=CITY_TZ).isoformat()

        (mail,) = got.mails
        assert sorted(mail.recipients) == ["mzj-data@city.example", "mzj-head@city.example"]
        assert MZJ in mail.subject and "2026-11-30" in mail.subject
        body = mail.message.get_body(("plain",)).get_content()
        for dispute_id in by_unit[MZJ]:
            assert f"{BASE_URL}/citygov/web/disputes/{dispute_id}" in body
        assert f"{BASE_URL}/citygov/web/disputes/{city['consumer_id']}" in body
        # The accept deadlines (Tuesday) fall within one working day; the consumer's item (raised Monday,
        # due Wednesday) is new.
        due_soon, new = body.split("新增 New")[0], body.split("新增 New")[1]
        assert f"/disputes/{by_unit[MZJ][0]}" in due_soon and f"/disputes/{city['consumer_id']}" in new
        assert not any(f"/disputes/{i}\n" in body for i in by_unit[GAJ] + by_unit[SCJ])

        (ding,) = [p for p in got.posts if p.path == "/robot/send"]
        assert ding.verdict == "ok"  # the receiver's own check of timestamp + "\n" + secret
        assert ding.json()["msgtype"] == "markdown" and GAJ in ding.json()["markdown"]["text"]
        for dispute_id in by_unit[GAJ]:
            assert f"({BASE_URL}/citygov/web/disputes/{dispute_id})" in ding.json()["markdown"]["text"]

        # A second run in the same day (a retry, or the next hour) sends nothing again; at 09:20 the robot's
        # quiet hours are over and its digest goes, once.
        again = run(dag, datetime(2026, 11, 30, 8, 50, tzinfo=CITY_TZ))
        assert again["sent"] == [] and again["digests"]["planned"] == []
        assert {d["recipient"] for d in again["digests"]["already"]} == {
            f"citygov_notify_{city['code']}", "citygov_notify_gaj_ding", "citygov_notify_scj_wecom"}
        later = run(dag, datetime(2026, 11, 30, 9, 20, tzinfo=CITY_TZ))
        assert [(d["recipient"], d["status"]) for d in later["sent"]] == [("citygov_notify_scj_wecom", "sent")]
        (wecom,) = [p for p in got.posts if p.path == "/cgi-bin/webhook/send"]
        content = wecom.json()["markdown"]["content"]
        assert wecom.json()["msgtype"] == "markdown" and len(content.encode()) <= 4096
        assert all(f"{BASE_URL}/citygov/web/disputes/{i}" in content for i in by_unit[SCJ])
        assert len(got.mails) == 1 and len([p for p in got.posts if p.path == "/robot/send"]) == 1

        # The SLA run escalates at the deadline (Wednesday 00:05); the stewards' digest run at 00:20 is in the
        # quiet hours (22:00-07:00): held; at 07:20 it goes, signed, once.
        dq.escalate_overdue(engine, now=datetime(2026, 12, 2, 0, 5, tzinfo=CITY_TZ))
        night = run(dag, datetime(2026, 12, 2, 0, 20, tzinfo=CITY_TZ))
        assert night["sent"] == [] and len(night["escalations"]["planned"]) == 1
        assert not [p for p in got.posts if p.path == "/hooks/citygov"]
        morning = run(dag, datetime(2026, 12, 2, 7, 20, tzinfo=CITY_TZ))
        assert [(d["kind"], d["status"]) for d in morning["sent"]] == [("escalation", "sent")]
        (hook,) = [p for p in got.posts if p.path == "/hooks/citygov"]
        assert hook.verdict == "ok"
        escalated = {i["id"] for i in hook.json()["items"]}
        assert escalated == {i for i, d in items.items() if d.due_date == items[by_unit[MZJ][0]].due_date}
        assert all(i["link"] == f"{BASE_URL}/citygov/web/disputes/{i['id']}" for i in hook.json()["items"])
        assert run(dag, datetime(2026, 12, 2, 7, 50, tzinfo=CITY_TZ))["escalations"]["planned"] == []

        # Masked content only: nothing a PII scan finds, none of the demo data's own numbers, the leaked
        # title's ID and the consumer's mobile arrived masked.
        delivered = got.everything()
        assert find_unmasked(delivered, organisations=False) == []
        assert not [p for p in city["personal"] if p in delivered]
        assert city["person"][:6] + "********" + city["person"][-4:] in body
        assert city["mobile"][:3] + "****" + city["mobile"][-4:] in body

    recorded = deliveries(engine)
    assert sorted((d.kind, d.recipient, d.status) for d in recorded) == sorted([
        ("digest", f"citygov_notify_{city['code']}", "sent"), ("digest", "citygov_notify_gaj_ding", "sent"),
        ("digest", "citygov_notify_scj_wecom", "sent"), ("escalation", "citygov_notify_stewards", "sent")])


FAILING_DAG = """
import pendulum
from airflow.sdk import dag, task

from citygov_airflow import DEFAULT_ARGS


@dag(dag_id="citygov_notify_failing", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Shanghai"),
     default_args=dict(DEFAULT_ARGS, retries=0), tags=["citygov"])
def failing():
    @task
    def breaks() -> None:
        raise RuntimeError("department source refused the row of MOBILE")

    breaks()


failing()
"""


def test_failed_task_told_to_the_operators(city, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A citygov task that fails for good sends the operators one mail (DEFAULT_ARGS' on_failure_callback),
    its error masked."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    mobile = city["mobile"]
    path = tmp_path / "citygov_notify_failing.py"
    path.write_text(FAILING_DAG.replace("MOBILE", mobile), encoding="utf-8")
    bag = DagBag(dag_folder=path, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)  # dag.test runs serialized DAGs; this one is outside the dags folder
    with receivers() as got:
        for conn_id, fields in connections(got, city["code"]).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        bag.dags["citygov_notify_failing"].test(logical_date=datetime(2026, 11, 30, 10, 0, tzinfo=CITY_TZ))
        (mail,) = got.mails
        assert mail.recipients == ["ops@city.example"]
        assert "citygov_notify_failing.breaks" in mail.subject
        text = mail.text()
        assert "RuntimeError: department source refused the row of" in text
        assert mobile not in text and find_unmasked(text, organisations=False) == []
    assert [(d.kind, d.status) for d in deliveries(city["engine"], kind="failure")] == [("failure", "sent")]
