#!/usr/bin/env bash
# Runs once, when the postgres service initialises an empty data volume (/docker-entrypoint-initdb.d):
# the governance store gets a database and a role of its own, apart from Airflow's metadata database.
set -euo pipefail
: "${GOVERNANCE_DB_PASSWORD:?set GOVERNANCE_DB_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$GOVERNANCE_DB_PASSWORD" <<'SQL'
CREATE ROLE citygov LOGIN PASSWORD :'pw';
CREATE DATABASE governance OWNER citygov ENCODING 'UTF8';
SQL
