"""The scheduler's side of run notes: when a DAG run ends, the note a task left for it (XCom
``citygov_run_note``, :func:`citygov_airflow.run_report.report_failures`) becomes the run's note.

A listener (plugin ``citygov_run_notes``), so it runs where the metadata database may be written: in the
scheduler, and in the process of ``dag.test`` (``make demo``). A note a person wrote is left alone.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

from citygov_airflow.run_report import RUN_NOTE_KEY

log = logging.getLogger(__name__)


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:  # type: ignore[no-untyped-def]
    _copy_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:  # type: ignore[no-untyped-def]
    _copy_note(dag_run)


def _copy_note(dag_run) -> None:  # type: ignore[no-untyped-def]
    from airflow import settings
    from airflow.models.dagrun import DagRunNote
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    # The session of the caller (the scheduler's loop, dag.test's), which commits the run's new state: the
    # run's own, else the thread's scoped session, the one ``create_session`` gives them.
    session = object_session(dag_run) or settings.Session()
    row = session.execute(
        select(XComModel.value)
        .where(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id, XComModel.key == RUN_NOTE_KEY)
        .order_by(XComModel.timestamp.desc())
        .limit(1)
    ).first()
    if row is None:
        return
    note = XComModel.deserialize_value(row)
    if not isinstance(note, str):
        return
    current = session.get(DagRunNote, dag_run.id)
    if current is None:
        current = DagRunNote(content=note[:1000])
        current.dag_run_id = dag_run.id
        session.add(current)
    elif current.user_id is None:  # a note a person wrote stays
        current.content = note[:1000]
    session.flush()
    log.info("run note of %s set from its tasks", dag_run.run_id)
