"""Where things live: the project's data folder and the governance store's URL.

Resolution order for the governance store, the same for DAGs, the CLI and the web API:
1. an explicit URL passed by the caller (a DAG task passes the ``governance_db`` Airflow connection);
2. ``GOVERNANCE_DB_URL``;
3. the embedded default, a SQLite file ``governance.db`` in the data folder.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")
"""The city's time zone: schedules run on it, and naive timestamps in sources are read in it."""


def city_time_text(value: datetime | date | None, empty: str = "") -> str:
    """A moment as the city reads it (``2026-11-28 09:30``, city time), a day as ``2026-11-28``, ``empty``
    for none: the one form of pages, exports and notifications."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        return value.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()

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
    mib = whole_number("CITYGOV_BACKFLOW_SORT_MEMORY_MIB", low=0, unit="MiB",
                       note="0 turns the key order of full backflow loads off")
    return default if mib is None else mib << 20


def whole_number(name: str, *, low: int, high: int | None = None, unit: str, note: str = "") -> int | None:
    """The whole number set in the environment variable ``name``; None when it is unset or blank.

    Raises ValueError, naming the variable, its value and what it should be, when it is not a whole number
    of ``unit`` from ``low`` (to ``high``)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value: int | None = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        span = f" from {low} to {high}" if high is not None else ""
        raise ValueError(f"{name}={raw!r}: expected a whole number of {unit}{span}" + (f" ({note})" if note else ""))
    return value
