"""``govern backflow pull``: land the batches the provincial platform's HTTP API offers.

The same core as the DAG's ``pull_from_province`` task (:func:`citygov.backflow.http_pull.pull_batches`).
The API comes from ``--url`` or from an HTTP connection (``--conn``, default ``province_backflow_api``,
read from ``--connections FILE`` or ``AIRFLOW_CONN_<ID>``); the landing folder from ``--landing`` or the
``backflow_landing`` folder connection. Then ``govern backflow ingest`` loads what landed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from types import ModuleType

TOKEN_ENV = "CITYGOV_PROVINCE_TOKEN"
"""Environment variable with the API's bearer token for ``--url`` (a token on the command line would
show in the process list)."""


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:
    """Add ``pull`` to the ``backflow`` group (:mod:`citygov.commands.backflow` creates the group; modules
    are plugged in by name order, so it exists by now)."""
    group = sub.choices.get("backflow")
    actions = [a for a in group._actions if isinstance(a, argparse._SubParsersAction)] if group else []
    if not actions:
        raise RuntimeError("govern backflow pull needs the backflow command group (citygov.commands.backflow)")
    p = actions[0].add_parser(
        "pull",
        help="land the batches the provincial HTTP API offers",
        description="List the batches the province offers (GET {url}/batches?date=D), download each manifest "
        "and data file, check the data against the manifest's sha256 and move the batch into the landing "
        "folder whole. Batches already landed with the same sha256 are not downloaded again; a batch that "
        "fails is not landed and is reported. Exit 0: all landed; 1: some batch failed; 2: nothing pulled.",
    )
    p.add_argument("--url", help="the API's base URL (default: the --conn HTTP connection); token from $" + TOKEN_ENV)
    p.add_argument("--conn", default="province_backflow_api", help="HTTP connection id of the provincial API")
    p.add_argument("--landing", metavar="DIR", help="landing folder (default: the --landing-conn folder)")
    p.add_argument("--landing-conn", default="backflow_landing", help="folder connection id of the landing zone")
    p.add_argument("--connections", help="connections JSON (airflow connections import format)")
    p.add_argument("--date", help="only the batches of this logical date (YYYY-MM-DD); default: all on offer")
    p.add_argument("--timeout", type=float, help="seconds per request (default: the connection's, else 30)")
    p.add_argument("--attempts", type=int, help="tries per request on 5xx/timeouts (default: the connection's, else 4)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: _pull(a, common))


def _pull(args: argparse.Namespace, common: ModuleType) -> int:
    from dataclasses import replace

    from citygov.backflow.http_pull import ProvinceAPI, ProvinceAPIError, pull_batches

    resolve = common.resolver(args)
    try:
        if args.url:
            api = ProvinceAPI(args.url, token=os.environ.get(TOKEN_ENV) or None)
        else:
            api = ProvinceAPI.from_connection(_defined(resolve, args.conn, "--url"))
        api = replace(api, timeout=args.timeout or api.timeout, attempts=args.attempts or api.attempts)
        landing = Path(args.landing) if args.landing else _defined(resolve, args.landing_conn, "--landing").folder()
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}")
        return common.EXIT_ERROR
    day = common.parse_date(args.date) if args.date else None
    try:
        results = pull_batches(api, landing, logical_date=day)
    except ProvinceAPIError as exc:
        print(f"error: {exc}")
        return common.EXIT_ERROR
    if args.json:
        common.print_json([r.to_dict() for r in results])
    else:
        for r in results:
            detail = f"  — {r.problem}: {r.reason}" if r.status == "failed" else ""
            print(f"{r.batch_id}  {r.status:<14} {r.data_bytes} bytes{detail}")
        if not results:
            print(f"the province offers no batches{f' for {day}' if day else ''}")
    return common.EXIT_PROBLEMS if any(r.status == "failed" for r in results) else common.EXIT_OK


def _defined(resolve, conn_id: str, instead: str):  # type: ignore[no-untyped-def]
    """The connection ``conn_id``, or a LookupError that says how to do without it."""
    conn = resolve(conn_id)
    if conn is None:
        raise LookupError(f"connection {conn_id!r} is not defined (pass {instead} or --connections)")
    return conn
