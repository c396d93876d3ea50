"""docker-compose.yml declares the topology the process test runs (scripts/cluster.py), so they cannot drift.

No processes, no Docker: the compose file is parsed with PyYAML (anchors and ``<<`` merges resolved) and
compared with the topology definition: services, commands, executor, users, connections, environment.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts import cluster as topology

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = [*topology.SERVICES, topology.INIT_SERVICE]


@pytest.fixture(scope="module")
def process_env() -> dict[str, str]:
    return topology.common_env(topology.ClusterConfig(run_dir=ROOT / ".cluster-drift-test"))


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_the_same_services() -> None:
    assert set(SERVICES) == {*topology.BACKING_SERVICES, topology.INIT_SERVICE, *topology.SERVICES}
    for service, command in topology.SERVICES.items():
        assert _command(service) == list(command), service
        assert SERVICES[service]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert {"postgres", "redis"} <= set(SERVICES[service]["depends_on"]), service
    assert "python -m citygov_deploy.init" in " ".join(_command(topology.INIT_SERVICE))
    # Workers need the api-server's execution API before they take a task.
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_the_same_environment_in_every_airflow_service(process_env: dict[str, str]) -> None:
    expected = set(process_env) - set(topology.PROCESS_ONLY_ENV)
    for service in AIRFLOW_SERVICES:
        env = SERVICES[service]["environment"]
        assert set(env) - set(topology.DOCKER_ONLY_ENV) - set(topology.INIT_ENV) == expected, service
    # Anchors: one value per key for every component (one Fernet key, one JWT secret, one broker ...).
    first = SERVICES["airflow-apiserver"]["environment"]
    for service in AIRFLOW_SERVICES:
        env = SERVICES[service]["environment"]
        assert {k: env[k] for k in expected} == {k: first[k] for k in expected}, service
    init_only = set(SERVICES[topology.INIT_SERVICE]["environment"]) - set(first) - set(topology.DOCKER_ONLY_ENV)
    assert init_only == set(topology.INIT_ENV)


@pytest.mark.parametrize(
    "key",
    [
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    ],
)
def test_the_same_settings(process_env: dict[str, str], key: str) -> None:
    assert str(COMPOSE["x-airflow-common"]["environment"][key]) == process_env[key]


def test_the_same_urls_and_secrets_with_other_hosts(process_env: dict[str, str]) -> None:
    env = COMPOSE["x-airflow-common"]["environment"]
    assert process_env["AIRFLOW__CORE__EXECUTOR"] == topology.EXECUTOR == "CeleryExecutor"
    scheme = re.compile(r"^([a-z+]+)://")
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "GOVERNANCE_DB_URL",
    ):
        assert scheme.match(env[key]).group(1) == scheme.match(process_env[key]).group(1), key
    # The metadata DB is also the Celery result backend; the store is a database of its own.
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres/airflow")
    assert env["GOVERNANCE_DB_URL"].rsplit("/", 1)[1] != env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert process_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].endswith("/execution/")
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", env[key]), f"{key} must come from .env, required"


def test_users_roles_connections_and_the_store_database() -> None:
    env = COMPOSE["x-airflow-common"]["environment"]
    users = dict(pair.split(":") for pair in env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(","))
    assert users == topology.USERS
    assert set(users.values()) == {"admin", "op", "user", "viewer"}
    assert topology.CONNECTIONS == ("governance_db",)
    init_sql = (ROOT / "docker" / "postgres-init-governance.sh").read_text(encoding="utf-8")
    store_db = env["GOVERNANCE_DB_URL"].rsplit("/", 1)[1]
    assert f"CREATE DATABASE {store_db} OWNER citygov" in init_sql
    assert "citygov:" in env["GOVERNANCE_DB_URL"]
    mounts = SERVICES["postgres"]["volumes"]
    assert any(m.startswith("./docker/postgres-init-governance.sh:/docker-entrypoint-initdb.d/") for m in mounts)


def test_every_secret_is_declared_in_env_example_and_env_is_ignored() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = set(re.findall(r"(?<!\$)\$\{([A-Z_]+):\?", text))
    declared = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))  # $${X}: the container shell's
    assert required and required <= declared
    assert used - declared == set(), "variables compose reads that .env.example does not mention"
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8").split()


def test_the_image_is_the_pinned_airflow_with_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = next(d for d in pyproject["project"]["dependencies"] if d.startswith("apache-airflow=="))
    version = pinned.split("==")[1]
    assert re.search(rf"^FROM apache/airflow:{re.escape(version)}-python3\.11$", dockerfile, re.M)
    assert '"/opt/airflow/citygov[cluster]"' in dockerfile
    # installed against the constraints of the same Airflow release and Python
    assert re.search(rf"^ARG AIRFLOW_CONSTRAINTS=https://\S+/constraints-{re.escape(version)}/constraints-3\.11\.txt$", dockerfile, re.M)
    assert '--constraint "${AIRFLOW_CONSTRAINTS}"' in dockerfile
    for folder in ("dags/", "plugins/", "include/", "expectations/", "scripts/"):
        assert re.search(rf"^COPY .*\b{re.escape(folder)} ", dockerfile, re.M), folder
    assert COMPOSE["x-airflow-common"]["build"] == "."
