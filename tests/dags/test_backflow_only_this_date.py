"""provincial_backflow's ``only_this_date`` param: what the UI shows (its default, label and help) agrees
with what a backfill run does (it takes only its own date whatever the box shows)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "provincial_backflow.py"


@pytest.fixture(scope="module")
def dag_module():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAG_FILE, safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    import importlib.util

    spec = importlib.util.spec_from_file_location("provincial_backflow_for_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return bag.dags["provincial_backflow"], module


@pytest.mark.parametrize(
    ("run_type", "checked", "only_its_date"),
    [("backfill", False, True), ("backfill", True, True), ("scheduled", False, False), ("manual", True, True)],
)
def test_the_box_and_its_help_tell_what_a_run_does(dag_module, run_type, checked, only_its_date) -> None:  # type: ignore[no-untyped-def]
    dag, module = dag_module
    param = dag.params.get_param("only_this_date")
    assert param.value is False  # the box's default, shown unchecked in every form, the backfill form too
    words = f"{param.schema.get('title', '')} {param.description}".lower()
    assert "backfill" in words and "always" in words and "whatever this box shows" in words
    run = SimpleNamespace(run_type=run_type)
    assert module._only_this_date({"only_this_date": checked}, run) is only_its_date
