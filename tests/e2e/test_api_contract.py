"""The dispute API answers what its OpenAPI document says, checked by schemathesis against the live api-server.

schemathesis (``st run``, the property-based API tester) reads ``/citygov/api/openapi.json`` and sends
every operation generated requests, valid and invalid (its examples, coverage, fuzzing and stateful
phases), as ``admin`` and as ``viewer``. No reply may be a server error, and each must have a documented
status, the documented content type and a body matching the documented schema. The run is bounded and
repeatable: a fixed number of examples per operation, deterministic generation (no seed, no example
database). The viewer's
run must change nothing in the store.

The api-server, its store and its users are those of :mod:`tests.e2e.test_disputes_api` (another server
for this module: the admin's fuzzing raises and moves items that those tests count).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citygov.store import engine_for
from citygov.store.models_disputes import Dispute, DisputeEvent
from tests.e2e.test_disputes_api import gaj_source, item, server, store_url, tokens  # noqa: F401 (fixtures of this module too)

pytestmark = pytest.mark.airflow

ST = Path(sys.executable).with_name("st")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = int(os.environ.get("CITYGOV_API_CONTRACT_EXAMPLES", "25"))
"""Per operation and phase; raise it by hand (e.g. 300) to look for more."""


def schemathesis(base: str, token: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``st run`` against the live API as the holder of ``token``; in ``tmp`` (no config file of anyone
    else's is picked up; deterministic generation keeps no example database)."""
    return subprocess.run(
        [str(ST), "run", f"{base}/citygov/api/openapi.json", "--url", f"{base}/citygov/api",
         "--header", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
         "--generation-deterministic", "--workers", "1",
         "--request-timeout", "30", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp,
    )


def passed(run: subprocess.CompletedProcess[str]) -> bool:
    """No failure, and every operation of the document was tested."""
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    return (run.returncode == 0 and selected is not None and tested is not None
            and int(selected[2]) == int(tested[1]) > 0)


def store_rows(url: str) -> list[Any]:
    """Every dispute and every event, column by column."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return [list(conn.execute(select(table).order_by(table.c.id))) for table in
                    (Dispute.__table__, DisputeEvent.__table__)]
    finally:
        engine.dispose()


def test_a_viewer_gets_documented_answers_and_changes_nothing(  # type: ignore[no-untyped-def]
    server: str, tokens: dict[str, str], store_url: str, item: int, tmp_path: Path  # noqa: F811
) -> None:
    before = store_rows(store_url)
    run = schemathesis(server, tokens["viewer"], tmp_path)
    assert passed(run), run.stdout[-6000:] + run.stderr[-2000:]
    assert store_rows(store_url) == before


def test_an_admin_gets_documented_answers(server: str, tokens: dict[str, str], item: int, tmp_path: Path) -> None:  # noqa: F811
    run = schemathesis(server, tokens["admin"], tmp_path)
    assert passed(run), run.stdout[-6000:] + run.stderr[-2000:]
