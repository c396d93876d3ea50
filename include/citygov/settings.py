"""Where things live: the project's data folder and the governance store's URL.

Resolution order for the governance store, the same for DAGs, the CLI and the web API:
1. an explicit URL passed by the caller (a DAG task passes the ``governance_db`` Airflow connection);
2. ``GOVERNANCE_DB_URL``;
3. the embedded default, a SQLite file ``governance.db`` in the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")
"""The city's time zone: schedules run on it, and naive timestamps in sources are read in it."""

GOVERNANCE_CONN_ID = "governance_db"
"""Airflow connection id of the governance store."""


def project_home() -> Path:
    """The project folder: ``CITYGOV_HOME`` or the checkout this package was installed from."""
    env = os.environ.get("CITYGOV_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The git-ignored folder for the embedded store, the demo city and reports (``CITYGOV_DATA_DIR``)."""
    env = os.environ.get("CITYGOV_DATA_DIR")
    path = Path(env).resolve() if env else project_home() / "data"
    return path


def default_governance_url() -> str:
    """The embedded default store: SQLite in the data folder."""
    return f"sqlite:///{data_dir() / 'governance.db'}"


def governance_url(explicit: str | None = None) -> str:
    """The governance store URL, by the resolution order in the module docstring."""
    if explicit:
        return explicit
    return os.environ.get("GOVERNANCE_DB_URL") or default_governance_url()


def backflow_sort_memory(default: int) -> int:
    """Bytes a full backflow load may take to send its rows in primary-key order (the data file read into
    memory plus its keys): ``CITYGOV_BACKFLOW_SORT_MEMORY_MIB`` (0 turns the key order off), else
    ``default``."""
    raw = os.environ.get("CITYGOV_BACKFLOW_SORT_MEMORY_MIB")
    if raw is None or not raw.strip():
        return default
    try:
        mib = int(raw)
    except ValueError:
        mib = -1
    if mib < 0:
        raise ValueError(f"CITYGOV_BACKFLOW_SORT_MEMORY_MIB={raw!r}: expected a whole number of MiB "
                         "(0 turns the key order of full backflow loads off)")
    return mib << 20
