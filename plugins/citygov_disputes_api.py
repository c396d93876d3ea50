"""The dispute queue's web API (异议处置) in Airflow's api-server (plugin ``citygov_disputes``), under
``/citygov/api``.

The app, its routes and its permissions are :mod:`citygov_web.api`, beside the pages; this file only
registers it. Importing this module is cheap (every Airflow process, task runners too, imports plugins):
the FastAPI app is built on its first request (:class:`citygov_web.airflow_env.LazyApp`).
"""

from airflow.plugins_manager import AirflowPlugin

from citygov_web.airflow_env import LazyApp

URL_PREFIX = "/citygov/api"


def build_app():  # type: ignore[no-untyped-def]
    """The API over the Airflow process's governance store and connections (shared with the pages)."""
    from citygov_web.airflow_env import airflow_connection, governance_engine
    from citygov_web.api import create_api

    return create_api(governance_engine, airflow_connection, URL_PREFIX)


class CitygovDisputesPlugin(AirflowPlugin):
    """Registers the dispute queue's API with the api-server."""

    name = "citygov_disputes"
    fastapi_apps = [{"app": LazyApp(build_app), "url_prefix": URL_PREFIX, "name": "citygov dispute queue (异议处置)"}]
