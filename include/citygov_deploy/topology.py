"""citygov's production topology, defined once: the services, the environment every Airflow component
shares, users, pools and connections.

docker-compose.yml declares it for containers (``tests/cluster/test_compose_matches_topology.py`` checks
that it does), ``scripts/cluster.py`` runs it as processes on one host (``make cluster-up``; started by
``tests/cluster/test_cluster_topology.py``), and :mod:`citygov_deploy.init` is its ``airflow-init`` job.
No Airflow import here.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citygov.settings import project_home
from citygov.sources.timeouts import CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_S
from citygov_airflow.pools import SOURCE_POOLS, SOURCE_TASK_TIMEOUT_S

ROOT = project_home()
"""The project folder: its dags/ and plugins/ are the topology's."""
BIN = Path(sys.executable).parent

BACKING_SERVICES = ("postgres", "redis")
"""Compose services that are not Airflow: here, the local PostgreSQL and Redis already running."""

INIT_SERVICE = "airflow-init"
"""Runs once before the others: ``python -m citygov_deploy.init``."""

SERVICES: dict[str, tuple[str, ...]] = {
    "airflow-apiserver": ("api-server",),
    "airflow-scheduler": ("scheduler",),
    "airflow-dag-processor": ("dag-processor",),
    "airflow-triggerer": ("triggerer",),
    "airflow-worker": ("celery", "worker"),
}
"""Long-running compose service → its ``airflow`` command (compose's ``command:``)."""

EXECUTOR = "CeleryExecutor"

AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"

USERS: dict[str, str] = {"admin": "admin", "operator": "op", "steward": "user", "viewer": "viewer"}
"""Airflow user → SimpleAuthManager role. admin: everything; op: run DAGs, manage connections, pools and
variables; user: run and edit DAGs and act on the dispute queue (a data steward); viewer: read only."""

QUEUE_ROLES: dict[str, str] = {"admin": "steward", "steward": "steward"}
"""Airflow users registered on the dispute queue (``govern disputes users add``) and their queue role."""

POOLS: dict[str, tuple[int, str]] = {
    "default_pool": (4, "citygov tasks that read no department source; sized to [core] parallelism"),
    **SOURCE_POOLS,
}
"""Pools airflow-init sets (name → slots, description): ``default_pool`` and the pools of the tasks that read
department sources (``citygov_sources_<n>`` per shard of sources, ``citygov_province``;
:mod:`citygov_airflow.pools` says why shards). The scheduler never queues a task whose pool is missing."""

CONNECTIONS = ("governance_db",)
"""Connections airflow-init registers whatever the city; the city's sources come from CITYGOV_CONNECTIONS_FILE."""

CATALOG_VARIABLE = "citygov_catalog_file"

PASSWORD_ENV_PREFIX = "CITYGOV_PASSWORD_"
"""``CITYGOV_PASSWORD_ADMIN`` etc.: each user's password, read by airflow-init only."""

INIT_ENV = ("CITYGOV_CONNECTIONS_FILE", "CITYGOV_CATALOG_FILE") + tuple(
    PASSWORD_ENV_PREFIX + user.upper() for user in USERS
)
"""Environment only airflow-init gets (besides :func:`common_env`)."""

PROCESS_ONLY_ENV: dict[str, str] = {
    "AIRFLOW_HOME": "the image sets /opt/airflow",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": "each container has its own 8974",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "each container has its own 8793",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "each container has its own 8794",
    "CITYGOV_CLUSTER_RUN": "marks the processes of one run, so that down can find strays",
}
"""Keys the processes need on one shared host and containers do not (one network namespace each)."""

DOCKER_ONLY_ENV: dict[str, str] = {
    "DUMB_INIT_SETSID": "the image's init: lets Celery's warm shutdown reach the worker (worker only)",
    "_PIP_ADDITIONAL_REQUIREMENTS": "the image's entrypoint; kept empty, the Dockerfile installs citygov",
    "CITYGOV_DEMO": "airflow-init generates the demo city into the data volume (cluster-up passes data/demo)",
}
"""Keys compose sets for the official image's entrypoint, meaningless for plain processes."""


@dataclass
class ClusterConfig:
    """Everything that differs between two runs of the topology on one machine."""

    run_dir: Path
    """pids, logs, AIRFLOW_HOME and the data folder of this run."""
    api_port: int = 8080
    metadata_db: str = "citygov_airflow"
    """Airflow's metadata database on the local PostgreSQL."""
    store_db: str = "citygov_governance"
    """The governance store's database on the local PostgreSQL."""
    pg_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432"
    """Server URL without a database; the role creates databases (trust auth here)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue: str = "citygov"
    """The Celery queue tasks go to and the worker consumes; unique per run on a shared Redis."""
    fernet_key: str = ""
    jwt_secret: str = ""
    record_key_secret: str = ""
    """The HMAC secret of disputed records' keys (citygov.disputes.recordkeys): one for every component."""
    passwords: dict[str, str] = field(default_factory=dict)
    parallelism: int = 4
    worker_concurrency: int = 2
    backflow_sort_memory_mib: int = 256
    """Memory a full backflow load may take to send its rows in key order (citygov.settings)."""
    source_timeout_s: int = CONNECT_TIMEOUT_S
    """Seconds a department source may take to answer a connection (citygov.sources.timeouts)."""
    source_statement_timeout_s: int = STATEMENT_TIMEOUT_S
    """Seconds one statement on a department source may run (citygov.sources.timeouts)."""
    source_task_timeout_s: int = SOURCE_TASK_TIMEOUT_S
    """``execution_timeout`` of the tasks that read department sources (citygov_airflow.pools)."""
    connections_file: str | None = None
    """The city's sources, in the ``airflow connections import`` format (``data/demo/connections.json``)."""
    catalog_file: str | None = None
    """The catalog export ``catalog_sync`` imports (Variable ``citygov_catalog_file``)."""
    ports: dict[str, int] = field(default_factory=dict)
    """Per-host ports of PROCESS_ONLY_ENV, chosen free at creation."""
    run_id: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Overrides for every component (a test lowers heartbeat timeouts here)."""

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir).resolve()
        self.fernet_key = self.fernet_key or _fernet_key()
        self.jwt_secret = self.jwt_secret or secrets.token_urlsafe(32)
        self.record_key_secret = self.record_key_secret or secrets.token_urlsafe(32)
        self.passwords = {u: self.passwords.get(u) or secrets.token_urlsafe(12) for u in USERS}
        self.run_id = self.run_id or uuid.uuid4().hex
        for name in ("scheduler_health", "worker_logs", "trigger_logs"):
            self.ports.setdefault(name, free_port())

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def airflow_home(self) -> Path:
        return self.run_dir / "airflow"

    @property
    def store_url(self) -> str:
        return f"{self.pg_url}/{self.store_db}"

    @property
    def metadata_url(self) -> str:
        return f"{self.pg_url}/{self.metadata_db}"

    def save(self) -> Path:
        """Write the configuration (secrets included) to ``run_dir/cluster.json``, mode 0600."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "cluster.json"
        write_private(path, asdict(self) | {"run_dir": str(self.run_dir)})
        return path

    @classmethod
    def load(cls, run_dir: Path) -> ClusterConfig:
        return cls(**json.loads((Path(run_dir) / "cluster.json").read_text(encoding="utf-8")))


def common_env(cfg: ClusterConfig) -> dict[str, str]:
    """The environment every Airflow component of the topology gets (compose: ``x-airflow-common``)."""
    celery_backend_url = cfg.metadata_url.replace("postgresql+psycopg://", "db+postgresql+psycopg://", 1)
    env = {
        "AIRFLOW__CORE__EXECUTOR": EXECUTOR,
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(cfg.run_dir / "auth" / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cfg.metadata_url,
        # psycopg 3 is sync and async in one driver; Airflow would otherwise derive an asyncpg URL.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": cfg.metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": cfg.redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": celery_backend_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(cfg.worker_concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": cfg.queue,
        # One key and one secret for all: connections encrypted by init are read by the workers, and a
        # task's JWT issued by the scheduler is checked by the api-server.
        "AIRFLOW__CORE__FERNET_KEY": cfg.fernet_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": cfg.jwt_secret,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{cfg.api_url}/execution/",
        "AIRFLOW__API__BASE_URL": cfg.api_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        # Production: nothing runs until an operator unpauses it.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # Small for two cores; raise with the host (and default_pool with it).
        "AIRFLOW__CORE__PARALLELISM": str(cfg.parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(cfg.parallelism),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__API__WORKERS": "1",
        # A worker that starts before the api-server answers keeps trying instead of failing its tasks.
        "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
        "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MIN": "3",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "CITYGOV_HOME": str(ROOT),
        "CITYGOV_DATA_DIR": str(cfg.run_dir / "data"),
        "GOVERNANCE_DB_URL": cfg.store_url,
        "CITYGOV_BACKFLOW_SORT_MEMORY_MIB": str(cfg.backflow_sort_memory_mib),
        # Isolation of department sources: the dag-processor reads the task timeout (execution_timeout is
        # part of the serialized DAG), the workers the source timeouts; one value for all.
        "CITYGOV_SOURCE_TIMEOUT_S": str(cfg.source_timeout_s),
        "CITYGOV_SOURCE_STATEMENT_TIMEOUT_S": str(cfg.source_statement_timeout_s),
        "CITYGOV_SOURCE_TASK_TIMEOUT_S": str(cfg.source_task_timeout_s),
        # Record keys are compared as HMACs: every process that raises, routes or locates needs the same.
        "CITYGOV_RECORD_KEY_SECRET": cfg.record_key_secret,
        "CITYGOV_RECORD_KEY_PREVIOUS_SECRETS": "",
    }
    env |= {
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(cfg.ports["scheduler_health"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(cfg.ports["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(cfg.ports["trigger_logs"]),
        "CITYGOV_CLUSTER_RUN": cfg.run_id,
    }
    return env | cfg.extra_env


def init_env(cfg: ClusterConfig) -> dict[str, str]:
    """airflow-init's extra environment: the city's files and the users' passwords."""
    env = {PASSWORD_ENV_PREFIX + user.upper(): cfg.passwords[user] for user in USERS}
    if cfg.connections_file:
        env["CITYGOV_CONNECTIONS_FILE"] = str(Path(cfg.connections_file).resolve())
    if cfg.catalog_file:
        env["CITYGOV_CATALOG_FILE"] = str(Path(cfg.catalog_file).resolve())
    return env


def process_command(service: str, cfg: ClusterConfig, name: str | None = None) -> list[str]:
    """The ``airflow`` command line of ``service`` as a process on this host."""
    args = [str(BIN / "airflow"), *SERVICES[service]]
    if service == "airflow-apiserver":
        args += ["--host", "127.0.0.1", "--port", str(cfg.api_port)]
    if service == "airflow-worker":
        # The Celery node name, so that two workers of one host (a replacement) can be told apart.
        args += ["--celery-hostname", f"{name or 'worker'}@%h"]
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def write_private(path: Path, data: object) -> None:
    """JSON holding secrets: readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
