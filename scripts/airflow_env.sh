# shellcheck shell=bash
# The embedded Airflow's settings, in one place. Sourced by every Makefile recipe that runs Airflow or
# `govern`; source it yourself to use the same Airflow by hand:   source scripts/airflow_env.sh
#
# Airflow 3 on SQLite with the LocalExecutor, its home inside this checkout (.airflow/, git-ignored).
# The values are set, not defaulted: an AIRFLOW_HOME left in a shell profile must not send `make demo`
# to some other Airflow.

CITYGOV_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CITYGOV_HOME
export PATH="$CITYGOV_HOME/.venv/bin:$PATH"

export AIRFLOW_HOME="$CITYGOV_HOME/.airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$CITYGOV_HOME/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$CITYGOV_HOME/plugins"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DEFAULT_TIMEZONE=Asia/Shanghai
# Two cores: the default parallelism (32) would start 32 LocalExecutor worker processes.
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=4
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
export AIRFLOW__API__WORKERS=1
# On 2 cores `airflow standalone`'s api-server takes ~20 s to listen, and the scheduler starts the first
# tasks before that: with the default 5 tries, 1 s apart at least, they fail before the API answers.
# 10 tries at least 3 s apart wait 27 s or more (random exponential backoff, capped at 90 s a wait).
export AIRFLOW__WORKERS__EXECUTION_API_RETRIES=10
export AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MIN=3
# The pipeline runs as soon as `make up` starts it, without anyone clicking "unpause".
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
# One port (`make up PORT=8091`, or CITYGOV_PORT): the api-server listens there, tasks reach its execution API
# there (not Airflow's default :8080, which on a shared host may be another Airflow), links in logs and run
# notes ([api] base_url, CITYGOV_BASE_URL to give a host name) and `make up`'s printed address use it. The
# worker and triggerer log servers listen on PORT+713 and PORT+714 (8793 and 8794 for 8080, Airflow's
# defaults), or CITYGOV_WORKER_LOG_PORT / CITYGOV_TRIGGER_LOG_PORT.
export CITYGOV_PORT="${CITYGOV_PORT:-8080}"
export AIRFLOW__API__PORT="$CITYGOV_PORT"
export AIRFLOW__API__BASE_URL="${CITYGOV_BASE_URL:-http://localhost:$CITYGOV_PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$CITYGOV_PORT/execution/"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${CITYGOV_WORKER_LOG_PORT:-$((CITYGOV_PORT + 713))}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${CITYGOV_TRIGGER_LOG_PORT:-$((CITYGOV_PORT + 714))}"

# The city: the active city profile, written by `govern city init` (or `govern city use DIR`) to
# .citygov/city.env, sets the city's own AIRFLOW_HOME and metadata DB, GOVERNANCE_DB_URL, CITYGOV_SUITES_DIR,
# CITYGOV_DATA_DIR, CITYGOV_CATALOG_FILE and CITYGOV_CONNECTIONS_FILE (citygov.onboarding.CityProfile).
# CITYGOV_CITY_ENV names another profile's city.env; set and empty, it means none: the demo's defaults above
# (the Makefile's demo targets use that, so `make demo` never touches a configured city).
_citygov_city_env="${CITYGOV_CITY_ENV-$CITYGOV_HOME/.citygov/city.env}"
if [[ -n "$_citygov_city_env" && -f "$_citygov_city_env" ]]; then
  # shellcheck source=/dev/null
  source "$_citygov_city_env"
elif [[ -n "${CITYGOV_CITY_PROFILE:-}" ]]; then
  # A city's settings left in this shell must not send the demo to that city's store or suites.
  unset CITYGOV_CITY_PROFILE GOVERNANCE_DB_URL CITYGOV_SUITES_DIR CITYGOV_DATA_DIR CITYGOV_CATALOG_FILE \
    CITYGOV_CONNECTIONS_FILE
fi
unset _citygov_city_env

# OpenLineage (数据血缘): each task's inputs and outputs as OpenLineage events, through Airflow's OpenLineage
# provider and citygov_airflow.lineage. By default to a file, $AIRFLOW_HOME/openlineage/events.jsonl; set
# AIRFLOW__OPENLINEAGE__TRANSPORT before sourcing this to send them to Marquez, DataHub or OpenMetadata
# (README, "Lineage"), or AIRFLOW__OPENLINEAGE__DISABLED=true to send none.
export AIRFLOW__OPENLINEAGE__EXTRACTORS="citygov_airflow.lineage.CitygovExtractor"
export AIRFLOW__OPENLINEAGE__NAMESPACE="${AIRFLOW__OPENLINEAGE__NAMESPACE:-citygov}"
if [[ -z "${AIRFLOW__OPENLINEAGE__TRANSPORT:-}" ]]; then
  mkdir -p "$AIRFLOW_HOME/openlineage"
  export AIRFLOW__OPENLINEAGE__TRANSPORT="{\"type\": \"file\", \"log_file_path\": \"$AIRFLOW_HOME/openlineage/events.jsonl\", \"append\": true}"
fi
