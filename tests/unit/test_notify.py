"""The notification core without a network: settings, quiet hours, channels from connections, the robots'
bodies and signing, masking of what is rendered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import datetime, timedelta

import pytest

from citygov.notify.channels import (
    DINGTALK,
    EMAIL,
    WEBHOOK,
    WECOM,
    ChannelError,
    channel_from_connection,
    dingtalk_url,
    email_message,
    request_body,
    webhook_signature,
)
from citygov.notify.messages import DigestItem, UnmaskedContent, digest_payload, failure_payload, seal
from citygov.notify.routes import QuietHours, Routes, SettingsError
from citygov.quality.masking import find_unmasked
from citygov.settings import CITY_TZ
from citygov.sources import ConnectionInfo

RIC, MOBILE = "320722196810096007", "13812345678"


@pytest.mark.parametrize(
    ("window", "at", "release"),
    [
        ("22:00-07:30", (23, 10), (1, 7, 30)),  # past midnight: released the next morning
        ("22:00-07:30", (3, 0), (0, 7, 30)),
        ("22:00-07:30", (7, 30), None),  # the end is outside
        ("22:00-07:30", (12, 0), None),
        ("12:00-13:00", (12, 59), (0, 13, 0)),
        ("12:00-13:00", (11, 59), None),
        ("00:00-00:00", (5, 0), None),  # an empty window holds nothing
    ],
)
def test_quiet_hours(window: str, at: tuple[int, int], release: tuple[int, int, int] | None) -> None:
    moment = datetime(2026, 11, 30, *at, tzinfo=CITY_TZ)
    got = QuietHours.parse(window).release(moment)  # type: ignore[union-attr]
    if release is None:
        assert got is None
    else:
        days, hour, minute = release
        assert got == datetime(2026, 11, 30, hour, minute, tzinfo=CITY_TZ) + timedelta(days=days)


@pytest.mark.parametrize("bad", ["22-07", "25:00-07:00", "22:00-07:61", "late"])
def test_quiet_hours_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="quiet_hours"):
        QuietHours.parse(bad)


def test_routes() -> None:
    routes = Routes.from_text(json.dumps({"units": {"民政局": "citygov_notify_mz"}, "digest_hour": 9,
                                          "base_url": "https://gov.example/"}))
    assert routes.unit_connections("民政局", "X1") == ["citygov_notify_mz"]
    assert routes.unit_connections("公安局", "11320700140101583P") == ["citygov_notify_11320700140101583P"]
    assert routes.unit_connections("公安局", None) == []
    assert routes.stewards == ["citygov_notify_stewards"] and routes.operators == ["citygov_notify_operators"]
    assert routes.link(12) == "https://gov.example/citygov/web/disputes/12"
    assert Routes.from_text("") == Routes()
    for bad, words in (({"unit": {}}, "unknown keys"), ({"digest_hour": 24}, "digest_hour"),
                       ({"stewards": [1]}, "stewards")):
        with pytest.raises(SettingsError, match=words):
            Routes.from_data(bad)
    with pytest.raises(SettingsError, match="not JSON"):
        Routes.from_text("{units")


def test_channels_from_connections() -> None:
    mail = channel_from_connection(ConnectionInfo("m", "smtp", host="mail.gov", port=25,
                                                  extra={"to": "a@gov; b@gov", "quiet_hours": "22:00-07:00"}))
    assert (mail.kind, mail.to, mail.from_email, mail.quiet_hours) == (EMAIL, ["a@gov", "b@gov"], "citygov@mail.gov", "22:00-07:00")
    ding = channel_from_connection(ConnectionInfo("d", "dingding", host="https://oapi.dingtalk.com/robot/send?access_token=t",
                                                  password="SEC1"))
    assert (ding.kind, ding.secret, ding.target) == (DINGTALK, "SEC1", "https://oapi.dingtalk.com/robot/send")
    wecom = channel_from_connection(ConnectionInfo("w", "http", host="qyapi.weixin.qq.com", schema="https",
                                                   extra={"format": "wecom", "endpoint": "/cgi-bin/webhook/send?key=k"}))
    assert (wecom.kind, wecom.url) == (WECOM, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    hook = channel_from_connection(ConnectionInfo("h", "http", extra={"url": "http://hooks.gov/x"}))
    assert (hook.kind, hook.secret) == (WEBHOOK, None)
    for bad, words in ((ConnectionInfo("p", "postgres", host="db"), "type 'postgres'"),
                       (ConnectionInfo("m", "smtp", host="mail.gov"), "extra.to"),
                       (ConnectionInfo("h", "http"), "no URL"),
                       (ConnectionInfo("h", "http", host="h", extra={"format": "slack"}), "extra.format")):
        with pytest.raises(ChannelError, match=words):
            channel_from_connection(bad)


def test_dingtalk_signing_is_dingtalks() -> None:
    """timestamp + "\\n" + secret, HMAC-SHA256, base64, urlencoded, as the query parameters DingTalk checks."""
    url = dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECabc", 1700000000000)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    expected = base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    assert query == {"access_token": "t", "timestamp": "1700000000000", "sign": expected}
    assert "%2B" in url or "%2F" in url or "%3D" in url  # the base64 is urlencoded in the URL
    assert dingtalk_url("https://x/robot?access_token=t", None) == "https://x/robot?access_token=t"
    assert webhook_signature("k", 17, b"{}") == "sha256=" + hmac.new(b"k", b"17.{}", hashlib.sha256).hexdigest()


def _items(n: int) -> list[DigestItem]:
    return [DigestItem(id=i, title=f"空表 resource is empty: 320700-MZJ-{i:04d} · 某某表", rule="空表 resource is empty",
                       dataset=f"320700-MZJ-{i:04d}", unit="连云港市民政局", status="待受理", due_date="2026-12-01",
                       record_key=None, link=f"http://gov.test/citygov/web/disputes/{i}") for i in range(1, n + 1)]


def test_robot_bodies_fit_their_limits() -> None:
    payload = digest_payload("连云港市民政局", "2026-11-30", datetime(2026, 11, 29, tzinfo=CITY_TZ),
                             {"overdue": _items(120)}, Routes(base_url="http://gov.test"))
    wecom = request_body(channel_from_connection(ConnectionInfo("w", "wecom", host="http://w/send?key=k")), payload)
    content = wecom["markdown"]["content"]
    assert wecom["msgtype"] == "markdown" and len(content.encode()) <= 4096
    assert "http://gov.test/citygov/web/disputes?department=" in content.splitlines()[-1]  # cut, with the queue's link
    ding = request_body(channel_from_connection(ConnectionInfo("d", "dingding", host="http://d/send")), payload)
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"] == payload["subject"]
    assert "[#1](http://gov.test/citygov/web/disputes/1)" in ding["markdown"]["text"]
    assert len(ding["markdown"]["text"].encode()) <= 18000  # DingTalk's limit is about 20,000 bytes
    assert request_body(channel_from_connection(ConnectionInfo("h", "http", host="http://h")), payload)["counts"] == {
        "overdue": 120, "due_soon": 0, "new": 0}


def test_rendered_content_is_masked() -> None:
    item = DigestItem(id=1, title=f"record of {RIC}, phone {MOBILE}", rule="", dataset=None, unit="u", status="待受理",
                      due_date=None, record_key=RIC, link="http://gov.test/citygov/web/disputes/1")
    payload = digest_payload("u", "2026-11-30", datetime(2026, 11, 29, tzinfo=CITY_TZ), {"new": [item]}, Routes())
    mail = email_message(channel_from_connection(ConnectionInfo("m", "smtp", host="h", extra={"to": "a@b"})), payload)
    everything = json.dumps(payload, ensure_ascii=False) + mail.as_string()
    assert RIC not in everything and MOBILE not in everything
    assert find_unmasked(json.dumps(payload, ensure_ascii=False)) == []
    assert "320722********6007" in payload["text"] and "138****5678" in payload["text"]
    failure = failure_payload(dag_id="d", task_id="t", run_id="r", try_number=1, logical_date=None,
                              error=f"ValueError: bad row {RIC}", log_url=None)
    assert RIC not in json.dumps(failure) and "320722********6007" in failure["text"]


def test_seal_refuses_what_the_masker_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    from citygov.notify import messages

    monkeypatch.setattr(messages, "scrub", lambda value: value)  # a masker that misses: the check still holds
    with pytest.raises(UnmaskedContent):
        seal({"kind": "digest", "text": f"call {MOBILE}"})
