"""Local receivers for the notification tests: a real SMTP server (aiosmtpd) and an HTTP server that
takes the generic webhook, 钉钉 and 企业微信 robot posts and checks their signatures itself (its own HMAC,
not the code under test's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        """Every part of the mail decoded (headers, plain text, HTML)."""
        parts = [f"{k}: {v}" for k, v in self.message.items()]
        for part in self.message.walk():
            if part.get_content_maintype() == "text":
                parts.append(part.get_content())
        return "\n".join(parts)


@dataclass
class Post:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    verdict: str
    """``ok``, or why the receiver refused it (a wrong or missing signature)."""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receivers:
    mails: list[Mail] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    ding_secret: str = "SECdingtalk-test-secret"
    hook_secret: str = "webhook-test-secret"
    smtp_port: int = 0
    """The SMTP server's port (chosen free when the receivers start: tests run side by side under xdist)."""
    http_port: int = 0
    """The HTTP receiver's port."""

    def everything(self) -> str:
        """All that was delivered, as text (for the PII scan)."""
        return "\n".join([m.text() for m in self.mails] + [p.body.decode() + json.dumps(p.headers) for p in self.posts])


class _SmtpHandler:
    def __init__(self, receivers: Receivers) -> None:
        self.receivers = receivers

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.receivers.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def _dingtalk_ok(query: dict[str, str], secret: str) -> str:
    ts, sign = query.get("timestamp"), query.get("sign")
    if not ts or not sign:
        return "unsigned"
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    return "ok" if hmac.compare_digest(expected, sign) else "sign not match"


def _hook_ok(headers: dict[str, str], body: bytes, secret: str) -> str:
    ts, sig = headers.get("x-citygov-timestamp"), headers.get("x-citygov-signature")
    if not ts or not sig:
        return "unsigned"
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "ok" if hmac.compare_digest(expected, sig) else "signature mismatch"


def _http_handler(receivers: Receivers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))  # parse_qsl undoes the urlencoding of sign
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            if parts.path == "/robot/send":  # 钉钉
                verdict = "ok" if query.get("access_token") == "ding-token" else "bad token"
                verdict = _dingtalk_ok(query, receivers.ding_secret) if verdict == "ok" else verdict
            elif parts.path == "/cgi-bin/webhook/send":  # 企业微信: the key is the secret
                verdict = "ok" if query.get("key") == "wecom-key" else "invalid webhook key"
            else:
                verdict = _hook_ok(headers, body, receivers.hook_secret)
            receivers.posts.append(Post(parts.path, query, headers, body, verdict))
            if parts.path in ("/robot/send", "/cgi-bin/webhook/send"):
                answer = {"errcode": 0, "errmsg": "ok"} if verdict == "ok" else {"errcode": 310000, "errmsg": verdict}
                self._reply(200, answer)
            else:
                self._reply(204 if verdict == "ok" else 401, None)

        def _reply(self, status: int, answer: Any) -> None:
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receivers() -> Iterator[Receivers]:
    """An SMTP server and the HTTP receiver on free loopback ports (``got.smtp_port``, ``got.http_port``)."""
    from aiosmtpd.controller import Controller

    from tests.api_server import free_port

    got = Receivers(smtp_port=free_port())
    smtp = Controller(_SmtpHandler(got), hostname="127.0.0.1", port=got.smtp_port)
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(got))
    got.http_port = http.server_address[1]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()


def connections(receivers: Receivers, mz_code: str) -> dict[str, dict[str, Any]]:
    """The city's notification connections pointing at the receivers (``AIRFLOW_CONN_*`` JSON)."""
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": receivers.smtp_port}
    base = f"http://127.0.0.1:{receivers.http_port}"
    return {
        f"citygov_notify_{mz_code}": smtp | {"extra": {"to": "mzj-data@city.example, mzj-head@city.example",
                                                       "from_email": "citygov@city.example"}},
        "citygov_notify_gaj_ding": {"conn_type": "dingding", "host": f"{base}/robot/send?access_token=ding-token",
                                    "password": receivers.ding_secret},
        "citygov_notify_scj_wecom": {"conn_type": "http", "host": f"{base}/cgi-bin/webhook/send?key=wecom-key",
                                     "extra": {"format": "wecom", "quiet_hours": "08:00-09:00"}},
        "citygov_notify_stewards": {"conn_type": "http", "host": f"{base}/hooks/citygov", "password": receivers.hook_secret},
        "citygov_notify_operators": smtp | {"extra": {"to": ["ops@city.example"], "from_email": "airflow@city.example"}},
    }
