"""citygov's web pages in Airflow's api-server (plugin ``citygov_web``), under ``/citygov/web``.

(Not named ``citygov_web.py``: the plugins folder is on ``sys.path`` and would shadow the ``citygov_web``
package that holds the pages.)

The city dashboard, the department league table, dataset scorecards, the dispute queue (with its CSV/XLSX
exports), the census, the catalog, the backflow batches, the monthly department report and the Data Docs
site, linked from Airflow's navigation (``external_views``, shown inside Airflow's UI) and behind Airflow's
login: every route depends on ``GetUserDep`` and the auth manager's permission (see
:mod:`citygov_web.auth`). The pages render what the ``citygov`` core computes, as the CLI does.

Importing this module is cheap (every Airflow process imports plugins): the FastAPI app is built on its
first request.
"""

from airflow.plugins_manager import AirflowPlugin

from citygov_web.airflow_env import LazyApp

URL_PREFIX = "/citygov/web"
CATEGORY = "数据治理 citygov"


def build_app():  # type: ignore[no-untyped-def]
    """The pages over the Airflow process's governance store, connections and Data Docs folder."""
    from citygov_web.airflow_env import airflow_connection, data_docs_dir, governance_engine
    from citygov_web.app import create_app

    return create_app(governance_engine, airflow_connection, data_docs_dir)


def _view(name: str, path: str, route: str) -> dict[str, str]:
    return {"name": name, "href": f"{URL_PREFIX}{path}", "url_route": route, "destination": "nav",
            "category": CATEGORY}


class CitygovWebPlugin(AirflowPlugin):
    """Registers the pages with the api-server and links them from Airflow's navigation."""

    name = "citygov_web"
    fastapi_apps = [{"app": LazyApp(build_app), "url_prefix": URL_PREFIX, "name": "citygov pages (数据治理页面)"}]
    external_views = [
        _view("城市看板 Dashboard", "/", "citygov-dashboard"),
        _view("部门排名 Departments", "/departments", "citygov-departments"),
        _view("异议队列 Disputes", "/disputes", "citygov-disputes"),
        _view("质量报告 Data Docs", "/docs/latest/index.html", "citygov-data-docs"),  # the newest date
        _view("部门月报 Monthly report", "/reports/monthly", "citygov-monthly"),
        _view("公共数据普查 Census", "/census", "citygov-census"),
        _view("资源目录 Catalog", "/catalog", "citygov-catalog"),
        _view("数据回流 Backflow", "/backflow", "citygov-backflow"),
    ]
