"""Plugin ``citygov_run_notes``: the listener that copies a run's note from its tasks
(:mod:`citygov_airflow.run_notes`) into the scheduler and ``dag.test``."""

from airflow.plugins_manager import AirflowPlugin

from citygov_airflow import run_notes


class CitygovRunNotesPlugin(AirflowPlugin):
    name = "citygov_run_notes"
    listeners = [run_notes]
