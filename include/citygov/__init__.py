"""citygov: the Airflow-free core of the city public-data governance pipeline.

DAGs (``dags/``), the ``govern`` command line and the web API are thin shells over this package.
"""

__version__ = "0.1.0"
