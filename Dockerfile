# citygov's Airflow image: the official Airflow 3.3.2 image plus the project (docker-compose.yml builds it).
FROM apache/airflow:3.3.2-python3.11

# The package first, so that editing a DAG does not reinstall the dependencies. The `cluster` extra
# brings the Celery provider with celery/kombu capped below 5.7 (5.7 downgrades packages Airflow needs);
# pyproject.toml pins apache-airflow==3.3.2, so pip keeps the image's Airflow. Installed against Airflow's
# constraints file for that release (Airflow's "installing from PyPI" guide), so the image holds the versions
# Airflow was tested with; build with --build-arg AIRFLOW_CONSTRAINTS= to install without it (e.g. from a
# mirror that does not serve GitHub), or point it at a local copy.
ARG AIRFLOW_CONSTRAINTS=https://raw.githubusercontent.com/apache/airflow/constraints-3.3.2/constraints-3.11.txt
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/citygov/
COPY --chown=airflow:0 include/ /opt/airflow/citygov/include/
RUN pip install --no-cache-dir ${AIRFLOW_CONSTRAINTS:+--constraint "${AIRFLOW_CONSTRAINTS}"} "/opt/airflow/citygov[cluster]"
# Compile the backflow and quality kernels into numba's cache now, not in the first task that needs them
# (numba recompiles by itself should the host's CPU differ from the build machine's).
RUN python -c "from citygov.backflow import copybin; from citygov.quality import kernels; copybin.warm(); kernels.warm()"

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 expectations/ /opt/airflow/citygov/expectations/
COPY --chown=airflow:0 scripts/ /opt/airflow/citygov/scripts/

# Mount points of the named volumes: created here so that Docker gives a new volume the airflow user's
# ownership (the passwords file, Data Docs, the demo city); group 0 may write, for another AIRFLOW_UID.
RUN mkdir -p /opt/airflow/auth /opt/airflow/data /opt/airflow/city \
 && chmod g+rwx /opt/airflow/auth /opt/airflow/data
ENV CITYGOV_HOME=/opt/airflow/citygov
