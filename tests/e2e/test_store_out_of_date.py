"""A task or a ``govern`` command that meets a governance store at an older schema stops at once and says
which command migrates it; it never migrates the store itself (only ``govern store upgrade`` and the init
jobs do). The store is one revision behind, as after deploying a release with a new migration."""

from __future__ import annotations

from datetime import datetime

import pytest

from citygov.cli import main as govern
from citygov.settings import CITY_TZ
from citygov.store import current_revisions, engine_for, head_revisions
from tests.e2e.conftest import load_dag
from tests.old_store import make_store_one_revision_behind

pytestmark = pytest.mark.airflow

UPGRADE = "run `govern store upgrade` (or `make init`) to migrate it"


def revisions(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        return current_revisions(engine)
    finally:
        engine.dispose()


def test_a_task_fails_at_once_naming_the_command_and_leaves_the_store_as_it_is(
    store_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    before = make_store_one_revision_behind(store_url)
    dag = load_dag("dispute_sla")
    for task in dag.tasks:
        task.retries = 2  # as deployed: the refusal must not be retried

    run = dag.test(logical_date=datetime(2026, 3, 2, 9, tzinfo=CITY_TZ))

    with create_session() as session:
        (ti,) = session.query(TaskInstance).filter_by(dag_id="dispute_sla", run_id=run.run_id).all()
        state, tries = str(ti.state), ti.try_number
    assert (str(run.state), state, tries) == ("failed", "failed", 1)
    out, err = capfd.readouterr()
    assert "AirflowFailException: the governance store" in out + err
    assert f"is at schema revision {before}, older than this code's" in out + err
    assert UPGRADE in out + err
    assert revisions(store_url) == {before}, "the task did not migrate the store"


def test_a_command_fails_naming_the_command_and_works_after_the_upgrade(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = make_store_one_revision_behind(store_url)

    with pytest.raises(SystemExit) as stopped:
        govern(["--db", store_url, "disputes", "list", "--json"])

    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the governance store") and UPGRADE in err
    assert "Traceback" not in err
    assert revisions(store_url) == {before}, "the command did not migrate the store"

    assert govern(["--db", store_url, "store", "upgrade"]) == 0
    assert revisions(store_url) == head_revisions()
    assert govern(["--db", store_url, "disputes", "list", "--json"]) == 0
