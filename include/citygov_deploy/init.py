"""compose's ``airflow-init`` job: migrate Airflow's database, write the users' passwords, set pools,
register connections and the catalog Variable, migrate the governance store, register the city's sources
and the queue's stewards. Idempotent: run it again after an upgrade.

    python -m citygov_deploy.init      # configuration from the environment (common_env and INIT_ENV)

Production runs it from docker-compose.yml's ``airflow-init`` service; ``scripts/cluster.py up`` runs it
as a process. Airflow is imported inside :func:`init` only: it reads its configuration on import.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from citygov_deploy.topology import (
    CATALOG_VARIABLE,
    CONNECTIONS,
    PASSWORD_ENV_PREFIX,
    POOLS,
    QUEUE_ROLES,
    USERS,
    write_private,
)


def init(environ: Mapping[str, str]) -> None:
    """airflow-init: migrate, users, pools, connections, the catalog Variable, the governance store.

    Idempotent: run it again after an upgrade. Configuration comes from the environment (common_env and
    INIT_ENV), as in the compose service.
    """
    # Airflow reads its configuration on import: import it only here, with the environment in place.
    from airflow.cli import cli_parser

    from citygov.cli import main as govern
    from citygov.onboarding import governance_connection

    def airflow(*args: str) -> None:
        parsed = cli_parser.get_parser().parse_args(list(args))
        parsed.func(parsed)

    print("── airflow db migrate", flush=True)
    airflow("db", "migrate")
    _write_passwords(Path(environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]), environ)
    # The same call a single-host Airflow makes (python -m citygov_airflow.pools): one way to set pools.
    from citygov_airflow.pools import ensure_pools

    print(f"── pools: {', '.join(ensure_pools(POOLS))}", flush=True)
    city_file = environ.get("CITYGOV_CONNECTIONS_FILE")
    city = json.loads(Path(city_file).read_text(encoding="utf-8")) if city_file else {}
    connections = dict(city)
    connections["governance_db"] = governance_connection(environ["GOVERNANCE_DB_URL"]).to_airflow_json()
    assert set(CONNECTIONS) <= set(connections)
    path = Path(environ["AIRFLOW_HOME"]) / "connections.json"
    write_private(path, connections)
    print(f"── connections: {', '.join(sorted(connections))}", flush=True)
    airflow("connections", "import", "--overwrite", str(path))
    if environ.get("CITYGOV_CATALOG_FILE"):
        airflow("variables", "set", CATALOG_VARIABLE, environ["CITYGOV_CATALOG_FILE"])
    print("── govern store upgrade", flush=True)
    _check(govern(["store", "upgrade"]), "govern store upgrade")
    if city_file:
        _check(govern(["sources", "register", city_file]), "govern sources register")
    for user, role in QUEUE_ROLES.items():
        _check(govern(["disputes", "users", "add", user, "--role", role]), f"govern disputes users add {user}")
    print("── airflow-init done", flush=True)


def _write_passwords(path: Path, environ: Mapping[str, str]) -> None:
    """The SimpleAuthManager's passwords file, from CITYGOV_PASSWORD_<USER>; refuses a missing one."""
    missing = [PASSWORD_ENV_PREFIX + u.upper() for u in USERS if not environ.get(PASSWORD_ENV_PREFIX + u.upper())]
    if missing:
        raise SystemExit(f"airflow-init: set {', '.join(missing)} (in .env for docker compose)")
    write_private(path, {u: environ[PASSWORD_ENV_PREFIX + u.upper()] for u in USERS})
    print(f"── users: {', '.join(f'{u} ({r})' for u, r in USERS.items())}", flush=True)


def _check(status: int, what: str) -> None:
    if status not in (0, 1):  # 1: ran, found problems (e.g. a rejected catalog row) — not an init failure
        raise SystemExit(f"airflow-init: {what} failed (exit {status})")


def main() -> int:
    init(os.environ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
