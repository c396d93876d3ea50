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
    p.add_argument("--as-of", default=None,
                   help="the day every date in the city is relative to: YYYY-MM-DD or today (in Asia/Shanghai); "
                        "default 2026-11-28, the day the tests know (make demo and make up use today)")
    p.set_defaults(func=lambda a: cmd_demo_create(a, common))
    p = demo.add_parser("dated", help="say which day the demo city is dated and whether the scheduler agrees (make up)")
    p.add_argument("--dir", help="the demo city's folder (default: data/demo)")
    p.set_defaults(func=lambda a: cmd_demo_dated(a, common))


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
            today=_as_of(args.as_of, common),
        )
    except (ValueError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return common.EXIT_ERROR
    print(f"demo city written to {out}")
    print(city.summary())
    return common.EXIT_OK


def _as_of(value: str | None, common: ModuleType):  # type: ignore[no-untyped-def]
    """``--as-of``: None (the demo's fixed day), ``today`` in the city's time zone, or a YYYY-MM-DD day."""
    if value is None:
        return None
    return common.parse_date(None if value == "today" else value)


def cmd_demo_dated(args: argparse.Namespace, common: ModuleType) -> int:
    """What `make up` says on start about the demo city's day: the scheduler runs today's schedules, so a
    city dated another day gets findings (stale data) and numbers that `make demo` did not print."""
    import json

    folder = Path(args.dir) if args.dir else settings.data_dir() / "demo"
    as_of = json.loads((folder / "defects.json").read_text(encoding="utf-8"))["as_of"]
    today = common.parse_date(None).isoformat()
    if as_of == today:
        print(f"demo city dated {as_of} (today): the scheduler's runs for today find what make demo printed")
    else:
        print(f"demo city dated {as_of}, today is {today}: the scheduler runs today's schedules, so the patrol "
              f"finds the city's data stale and the dashboard opens on today with other numbers than make demo "
              f"printed for {as_of}; run make demo again to date the city today")
    return common.EXIT_OK
