"""``govern``'s root parser and its command groups, one module per capability.

Each module here is one group (``store``, ``catalog``, ``sources``, ``census``, ``patrol``, ``quality``,
``backflow``, ``disputes``, ``notify``, ``kpis``, ``report``, ``rules``, ``city``, ``demo``) and defines ``add_commands(sub,
common)``: ``sub`` is the top-level subparsers object of ``govern``, and ``common`` is
:mod:`citygov.commands._common` (the store, ``print_json``, ids, dates, connections and the exit codes).
:func:`build_parser` calls every module found here (not ``_``-prefixed), in name order. A new
group is one module here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from citygov.commands import _common
from citygov.commands._common import EXIT_CLOSED_PIPE


def build_parser() -> argparse.ArgumentParser:
    """``govern`` with every command group of :mod:`citygov.commands` (modules plugged in by name order)."""
    parser = argparse.ArgumentParser(prog="govern", description="govern: the command line over the citygov core (see citygov.cli)")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="governance store SQLAlchemy URL (default: $GOVERNANCE_DB_URL or data/governance.db)",
    )
    sub = parser.add_subparsers(dest="group", required=True)
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"citygov.commands.{module.name}").add_commands(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as the program (not called by a test): the active city, as airflow_env.sh gives it
        from citygov.onboarding import serve_active_city

        serve_active_city()
    try:
        try:
            args = build_parser().parse_args(argv)
            return int(args.func(args))
        finally:
            sys.stdout.flush()  # here, not at exit: a reader gone away is caught below
    except BrokenPipeError:
        # The reader closed the pipe (``| head``): nothing more can be said to it. Python's recipe (the
        # signal module's notes on SIGPIPE): point stdout at devnull, so the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
