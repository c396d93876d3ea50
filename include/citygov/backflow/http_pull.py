"""Pulling backflow batches from the provincial platform's HTTP API into the landing folder.

The contract the province serves, relative to the API's base URL (an Airflow HTTP connection, or
``govern backflow pull --url``):

``GET {base}/batches?date=YYYY-MM-DD`` (``date`` optional: without it, every batch on offer)
    ``200`` with a JSON list, one object per batch::

        [{"batch_id": "JSDSJ-20261128-001",
          "manifest_url": "batches/JSDSJ-20261128-001/manifest.json",
          "data_url": "batches/JSDSJ-20261128-001/data.csv"}]

    ``manifest_url`` and ``data_url`` are absolute or relative to the listing URL and must stay on the
    API's scheme, host and port (credentials are never sent anywhere else).
``GET manifest_url``
    the batch's ``manifest.json`` as the delivery contract defines it (:mod:`citygov.backflow.batches`);
    its ``batch_id`` must be the listed one.
``GET data_url``
    the data file, byte for byte what the manifest's ``sha256`` was computed on. It lands under the name
    the manifest implies (``data.csv``, or ``data.jsonl`` for JSON lines), whatever the URL says.

Authentication is a bearer token or HTTP basic auth. A ``5xx``, ``429``, timeout or broken connection is
retried with exponential backoff; any other ``4xx`` is final.

A batch lands as ``<landing>/<batch_id>/`` only whole and verified: both files are downloaded into a
staging folder beside the landing folder (``<parent>/.<landing name>.incoming/``, never inside it, where
ingestion would see it), streamed to disk while hashed, fsynced, checked against the manifest's sha256
and then renamed into place in one step. A batch already landed with the same sha256 is not downloaded
again; one landed with another sha256 is left alone and reported (a changed delivery needs a new batch
id). Every listed batch gets a :class:`PullResult`; one batch's failure never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import Engine
from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

from citygov.backflow.batches import MANIFEST_NAME, Batch, Manifest, landing_problems, read_manifest
from citygov.backflow.findings import refresh_findings
from citygov.backflow.records import record_refused_delivery
from citygov.sources import ConnectionInfo

log = logging.getLogger(__name__)

LISTING_PATH = "batches"
"""The listing endpoint, relative to the API's base URL."""
PROVINCE_CONN_ID = "province_backflow_api"
"""Default Airflow HTTP connection id of the provincial platform's API."""
_CHUNK = 1 << 20
_MAX_MANIFEST_BYTES = 1 << 20
_SAFE_NAME = re.compile(r"^\w[\w.\-]{0,127}$")
"""A batch id becomes a folder name: letters, digits, ``_ . -``, no leading dot, no separator."""

PullStatus = Literal["pulled", "already_landed", "failed"]


class ProvinceAPIError(RuntimeError):
    """The listing could not be fetched or is not what the contract says; nothing was pulled."""


@dataclass(frozen=True)
class ProvinceAPI:
    """Where and how to reach the provincial platform's backflow API."""

    base_url: str
    """e.g. ``https://data.jiangsu.gov.cn/backflow/v1``; the listing is ``{base_url}/batches``."""
    token: str | None = field(default=None, repr=False)
    """Bearer token; sent as ``Authorization: Bearer …`` (takes precedence over basic auth)."""
    login: str | None = None
    """HTTP basic auth user (with ``password``)."""
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    """Seconds to connect, and to wait for each chunk of a response."""
    verify: bool = True
    """Verify the server's TLS certificate."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers (an API key header, a caller id)."""
    attempts: int = 4
    """Tries per request on transient errors (5xx, 429, timeouts, dropped connections)."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time, at most 30."""

    @classmethod
    def from_connection(cls, conn: ConnectionInfo) -> ProvinceAPI:
        """The API an Airflow HTTP connection describes, its base URL built the way ``HttpHook`` builds it.

        ``host`` is a full URL (``https://data.jiangsu.gov.cn/backflow/v1``) or a host name, then with
        ``schema`` (http/https, default http) and ``port``; extra ``base_path`` appends a path to a bare
        host. ``login``/``password`` are basic auth; extra ``token`` (bearer), ``timeout`` (seconds),
        ``verify`` (TLS, default true), ``headers`` (an object), ``attempts`` and ``backoff`` complete it.
        """
        extra = conn.extra or {}
        host = (conn.host or "").strip()
        if not host:
            raise ValueError(f"HTTP connection {conn.conn_id!r} has no host; set it to the API's URL")
        if "://" in host:
            base = host
        else:
            base = f"{conn.schema or 'http'}://{host}"
        if conn.port:
            url = httpx.URL(base)
            base = str(url.copy_with(port=int(conn.port)))
        base_path = str(extra.get("base_path") or "").strip("/")
        if base_path:
            base = f"{base.rstrip('/')}/{base_path}"
        headers = extra.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError(f"HTTP connection {conn.conn_id!r}: extra 'headers' must be a JSON object")
        verify = extra.get("verify", True)
        return cls(
            base_url=base,
            token=str(extra["token"]) if extra.get("token") else None,
            login=conn.login or None,
            password=conn.password or None,
            timeout=float(extra.get("timeout") or 30.0),
            verify=verify if isinstance(verify, bool) else str(verify).lower() not in {"false", "0", "no"},
            headers={str(k): str(v) for k, v in headers.items()},
            attempts=int(extra.get("attempts") or 4),
            backoff=float(extra.get("backoff") if extra.get("backoff") is not None else 1.0),
        )

    @property
    def listing_url(self) -> httpx.URL:
        return httpx.URL(f"{self.base_url.rstrip('/')}/{LISTING_PATH}")


@dataclass
class PullResult:
    """What happened to one batch the province listed."""

    batch_id: str
    status: PullStatus
    """``pulled`` (landed now), ``already_landed`` (same sha256 already in the landing folder, not
    downloaded again) or ``failed`` (not landed; ``problem`` and ``reason`` say why; the next pull
    tries again)."""
    logical_date: date | None = None
    """The manifest's logical date, when the manifest could be read."""
    sha256: str | None = None
    """The manifest's sha256 of the data file."""
    resource_code: str | None = None
    """The manifest's resource code, when the manifest could be read."""
    sender: str | None = None
    """The manifest's sender, when the manifest could be read."""
    mode: str | None = None
    """The manifest's mode (``full`` or ``incremental``), when the manifest could be read."""
    declared_rows: int | None = None
    """The manifest's declared row count, when the manifest could be read."""
    data_bytes: int = 0
    """Bytes of data downloaded by this pull (0 when nothing was downloaded)."""
    attempts: int = 0
    """HTTP requests made for this batch, retries included."""
    problem: str | None = None
    """For ``failed``: ``bad_listing_entry``, ``outside_api``, ``http_error``, ``unreachable``,
    ``manifest_invalid``, ``checksum_mismatch``, ``conflict`` or ``error``."""
    reason: str | None = None
    """For ``failed``: what went wrong and what to do, for a person."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["logical_date"] = self.logical_date.isoformat() if self.logical_date else None
        return data


class _BatchFailed(Exception):
    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem, self.reason = problem, reason


def pull_batches(
    api: ProvinceAPI,
    landing: Path,
    *,
    logical_date: date | None = None,
    attempts: int | None = None,
    backoff: float | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[PullResult]:
    """Land every batch the province lists (for ``logical_date`` when given) in ``landing``.

    Returns one :class:`PullResult` per listed batch, in listing order. Each request is tried up to
    ``attempts`` times (default ``api.attempts``) on transient errors (5xx, 429, timeouts, dropped
    connections), waiting ``backoff``·2ⁿ seconds (default ``api.backoff``; at most 30) in between. A
    batch lands only whole, verified against its manifest's sha256, by an atomic rename (see the module
    docstring); a failed batch leaves nothing in ``landing``.

    Raises :class:`ProvinceAPIError` when the listing itself cannot be fetched (after the retries) or is
    not a JSON list: then nothing was pulled. ``transport`` is for tests (an ``httpx.MockTransport``).
    """
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    retrying = _retrying(api.attempts if attempts is None else attempts, api.backoff if backoff is None else backoff)
    with _client(api, transport) as client:
        entries = _listing(client, api, logical_date, retrying)
        results: list[PullResult] = []
        seen: set[str] = set()
        for index, raw in enumerate(entries):
            result = _pull_one(client, api, landing, index, raw, seen, retrying)
            if result.status == "failed":
                log.warning("batch %s not landed (%s): %s", result.batch_id, result.problem, result.reason)
            else:
                log.info("batch %s %s", result.batch_id, result.status.replace("_", " "))
            results.append(result)
    return results


# --- HTTP ------------------------------------------------------------------------------------------------


def _client(api: ProvinceAPI, transport: httpx.BaseTransport | None) -> httpx.Client:
    headers = dict(api.headers)
    auth: httpx.Auth | None = None
    if api.token:
        headers["Authorization"] = f"Bearer {api.token}"
    elif api.login:
        auth = httpx.BasicAuth(api.login, api.password or "")
    return httpx.Client(
        headers=headers,
        auth=auth,
        timeout=httpx.Timeout(api.timeout),
        verify=api.verify,
        # httpx drops Authorization on a redirect to another origin.
        follow_redirects=True,
        transport=transport,
    )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return False
    return isinstance(exc, httpx.TransportError)


def _retrying(attempts: int, backoff: float) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=backoff, max=30),
        retry=retry_if_exception(_transient),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )


def _describe(exc: Exception, url: httpx.URL | str) -> tuple[str, str]:
    """A failed request as (problem code, reason)."""
    if isinstance(exc, httpx.HTTPStatusError):
        r = exc.response
        return "http_error", f"GET {url} answered {r.status_code} {r.reason_phrase}"
    if isinstance(exc, httpx.TimeoutException):
        return "unreachable", f"GET {url} timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "unreachable", f"GET {url}: the connection broke off mid-response ({exc})"
    return "unreachable", f"GET {url} failed: {type(exc).__name__}: {exc}"


def _listing(
    client: httpx.Client, api: ProvinceAPI, logical_date: date | None, retrying: Retrying
) -> list[Any]:
    url = api.listing_url
    if logical_date is not None:
        url = url.copy_merge_params({"date": logical_date.isoformat()})
    tries = 0
    try:
        for attempt in retrying.copy():
            with attempt:
                tries += 1
                response = client.get(url)
                response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ProvinceAPIError(
            f"cannot list the province's batches: {_describe(exc, url)[1]} (after {tries} attempt(s)); "
            "check the HTTP connection's host and credentials, and whether the platform is up"
        ) from exc
    try:
        entries = response.json()
    except ValueError as exc:
        raise ProvinceAPIError(f"GET {url} did not answer JSON ({exc}); the contract expects a JSON list") from None
    if not isinstance(entries, list):
        raise ProvinceAPIError(
            f"GET {url} answered a JSON {type(entries).__name__}; the contract expects a list of "
            "{batch_id, manifest_url, data_url}"
        )
    return entries


def _same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    def origin(u: httpx.URL) -> tuple[str, str, int | None]:
        return u.scheme, u.host, u.port or {"http": 80, "https": 443}.get(u.scheme)

    return origin(url) == origin(base)


def _resolve(api: ProvinceAPI, value: Any, what: str, batch_id: str) -> httpx.URL:
    if not isinstance(value, str) or not value.strip():
        raise _BatchFailed("bad_listing_entry", f"listing entry {batch_id} has no {what}")
    url = api.listing_url.join(value.strip())
    if not _same_origin(url, api.listing_url):
        raise _BatchFailed(
            "outside_api",
            f"{what} of {batch_id} points outside the provincial API ({url.scheme}://{url.host}); not followed",
        )
    return url


def _get_small(client: httpx.Client, url: httpx.URL, retrying: Retrying, counter: list[int]) -> bytes:
    for attempt in retrying.copy():
        with attempt:
            counter[0] += 1
            with client.stream("GET", url) as response:
                response.raise_for_status()
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_MANIFEST_BYTES:
                        raise _BatchFailed("manifest_invalid", f"GET {url}: the manifest is larger than 1 MiB")
    return bytes(body)


def _download(
    client: httpx.Client, url: httpx.URL, dest: Path, retrying: Retrying, counter: list[int]
) -> tuple[str, int]:
    """Stream ``url`` into ``dest`` (fsynced); its sha256 and size. Each retry starts the file over."""
    for attempt in retrying.copy():
        with attempt:
            counter[0] += 1
            digest, size = hashlib.sha256(), 0
            with dest.open("wb") as out, client.stream("GET", url) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
    return digest.hexdigest(), size


# --- one batch -------------------------------------------------------------------------------------------


def _pull_one(
    client: httpx.Client,
    api: ProvinceAPI,
    landing: Path,
    index: int,
    raw: Any,
    seen: set[str],
    retrying: Retrying,
) -> PullResult:
    batch_id = raw.get("batch_id") if isinstance(raw, dict) else None
    label = batch_id if isinstance(batch_id, str) and batch_id else f"listing entry #{index + 1}"
    result = PullResult(batch_id=label, status="failed")
    counter = [0]
    try:
        if not isinstance(raw, dict):
            raise _BatchFailed("bad_listing_entry", f"{label} is a {type(raw).__name__}, not an object")
        if not isinstance(batch_id, str) or not _SAFE_NAME.match(batch_id):
            raise _BatchFailed(
                "bad_listing_entry",
                f"{label}: batch_id {batch_id!r} is not a usable folder name (letters, digits, _ . -)",
            )
        if batch_id in seen:
            raise _BatchFailed("bad_listing_entry", f"{batch_id} is listed twice; only the first is pulled")
        seen.add(batch_id)
        manifest_url = _resolve(api, raw.get("manifest_url"), "manifest_url", batch_id)
        data_url = _resolve(api, raw.get("data_url"), "data_url", batch_id)
        _land(client, landing, batch_id, manifest_url, data_url, retrying, counter, result)
    except _BatchFailed as exc:
        result.status, result.problem, result.reason = "failed", exc.problem, exc.reason
    except httpx.HTTPError as exc:
        url = exc.request.url if _has_request(exc) else "?"
        problem, reason = _describe(exc, url)
        result.status, result.problem = "failed", problem
        result.reason = f"{reason} (after {counter[0]} request(s)); not landed, the next pull tries again"
    except Exception as exc:  # a disk error on one batch must not stop the others
        result.status, result.problem = "failed", "error"
        result.reason = f"{type(exc).__name__}: {exc}; not landed, the next pull tries again"
    result.attempts = counter[0]
    return result


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error carries no request
    except RuntimeError:
        return False
    return True


def _land(
    client: httpx.Client,
    landing: Path,
    batch_id: str,
    manifest_url: httpx.URL,
    data_url: httpx.URL,
    retrying: Retrying,
    counter: list[int],
    result: PullResult,
) -> None:
    with _staging(landing) as work:
        folder = work / batch_id
        folder.mkdir()
        manifest_bytes = _get_small(client, manifest_url, retrying, counter)
        _write_synced(folder / MANIFEST_NAME, manifest_bytes)
        manifest, error = read_manifest(folder)
        if manifest is None:
            raise _BatchFailed("manifest_invalid", f"manifest of {batch_id} from {manifest_url}: {error}")
        result.logical_date, result.sha256 = manifest.logical_date, manifest.sha256
        result.resource_code, result.sender = manifest.resource_code, manifest.sender
        result.mode, result.declared_rows = manifest.mode, manifest.declared_rows
        if manifest.batch_id != batch_id:
            raise _BatchFailed(
                "manifest_invalid",
                f"the manifest at {manifest_url} is for batch {manifest.batch_id}, the listing says {batch_id}",
            )
        data_file = Batch(batch_id=batch_id, folder=folder, manifest=manifest).data_path.name
        dest = landing / batch_id
        if _already_landed(dest, manifest, data_file, result):
            return
        sha, size = _download(client, data_url, folder / data_file, retrying, counter)
        result.data_bytes = size
        if sha != manifest.sha256:
            raise _BatchFailed(
                "checksum_mismatch",
                f"{data_url} ({size} bytes) has sha256 {sha[:12]}…, the manifest declares {manifest.sha256[:12]}…; "
                "not landed — the province must resend it (the next pull tries again)",
            )
        _fsync_dir(folder)
        if os.path.lexists(dest):
            # An incomplete folder of this id (no usable manifest or no data, a link): set it aside, then replace.
            dest.rename(work / f"{batch_id}.replaced")
        try:
            os.rename(folder, dest)
        except OSError:
            # Another pull landed it between our check and the rename.
            if _already_landed(dest, manifest, data_file, result):
                return
            raise
        _fsync_dir(landing)
        result.status = "pulled"


def _already_landed(dest: Path, manifest: Manifest, data_file: str, result: PullResult) -> bool:
    """True when ``dest`` holds this batch already (status set); raises on a conflicting landed batch;
    False when there is nothing usable at ``dest``."""
    if not dest.is_dir() or landing_problems(dest):
        return False  # nothing there, or what ingestion would refuse unread (a link, a FIFO…)
    landed, _error = read_manifest(dest)
    if landed is None or not (dest / data_file).is_file():
        return False
    if landed.sha256 == manifest.sha256:
        result.status = "already_landed"
        return True
    raise _BatchFailed(
        "conflict",
        f"{dest} already holds batch {manifest.batch_id} with sha256 {landed.sha256[:12]}…, the province now "
        f"offers {manifest.sha256[:12]}…; left as it is — a changed delivery must come under a new batch id",
    )


@contextmanager
def _staging(landing: Path) -> Iterator[Path]:
    """A private work folder beside ``landing`` (same file system, so the final rename is atomic), removed
    afterwards whatever happens."""
    root = landing.parent / f".{landing.name}.incoming"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pull-", dir=root))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def summarize(results: list[PullResult]) -> dict[str, Any]:
    """Counts and per-batch outcomes of a pull, small enough for XCom and a log line."""
    return {
        "pulled": sorted(r.batch_id for r in results if r.status == "pulled"),
        "already_landed": sorted(r.batch_id for r in results if r.status == "already_landed"),
        "failed": {r.batch_id: f"{r.problem}: {r.reason}" for r in results if r.status == "failed"},
        "data_bytes": sum(r.data_bytes for r in results),
    }


__all__ = [
    "PROVINCE_CONN_ID",
    "ProvinceAPI",
    "ProvinceAPIError",
    "PullResult",
    "pull_batches",
    "summarize",
]



REFUSED_PROBLEMS = frozenset({"checksum_mismatch", "manifest_invalid"})
"""Pull failures that are the sender's to fix (the content, not the transport), so they are recorded."""


def record_refusals(store: Engine, target: Engine, results: list[PullResult]) -> list[str]:
    """Record the pulled batches whose content was refused (:data:`REFUSED_PROBLEMS`, with a readable
    manifest) as rejected deliveries, and refresh those dates' backflow findings, so each becomes a dispute
    item addressed to the sender like a corrupt file dropped into the landing folder. Transport failures
    (timeouts, 5xx, an unreachable province) are not the sender's data and are only retried. Returns the
    batch ids recorded."""
    recorded: list[str] = []
    for r in results:
        if r.status != "failed" or r.problem not in REFUSED_PROBLEMS or r.logical_date is None:
            continue
        record_refused_delivery(
            store, batch_id=r.batch_id, resource_code=r.resource_code, sender=r.sender,
            logical_date=r.logical_date, mode=r.mode, declared_rows=r.declared_rows, sha256=r.sha256,
            reason=f"pulled from the provincial API and refused: {r.reason}",
        )
        recorded.append(r.batch_id)
    for day in sorted({r.logical_date for r in results if r.batch_id in recorded and r.logical_date}):
        refresh_findings(store, target, day)
    return recorded
