"""Channels a notification goes through, each one Airflow connection: e-mail (SMTP), a generic JSON
webhook, a 钉钉 (DingTalk) custom robot, a 企业微信 (WeCom) group robot.

========================  =====================================================================
connection                what it holds
========================  =====================================================================
``smtp`` / ``email``      host, port, login, password; extra ``to`` (list or comma-separated),
                          ``from_email``, ``ssl`` (SMTPS) or ``starttls`` (default: STARTTLS when
                          the server offers it and a login is set), ``timeout``
``http`` / ``webhook``    the URL (extra ``url``, or host as a full URL, or schema/host/port and
                          extra ``endpoint``); extra ``format``: ``json`` (default), ``dingtalk``,
                          ``wecom``; password: the signing secret
``dingding``/``dingtalk`` the robot's webhook URL with its access_token; password: the 加签 secret
``wecom``                 the robot's webhook URL with its key (WeCom robots do not sign: the key is
                          the secret, so keep it in the connection)
========================  =====================================================================

Any connection's extra may set ``quiet_hours`` (``22:00-07:30``, city time).

Signing: DingTalk's 加签 (``timestamp`` in milliseconds, ``sign`` = urlencoded base64 of
HMAC-SHA256(secret, ``timestamp + "\\n" + secret``), both as query parameters); the generic webhook's
``X-Citygov-Timestamp`` and ``X-Citygov-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
body)>`` when a secret is set. A receiver checks either with :func:`dingtalk_signature` or
:func:`webhook_signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import smtplib
import ssl
import time as _time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from citygov.sources import ConnectionInfo

EMAIL, WEBHOOK, DINGTALK, WECOM = "email", "webhook", "dingtalk", "wecom"
CHANNELS = (EMAIL, WEBHOOK, DINGTALK, WECOM)
WECOM_MARKDOWN_LIMIT = 4096
"""企业微信 refuses markdown content over 4096 bytes (UTF-8)."""
DINGTALK_MARKDOWN_LIMIT = 18000
"""钉钉 robot messages are limited to about 20,000 bytes; leave room for the JSON around the text."""
SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Citygov-Signature", "X-Citygov-Timestamp"


class ChannelError(RuntimeError):
    """A channel could not be used or refused the message (the text says which connection and why)."""


@dataclass(frozen=True)
class Channel:
    """Where one connection sends to."""

    conn_id: str
    kind: str
    """One of :data:`CHANNELS`."""
    url: str | None = None
    secret: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    to: list[str] = field(default_factory=list)
    from_email: str | None = None
    use_ssl: bool = False
    starttls: bool | None = None
    timeout: float = 30.0
    quiet_hours: str | None = None

    @property
    def target(self) -> str:
        """What a report may show of it: the mailbox list or the URL without its query (no token)."""
        if self.kind == EMAIL:
            return ", ".join(self.to)
        parts = urllib.parse.urlsplit(self.url or "")
        return f"{parts.scheme}://{parts.netloc}{parts.path}"


def channel_from_connection(conn: ConnectionInfo) -> Channel:
    """The channel an Airflow connection describes (see the module docstring); :class:`ChannelError` when
    it is not one."""
    extra = dict(conn.extra or {})
    kind_of_type = {"smtp": EMAIL, "email": EMAIL, "http": WEBHOOK, "https": WEBHOOK, "webhook": WEBHOOK,
                    "dingding": DINGTALK, "dingtalk": DINGTALK, "wecom": WECOM}
    kind = kind_of_type.get((conn.conn_type or "").lower())
    if kind is None:
        raise ChannelError(
            f"connection {conn.conn_id!r} is of type {conn.conn_type!r}; a notification connection is "
            f"smtp, http (webhook), dingding or wecom"
        )
    timeout = float(extra.get("timeout") or 30)
    quiet = extra.get("quiet_hours") or None
    if kind == EMAIL:
        to = extra.get("to") or []
        if isinstance(to, str):
            to = [a.strip() for a in to.replace(";", ",").split(",") if a.strip()]
        if not to or not conn.host:
            raise ChannelError(f"SMTP connection {conn.conn_id!r} needs a host and extra.to (the recipients)")
        return Channel(
            conn.conn_id, EMAIL, host=conn.host, port=conn.port, login=conn.login, password=conn.password,
            to=list(to), from_email=extra.get("from_email") or conn.login or f"citygov@{conn.host}",
            use_ssl=_flag(extra.get("ssl")), starttls=None if extra.get("starttls") is None else _flag(extra["starttls"]),
            timeout=timeout, quiet_hours=quiet,
        )
    if kind == WEBHOOK:
        kind = {"json": WEBHOOK, "dingtalk": DINGTALK, "dingding": DINGTALK, "wecom": WECOM}.get(
            str(extra.get("format") or "json").lower(), "")
        if not kind:
            raise ChannelError(f"connection {conn.conn_id!r}: extra.format is json, dingtalk or wecom, not {extra['format']!r}")
    return Channel(conn.conn_id, kind, url=_url(conn, extra), secret=conn.password or None, timeout=timeout,
                   quiet_hours=quiet)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _url(conn: ConnectionInfo, extra: dict[str, Any]) -> str:
    url = extra.get("url") or ""
    if not url and conn.host and "://" in conn.host:
        url = conn.host
    elif not url and conn.host:
        scheme = conn.schema if conn.schema in ("http", "https") else "https"
        url = f"{scheme}://{conn.host}{f':{conn.port}' if conn.port else ''}{extra.get('endpoint') or ''}"
    if not url:
        raise ChannelError(f"webhook connection {conn.conn_id!r} has no URL (extra.url or host)")
    return str(url)


# --- signing --------------------------------------------------------------------------------------------


def dingtalk_signature(secret: str, timestamp_ms: int | str) -> str:
    """钉钉 加签: base64 of HMAC-SHA256 keyed with the secret over ``timestamp + "\\n" + secret`` (not yet
    urlencoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int | None = None) -> str:
    """The robot URL with ``timestamp`` and ``sign`` added when the robot has a secret."""
    if not secret:
        return url
    ts = timestamp_ms if timestamp_ms is not None else int(_time.time() * 1000)
    sign = urllib.parse.quote_plus(dingtalk_signature(secret, ts))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def webhook_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The generic webhook's signature header value: ``sha256=`` + hex HMAC-SHA256(secret, ts + "." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


# --- rendering ------------------------------------------------------------------------------------------


def _fit(markdown: str, limit: int, link: str | None) -> str:
    """``markdown`` cut at a line so its UTF-8 form fits ``limit`` bytes, saying so (with the queue's link)."""
    if len(markdown.encode()) <= limit:
        return markdown
    tail = f"\n\n…(更多见 more: {link})" if link else "\n\n…"
    lines, out, size = markdown.split("\n"), [], len(tail.encode())
    for line in lines:
        size += len(line.encode()) + 1
        if size > limit:
            break
        out.append(line)
    return "\n".join(out) + tail


def request_body(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON body a webhook channel posts for a rendered notification (``subject``, ``text``,
    ``markdown``, ``data``, ``queue_link``)."""
    if channel.kind == DINGTALK:
        text = _fit(payload["markdown"], DINGTALK_MARKDOWN_LIMIT, payload.get("queue_link"))
        return {"msgtype": "markdown", "markdown": {"title": payload["subject"], "text": text}}
    if channel.kind == WECOM:
        return {"msgtype": "markdown",
                "markdown": {"content": _fit(payload["markdown"], WECOM_MARKDOWN_LIMIT, payload.get("queue_link"))}}
    return dict(payload["data"])


def email_message(channel: Channel, payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = payload["subject"]
    msg["From"] = channel.from_email or "citygov"
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=False)
    # Letters only: make_msgid's decimal digits (and a run of 13+ digits in a hex id) can look like a card
    # number to a PII scan of the mail.
    msg["Message-ID"] = f"<{_letters_id()}@{_domain(channel.from_email)}>"
    msg.set_content(payload["text"], charset="utf-8")
    msg.add_alternative(_html(payload["text"]), subtype="html", charset="utf-8")
    # Likewise the MIME boundary: the generator's default is 19 random decimal digits.
    msg.set_boundary(f"=_{_letters_id()}")
    return msg


def _letters_id() -> str:
    """A random id of 32 letters (a uuid4's hex digits spelt as letters)."""
    return uuid.uuid4().hex.translate(_DIGITS_AS_LETTERS)


_DIGITS_AS_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def _domain(address: str | None) -> str:
    try:
        return Address(addr_spec=address or "").domain or "citygov"
    except Exception:  # noqa: BLE001 (a display address we did not make; the id only needs a domain)
        return "citygov"


def _html(text: str) -> str:
    """The plain text as HTML, links clickable (the text holds only masked content, escaped here)."""
    lines = []
    for line in text.split("\n"):
        escaped = html.escape(line)
        for word in line.split():
            if word.startswith(("http://", "https://")):
                w = html.escape(word)
                escaped = escaped.replace(w, f'<a href="{w}">{w}</a>', 1)
        lines.append(escaped)
    return "<html><body><pre style=\"font-family:sans-serif\">" + "\n".join(lines) + "</pre></body></html>"


# --- sending --------------------------------------------------------------------------------------------


def send(channel: Channel, payload: dict[str, Any]) -> str:
    """Send a rendered notification through ``channel``; returns what the other side answered, in short.
    Raises :class:`ChannelError` when it refused or could not be reached."""
    if channel.kind == EMAIL:
        return _send_email(channel, payload)
    return _post(channel, request_body(channel, payload))


def _send_email(channel: Channel, payload: dict[str, Any]) -> str:
    message = email_message(channel, payload)
    port = channel.port or (465 if channel.use_ssl else 25)
    try:
        if channel.use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(channel.host or "", port, timeout=channel.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(channel.host or "", port, timeout=channel.timeout)
        with client:
            client.ehlo()
            wants_tls = channel.starttls if channel.starttls is not None else bool(channel.login)
            if not channel.use_ssl and wants_tls and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            elif channel.starttls and not channel.use_ssl:
                raise ChannelError(f"SMTP server of {channel.conn_id!r} does not offer STARTTLS (extra.starttls is set)")
            if channel.login:
                client.login(channel.login, channel.password or "")
            refused = client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise ChannelError(f"mail through {channel.conn_id!r} ({channel.host}:{port}) failed: {exc}") from exc
    if refused:
        raise ChannelError(f"mail through {channel.conn_id!r}: recipients refused: {sorted(refused)}")
    return f"mail to {len(channel.to)} recipient(s)"


def _post(channel: Channel, body: dict[str, Any]) -> str:
    import httpx

    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    url = channel.url or ""
    if channel.kind == DINGTALK:
        url = dingtalk_url(url, channel.secret)
    elif channel.kind == WEBHOOK and channel.secret:
        ts = str(int(_time.time()))
        headers[TIMESTAMP_HEADER] = ts
        headers[SIGNATURE_HEADER] = webhook_signature(channel.secret, ts, data)
    try:
        response = httpx.post(url, content=data, headers=headers, timeout=channel.timeout)
    except httpx.HTTPError as exc:
        raise ChannelError(f"webhook {channel.conn_id!r} ({channel.target}) could not be reached: {exc}") from exc
    if response.status_code >= 300:
        raise ChannelError(f"webhook {channel.conn_id!r} ({channel.target}) answered HTTP {response.status_code}: "
                           f"{response.text[:200]}")
    if channel.kind in (DINGTALK, WECOM):  # the robots answer 200 with an error code
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if answer.get("errcode", 0) != 0:
            raise ChannelError(f"{channel.kind} robot {channel.conn_id!r} refused the message: "
                               f"errcode {answer.get('errcode')} {answer.get('errmsg', '')}")
    return f"HTTP {response.status_code}"
