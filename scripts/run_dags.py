"""Run DAGs once each, in order, through Airflow, and say what each task did.

    python scripts/run_dags.py LOGICAL_DATE DAG_ID [DAG_ID ...]

Each DAG runs with ``dag.test``, what ``airflow dags test`` does: a real DAG run in the metadata DB, every
task through the real task runner, no scheduler, and no retries (``dag.test`` would sleep through each retry_delay). All runs
share one process, so Airflow's in-process
execution API starts once (~10 s on 2 cores) instead of once per DAG. Airflow's own log goes to
``$AIRFLOW_HOME/logs/dags-test/run.log`` (JSON lines), each task's also to its log file, where the UI shows
it (:mod:`citygov_airflow.dag_test_logs`); each run's start date is when it started, not its logical date;
this prints each task's state and return value. Expects the environment of ``scripts/airflow_env.sh``.

Every DAG given runs, whatever happened to the ones before it (one DAG's failure must not keep the others'
findings from the dispute queue); at the end each DAG's outcome is listed: success, skipped (every task
skipped, with the reason the tasks gave) or failed (with the failing tasks). Exits 1 when any DAG failed
or was not found, 2 on wrong arguments.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from citygov.settings import CITY_TZ
from citygov_airflow.dag_test_logs import task_log_files

MAX_VALUE_CHARS = 300
FAILED_TASK_STATES = {"failed", "upstream_failed"}
SKIP_REASON = re.compile(r'''Skipping task\..*?reason=(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+))''')
"""The task runner's line for an ``AirflowSkipException`` with a message: ``Skipping task. … reason="…"``."""


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    logical_date, dag_ids = _city_midnight(argv[0]), argv[1:]
    log_path = Path(os.environ["AIRFLOW_HOME"]) / "logs" / "dags-test" / "run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = _redirect_output_to(log_path)
    shown = os.path.relpath(log_path, os.environ.get("CITYGOV_HOME", "."))

    from airflow.dag_processing.dagbag import DagBag

    dags_folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = DagBag(dag_folder=dags_folder, safe_mode=False)
    for file, error in bag.import_errors.items():
        print(f"!! {file} does not import:\n{error}", file=out)
    outcomes: list[tuple[str, str, str]] = []
    with task_log_files():  # each task's log also in its file, where the UI reads it
        for dag_id in dag_ids:
            if dag_id not in bag.dags:
                print(f"!! no DAG {dag_id!r} in {dags_folder}", file=out, flush=True)
                outcomes.append((dag_id, "failed", "not found in the dags folder"))
                continue
            print(
                f"── {dag_id} for {logical_date:%Y-%m-%d %H:%M %Z} (Airflow's log: {shown})", file=out, flush=True
            )
            outcomes.append((dag_id, *_run_one(bag.dags[dag_id], logical_date, log_path, out)))
    print("── every DAG run", file=out)
    for dag_id, outcome, detail in outcomes:
        print(f"   {dag_id}: {outcome}{f' ({detail})' if detail else ''}", file=out)
    failed = [dag_id for dag_id, outcome, _ in outcomes if outcome == "failed"]
    if failed:
        print(f"!! {', '.join(failed)} did not succeed; Airflow's log: {log_path}", file=out, flush=True)
        return 1
    return 0


def _run_one(dag, logical_date, log_path: Path, out) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Run ``dag`` once; print its tasks; return its outcome (success, skipped or failed) and a detail
    (the failing tasks, or why it was skipped)."""
    start, log_offset = time.monotonic(), log_path.stat().st_size
    for task in dag.tasks:
        # dag.test sleeps through retry_delay in-process: a demo should fail at once, not in 10 minutes.
        task.retries = 0
    started = datetime.now(UTC)
    dag_run = dag.test(logical_date=logical_date)
    # dag.test starts the run "at" its logical date (the demo city's day, days ago): the UI's duration
    # would be days. The run started now.
    _set_start_date(dag.dag_id, dag_run.run_id, started)
    results = _task_results(dag.dag_id, dag_run.run_id)
    for task_id, state, value in results:
        shown_value = "" if value is None else f" → {_short(value)}"
        print(f"   {task_id}: {state}{shown_value}", file=out)
    log = _read_from(log_path, log_offset)
    failing = [task_id for task_id, state, _ in results if state in FAILED_TASK_STATES]
    if str(dag_run.state) != "success" or failing:
        # The tasks that failed themselves, not the ones that did not run because of them.
        culprits = [task_id for task_id, state, _ in results if state == "failed"] or failing
        outcome, detail = "failed", f"failing: {', '.join(culprits) or 'no task failed; the run did not succeed'}"
    elif results and all(state == "skipped" for _, state, _ in results):
        outcome, detail = "skipped", "; ".join(_skip_reasons(log)) or "every task skipped"
    else:
        outcome, detail = "success", ""
    print(f"   {dag.dag_id}: {outcome} in {time.monotonic() - start:.0f} s", file=out, flush=True)
    if outcome == "skipped":
        print(f"   skipped: {detail}", file=out, flush=True)
    if outcome == "failed":
        for line in _errors(log):
            print(f"   {line}", file=out)
        print(f"!! {dag.dag_id} did not succeed; going on with the next DAG", file=out, flush=True)
    return outcome, detail


def _set_start_date(dag_id: str, run_id: str, started) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        run.start_date = started


def _city_midnight(day: str):
    from datetime import date, datetime, time

    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=CITY_TZ)


def _redirect_output_to(log_path: Path):
    """Send this process's stdout/stderr (Airflow's logging) to the log; return a stream to the terminal."""
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return terminal


def _task_results(dag_id: str, run_id: str) -> list[tuple[str, str, object]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, run_id=run_id)
            .order_by(TaskInstance.start_date, TaskInstance.task_id, TaskInstance.map_index)
            .all()
        )
        results = []
        for ti in tis:
            value = (
                session.query(XComModel.value)
                .filter_by(dag_id=dag_id, run_id=run_id, task_id=ti.task_id, map_index=ti.map_index)
                .filter_by(key="return_value")
                .scalar()
            )
            label = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            results.append((label, str(ti.state), value))
        return results


def _read_from(log_path: Path, offset: int) -> str:
    """What Airflow logged since ``offset``: one DAG run's part of the shared log."""
    with log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", errors="replace")


def _skip_reasons(log: str) -> list[str]:
    """The reasons tasks gave for skipping (``AirflowSkipException``'s message), no repeats."""
    reasons: list[str] = []
    for line in log.splitlines():
        entry = _json(line)
        if entry is not None:
            found = [str(entry["reason"])] if str(entry.get("event", "")).startswith("Skipping task") and entry.get("reason") else []
        else:
            found = [next(g for g in m.groups() if g is not None) for m in SKIP_REASON.finditer(line)]
        for reason in (r.strip() for r in found):
            if reason not in reasons:
                reasons.append(reason)
    return reasons


def _errors(log: str, limit: int = 5) -> list[str]:
    """The exception messages in the log (``SomeError: what went wrong``), last ones first, no repeats."""
    found: list[str] = []
    for line in reversed(log.splitlines()):
        entry = _json(line)
        if entry is None:
            messages = [line]
        else:  # a JSON log line: its exceptions ("exception", or "error_detail"), innermost last
            details = next((v for k in ("exception", "error_detail") if isinstance(v := entry.get(k), list)), [])
            messages = [f"{d.get('exc_type')}: {d.get('exc_value')}" for d in reversed(details) if isinstance(d, dict)]
        for message in messages:
            if re.match(r"^[\w.]+(Error|Exception): ", message) and message not in found:
                found.append(message)
                if len(found) == limit:
                    return found
    return found


def _json(line: str) -> dict | None:
    """A JSON log line (what logging writes while tasks log to their files) as a dict, else None."""
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
