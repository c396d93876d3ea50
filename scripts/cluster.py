"""citygov's production topology (docker-compose.yml) as processes on this machine: CeleryExecutor.

    python scripts/cluster.py up   [--run-dir .cluster] [--api-port 8080] [--connections F] [--catalog F]
    python scripts/cluster.py down [--run-dir .cluster] [--drop-databases]
    python scripts/cluster.py init     # what compose's airflow-init runs; configuration from the environment

``up`` creates the Airflow metadata database and the governance store as two databases on the local
PostgreSQL, runs the same initialisation as compose's ``airflow-init`` (``airflow db migrate``, users,
pools, connections, ``govern store upgrade``), then starts api-server, scheduler, dag-processor, triggerer
and one Celery worker (Redis broker, PostgreSQL result backend), each in a session of its own, with its
pid and log under the run dir, and waits until the api-server reports every component healthy.
``down`` stops them (SIGTERM to each process tree, SIGKILL to whatever is left after a grace period) and
sweeps up any process still carrying the run's marker (a task runner left behind by a dead supervisor).

The topology is defined once, here: :data:`SERVICES` (compose service → Airflow command),
:func:`common_env` (the environment every Airflow component shares) and :data:`USERS`, :data:`POOLS`,
:data:`CONNECTIONS`. ``tests/cluster/test_compose_matches_topology.py`` checks that docker-compose.yml
declares the same; ``tests/cluster/test_cluster_topology.py`` starts it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# ── the topology ────────────────────────────────────────────────────────────────────────────────────

BACKING_SERVICES = ("postgres", "redis")
"""Compose services that are not Airflow: here, the local PostgreSQL and Redis already running."""

INIT_SERVICE = "airflow-init"
"""Runs once before the others: ``python scripts/cluster.py init``."""

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
    "default_pool": (4, "every citygov task; sized to [core] parallelism"),
}
"""Pools airflow-init sets. The DAGs ask for no other pool yet (see the README's scale notes)."""

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
        _write_private(path, asdict(self) | {"run_dir": str(self.run_dir)})
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


# ── running it ───────────────────────────────────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def create_databases(cfg: ClusterConfig) -> None:
    """Create the metadata and store databases on the local PostgreSQL unless they exist."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{cfg.pg_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (cfg.metadata_db, cfg.store_db):
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def drop_databases(cfg: ClusterConfig) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{cfg.pg_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in (cfg.metadata_db, cfg.store_db):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def run_init(cfg: ClusterConfig) -> None:
    """compose's airflow-init, as a process: ``python scripts/cluster.py init`` with the topology's env."""
    log = cfg.run_dir / "logs" / f"{INIT_SERVICE}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "init"],
            env=_clean_environ() | common_env(cfg) | init_env(cfg),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cfg.run_dir,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{INIT_SERVICE} failed (exit {done.returncode}):\n{_tail(log)}")


def start_service(cfg: ClusterConfig, service: str, name: str | None = None) -> int:
    """Start one Airflow component in a session of its own; record its pid; return the pid."""
    name = name or service
    logs, pids = cfg.run_dir / "logs", cfg.run_dir / "pids"
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            process_command(service, cfg, name),
            env=_clean_environ() | common_env(cfg),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cfg.run_dir,
        )
    import psutil

    created = psutil.Process(proc.pid).create_time()
    (pids / f"{name}.json").write_text(json.dumps({"pid": proc.pid, "created": created, "service": service}))
    return proc.pid


def up(cfg: ClusterConfig, *, timeout: float = 240) -> ClusterConfig:
    """Databases, init, every component; returns once the api-server reports all of them healthy."""
    for d in ("auth", "logs", "pids", "data"):
        (cfg.run_dir / d).mkdir(parents=True, exist_ok=True)
    cfg.airflow_home.mkdir(parents=True, exist_ok=True)
    cfg.save()
    create_databases(cfg)
    run_init(cfg)
    for service in SERVICES:
        start_service(cfg, service)
    wait_healthy(cfg, timeout=timeout)
    return cfg


def wait_healthy(cfg: ClusterConfig, *, timeout: float = 240, worker: str = "airflow-worker") -> None:
    """Wait until the api-server answers, reports scheduler, dag-processor and triggerer healthy, and
    the Celery worker ``worker`` has said it is ready."""
    import httpx

    deadline = time.monotonic() + timeout
    waiting_for = "the api-server"
    while time.monotonic() < deadline:
        for name in _recorded(cfg):
            if not _alive(cfg, name):
                raise RuntimeError(f"{name} exited while starting:\n{_tail(cfg.run_dir / 'logs' / f'{name}.log')}")
        try:
            health = httpx.get(f"{cfg.api_url}/api/v2/monitor/health", timeout=5).json()
            sick = [
                part
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                if (health.get(part) or {}).get("status") != "healthy"
            ]
            worker_log = cfg.run_dir / "logs" / f"{worker}.log"
            if not sick and worker_log.exists() and " ready." in worker_log.read_text(errors="replace"):
                return
            waiting_for = ", ".join(sick) or f"the Celery worker {worker}"
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the cluster in {cfg.run_dir} was not healthy after {timeout:.0f} s: waiting for {waiting_for}")


def service_pid(cfg: ClusterConfig, name: str) -> int | None:
    """The pid of the component ``name`` if it still runs (same pid, same start time)."""
    import psutil

    path = cfg.run_dir / "pids" / f"{name}.json"
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    try:
        if abs(psutil.Process(rec["pid"]).create_time() - rec["created"]) < 0.01:
            return int(rec["pid"])
    except psutil.NoSuchProcess:
        pass
    return None


def process_tree(pid: int) -> list:  # list[psutil.Process]
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int) -> list[int]:
    """SIGKILL a process and all its descendants at once (what losing the machine does); their pids."""
    procs = process_tree(pid)
    _kill_all(procs)
    return [p.pid for p in procs]


def kill_service(cfg: ClusterConfig, name: str) -> list[int]:
    """SIGKILL the component ``name`` with all its descendants and forget it; the pids killed."""
    pid = service_pid(cfg, name)
    killed = kill_tree(pid) if pid is not None else []
    (cfg.run_dir / "pids" / f"{name}.json").unlink(missing_ok=True)
    return killed


def _kill_all(procs: list) -> None:  # list[psutil.Process]
    import psutil

    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def stop_services(cfg: ClusterConfig, names: Iterable[str], *, grace: float = 20) -> None:
    """SIGTERM each component's process group and tree, all at once; SIGKILL what is left after
    ``grace`` seconds (task runners have process groups of their own, hence the tree)."""
    import psutil

    roots = {name: pid for name in names if (pid := service_pid(cfg, name)) is not None}
    procs = [p for pid in roots.values() for p in process_tree(pid)]
    for pid in roots.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    _kill_all(alive + [p for pid in roots.values() for p in process_tree(pid)])
    for name in names:
        (cfg.run_dir / "pids" / f"{name}.json").unlink(missing_ok=True)


def stray_processes(run_id: str) -> list:  # list[psutil.Process]
    """Processes of this user carrying the run's marker (CITYGOV_CLUSTER_RUN) in their environment."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid"]):
        if p.pid == os.getpid():
            continue
        try:
            if p.environ().get("CITYGOV_CLUSTER_RUN") == run_id:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
    return found


def down(cfg: ClusterConfig, *, drop: bool = False, grace: float = 20) -> list[int]:
    """Stop every component of the run, then any stray process with the run's marker; drop the
    databases too with ``drop``. Returns the pids of the strays killed."""
    stop_services(cfg, _recorded(cfg), grace=grace)
    strays = stray_processes(cfg.run_id)
    _kill_all(strays)
    if drop:
        drop_databases(cfg)
        purge_queue(cfg)
    return [p.pid for p in strays]


def purge_queue(cfg: ClusterConfig) -> None:
    """Remove this run's Celery queue from Redis: its list, its binding, and the messages a killed
    worker left unacknowledged. Other queues on the same Redis database are left alone."""
    import redis

    client = redis.Redis.from_url(cfg.redis_url)
    try:
        client.delete(cfg.queue, f"_kombu.binding.{cfg.queue}")
        for tag, message in client.hscan_iter("unacked"):
            if cfg.queue.encode() in message:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def _recorded(cfg: ClusterConfig) -> list[str]:
    return sorted(p.stem for p in (cfg.run_dir / "pids").glob("*.json"))


def _alive(cfg: ClusterConfig, name: str) -> bool:
    return service_pid(cfg, name) is not None


def _clean_environ() -> dict[str, str]:
    """This process's environment without Airflow or citygov settings that would leak into the cluster."""
    prefixes = ("AIRFLOW_", "AIRFLOW__", "CITYGOV_", "GOVERNANCE_DB_URL", PASSWORD_ENV_PREFIX)
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _write_private(path: Path, data: object) -> None:
    """JSON holding secrets: readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ── airflow-init ─────────────────────────────────────────────────────────────────────────────────────


def init(environ: Mapping[str, str]) -> None:
    """airflow-init: migrate, users, pools, connections, the catalog Variable, the governance store.

    Idempotent: run it again after an upgrade. Configuration comes from the environment (common_env and
    INIT_ENV), as in the compose service.
    """
    # Airflow reads its configuration on import: import it only here, with the environment in place.
    from airflow.cli import cli_parser

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from airflow_connections import governance_connection

    from citygov.cli import main as govern

    def airflow(*args: str) -> None:
        parsed = cli_parser.get_parser().parse_args(list(args))
        parsed.func(parsed)

    print("── airflow db migrate", flush=True)
    airflow("db", "migrate")
    _write_passwords(Path(environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]), environ)
    for pool, (slots, description) in POOLS.items():
        airflow("pools", "set", pool, str(slots), description)
    city_file = environ.get("CITYGOV_CONNECTIONS_FILE")
    city = json.loads(Path(city_file).read_text(encoding="utf-8")) if city_file else {}
    connections = dict(city)
    connections["governance_db"] = governance_connection(environ["GOVERNANCE_DB_URL"]).to_airflow_json()
    assert set(CONNECTIONS) <= set(connections)
    path = Path(environ["AIRFLOW_HOME"]) / "connections.json"
    _write_private(path, connections)
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
    _write_private(path, {u: environ[PASSWORD_ENV_PREFIX + u.upper()] for u in USERS})
    print(f"── users: {', '.join(f'{u} ({r})' for u, r in USERS.items())}", flush=True)


def _check(status: int, what: str) -> None:
    if status not in (0, 1):  # 1: ran, found problems (e.g. a rejected catalog row) — not an init failure
        raise SystemExit(f"airflow-init: {what} failed (exit {status})")


# ── command line ─────────────────────────────────────────────────────────────────────────────────────


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the topology on the local PostgreSQL and Redis")
    p_up.add_argument("--run-dir", type=Path, default=ROOT / ".cluster")
    p_up.add_argument("--api-port", type=int, default=8080)
    p_up.add_argument("--connections", help="the city's sources (airflow connections import format)")
    p_up.add_argument("--catalog", help="the catalog export catalog_sync imports")
    p_up.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p_down = sub.add_parser("down", help="stop every process of the run")
    p_down.add_argument("--run-dir", type=Path, default=ROOT / ".cluster")
    p_down.add_argument("--drop-databases", action="store_true", help="also drop its two databases")
    sub.add_parser("init", help="compose's airflow-init (configuration from the environment)")
    args = parser.parse_args(list(argv) if argv is not None else None)

    if args.command == "init":
        init(os.environ)
        return 0
    if args.command == "up":
        if (args.run_dir / "cluster.json").exists():
            cfg = ClusterConfig.load(args.run_dir)  # same secrets and databases as last time
            if any(_alive(cfg, n) for n in _recorded(cfg)):
                print(f"already running (pids in {cfg.run_dir / 'pids'}); make cluster-down first", file=sys.stderr)
                return 1
            cfg.api_port = args.api_port
            cfg.ports = {name: free_port() for name in cfg.ports}
            cfg.connections_file = args.connections or cfg.connections_file
            cfg.catalog_file = args.catalog or cfg.catalog_file
        else:
            cfg = ClusterConfig(
                run_dir=args.run_dir,
                api_port=args.api_port,
                redis_url=args.redis_url,
                connections_file=args.connections,
                catalog_file=args.catalog,
            )
        try:
            up(cfg)
        except (RuntimeError, TimeoutError) as exc:
            print(f"cluster-up failed: {exc}\nstopping what was started", file=sys.stderr)
            down(cfg)
            return 1
        print(f"citygov on CeleryExecutor: {cfg.api_url}  (logs and pids in {cfg.run_dir})")
        print(f"users and passwords: {cfg.run_dir / 'auth' / 'passwords.json'}; stop with make cluster-down")
        return 0
    if not (args.run_dir / "cluster.json").exists():
        print(f"nothing to stop: no {args.run_dir / 'cluster.json'}")
        return 0
    cfg = ClusterConfig.load(args.run_dir)
    strays = down(cfg, drop=args.drop_databases)
    print(f"stopped the cluster in {cfg.run_dir}" + (f" ({len(strays)} stray processes killed)" if strays else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
