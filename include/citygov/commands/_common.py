"""What every ``govern`` command shares: exit codes, the store, JSON output, ids, dates, connections.

Each command module in :mod:`citygov.commands` receives this module as ``common`` in
``add_commands(sub, common)``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citygov import settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from citygov.sources import ConnectionInfo

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2
"""0: success; 1: the command ran but found problems (e.g. rejected catalog rows); 2: it could not run."""
EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE
"""A reader that went away (``govern … | head -1``): what a shell reports for a command SIGPIPE stopped."""


def print_json(data: Any) -> None:
    """Print data as indented JSON, Chinese kept readable."""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def engine(args: argparse.Namespace) -> Engine:
    """The governance store for a command (``--db``, else the default resolution).

    A new, empty store gets the schema; a store at an older schema ends the command (exit 2) with the
    command that migrates it: only ``govern store upgrade`` migrates."""
    from citygov.store import StoreOutOfDate, ensure_store

    try:
        return ensure_store(args.db)
    except StoreOutOfDate as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None


def row_id(text: str) -> int:
    """The argparse type of every id argument: a whole number within :data:`citygov.bounds.ID_MIN` ..
    ``ID_MAX`` (what a store key can hold); anything else is refused before the store is opened, with the
    range said (exit 2)."""
    from citygov.bounds import ID_MAX, ID_MIN, quoted

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not an id (a whole number)") from None
    if not ID_MIN <= value <= ID_MAX:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is out of range: an id is from {ID_MIN} to {ID_MAX}")
    return value


def resolver(args: argparse.Namespace) -> Callable[[str], ConnectionInfo | None]:
    """Connections for commands that read sources outside Airflow: a connections file
    (``--connections``, else $CITYGOV_CONNECTIONS_FILE, else the served city's: :func:`city_connections_file`,
    the ``airflow connections import`` format), then ``AIRFLOW_CONN_<ID>`` variables in JSON form."""
    from citygov.sources import connection_from_env, connections_from_file

    path = getattr(args, "connections", None) or os.environ.get("CITYGOV_CONNECTIONS_FILE") or city_connections_file()
    known = connections_from_file(Path(path)) if path else {}
    return lambda conn_id: known.get(conn_id) or connection_from_env(conn_id)


def city_connections_file() -> Path | None:
    """The connections of the city ``govern`` serves when none is named: the active city's, else, with no
    city active and the embedded store (what ``make demo`` fills), the demo city's (``data/demo``)."""
    from citygov.onboarding import active_profile
    from citygov.settings import data_dir

    try:
        profile = active_profile()
    except (OSError, ValueError, TypeError):
        profile = None
    if profile is not None:
        return profile.connections_file
    demo = data_dir() / "demo" / "connections.json"
    return demo if demo.is_file() and not os.environ.get("GOVERNANCE_DB_URL") else None


def parse_date(value: str | None) -> date:
    """``--date``: a YYYY-MM-DD day; None is today in the city's time zone."""
    if value is None:
        return datetime.now(settings.CITY_TZ).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"error: --date {value!r} is not a date (YYYY-MM-DD)") from None


def safe_url(url: str) -> str:
    """A store URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def source_args(p: argparse.ArgumentParser) -> None:
    """The options of a command that reads department sources outside Airflow."""
    p.add_argument("--date", help="logical date (YYYY-MM-DD; default today in Asia/Shanghai)")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--json", action="store_true")


def main(argv: Sequence[str]) -> int:
    """Run another ``govern`` command (``govern city init`` runs the pipeline's commands)."""
    from citygov.commands import main as govern

    return govern(list(argv))
