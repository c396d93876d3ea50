"""Notices to consumers on the demo city after two nights and a backflow ingest (the trace tests' state): the
departments that received the demo's quarantined batch, and those that received a dataset with a
high-severity item, are told once each per item through a real local SMTP server, a signed 钉钉 robot and a
企业微信 robot in its quiet hours; a second run sends nothing; the departments with no route are reported;
what arrived holds no personal data; the item's page shows who was told. Run by ``run_digest``, the entry point of the ``dispute_digest`` DAG and
``govern notify digest``."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citygov import disputes as dq
from citygov.cli import main as govern
from citygov.notify import Routes, deliveries, run_digest
from citygov.quality.masking import find_unmasked
from citygov.settings import CITY_TZ
from citygov.sources import connections_from_data
from citygov.store import session_scope
from citygov.store.models import CatalogEntryRow
from citygov.store.models_disputes import Dispute
from tests.e2e.test_notify_digest import demo_personal_numbers
from tests.notify_receivers import receivers
from tests.store.test_trace import DAY, QUARANTINED, _client, _served, traced  # noqa: F401 (the module's demo city)

BASE_URL = "http://gov.test:8091"
MZJ, RSJ, WJW, GAJ = "连云港市民政局", "连云港市人力资源和社会保障局", "连云港市卫生健康委员会", "连云港市公安局"
AT = datetime.combine(DAY + timedelta(days=1), time(10, 0), tzinfo=CITY_TZ)
"""The morning after the routing run (03:00): inside the 企业微信 robot's quiet hours (09:00-11:00)."""
NOTICE = "数据问题告知"


def _connections(got: Any) -> dict[str, dict[str, Any]]:
    base = f"http://127.0.0.1:{got.http_port}"
    return {
        "citygov_notify_mzj_mail": {"conn_type": "smtp", "host": "127.0.0.1", "port": got.smtp_port,
                                    "extra": {"to": "mzj-data@city.example", "from_email": "citygov@city.example"}},
        "citygov_notify_rsj_ding": {"conn_type": "dingding", "host": f"{base}/robot/send?access_token=ding-token",
                                    "password": got.ding_secret},
        "citygov_notify_wjw_wecom": {"conn_type": "http", "host": f"{base}/cgi-bin/webhook/send?key=wecom-key",
                                     "extra": {"format": "wecom", "quiet_hours": "09:00-11:00"}},
    }


ROUTES = {"units": {MZJ: ["citygov_notify_mzj_mail"], RSJ: ["citygov_notify_rsj_ding"], WJW: ["citygov_notify_wjw_wecom"]},
          "digest_hour": 23, "base_url": BASE_URL}
"""Three receiving departments routed; the digests (from 23:00) stay out of the way."""


def _readers(city: Path, code: str, since: str = "") -> set[str]:
    """The departments the exchange platform's log says were served ``code`` (on or after ``since``)."""
    return {r["requesting_dept"] for r in _served(city) if r["resource_code"] == code and r["satisfied_at"] >= since}


def _plant_unmasked_title(engine: Any, city: Path) -> tuple[str, str]:
    """A high-severity item beside one the routing made (same dataset, so the same receivers) whose title an
    upstream left unmasked: a demo ID number and mobile number."""
    personal = demo_personal_numbers(city)
    person = sorted(p for p in personal if len(p) == 18)[0]
    mobile = sorted(p for p in personal if len(p) == 11)[0]
    with session_scope(engine) as session:
        model = session.scalars(select(Dispute).where(Dispute.severity == "high", Dispute.origin == "patrol",
                                                      Dispute.responsible_unit == RSJ).order_by(Dispute.id)).first()
        assert model is not None
        columns = ("origin", "entry_code", "severity", "status", "raised_by", "first_seen", "last_seen", "created_at",
                   "status_changed_at", "stage", "stage_started_at", "due_at", "due_date", "responsible_unit")
        session.add(Dispute(**{c: getattr(model, c) for c in columns}, fingerprint="c" * 64,
                            title=f"planted: upstream title naming {person} / {mobile}"))
    return person, mobile


def test_receivers_told_once_each_masked(traced: dict[str, Any], tmp_path: Path,  # noqa: F811
                                         capsys: pytest.CaptureFixture[str]) -> None:
    engine, city = traced["engine"], traced["city"]
    person, mobile = _plant_unmasked_title(engine, city)
    items = dq.list_disputes(engine)
    batch_items = sorted(i.id for i in items if i.origin == "backflow" and i.location == QUARANTINED)
    code = next(i.entry_code for i in items if i.id == batch_items[0])
    assert len(batch_items) == 2  # the batch's two quarantined columns
    assert _readers(city, code, f"{DAY - timedelta(days=2)}") == {MZJ, RSJ}  # read while the table held it
    high = [i for i in items if i.severity == "high" and i.origin != "backflow" and i.entry_code]
    wjw_items = sorted(i.id for i in high if WJW in _readers(city, i.entry_code))
    assert wjw_items
    routes = Routes.from_data(ROUTES)

    with receivers() as got:
        conns = connections_from_data(_connections(got))
        first = run_digest(engine, conns.get, routes, now=AT, escalations=False).to_dict()
        assert first["digests"]["planned"] == []
        told = {(n["key"], n["recipient"]) for n in first["consumers"]["planned"]}
        assert told == ({(f"{i}|{MZJ}", "citygov_notify_mzj_mail") for i in batch_items}
                        | {(f"{i}|{RSJ}", "citygov_notify_rsj_ding") for i in batch_items}
                        | {(f"{i}|{WJW}", "citygov_notify_wjw_wecom") for i in wjw_items}
                        | {(f"{i.id}|{RSJ}", "citygov_notify_rsj_ding") for i in high if RSJ in _readers(city, i.entry_code)}
                        | {(f"{i.id}|{MZJ}", "citygov_notify_mzj_mail") for i in high if MZJ in _readers(city, i.entry_code)})
        held = {n["key"] for n in first["consumers"]["planned"] if n["not_before"]}
        assert held == {f"{i}|{WJW}" for i in wjw_items}
        assert sorted((d["recipient"], d["status"]) for d in first["sent"]) == sorted(
            (r, "sent") for k, r in told if not k.endswith(WJW))

        # One mail to 民政局 per quarantined item: which dataset, what was found, the link, when it received it.
        mails = [m for m in got.mails if NOTICE in m.subject]
        assert sorted(int(m.subject.split("#")[1].split()[0]) for m in mails) == batch_items
        received_on = {r["satisfied_at"][:10] for r in _served(city) if r["resource_code"] == code
                       and r["requesting_dept"] == MZJ and r["satisfied_at"] >= f"{DAY - timedelta(days=2)}"}
        for mail in mails:
            assert mail.recipients == ["mzj-data@city.example"]
            body = mail.message.get_body(("plain",)).get_content()
            item_id = int(mail.subject.split("#")[1].split()[0])
            assert code in body and QUARANTINED in body and f"{BASE_URL}/citygov/web/disputes/{item_id}" in body
            assert all(day in body for day in received_on) and MZJ in body
        # 人社局's signed robot: the two batch items (and its high-severity items), each once, signature verified.
        ding = [p for p in got.posts if p.path == "/robot/send"]
        assert all(p.verdict == "ok" for p in ding)
        ding_ids = sorted(json.loads(p.body)["markdown"]["text"].split("[#")[1].split("]")[0] for p in ding)
        assert ding_ids == sorted(k.split("|")[0] for k, r in told if r == "citygov_notify_rsj_ding")
        assert not [p for p in got.posts if p.path == "/cgi-bin/webhook/send"]  # quiet hours

        # Departments that received the data but have no route are reported, each once, with why.
        unrouted = {u["unit"]: u for u in first["consumers"]["unrouted"]}
        receivers_all = set().union(*(_readers(city, i.entry_code) for i in high)) | {MZJ, RSJ}
        assert set(unrouted) == receivers_all - {MZJ, RSJ, WJW} and len(first["consumers"]["unrouted"]) == len(unrouted)
        with session_scope(engine) as session:
            gaj_code = session.scalars(select(CatalogEntryRow.provider_code).where(CatalogEntryRow.provider == GAJ)).first()
        assert unrouted[GAJ] == {"unit": GAJ, "conn_id": f"citygov_notify_{gaj_code}", "reason": "connection not defined"}

        # A second run (the next hour, or a retry) tells nobody again; after the quiet hours the robot's
        # notices go, once.
        again = run_digest(engine, conns.get, routes, now=AT + timedelta(minutes=30), escalations=False).to_dict()
        assert again["consumers"]["planned"] == [] and again["sent"] == []
        assert {(n["key"], n["recipient"]) for n in again["consumers"]["already"]} == told
        later = run_digest(engine, conns.get, routes, now=AT + timedelta(hours=1, minutes=20), escalations=False).to_dict()
        assert sorted(d["key"] for d in later["sent"]) == sorted(held)
        wecom = [p for p in got.posts if p.path == "/cgi-bin/webhook/send"]
        assert len(wecom) == len(wjw_items) and all(p.verdict == "ok" for p in wecom)
        assert all(len(p.json()["markdown"]["content"].encode()) <= 4096 for p in wecom)
        assert run_digest(engine, conns.get, routes, now=AT + timedelta(hours=2), escalations=False).to_dict()["sent"] == []
        assert len([m for m in got.mails if NOTICE in m.subject]) == len(batch_items)
        assert len(got.posts) == len(ding) + len(wjw_items)

        # Masked content only: no identifier a PII scan finds, none of the demo data's own numbers.
        delivered = got.everything()
        assert find_unmasked(delivered, organisations=False) == []
        assert not [p for p in demo_personal_numbers(city) if p in delivered]
        planted = next(p.json()["markdown"]["content"] for p in wecom if "planted" in p.json()["markdown"]["content"])
        assert person[:6] + "********" + person[-4:] in planted and mobile[:3] + "****" + mobile[-4:] in planted

        # The command line: --no-consumers leaves them out, a dry run renders them and records nothing.
        (tmp_path / "conns.json").write_text(json.dumps(_connections(got)), encoding="utf-8")
        (tmp_path / "routes.json").write_text(json.dumps(ROUTES, ensure_ascii=False), encoding="utf-8")
        args = ["--db", traced["url"], "notify", "digest", "--at", (AT + timedelta(hours=3)).isoformat(), "--json",
                "--routes", str(tmp_path / "routes.json"), "--connections", str(tmp_path / "conns.json")]
        recorded = len(deliveries(engine))
        assert govern([*args, "--dry-run"]) == 0
        dry = json.loads(capsys.readouterr().out)
        assert {(n["key"], n["recipient"]) for n in dry["consumers"]["planned"]} == told
        assert all(NOTICE in n["payload"]["subject"] for n in dry["consumers"]["planned"])
        assert govern([*args, "--no-consumers"]) == 0
        assert json.loads(capsys.readouterr().out)["consumers"] == {"planned": [], "already": [], "unrouted": []}
        assert len(deliveries(engine)) == recorded

    recorded = deliveries(engine, kind="consumer_notice")
    assert sorted((d.key, d.recipient, d.status) for d in recorded) == sorted((k, r, "sent") for k, r in told)

    # The item's page (and its receivers.json) shows, beside each department, that it was told.
    client = _client(traced, tmp_path)
    page = client.get(f"/disputes/{batch_items[0]}").text
    for unit, channel in ((MZJ, "email"), (RSJ, "dingtalk")):
        listed = page.split(f'data-requester="{unit}"')[1].split("</li>")[0]
        assert 'class="told" data-status="sent"' in listed and f"({channel})" in listed
    data = client.get(f"/disputes/{batch_items[0]}/receivers.json").json()
    assert {r["requester"]: [(t["recipient"], t["status"]) for t in r["told"]] for r in data["receivers"]} == {
        MZJ: [("citygov_notify_mzj_mail", "sent")], RSJ: [("citygov_notify_rsj_ding", "sent")]}
