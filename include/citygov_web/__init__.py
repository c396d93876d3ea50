"""Web pages of citygov inside Airflow's api-server: the city dashboard, the department league table,
dataset scorecards, the dispute queue and the Data Docs site, behind Airflow's login.

A thin shell like the CLI and the DAGs: every number comes from the ``citygov`` core (:mod:`citygov.kpis`,
:mod:`citygov.quality.scores`, :mod:`citygov.disputes`). The Airflow plugin ``plugins/citygov_web_plugin.py``
mounts :func:`citygov_web.app.create_app` at ``/citygov/web`` and links the pages from Airflow's menu; the
dispute queue's JSON API beside them, :func:`citygov_web.api.create_api`, is mounted at ``/citygov/api`` by
``plugins/citygov_disputes_api.py``.
"""
