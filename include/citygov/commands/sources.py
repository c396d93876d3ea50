"""``govern sources``: register the department sources the census looks in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``sources`` commands to ``govern``."""
    sources = sub.add_parser("sources", help="department sources").add_subparsers(dest="command", required=True)
    p = sources.add_parser("register", help="register department sources from a connections file")
    p.add_argument("connections_file", help="JSON in the airflow connections import format")
    p.set_defaults(func=lambda a: cmd_sources_register(a, common))


def cmd_sources_register(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.census import register_sources
    from citygov.sources import UnknownSourceKind, connections_from_file, source_kind

    conns = connections_from_file(Path(args.connections_file))
    try:
        sources = [(c.conn_id, c.department, source_kind(c)) for c in conns.values() if c.department]
    except UnknownSourceKind as exc:
        print(f"error: {args.connections_file}: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    register_sources(common.engine(args), sources)
    print(f"registered {len(sources)} department source(s) from {args.connections_file}")
    for conn_id, department, kind in sources:
        print(f"  {conn_id:<20} {kind:<8} {department}")
    return common.EXIT_OK
