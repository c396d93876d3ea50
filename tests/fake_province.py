"""A local HTTP server that plays the provincial platform's backflow API (the contract in
:mod:`citygov.backflow.http_pull`), with faults a test can plant on any path.

    with FakeProvince() as province:
        province.add_landing(city / "landing")          # serve the demo city's batches
        province.fault("batches/X/data.csv", "500", times=2)
        pull_batches(ProvinceAPI(province.url), landing)

Faults, consumed one per request (``times=None``: every request): ``"500"``, ``"503"``, ``"404"``,
``"401"`` (a status with a short body), ``"slow"`` (waits ``slow_seconds`` before answering), ``"truncate"``
(declares the full Content-Length, sends half, hangs up) and ``"reset"`` (hangs up without answering).
Data files are streamed from disk in small chunks, so the server holds no whole file in memory.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (after a planted ``slow`` fault, its read timed out) is what the faults are
        for, not an error of the server: only other exceptions are printed, as usual."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class ServedBatch:
    batch_id: str
    logical_date: str
    manifest: bytes
    data: Path


class FakeProvince:
    """The province's API on ``127.0.0.1:<free port>``, base URL :attr:`url`."""

    def __init__(self, *, token: str | None = None, basic: tuple[str, str] | None = None, slow_seconds: float = 2.0):
        self.token, self.basic, self.slow_seconds = token, basic, slow_seconds
        self.batches: dict[str, ServedBatch] = {}
        self.extra_entries: list[Any] = []
        """Raw listing entries served after the batches (to plant malformed ones)."""
        self.requests: list[str] = []
        """Every request path (with query), in order."""
        self._faults: dict[str, list[str | None]] = {}
        self._sticky: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def __enter__(self) -> FakeProvince:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what is served ------------------------------------------------------------------------------------

    def add_batch(self, folder: Path) -> ServedBatch:
        """Serve the batch in ``folder`` (``manifest.json`` + its data file) under its manifest's id."""
        manifest = (folder / "manifest.json").read_bytes()
        meta = json.loads(manifest)
        data = next(folder / n for n in ("data.csv", "data.jsonl") if (folder / n).is_file())
        batch = ServedBatch(meta["batch_id"], meta["logical_date"], manifest, data)
        self.batches[batch.batch_id] = batch
        return batch

    def add_landing(self, landing: Path) -> list[ServedBatch]:
        return [self.add_batch(sub) for sub in sorted(landing.iterdir()) if sub.is_dir()]

    def fault(self, path: str, kind: str, *, times: int | None = 1) -> None:
        """Plant ``kind`` on ``path`` (relative to the API, e.g. ``batches`` or ``batches/X/data.csv``)."""
        with self._lock:
            if times is None:
                self._sticky[path] = kind
            else:
                self._faults.setdefault(path, []).extend([kind] * times)

    def hits(self, path: str) -> int:
        """Requests made for ``path`` (relative to the API; the query string ignored)."""
        return sum(1 for r in self.requests if urlsplit(r).path == f"{PREFIX}/{path}")

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            queue = self._faults.get(path)
            if queue:
                return queue.pop(0)
            return self._sticky.get(path)

    def _listing(self, day: str | None) -> list[Any]:
        entries: list[Any] = [
            {
                "batch_id": b.batch_id,
                "manifest_url": f"batches/{b.batch_id}/manifest.json",
                # absolute path form, to exercise both ways the contract allows
                "data_url": f"{PREFIX}/batches/{b.batch_id}/{b.data.name}",
            }
            for b in self.batches.values()
            if day is None or b.logical_date == day
        ]
        return entries + self.extra_entries

    def _authorized(self, header: str | None) -> bool:
        if self.token:
            return header == f"Bearer {self.token}"
        if self.basic:
            expected = base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return header == f"Basic {expected}"
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        province = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                province.requests.append(self.path)
                parts = urlsplit(self.path)
                if not parts.path.startswith(f"{PREFIX}/"):
                    return self._status(404)
                rel = parts.path[len(PREFIX) + 1 :]
                fault = province._take_fault(rel)
                if fault == "reset":
                    self.close_connection = True
                    return
                if fault == "slow":
                    time.sleep(province.slow_seconds)
                elif fault is not None and fault.isdigit():
                    return self._status(int(fault))
                if not province._authorized(self.headers.get("Authorization")):
                    return self._status(401)
                if rel == "batches":
                    day = parse_qs(parts.query).get("date", [None])[0]
                    return self._body(json.dumps(province._listing(day)).encode(), "application/json", fault)
                bits = rel.split("/")
                batch = province.batches.get(bits[1]) if len(bits) == 3 and bits[0] == "batches" else None
                if batch is None:
                    return self._status(404)
                if bits[2] == "manifest.json":
                    return self._body(batch.manifest, "application/json", fault)
                if bits[2] == batch.data.name:
                    return self._file(batch.data, fault)
                return self._status(404)

            def _status(self, code: int) -> None:
                body = json.dumps({"error": code}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self, body: bytes, ctype: str, fault: str | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
                if fault == "truncate":
                    self.close_connection = True

            def _file(self, path: Path, fault: str | None) -> None:
                size = path.stat().st_size
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                limit = size // 2 if fault == "truncate" else size
                with path.open("rb") as src:
                    sent = 0
                    while sent < limit and (chunk := src.read(min(64 * 1024, limit - sent))):
                        self.wfile.write(chunk)
                        sent += len(chunk)
                if fault == "truncate":
                    self.close_connection = True

        return Handler

