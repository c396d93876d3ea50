"""The settings of source isolation are the same in docker-compose.yml and in the process topology, and
their defaults are the code's (no processes, no Docker)."""

from __future__ import annotations

from pathlib import Path

import yaml

from citygov.sources.timeouts import CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_S
from citygov_airflow.pools import SOURCE_POOLS, SOURCE_TASK_TIMEOUT_S
from scripts import cluster as topology

ROOT = Path(__file__).resolve().parents[2]


def test_compose_and_the_processes_use_the_code_defaults(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["x-airflow-common"]["environment"]
    processes = topology.common_env(topology.ClusterConfig(run_dir=tmp_path))
    expected = {
        "CITYGOV_SOURCE_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        "CITYGOV_SOURCE_STATEMENT_TIMEOUT_S": str(STATEMENT_TIMEOUT_S),
        "CITYGOV_SOURCE_TASK_TIMEOUT_S": str(SOURCE_TASK_TIMEOUT_S),
    }
    assert {k: str(compose[k]) for k in expected} == expected
    assert {k: processes[k] for k in expected} == expected
    assert set(SOURCE_POOLS) <= set(topology.POOLS)


def test_cluster_up_passes_the_timeouts_on(tmp_path: Path) -> None:
    cfg = topology.ClusterConfig(run_dir=tmp_path, source_timeout_s=3, source_task_timeout_s=60)
    env = topology.common_env(cfg)
    assert (env["CITYGOV_SOURCE_TIMEOUT_S"], env["CITYGOV_SOURCE_TASK_TIMEOUT_S"]) == ("3", "60")
