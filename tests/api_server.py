"""A real ``airflow api-server`` in a subprocess for tests: the project's plugins, SimpleAuthManager with
fixed users and passwords (its passwords file is written before it starts, so it generates none)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_api_server(
    tmp: Path,
    *,
    users: Mapping[str, str],
    passwords: Mapping[str, str],
    env: Mapping[str, str],
    args: tuple[str, ...] = (),
    startup_seconds: float = 90,
    port: int | None = None,
) -> Iterator[str]:
    """Start the api-server on ``port`` (default: a free loopback port) with ``users`` (name → Airflow role), their
    ``passwords`` and ``env`` on top of this process's environment; yield its base URL once
    ``/api/v2/version`` answers; stop its whole process group afterwards, even when the test failed."""
    passwords_file = tmp / "passwords.json"
    passwords_file.write_text(json.dumps(dict(passwords)))
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__API__BASE_URL": base,
        **env,
    }
    log = tmp / "api-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "api-server", "--host", "127.0.0.1", "--port",
             str(port), *args, "--workers", "1"],
            env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp,
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                if httpx.get(f"{base}/api/v2/version", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-server did not come up (exit {proc.poll()}):\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
