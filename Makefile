# citygov: one command per thing a person wants to do. `make help` lists them.
#
# Airflow's settings live in scripts/airflow_env.sh (sourced by every recipe that runs Airflow or
# `govern`): Airflow 3 on SQLite with the LocalExecutor, AIRFLOW_HOME=.airflow/, examples off,
# parallelism 4 for a 2-core machine, Asia/Shanghai. `source scripts/airflow_env.sh` gives a shell the same.
# It also reads the active city profile (.citygov/city.env, written by `govern city init` / `make city`):
# `make up` serves that city. The demo's targets run with DEMO_ENV (no profile: the demo's own settings),
# so they never register the demo over a configured city.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
INSTALLED := $(VENV)/.citygov-installed
ENV := source scripts/airflow_env.sh &&
DEMO_ENV := export CITYGOV_CITY_ENV= && source scripts/airflow_env.sh &&

AIRFLOW_HOME := $(CURDIR)/.airflow
AIRFLOW_DB := $(AIRFLOW_HOME)/airflow.db
DEMO_DIR := $(CURDIR)/data/demo
DEMO_CATALOG := $(DEMO_DIR)/catalog.csv
# The pipeline's DAGs in the order `make demo` runs them (no scheduler there to follow the assets);
# add a DAG here when it joins the pipeline.
PIPELINE_DAGS := catalog_sync public_data_census catalog_patrol quality_inspection provincial_backflow dispute_routing share_trace

.PHONY: help venv init demo connections city test bench bench-nightly lint up cluster-up cluster-down clean distclean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(INSTALLED) ## Create .venv (Python 3.11) and install citygov with its dev tools

# Reinstalled only when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	@if [[ ! -x $(VENV)/bin/python ]]; then \
	  [[ -n "$(PYTHON)" ]] || { echo "python3.11 not found; install it or run make PYTHON=/path/to/python3.11" >&2; exit 1; }; \
	  echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,mysql]'
	@touch $@

init: $(AIRFLOW_DB) ## Migrate Airflow's metadata DB (.airflow/) and the governance store
	@$(DEMO_ENV) govern store upgrade

# `airflow db migrate` is idempotent but takes seconds: rerun it only after (re)installing.
$(AIRFLOW_DB): $(INSTALLED)
	@mkdir -p $(AIRFLOW_HOME)
	@echo "airflow db migrate → $(AIRFLOW_DB)"
	@$(DEMO_ENV) airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -n 30 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	@# the source pools: a scheduler never runs a task whose pool does not exist
	@$(DEMO_ENV) python -m citygov_airflow.pools >> $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -n 30 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	@touch $@

$(DEMO_CATALOG): | $(INSTALLED)
	@$(DEMO_ENV) govern demo create --out $(DEMO_DIR) --as-of today

# Idempotent: --overwrite replaces connections registered before, `variables set` replaces the value.
define register
@$(DEMO_ENV) python scripts/airflow_connections.py $(DEMO_DIR)/connections.json $(AIRFLOW_HOME)/connections.json
@$(DEMO_ENV) airflow connections import --overwrite $(AIRFLOW_HOME)/connections.json > $(AIRFLOW_HOME)/connections-import.log 2>&1 \
  || { cat $(AIRFLOW_HOME)/connections-import.log; exit 1; }
@$(DEMO_ENV) airflow variables set --description "the office's catalog export that catalog_sync imports" \
  citygov_catalog_file $(DEMO_CATALOG)
@$(DEMO_ENV) govern sources register $(DEMO_DIR)/connections.json > /dev/null
@$(DEMO_ENV) govern city demo-profile --dir $(DEMO_DIR) > /dev/null
@$(DEMO_ENV) govern disputes users add admin --role steward --display-name "Airflow admin (steward)" > /dev/null
endef

connections: init $(DEMO_CATALOG) ## Register the demo city's connections, governance_db and the catalog Variable
	$(register)

demo: init ## Generate the demo city, run the pipeline's DAGs through Airflow, show what they found
	@$(DEMO_ENV) govern demo create --out $(DEMO_DIR) --as-of today
	$(register)
	@# The demo city is dated today (defects.json "as_of"), the day the scheduler of make up runs first too.
	@$(DEMO_ENV) python scripts/run_dags.py "$$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of"])' $(DEMO_DIR)/defects.json)" $(PIPELINE_DAGS)
	@$(DEMO_ENV) govern city results

# Your own city in one step: checks first (exit 2 and a list, nothing written), then registers it with its
# own Airflow home, store and suites folder (DIR, default data/city), drafts suites, runs the pipeline once.
city: $(INSTALLED) ## Onboard a city: make city CATALOG=catalog.xlsx CONNECTIONS=connections.json [DIR=… DATE=… NO_RUN=1]
	@[[ -n "$(CATALOG)" && -n "$(CONNECTIONS)" ]] || { echo "usage: make city CATALOG=FILE CONNECTIONS=FILE [DIR=DIR] [DATE=YYYY-MM-DD] [NO_RUN=1]" >&2; exit 2; }
	@$(DEMO_ENV) govern city init --catalog "$(CATALOG)" --connections "$(CONNECTIONS)" --dags "$(PIPELINE_DAGS)" \
	  $(if $(DIR),--dir "$(DIR)") $(if $(DATE),--date "$(DATE)") $(if $(NO_RUN),--no-run)

# Two workers (pytest-xdist): the tests that start servers (tests/e2e, cluster, web, and any marked
# airflow) run one after the other in one of them, the rest in the other (tests/conftest.py).
test: $(INSTALLED) ## Run all tests (unit, store, DAG integrity, Airflow end-to-end)
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

bench: $(INSTALLED) ## Benchmarks: ratios to a baseline measured in the same run, with scale and peak memory
	$(VENV)/bin/python bench/patrol_bench.py --scales 1,10,100
	$(VENV)/bin/python bench/quality_bench.py
	$(VENV)/bin/python bench/backflow_bench.py
	$(VENV)/bin/python bench/pages_bench.py
	$(VENV)/bin/python bench/nightly_bench.py

bench-nightly: $(INSTALLED) ## The nightly chain at 10,000 entries / 60 departments on SQLite, PostgreSQL, MariaDB, CeleryExecutor processes
	$(VENV)/bin/python bench/nightly_bench.py

lint: $(INSTALLED) ## ruff check and the architecture contracts (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

# The active city (govern city init) is served as registered; the demo is registered first only when no
# other city is active. UP_RUNNER is what finally runs in that environment (tests set it to a no-op).
UP_RUNNER ?= scripts/up.sh
# PORT (or CITYGOV_PORT): the api-server's port, which tasks, links and log-server ports follow (airflow_env.sh).
UP_ENV := $(if $(PORT),export CITYGOV_PORT=$(PORT) &&) $(ENV)
up: $(INSTALLED) ## Airflow standalone (api-server, scheduler, dag-processor, triggerer) for the active city: make up [PORT=8080]
	@$(UP_ENV) if [[ -n "$${CITYGOV_CITY_PROFILE:-}" && "$$CITYGOV_CITY_PROFILE" != "$(DEMO_DIR)/city.json" ]]; then \
	  echo "serving the city of $$CITYGOV_CITY_PROFILE (govern city show; govern city use $(DEMO_DIR) switches to the demo)"; \
	else $(MAKE) connections && $(DEMO_ENV) govern demo dated --dir $(DEMO_DIR); fi
	@$(UP_ENV) echo "Airflow UI: $$AIRFLOW__API__BASE_URL  user: admin  password: in $$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
	@echo "(the password file is written on first start; Ctrl-C stops everything)"
	@$(UP_ENV) exec $(UP_RUNNER)

# The production topology (docker-compose.yml) as processes: scripts/cluster.py, state in .cluster/.
cluster-up: $(INSTALLED) $(DEMO_CATALOG) ## CeleryExecutor cluster on the local PostgreSQL and Redis (api-server :8080)
	@$(VENV)/bin/python scripts/cluster.py up --connections $(DEMO_DIR)/connections.json --catalog $(DEMO_CATALOG)

cluster-down: ## Stop every process of make cluster-up (its databases stay; see scripts/cluster.py)
	@$(VENV)/bin/python scripts/cluster.py down

clean: ## Remove Airflow's state (.airflow/), the demo city and caches; keeps the governance store and .venv
	rm -rf $(AIRFLOW_HOME) $(DEMO_DIR) .pytest_cache .ruff_cache build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove data/ (the embedded governance store) and .venv
	rm -rf data $(VENV)
