"""``govern``: the command line over the citygov core.

Every command calls the same core functions as the DAGs and the web API. ``--json`` prints machine-
readable output; exit status 0 means success, 1 that the command ran but found problems (e.g. rejected
catalog rows), 2 that it could not run (bad arguments, such as an id outside 1..2^63−1, unreadable file).
A reader that goes away (``govern … --json | head -1``) ends the command quietly with status 141
(128 + SIGPIPE, what a shell reports for a command a closed pipe stopped).

The root parser and the groups live in :mod:`citygov.commands` (one module per group), their shared
helpers in :mod:`citygov.commands._common`; this module is the program's entry point.
"""

from __future__ import annotations

import sys

from citygov.commands import build_parser, main
from citygov.commands._common import EXIT_CLOSED_PIPE, EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, print_json, row_id

__all__ = ["EXIT_CLOSED_PIPE", "EXIT_ERROR", "EXIT_OK", "EXIT_PROBLEMS", "build_parser", "main", "print_json", "row_id"]

if __name__ == "__main__":
    sys.exit(main())
