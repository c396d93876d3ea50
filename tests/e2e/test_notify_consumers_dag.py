"""The ``dispute_digest`` DAG (``dag.test``) tells the departments that received the demo's quarantined
backflow batch, once each per item, through a real local SMTP server and a signed 钉钉 robot (free local ports);
a second run sends nothing. The notices' content, quiet hours, unrouted receivers and PII scan are tested on
the core in ``tests/store/test_notify_consumers.py``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from citygov import disputes as dq
from citygov.quality.masking import find_unmasked
from tests.e2e.conftest import airflow_conn_json, load_dag
from tests.e2e.test_notify_digest import run
from tests.notify_receivers import receivers
from tests.store.test_notify_consumers import AT, MZJ, NOTICE, ROUTES, RSJ, _connections
from tests.store.test_trace import QUARANTINED, traced  # noqa: F401 (the module's demo city)

pytestmark = pytest.mark.airflow


def test_dispute_digest_dag_tells_the_batch_receivers_once(traced: dict[str, Any],  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    engine = traced["engine"]
    batch_items = sorted(i.id for i in dq.list_disputes(engine) if i.origin == "backflow" and i.location == QUARANTINED)
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_DB", airflow_conn_json(traced["url"]))
    with receivers() as got:
        for conn_id, fields in _connections(got).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        monkeypatch.setenv("AIRFLOW_VAR_CITYGOV_NOTIFY_ROUTES", json.dumps(ROUTES))
        dag = load_dag("dispute_digest")

        report = run(dag, AT)
        sent = {(d["key"], d["recipient"]) for d in report["sent"] if d["kind"] == "consumer_notice"}
        assert {(f"{i}|{MZJ}", "citygov_notify_mzj_mail") for i in batch_items} <= sent
        assert {(f"{i}|{RSJ}", "citygov_notify_rsj_ding") for i in batch_items} <= sent
        assert all(d["status"] == "sent" for d in report["sent"])
        assert report["consumers"]["unrouted"] and report["counts"]["unrouted"] >= len(report["consumers"]["unrouted"])
        mails = [m for m in got.mails if NOTICE in m.subject]
        assert sorted(int(m.subject.split("#")[1].split()[0]) for m in mails) == batch_items
        assert all(QUARANTINED in m.text() for m in mails)
        ding = [p for p in got.posts if p.path == "/robot/send"]
        assert len(ding) == len([k for k, r in sent if r == "citygov_notify_rsj_ding"])
        assert all(p.verdict == "ok" for p in ding)

        again = run(dag, AT + timedelta(minutes=30))
        assert again["sent"] == [] and again["consumers"]["planned"] == []
        assert len(got.mails) == len(mails) and len([p for p in got.posts if p.path == "/robot/send"]) == len(ding)
        assert find_unmasked(got.everything(), organisations=False) == []
