"""``govern store``: create or migrate the governance store."""

from __future__ import annotations

import argparse
from types import ModuleType

from citygov import settings


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``store`` commands to ``govern``."""
    store = sub.add_parser("store", help="the governance store").add_subparsers(dest="command", required=True)
    p = store.add_parser("upgrade", help="create or migrate the store to the latest schema")
    p.set_defaults(func=lambda a: cmd_store_upgrade(a, common))


def cmd_store_upgrade(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.store import upgrade

    url = settings.governance_url(args.db)
    upgrade(url)
    print(f"governance store is at the latest schema: {common.safe_url(url)}")
    return common.EXIT_OK
