"""citygov's production topology (docker-compose.yml) as processes on this machine: CeleryExecutor.

    python scripts/cluster.py up   [--run-dir .cluster] [--api-port 8080] [--connections F] [--catalog F]
    python scripts/cluster.py down [--run-dir .cluster] [--drop-databases]
    python scripts/cluster.py init     # = python -m citygov_deploy.init (compose's airflow-init)

``up`` creates the Airflow metadata database and the governance store as two databases on the local
PostgreSQL, runs the same initialisation as compose's ``airflow-init`` (``airflow db migrate``, users,
pools, connections, ``govern store upgrade``), then starts api-server, scheduler, dag-processor, triggerer
and one Celery worker (Redis broker, PostgreSQL result backend), each in a session of its own, with its
pid and log under the run dir, and waits until the api-server reports every component healthy.
``down`` stops them (SIGTERM to each process tree, SIGKILL to whatever is left after a grace period) and
sweeps up any process still carrying the run's marker (a task runner left behind by a dead supervisor).

The topology is defined once, in :mod:`citygov_deploy.topology` (re-exported here): ``SERVICES`` (compose
service → Airflow command), ``common_env`` (the environment every Airflow component shares) and ``USERS``,
``POOLS`` (``default_pool`` and the pools of the tasks that read department sources, set by the init),
``CONNECTIONS``. This script is the process supervisor around it.
``tests/cluster/test_compose_matches_topology.py`` checks that docker-compose.yml declares the same;
``tests/cluster/test_cluster_topology.py`` starts it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

# The topology itself is defined once in the package (docker-compose.yml's airflow-init runs from there).
from citygov_deploy.topology import (  # noqa: E402
    AUTH_MANAGER,
    BACKING_SERVICES,
    BIN,
    CATALOG_VARIABLE,
    CONNECTIONS,
    DOCKER_ONLY_ENV,
    EXECUTOR,
    INIT_ENV,
    INIT_SERVICE,
    PASSWORD_ENV_PREFIX,
    POOLS,
    PROCESS_ONLY_ENV,
    QUEUE_ROLES,
    ROOT,
    SERVICES,
    USERS,
    ClusterConfig,
    common_env,
    free_port,
    init_env,
    process_command,
)

__all__ = [
    "AUTH_MANAGER", "BACKING_SERVICES", "CATALOG_VARIABLE", "CONNECTIONS", "DOCKER_ONLY_ENV", "EXECUTOR", "INIT_ENV",
    "INIT_SERVICE", "PASSWORD_ENV_PREFIX", "POOLS", "PROCESS_ONLY_ENV", "QUEUE_ROLES", "SERVICES", "USERS",
    "ClusterConfig", "common_env", "down", "init_env", "process_command", "up",
]

# ── running it ───────────────────────────────────────────────────────────────────────────────────────


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
    """compose's airflow-init, as a process: ``python -m citygov_deploy.init`` with the topology's env."""
    log = cfg.run_dir / "logs" / f"{INIT_SERVICE}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "citygov_deploy.init"],
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


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


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
    # Isolation of department sources (README, scale notes); the pools come with the init.
    p_up.add_argument("--source-timeout", type=int, metavar="S", help="CITYGOV_SOURCE_TIMEOUT_S (connect)")
    p_up.add_argument("--source-statement-timeout", type=int, metavar="S", help="CITYGOV_SOURCE_STATEMENT_TIMEOUT_S")
    p_up.add_argument("--source-task-timeout", type=int, metavar="S",
                      help="CITYGOV_SOURCE_TASK_TIMEOUT_S (execution_timeout of the tasks that read sources)")
    p_down = sub.add_parser("down", help="stop every process of the run")
    p_down.add_argument("--run-dir", type=Path, default=ROOT / ".cluster")
    p_down.add_argument("--drop-databases", action="store_true", help="also drop its two databases")
    sub.add_parser("init", help="compose's airflow-init (configuration from the environment)")
    args = parser.parse_args(list(argv) if argv is not None else None)

    if args.command == "init":
        from citygov_deploy.init import init

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
        for name in ("source_timeout_s", "source_statement_timeout_s", "source_task_timeout_s"):
            value = getattr(args, name.removesuffix("_s"))
            if value is not None:
                setattr(cfg, name, value)
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
