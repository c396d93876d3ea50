"""``govern``: the command line over the citygov core.

Every command calls the same core functions as the DAGs and the web API. ``--json`` prints machine-
readable output; exit status 0 means success, 1 that the command ran but found problems (e.g. rejected
catalog rows), 2 that it could not run (bad arguments, such as an id outside 1..2^63−1, unreadable file).
A reader that goes away (``govern … --json | head -1``) ends the command quietly with status 141
(128 + SIGPIPE, what a shell reports for a command a closed pipe stopped).

The command groups live in :mod:`citygov.commands`, one module each; their shared helpers in
:mod:`citygov.commands._common`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

import citygov.commands as commands
from citygov.commands import _common
from citygov.commands._common import EXIT_CLOSED_PIPE, EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, print_json, row_id

__all__ = ["EXIT_CLOSED_PIPE", "EXIT_ERROR", "EXIT_OK", "EXIT_PROBLEMS", "build_parser", "main", "print_json", "row_id"]


def build_parser() -> argparse.ArgumentParser:
    """``govern`` with every command group of :mod:`citygov.commands` (modules plugged in by name order)."""
    parser = argparse.ArgumentParser(prog="govern", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        metavar="URL",
        help="governance store SQLAlchemy URL (default: $GOVERNANCE_DB_URL or data/governance.db)",
    )
    sub = parser.add_subparsers(dest="group", required=True)
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
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


if __name__ == "__main__":
    sys.exit(main())
