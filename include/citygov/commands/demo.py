"""``govern demo``: the generated demo city."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from citygov import settings
from citygov.demo.servers import DEFAULT_DATABASE_PREFIX, DEFAULT_SERVER_URLS, MYSQL, POSTGRESQL


def add_commands(sub: argparse._SubParsersAction, common: ModuleType) -> None:  # type: ignore[type-arg]
    """Add the ``demo`` commands to ``govern``."""
    demo = sub.add_parser("demo", help="the generated demo city").add_subparsers(dest="command", required=True)
    p = demo.add_parser("create", help="generate a deterministic demo city")
    p.add_argument("--out", help="folder to write (default: data/demo)")
    p.add_argument("--scale", type=int, default=1, help="grow rows and datasets (default 1)")
    p.add_argument("--seed", type=int, default=20231026)
    p.add_argument(
        "--engines", default="sqlite",
        help="engines for the department databases, dealt round-robin in department order, e.g. "
             "sqlite,postgresql,mysql (default sqlite: one SQLite file each)",
    )
    p.add_argument("--postgres-url", default=DEFAULT_SERVER_URLS[POSTGRESQL],
                   help=f"PostgreSQL server to create department databases on (default {DEFAULT_SERVER_URLS[POSTGRESQL]})")
    p.add_argument("--mysql-url", default=DEFAULT_SERVER_URLS[MYSQL],
                   help=f"MariaDB/MySQL server to create department databases on (default {DEFAULT_SERVER_URLS[MYSQL]})")
    p.add_argument("--db-prefix", default=DEFAULT_DATABASE_PREFIX,
                   help=f"server databases are named <prefix>_<department>, dropped and created again "
                        f"on every create (default {DEFAULT_DATABASE_PREFIX})")
    p.set_defaults(func=lambda a: cmd_demo_create(a, common))


def cmd_demo_create(args: argparse.Namespace, common: ModuleType) -> int:
    from citygov.demo import create_demo_city

    out = Path(args.out) if args.out else settings.data_dir() / "demo"
    try:
        city = create_demo_city(
            out,
            scale=args.scale,
            seed=args.seed,
            engines=args.engines,
            server_urls={POSTGRESQL: args.postgres_url, MYSQL: args.mysql_url},
            database_prefix=args.db_prefix,
        )
    except (ValueError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    print(f"demo city written to {out}")
    print(city.summary())
    return common.EXIT_OK
