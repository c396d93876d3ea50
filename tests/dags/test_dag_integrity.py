"""Every DAG file parses, follows the project's conventions, and does no I/O at its top level."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "dags"
GUARD = Path(__file__).with_name("import_guard.py")
DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))
MAX_IMPORT_SECONDS = 2.0


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_FOLDER, safe_mode=False)


def run_guard(*files: Path) -> list[dict]:
    """Import DAG files under the I/O guard in a fresh interpreter; one report per file."""
    proc = subprocess.run(
        [sys.executable, str(GUARD), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_dags_folder_has_dags() -> None:
    assert DAG_FILES, f"no DAG files in {DAGS_FOLDER}"


def test_no_import_errors(dagbag) -> None:
    assert not dagbag.import_errors, "\n\n".join(f"{f}:\n{e}" for f, e in dagbag.import_errors.items())
    assert dagbag.dags


def test_every_dag_file_defines_a_dag(dagbag) -> None:
    files_with_dags = {Path(dag.fileloc).resolve() for dag in dagbag.dags.values()}
    assert not set(DAG_FILES) - files_with_dags


def test_dag_conventions(dagbag) -> None:
    problems = []
    for dag_id, dag in sorted(dagbag.dags.items()):
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md (use the module docstring: doc_md=__doc__)")
        if dag.timezone.name != "Asia/Shanghai":
            problems.append(f"{dag_id}: start_date timezone {dag.timezone.name}, expected Asia/Shanghai")
        for task in dag.tasks:
            if not task.owner or task.owner == "airflow":
                problems.append(
                    f"{dag_id}.{task.task_id}: owner {task.owner!r}; use citygov_airflow.DEFAULT_ARGS"
                )
            if (task.retries or 0) < 1:
                problems.append(f"{dag_id}.{task.task_id}: retries {task.retries}; at least 1")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def guard_reports() -> dict[str, dict]:
    """All DAG files imported under the guard in one fresh interpreter (as one DAG processor would)."""
    return {Path(r["file"]).name: r for r in run_guard(*DAG_FILES)}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_does_no_io_at_import_and_parses_fast(dag_file: Path, guard_reports) -> None:
    report = guard_reports[dag_file.name]
    assert report["violations"] == [], f"{dag_file.name} does I/O at import: {report['violations']}"
    assert report["error"] is None, report["error"]
    assert report["seconds"] < MAX_IMPORT_SECONDS, f"{dag_file.name} took {report['seconds']} s to import"


# --- the guard itself ---------------------------------------------------------------------------------

_HEADER = "from airflow.sdk import dag\nimport pendulum\n"

GUARDED_SAMPLES = {
    "open_file": 'open("{data}").read()',
    "pathlib_read": 'import pathlib\npathlib.Path("{data}").read_text()',
    "pandas_csv": 'import pandas\npandas.read_csv("{data}")',
    "sqlite": 'import sqlite3\nsqlite3.connect("{tmp}/x.db")',
    "create_engine": 'import sqlalchemy\nsqlalchemy.create_engine("sqlite://")',
    "socket": 'import socket\nsocket.create_connection(("127.0.0.1", 9), timeout=0.2)',
    "variable": 'from airflow.sdk import Variable\nVariable.get("citygov_catalog_file")',
    "connection": 'from airflow.sdk import BaseHook\nBaseHook.get_connection("governance_db")',
    "subprocess": 'import subprocess\nsubprocess.run(["true"])',
}


def test_guard_catches_module_level_io(tmp_path: Path) -> None:
    data = tmp_path / "catalog.csv"
    data.write_text("a,b\n1,2\n")
    files = []
    for name, body in GUARDED_SAMPLES.items():
        path = tmp_path / f"bad_{name}.py"
        path.write_text(_HEADER + body.format(data=data, tmp=tmp_path) + "\n")
        files.append(path)
    clean = tmp_path / "clean.py"
    clean.write_text(
        _HEADER
        + textwrap.dedent(
            """
            import logging

            @dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Shanghai"))
            def clean():
                pass

            clean()
            """
        )
    )
    reports = {Path(r["file"]).stem: r for r in run_guard(*files, clean)}

    missed = [name for name in GUARDED_SAMPLES if not reports[f"bad_{name}"]["violations"]]
    assert not missed, f"the guard let module-level I/O through: {missed}"
    assert all("ModuleLevelIOError" in (reports[f"bad_{n}"]["error"] or "") for n in GUARDED_SAMPLES)
    assert reports["clean"]["violations"] == [] and reports["clean"]["error"] is None
