"""An inspection task's closing words: a table of what failed in its log, a note on its DAG run.

``report_failures`` logs :func:`citygov.failure_report.failure_table` of the findings a task stored and,
for a run's last task, hands :func:`citygov.failure_report.run_note` to the run: tasks cannot write the
metadata database in Airflow 3 (the Task SDK blocks the ORM, and the execution API sets a note only on a
run it triggers), so the note travels as the XCom ``citygov_run_note`` and the scheduler's listener
(:mod:`citygov_airflow.run_notes`, plugin ``citygov_run_notes``) copies it onto the run when it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

RUN_NOTE_KEY = "citygov_run_note"
"""The XCom key a task puts its run's note under."""

log = logging.getLogger("citygov.run_report")


def api_base_url() -> str:
    """Where people reach the api-server: Airflow's ``[api] base_url``, else ``http://localhost:<[api] port>``."""
    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback=None)
    return base or f"http://localhost:{conf.get('api', 'port', fallback='8080')}"


def report_failures(
    store: Engine,
    what: str,
    findings: Iterable[Mapping[str, Any]],
    *,
    note_counts: Mapping[str, Any] | None = None,
) -> str:
    """Log the table of ``findings`` (dicts as :func:`citygov.findings.load_findings` gives) headed by
    ``what``; with ``note_counts``, also make it, with those counts, the note of the task's DAG run.
    Returns the table."""
    from citygov.catalog.queries import load_entries
    from citygov.failure_report import failure_rows, failure_table, run_note

    findings = list(findings)
    codes = sorted({f["entry_code"] for f in findings if f.get("entry_code")})
    names = {e.code: e.name for e in load_entries(store, codes=codes, published_only=False)} if codes else {}
    rows = failure_rows(findings, names, api_base_url())
    table = failure_table(what, rows)
    log.info("%s", table)
    if note_counts is not None:
        from airflow.sdk import get_current_context

        get_current_context()["ti"].xcom_push(RUN_NOTE_KEY, run_note(what, note_counts, rows))
    return table
